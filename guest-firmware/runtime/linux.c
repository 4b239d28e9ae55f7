// SPDX-License-Identifier: GPL-2.0
/*
 * Handing over to Linux with the 64-bit boot protocol
 * (Documentation/x86/boot.rst): the protected-mode kernel at its preferred
 * address, the initrds right above what it needs, a fresh zero page with
 * uvmm's memory map, and a jump to startup_64.
 */
#include <asm/bootparam.h>

#include "linux.h"

#define ZERO_PAGE   0x7000ULL
#define CMDLINE	    0x20000ULL
#define CMDLINE_MAX 0x10000ULL
#define SZ_2M	    0x200000ULL

static uint32_t le32(const uint8_t *p)
{
	return fw_le32(p);
}

/* Checks the setup header; fills in where the kernel wants to be. */
int linux_check(struct linux_image *k, char *msg, size_t cap)
{
	const uint8_t *d = k->file;
	unsigned sects;

	if (k->file_size < 0x1000 || le32(d + 0x202) != 0x53726448) {
		rt_snprintf(msg, cap, "not a bzImage (no HdrS signature)");
		return FW_E_INVAL;
	}
	k->version = fw_le16(d + 0x206);
	if (k->version < 0x20c || !(fw_le16(d + 0x236) & XLF_KERNEL_64)) {
		rt_snprintf(msg, cap, "boot protocol %x without a 64-bit entry point", k->version);
		return FW_E_INVAL;
	}
	sects = d[0x1f1] ? d[0x1f1] : 4;
	k->setup_size = (uint64_t)(sects + 1) * 512;
	if (k->setup_size >= k->file_size) {
		rt_snprintf(msg, cap, "truncated kernel (%llu bytes, setup alone is %llu)",
			    (unsigned long long)k->file_size, (unsigned long long)k->setup_size);
		return FW_E_INVAL;
	}
	k->pm_size = k->file_size - k->setup_size;
	if ((uint64_t)le32(d + 0x1f4) * 16 > k->pm_size) {
		rt_snprintf(msg, cap, "truncated kernel: %llu bytes of %llu",
			    (unsigned long long)k->pm_size,
			    (unsigned long long)le32(d + 0x1f4) * 16);
		return FW_E_INVAL;
	}
	k->load_addr = fw_le64(d + 0x258);
	k->init_size = le32(d + 0x260);
	k->initrd_max = le32(d + 0x22c);
	k->cmdline_max = k->version >= 0x206 ? le32(d + 0x238) : 255;
	if (k->load_addr < 0x100000 || k->load_addr % SZ_2M)
		k->load_addr = 0x1000000;
	if (k->init_size < k->pm_size)
		k->init_size = (uint32_t)k->pm_size;
	return 0;
}

/* The zero page: e820 and RSDP from uvmm's, the header from the kernel. */
static void linux_zero_page(const struct linux_image *k, const struct boot_params *fw_bp,
			    uint64_t initrd, uint64_t initrd_size, uint32_t cmdline_len)
{
	struct boot_e820_entry e820[E820_MAX_ENTRIES_ZEROPAGE];
	struct boot_params *bp = (struct boot_params *)(uintptr_t)ZERO_PAGE;
	uint8_t n = fw_bp->e820_entries;
	uint64_t rsdp = fw_bp->acpi_rsdp_addr;
	size_t hdr_end = 0x202 + k->file[0x201];

	if (n > E820_MAX_ENTRIES_ZEROPAGE)
		n = E820_MAX_ENTRIES_ZEROPAGE;
	memcpy(e820, fw_bp->e820_table, sizeof(e820));
	memset(bp, 0, sizeof(*bp));
	memcpy(&bp->hdr, k->file + 0x1f1, hdr_end - 0x1f1);
	bp->e820_entries = n;
	memcpy(bp->e820_table, e820, sizeof(e820));
	bp->acpi_rsdp_addr = rsdp;
	bp->hdr.type_of_loader = 0xff;
	bp->hdr.code32_start = (uint32_t)k->load_addr;
	bp->hdr.cmd_line_ptr = (uint32_t)CMDLINE;
	bp->hdr.cmdline_size = cmdline_len;
	bp->hdr.ramdisk_image = (uint32_t)initrd;
	bp->hdr.ramdisk_size = (uint32_t)initrd_size;
}

void linux_boot(const struct linux_image *k, const void *fw_bp, uint64_t initrd,
		uint64_t initrd_size, const char *cmdline)
{
	size_t len = strlen(cmdline);
	uint64_t entry = k->load_addr + 0x200;

	if (len >= CMDLINE_MAX)
		len = CMDLINE_MAX - 1;
	memcpy((void *)(uintptr_t)CMDLINE, cmdline, len);
	((char *)(uintptr_t)CMDLINE)[len] = 0;
	memmove((void *)(uintptr_t)k->load_addr, k->file + k->setup_size, k->pm_size);
	linux_zero_page(k, fw_bp, initrd, initrd_size, (uint32_t)len);
	__asm__ volatile("mov %0, %%rsi\n\tjmp *%1" ::"r"(ZERO_PAGE), "r"(entry) : "rsi", "memory");
	__builtin_unreachable();
}
