/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UVMM_BOOT_H
#define UVMM_BOOT_H

#include <asm/bootparam.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memory.h"

/* What uvmm needs from a bzImage's setup header (Documentation/x86/boot.rst). */
struct bzimage {
	const uint8_t *data;
	size_t size;
	uint16_t version;
	size_t setup_size;     /* real-mode part, (setup_sects + 1) * 512 */
	const uint8_t *kernel; /* protected-mode part */
	size_t kernel_size;
	uint32_t init_size; /* memory the kernel needs from its load address */
	uint32_t kernel_alignment;
	uint64_t pref_address;
	bool relocatable;
	uint32_t cmdline_size;	  /* maximum, excluding the NUL */
	uint32_t initrd_addr_max; /* highest address the initrd may end at */
	uint16_t xloadflags;
};

/* Where things go in guest-physical memory. */
struct boot_plan {
	uint64_t kernel_gpa;
	uint64_t entry_gpa; /* 64-bit entry point */
	uint64_t initrd_gpa;
	uint64_t initrd_size;
	uint64_t cmdline_gpa;
	uint64_t boot_params_gpa;
	uint64_t pml4_gpa;
};

#define BOOT_ERR_LEN 160

/* Validates a bzImage; on failure fills err with a one-line reason. */
int bzimage_parse(const void *data, size_t size, struct bzimage *k, char err[BOOT_ERR_LEN]);
/* Decides the placement of kernel, initrd and command line in the given RAM. */
int boot_plan_make(const struct bzimage *k, uint64_t initrd_size, size_t cmdline_len,
		   const struct gmem_region *regions, unsigned nr, struct boot_plan *plan,
		   char err[BOOT_ERR_LEN]);
/* The e820 map matching the RAM regions and uvmm's reserved areas. */
unsigned e820_build(struct boot_e820_entry *tbl, unsigned max, const struct gmem_region *regions,
		    unsigned nr);
/* boot_params ("zero page") for the plan. */
void boot_params_fill(struct boot_params *bp, const struct bzimage *k, const struct boot_plan *plan,
		      const struct gmem_region *regions, unsigned nr, uint64_t rsdp_gpa);
/*
 * Writes kernel, initrd, command line, boot_params, identity page tables
 * and GDT into guest memory according to plan.
 */
int boot_load(struct gmem *m, const struct bzimage *k, const struct boot_plan *plan,
	      const void *initrd, const char *cmdline, uint64_t rsdp_gpa);

/*
 * The guest firmware at LAYOUT_FIRMWARE, entered like a 64-bit kernel: a
 * boot_params with the e820 map, RSDP and command line, identity paging.
 */
int boot_load_firmware(struct gmem *m, const void *fw, size_t size, const char *cmdline,
		       uint64_t rsdp_gpa);

#endif
