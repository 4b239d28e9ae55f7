/* SPDX-License-Identifier: GPL-2.0 */
/* The fuzz input as a guest firmware disk, and a walk over what it holds. */
#ifndef FUZZ_FW_DISK_H
#define FUZZ_FW_DISK_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fw_boot.h"

struct fuzz_disk {
	const uint8_t *data;
	size_t size;
	struct fw_disk disk;
};

static int fuzz_disk_read(void *ctx, uint64_t lba, uint32_t count, void *buf)
{
	struct fuzz_disk *d = ctx;

	/* The parsers check every range: a read past the end is their bug. */
	if (lba > d->disk.blocks || count > d->disk.blocks - lba)
		abort();
	memcpy(buf, d->data + lba * 512, (size_t)count * 512);
	return 0;
}

static inline void fuzz_disk_init(struct fuzz_disk *d, const uint8_t *data, size_t size)
{
	d->data = data;
	d->size = size;
	d->disk.read = fuzz_disk_read;
	d->disk.ctx = d;
	d->disk.block_size = 512;
	d->disk.blocks = size / 512;
}

static uint8_t fuzz_arena_buf[4 << 20];
static uint8_t fuzz_file_buf[1 << 20];

static int fuzz_list_cb(void *arg, const char *name, size_t len, bool dir)
{
	unsigned *n = arg;

	if (strlen(name) != len)
		abort(); /* names are handed out terminated, without NULs */
	(void)dir;
	return ++*n > 4096; /* stop huge listings */
}

/* Reads the usual boot paths and lists a few directories of a mounted fs. */
static inline void fuzz_fs_walk(struct fw_fs *fs)
{
	static const char *const paths[] = {
		"/loader/entries/a.conf",
		"/k",
		"/i",
		"/boot/vmlinuz",
		"/boot/extlinux/extlinux.conf",
		"/boot/../loader/loader.conf",
		"/LOADER/ENTRIES/A.CONF",
		"/lost+found",
	};
	static const char *const dirs[] = {"/", "/loader/entries", "/boot", "/boot/extlinux"};
	struct fw_file f;
	size_t len;
	unsigned n;

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		if (fw_fs_read_file(fs, paths[i], fuzz_file_buf, sizeof(fuzz_file_buf), &len) ==
			    0 &&
		    len > sizeof(fuzz_file_buf))
			abort();
		if (fw_fs_open(fs, paths[i], &f) == 0 && !f.dir && f.size > 16)
			fw_fs_pread(fs, &f, f.size / 2 - 8, fuzz_file_buf, 16);
	}
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		n = 0;
		fw_fs_list(fs, dirs[i], fuzz_list_cb, &n);
	}
}

/* The whole search; every refusal must come with a message. */
static inline void fuzz_find_boot(const struct fw_disk *disk)
{
	static struct fw_boot_entry e;
	struct fw_arena a;
	struct fw_fs fs;
	char msg[256];
	size_t len;
	int ret;

	fw_arena_init(&a, fuzz_arena_buf, sizeof(fuzz_arena_buf));
	msg[0] = 0;
	ret = fw_find_boot(disk, &a, &fs, &e, msg, sizeof(msg));
	if (ret && !msg[0])
		abort();
	if (!ret && fw_fs_read_file(&fs, e.kernel, fuzz_file_buf, sizeof(fuzz_file_buf), &len) ==
			    FW_E_NOENT)
		abort(); /* fw_find_boot said it exists */
}

/*
 * The fuzz input as one volume holding a filesystem of the given type
 * (FW_FS_FAT or FW_FS_EXT): mount it (a refusal of a corrupt or unsupported
 * volume must say why), walk it when it mounts, then the whole boot search.
 */
static inline void fuzz_fs_one(const uint8_t *data, size_t size, enum fw_fs_type type)
{
	struct fuzz_disk d;
	struct fw_arena a;
	struct fw_fs fs;
	struct fw_vol v;
	const char *why;
	int ret;

	fuzz_disk_init(&d, data, size);
	fw_vol_whole(&v, &d.disk);
	fw_arena_init(&a, fuzz_arena_buf, sizeof(fuzz_arena_buf));
	if (type == FW_FS_FAT) {
		ret = fw_fat_mount(&fs.fat, &v, &a);
		why = fs.fat.why;
	} else {
		ret = fw_ext_mount(&fs.ext, &v, &a);
		why = fs.ext.why;
	}
	if ((ret == FW_E_CORRUPT || ret == FW_E_UNSUPPORTED) && !why)
		abort();
	if (!ret) {
		fs.type = type;
		fuzz_fs_walk(&fs);
	}
	fuzz_find_boot(&d.disk);
}

#endif
