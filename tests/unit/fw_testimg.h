/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for the guest firmware parser tests: disk images made by the real
 * tools (mkfs.ext4, mkfs.vfat, mtools, sgdisk) in a scratch directory, read
 * through an fw_disk backed by the image file. A missing tool fails the test
 * with its name: nothing is skipped.
 */
#ifndef FW_TESTIMG_H
#define FW_TESTIMG_H

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "fw.h"
#include "uvcheck.h"

struct fw_img {
	int fd;
	struct fw_disk disk;
	unsigned reads;
};

static char fwt_dir[256];

static int fwt_read(void *ctx, uint64_t lba, uint32_t count, void *buf)
{
	struct fw_img *img = ctx;
	size_t len = (size_t)count * img->disk.block_size;
	ssize_t n;

	/* The parsers must never ask for blocks past the end. */
	ck_assert_msg(lba <= img->disk.blocks && count <= img->disk.blocks - lba,
		      "read past the end: lba %llu count %u of %llu", (unsigned long long)lba,
		      count, (unsigned long long)img->disk.blocks);
	img->reads++;
	n = pread(img->fd, buf, len, (off_t)(lba * img->disk.block_size));
	return n == (ssize_t)len ? 0 : FW_E_IO;
}

static inline void fwt_open_bs(struct fw_img *img, const char *name, uint32_t bs);

static inline void fwt_open(struct fw_img *img, const char *name)
{
	fwt_open_bs(img, name, 512);
}

/* A device with bs-byte blocks (4096: a 4Kn disk); the file's tail is cut. */
static inline void fwt_open_bs(struct fw_img *img, const char *name, uint32_t bs)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", fwt_dir, name);
	img->fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_msg(img->fd >= 0, "open %s", path);
	ck_assert_int_eq(fstat(img->fd, &st), 0);
	img->disk.read = fwt_read;
	img->disk.ctx = img;
	img->disk.block_size = bs;
	img->disk.blocks = (uint64_t)st.st_size / bs;
	img->reads = 0;
}

static inline void fwt_close(struct fw_img *img)
{
	close(img->fd);
}

/* Runs a shell command in the scratch directory; fails the test if it fails. */
static inline void fwt_sh(const char *fmt, ...)
{
	char cmd[4096], full[4400];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "cd '%s' && (%s) >>log 2>&1", fwt_dir, cmd);
	st = system(full);
	ck_assert_msg(st == 0, "command failed (see %s/log): %s", fwt_dir, cmd);
}

static inline void fwt_need(const char *tool, const char *pkg)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "PATH=$PATH:/sbin:/usr/sbin command -v %s >/dev/null", tool);
	ck_assert_msg(system(cmd) == 0, "%s is missing: install %s (scripts/install-deps)", tool,
		      pkg);
}

/* A fresh scratch directory for this test (Check forks each test). */
static inline void fwt_setup(void)
{
	/* tmpfs when there: the image tools fsync, slow on a busy disk. */
	const char *base = getenv("TMPDIR");
	char *d;

	if (!base)
		base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(fwt_dir, sizeof(fwt_dir), "%s/uvfwtest.XXXXXX", base);
	d = mkdtemp(fwt_dir);
	ck_assert_msg(d != NULL, "mkdtemp");
	setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 1);
	setenv("MTOOLS_SKIP_CHECK", "1", 1);
}

static inline void fwt_teardown(void)
{
	char cmd[300];

	if (!fwt_dir[0] || getenv("UV_FW_KEEP"))
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fwt_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", fwt_dir);
}

/* Writes n pseudo-random bytes (seeded) to scratch file name. */
static inline void fwt_random_file(const char *name, size_t n, unsigned seed)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", fwt_dir, name);
	f = fopen(path, "wb");
	ck_assert_msg(f != NULL, "create %s", path);
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		fputc((int)(seed >> 16) & 0xff, f);
	}
	fclose(f);
}

static inline void fwt_write_file(const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", fwt_dir, name);
	f = fopen(path, "w");
	ck_assert_msg(f != NULL, "create %s", path);
	fputs(text, f);
	fclose(f);
}

/* Loads scratch file name into a malloc'd buffer. */
static inline uint8_t *fwt_load(const char *name, size_t *len)
{
	char path[512];
	struct stat st;
	uint8_t *buf;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", fwt_dir, name);
	fd = open(path, O_RDONLY);
	ck_assert_msg(fd >= 0, "open %s", path);
	ck_assert_int_eq(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	ck_assert(buf != NULL);
	ck_assert_int_eq(pread(fd, buf, (size_t)st.st_size, 0), st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

/* Patches bytes of a scratch file at off. */
static inline void fwt_poke(const char *name, uint64_t off, const void *data, size_t len)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", fwt_dir, name);
	fd = open(path, O_WRONLY);
	ck_assert_msg(fd >= 0, "open %s", path);
	ck_assert_int_eq(pwrite(fd, data, len, (off_t)off), (ssize_t)len);
	close(fd);
}

#define FWT_ARENA_SIZE (4u << 20)

static inline struct fw_arena *fwt_arena(void)
{
	static struct fw_arena a;
	static uint8_t *buf;

	if (!buf)
		buf = malloc(FWT_ARENA_SIZE);
	ck_assert(buf != NULL);
	fw_arena_init(&a, buf, FWT_ARENA_SIZE);
	return &a;
}

/* fwt_check_same FS PATH SRC: PATH in the mounted FS reads exactly as the host file SRC. */
static inline void fwt_check_same(struct fw_fs *fs, const char *path, const char *src)
{
	size_t want_len, len = 0;
	uint8_t *want = fwt_load(src, &want_len);
	uint8_t *buf = malloc(want_len + 16);
	int ret;

	ret = fw_fs_read_file(fs, path, buf, want_len + 16, &len);
	ck_assert_msg(ret == 0, "%s: %s (%s)", path, fw_strerror(ret), fw_fs_why(fs));
	ck_assert_uint_eq(len, want_len);
	ck_assert_msg(!memcmp(buf, want, len), "%s differs from %s", path, src);
	free(buf);
	free(want);
}

#endif
