/* SPDX-License-Identifier: GPL-2.0 */
/* GPT and MBR (primary and logical) partition tables. */
#ifndef FW_PART_H
#define FW_PART_H

#include "fw.h"

enum fw_part_kind {
	FW_PART_ESP,	  /* GPT EFI System, MBR 0xef */
	FW_PART_XBOOTLDR, /* GPT Extended Boot Loader (BLS /boot) */
	FW_PART_LINUX,	  /* GPT Linux data/root, MBR 0x83 */
	FW_PART_OTHER,	  /* anything else that is not empty or extended */
};

struct fw_part {
	unsigned index; /* 1-based, as Linux numbers them */
	enum fw_part_kind kind;
	uint64_t start_lba;
	uint64_t blocks;
	uint8_t type_guid[16]; /* GPT only */
	uint8_t mbr_type;      /* MBR only */
};

enum fw_table {
	FW_TABLE_NONE,
	FW_TABLE_MBR,
	FW_TABLE_GPT,
	FW_TABLE_GPT_BACKUP, /* the primary header was bad; the backup served */
};

#define FW_MAX_PARTS 128

/*
 * Reads the partition table of disk into parts[0..max), in table order.
 * Returns the number found (0 is possible for an empty table) with *table
 * set, FW_E_NOPART if there is no table, FW_E_CORRUPT (and *why) for a
 * table that is present but broken, or FW_E_IO.
 */
int fw_part_scan(const struct fw_disk *disk, struct fw_part *parts, unsigned max,
		 enum fw_table *table, const char **why);

/* The partition as a volume. */
void fw_part_vol(const struct fw_disk *disk, const struct fw_part *p, struct fw_vol *v);

bool fw_guid_eq(const uint8_t guid[16], const char *text);

#endif
