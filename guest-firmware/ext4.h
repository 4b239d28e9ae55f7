/* SPDX-License-Identifier: GPL-2.0 */
/* ext2/3/4, read-only: extents and block maps, 32/64-bit descriptors. */
#ifndef FW_EXT4_H
#define FW_EXT4_H

#include "fw.h"

struct fw_ext {
	struct fw_vol vol;
	uint32_t block_size;
	uint64_t blocks;
	uint32_t inodes;
	uint32_t inodes_per_group;
	uint32_t groups;
	uint32_t inode_size;
	uint32_t desc_size;
	uint64_t gdt_off; /* byte offset of the group descriptor table */
	uint32_t incompat;
	uint8_t *blk;	  /* directory block buffer */
	uint8_t *map;	  /* extent tree / indirect block buffer */
	uint64_t map_blk; /* block held in map, 0 when none */
	const char *why;
	char whybuf[64];
};

/* FW_E_NOFS if no ext superblock, FW_E_CORRUPT/FW_E_UNSUPPORTED with why. */
int fw_ext_mount(struct fw_ext *fs, const struct fw_vol *v, struct fw_arena *a);
int fw_ext_iget(struct fw_ext *fs, uint32_t ino, struct fw_file *f);
int fw_ext_root(struct fw_ext *fs, struct fw_file *f);
int fw_ext_pread(struct fw_ext *fs, const struct fw_file *f, uint64_t off, void *buf, size_t len);
/* Exact-name lookup in dir; does not follow a symlink it finds. */
int fw_ext_lookup(struct fw_ext *fs, const struct fw_file *dir, const char *name, size_t len,
		  struct fw_file *out);
int fw_ext_list(struct fw_ext *fs, const struct fw_file *dir, fw_dir_fn fn, void *arg);
/* Internal: where inode ino is; inline data ("system.data" in the inode). */
int fw_ext_inode_off(struct fw_ext *fs, uint32_t ino, uint64_t *off);
int fw_ext_inline_tail(struct fw_ext *fs, const struct fw_file *f, const uint8_t **val,
		       uint32_t *len);
int fw_ext_inline_read(struct fw_ext *fs, const struct fw_file *f, uint64_t off, void *buf,
		       size_t len);

/* The target of symlink f, terminated, in buf[0..cap); returns its length. */
int fw_ext_readlink(struct fw_ext *fs, const struct fw_file *f, char *buf, size_t cap);

#endif
