/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One mounted filesystem (FAT or ext), with path lookup that follows
 * symlinks. Paths are '/'-separated and taken from the filesystem's root;
 * FAT matches names case-insensitively, ext exactly.
 */
#ifndef FW_FS_H
#define FW_FS_H

#include "ext4.h"
#include "fat.h"

enum fw_fs_type {
	FW_FS_NONE,
	FW_FS_FAT,
	FW_FS_EXT,
};

struct fw_fs {
	enum fw_fs_type type;
	union {
		struct fw_fat fat;
		struct fw_ext ext;
	};
};

/*
 * Recognises and mounts the filesystem on v, taking its buffers from a
 * (a few KiB for FAT, two blocks for ext). FW_E_NOFS when it is neither.
 */
int fw_fs_mount(struct fw_fs *fs, const struct fw_vol *v, struct fw_arena *a);
/* Why the last call failed with FW_E_CORRUPT/UNSUPPORTED, or NULL. */
const char *fw_fs_why(const struct fw_fs *fs);
const char *fw_fs_name(const struct fw_fs *fs);

/* Resolves path, following symlinks (at most FW_SYMLINK_HOPS). */
int fw_fs_open(struct fw_fs *fs, const char *path, struct fw_file *f);
int fw_fs_pread(struct fw_fs *fs, const struct fw_file *f, uint64_t off, void *buf, size_t len);
/* Reads a whole regular file into buf[0..cap); FW_E_NOSPACE if it is larger. */
int fw_fs_read_file(struct fw_fs *fs, const char *path, void *buf, size_t cap, size_t *len);
/* Lists a directory; fn must not use fs (copy the names it wants). */
int fw_fs_list(struct fw_fs *fs, const char *path, fw_dir_fn fn, void *arg);

#endif
