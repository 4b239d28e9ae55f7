/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Finding what to boot on a disk: the partitions (ESP first, then
 * XBOOTLDR, Linux, others), their filesystems, BLS entries and then
 * extlinux/syslinux configurations.
 */
#ifndef FW_FW_BOOT_H
#define FW_FW_BOOT_H

#include "bootcfg.h"
#include "fs.h"

/* Arena space fw_find_boot() needs beyond the filesystem's own buffers. */
#define FW_BOOT_ARENA_MIN (256u << 10)

/*
 * Fills e with the boot entry to use and leaves fs mounted on the filesystem
 * that holds it (its buffers stay in a: keep a alive while reading the
 * kernel and initrds with fw_fs_open/fw_fs_pread). The entry's kernel and
 * initrds were checked to exist as regular files.
 *
 * Errors, each with a sentence in msg: FW_E_NOPART (no table and no
 * filesystem), FW_E_CORRUPT/FW_E_UNSUPPORTED (a table or filesystem that
 * could not be read, when nothing else was found), FW_E_NOKERNEL (an entry
 * names a missing kernel or initrd), FW_E_NOENTRY (nothing bootable),
 * FW_E_IO, FW_E_NOSPACE (arena too small). On success msg may still
 * describe a partition that was skipped (worth a warning, no more).
 */
int fw_find_boot(const struct fw_disk *disk, struct fw_arena *a, struct fw_fs *fs,
		 struct fw_boot_entry *e, char *msg, size_t msgcap);

#endif
