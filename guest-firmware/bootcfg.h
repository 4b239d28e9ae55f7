/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Boot entry text formats: Boot Loader Specification type #1 entries
 * (loader/entries/NAME.conf, loader/loader.conf) and extlinux.conf/syslinux.cfg.
 * Pure text parsing: no I/O, input need not be NUL-terminated.
 */
#ifndef FW_BOOTCFG_H
#define FW_BOOTCFG_H

#include "fw.h"

#define FW_MAX_INITRD  8
#define FW_CMDLINE_MAX 2048
#define FW_TITLE_MAX   128
#define FW_ID_MAX      128

enum fw_boot_source {
	FW_BOOT_BLS,
	FW_BOOT_EXTLINUX,
};

struct fw_boot_entry {
	enum fw_boot_source source;
	char id[FW_ID_MAX]; /* BLS: file name without .conf; extlinux: label */
	char title[FW_TITLE_MAX];
	char version[FW_TITLE_MAX];
	char sort_key[FW_TITLE_MAX];
	char kernel[FW_PATH_MAX]; /* absolute paths in the filesystem below */
	char initrd[FW_MAX_INITRD][FW_PATH_MAX];
	unsigned n_initrd;
	char cmdline[FW_CMDLINE_MAX];
	char config[FW_PATH_MAX]; /* the file the entry came from */
	/* Where it lives: filled in by fw_find_boot(). */
	unsigned part_index; /* 0: the whole disk (no partition table) */
	uint64_t part_start_lba;
	uint64_t part_blocks;
	int fs_type; /* enum fw_fs_type */
};

/*
 * Parses one BLS entry. base is prepended to its paths ("" on the ESP or
 * XBOOTLDR, "/boot" for /boot/loader/entries on a root filesystem). Returns
 * 0, FW_E_NOENTRY for an entry we cannot boot (no linux key, another
 * architecture) or FW_E_NAMETOOLONG.
 */
int fw_bls_parse(const char *text, size_t len, const char *id, const char *base,
		 struct fw_boot_entry *e);
/* BLS/UAPI version comparison (strverscmp_improved semantics). */
int fw_vercmp(const char *a, const char *b);
/* Which of two parsed BLS entries sorts later (the preferred one): > 0 if a. */
int fw_bls_order(const struct fw_boot_entry *a, const struct fw_boot_entry *b);
/* Shell-style glob: '*', '?', '[...]'. */
bool fw_glob(const char *pat, const char *s);
/* loader.conf's "default" value into pat; 1 if present, 0 if not. */
int fw_loader_default(const char *text, size_t len, char *pat, size_t cap);

/*
 * Parses extlinux.conf/syslinux.cfg text and fills e with the default label
 * (DEFAULT or MENU DEFAULT; the first label when neither names one). dir is
 * the config file's directory, for relative paths. FW_E_NOENTRY if no label
 * has a kernel.
 */
int fw_extlinux_parse(const char *text, size_t len, const char *dir, struct fw_boot_entry *e);

/*
 * The kernel command line the firmware hands over: the entry's options, then
 * the words of the VMM's command line, less the firmware's own ("uvfw.*")
 * and those the entry already has verbatim (a second console=ttyS0 would
 * open the console twice). Always NUL-terminated; returns FW_E_NAMETOOLONG
 * when something did not fit.
 */
int fw_cmdline_merge(char *out, size_t cap, const char *entry, const char *vmm);

#endif
