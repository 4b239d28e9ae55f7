/* SPDX-License-Identifier: GPL-2.0 */
/* FAT12/16/32, read-only, with VFAT long names. */
#ifndef FW_FAT_H
#define FW_FAT_H

#include "fw.h"

struct fw_fat {
	struct fw_vol vol;
	unsigned bits; /* 12, 16 or 32 */
	uint32_t sector_size;
	uint32_t cluster_size; /* bytes */
	uint32_t clusters;     /* data clusters: valid numbers are 2..clusters+1 */
	uint64_t fat_start;    /* byte offsets in the volume */
	uint64_t root_start;   /* FAT12/16 fixed root directory */
	uint32_t root_entries;
	uint32_t root_cluster; /* FAT32 */
	uint64_t data_start;
	uint8_t *sec;	       /* directory sector buffer */
	uint8_t *fatcache;     /* one sector of the FAT */
	uint64_t fatcache_off; /* UINT64_MAX when empty */
	char *name;	       /* FW_NAME_MAX, the entry being matched */
	const char *why;
};

/* FW_E_NOFS if v holds no FAT boot sector, FW_E_CORRUPT with why if broken. */
int fw_fat_mount(struct fw_fat *fs, const struct fw_vol *v, struct fw_arena *a);
int fw_fat_root(struct fw_fat *fs, struct fw_file *f);
/* Case-insensitive lookup of one name in directory dir. */
int fw_fat_lookup(struct fw_fat *fs, const struct fw_file *dir, const char *name, size_t len,
		  struct fw_file *out);
int fw_fat_list(struct fw_fat *fs, const struct fw_file *dir, fw_dir_fn fn, void *arg);
int fw_fat_pread(struct fw_fat *fs, const struct fw_file *f, uint64_t off, void *buf, size_t len);

#endif
