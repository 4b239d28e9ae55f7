/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What every disk parser of the guest firmware shares: the block device the
 * runtime provides, a volume (a byte range of it, e.g. one partition), a bump
 * allocator for buffers, error codes and little-endian field readers.
 *
 * Freestanding: only stdint/stddef/stdbool and fw_string.h. Nothing here
 * allocates; every buffer comes from the caller, directly or via fw_arena.
 */
#ifndef FW_H
#define FW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fw_string.h"

/* Error codes, all negative; fw_strerror() names them. */
enum fw_err {
	FW_OK = 0,
	FW_E_IO = -1,		/* the device failed or the read ran off its end */
	FW_E_NOPART = -2,	/* no partition table (and no filesystem on the disk) */
	FW_E_NOFS = -3,		/* not a filesystem we know */
	FW_E_CORRUPT = -4,	/* filesystem or table structures inconsistent */
	FW_E_UNSUPPORTED = -5,	/* valid, but uses a feature we refuse */
	FW_E_NOENT = -6,	/* no such file or directory */
	FW_E_NOTDIR = -7,	/* a path component is not a directory */
	FW_E_LOOP = -8,		/* too many symlinks, or a cycle */
	FW_E_NOSPACE = -9,	/* caller buffer or arena too small */
	FW_E_NOENTRY = -10,	/* no bootable entry anywhere */
	FW_E_NOKERNEL = -11,	/* an entry names a kernel/initrd that is missing */
	FW_E_INVAL = -12,	/* bad argument */
	FW_E_NAMETOOLONG = -13, /* a path or name exceeds our limits */
};

const char *fw_strerror(int err);

/*
 * The block device. read() returns 0 or a negative fw_err; the runtime's
 * virtio-blk driver and the host tests' image file both provide one.
 * block_size is a power of two in 512..4096.
 */
struct fw_disk {
	int (*read)(void *ctx, uint64_t lba, uint32_t count, void *buf);
	void *ctx;
	uint32_t block_size;
	uint64_t blocks;
};

/* A byte window [start_lba, start_lba + blocks) of a disk: a partition. */
struct fw_vol {
	const struct fw_disk *disk;
	uint64_t start_lba;
	uint64_t blocks;
};

void fw_vol_whole(struct fw_vol *v, const struct fw_disk *disk);
uint64_t fw_vol_bytes(const struct fw_vol *v);
/* Reads len bytes at byte offset off of the volume; any alignment. */
int fw_vol_read(const struct fw_vol *v, uint64_t off, void *buf, size_t len);

/* A bump allocator over a caller buffer; fw_arena_mark/release nest. */
struct fw_arena {
	uint8_t *base;
	size_t size;
	size_t used;
};

void fw_arena_init(struct fw_arena *a, void *buf, size_t size);
void *fw_arena_alloc(struct fw_arena *a, size_t size);

static inline size_t fw_arena_mark(const struct fw_arena *a)
{
	return a->used;
}

static inline void fw_arena_release(struct fw_arena *a, size_t mark)
{
	if (mark <= a->used)
		a->used = mark;
}

static inline uint16_t fw_le16(const void *p)
{
	const uint8_t *b = p;

	return (uint16_t)(b[0] | b[1] << 8);
}

static inline uint32_t fw_le32(const void *p)
{
	const uint8_t *b = p;

	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static inline uint64_t fw_le64(const void *p)
{
	return fw_le32(p) | (uint64_t)fw_le32((const uint8_t *)p + 4) << 32;
}

/* An open file or directory of a mounted filesystem (a plain value). */
struct fw_file {
	uint64_t size;
	bool dir;
	bool symlink;
	uint32_t id;	  /* FAT: first cluster; ext: inode number */
	uint8_t raw[128]; /* ext: the inode's first 128 bytes */
};

#define FW_NAME_MAX	768 /* a 255-character VFAT name in UTF-8, terminated */
#define FW_PATH_MAX	512
#define FW_SYMLINK_HOPS 16

/* One directory entry; a nonzero return stops the listing with that value. */
typedef int (*fw_dir_fn)(void *arg, const char *name, size_t len, bool dir);

uint32_t fw_crc32(uint32_t crc, const void *buf, size_t len);

#endif
