// SPDX-License-Identifier: GPL-2.0
/* Loading a bzImage for the Linux 64-bit boot protocol. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "boot.h"
#include "layout.h"

#define SETUP_HDR_OFF	   0x1f1
#define BOOT_FLAG_MAGIC	   0xaa55
#define HDRS_MAGIC	   0x53726448 /* "HdrS" */
#define MIN_PROTOCOL	   0x20c      /* 2.12: xloadflags, 64-bit entry */
#define E820_TYPE_RAM	   1
#define E820_TYPE_RESERVED 2
#define ENTRY64_OFFSET	   0x200

static uint16_t get16(const uint8_t *p, size_t off)
{
	return (uint16_t)(p[off] | p[off + 1] << 8);
}

static uint32_t get32(const uint8_t *p, size_t off)
{
	return get16(p, off) | (uint32_t)get16(p, off + 2) << 16;
}

static uint64_t get64(const uint8_t *p, size_t off)
{
	return get32(p, off) | (uint64_t)get32(p, off + 4) << 32;
}

int bzimage_parse(const void *data, size_t size, struct bzimage *k, char err[BOOT_ERR_LEN])
{
	const uint8_t *p = data;
	unsigned sects;
	uint64_t syssize;

	memset(k, 0, sizeof(*k));
	if (size < 0x270 || get16(p, 0x1fe) != BOOT_FLAG_MAGIC || get32(p, 0x202) != HDRS_MAGIC) {
		snprintf(err, BOOT_ERR_LEN, "not a bzImage (no Linux boot header)");
		return -EINVAL;
	}
	k->version = get16(p, 0x206);
	if (k->version < MIN_PROTOCOL) {
		snprintf(err, BOOT_ERR_LEN, "boot protocol %u.%02u too old (need 2.12 or later)",
			 k->version >> 8, k->version & 0xff);
		return -EINVAL;
	}
	k->xloadflags = get16(p, 0x236);
	if (!(p[0x211] & LOADED_HIGH) || !(k->xloadflags & XLF_KERNEL_64)) {
		snprintf(err, BOOT_ERR_LEN, "not a 64-bit bzImage (no 64-bit entry point)");
		return -EINVAL;
	}
	sects = p[SETUP_HDR_OFF] ? p[SETUP_HDR_OFF] : 4;
	k->setup_size = (size_t)(sects + 1) * 512;
	syssize = (uint64_t)get32(p, 0x1f4) * 16;
	if (k->setup_size >= size || syssize == 0 || syssize > size - k->setup_size) {
		snprintf(err, BOOT_ERR_LEN, "kernel image truncated (%zu bytes, header says %llu)",
			 size, (unsigned long long)(k->setup_size + syssize));
		return -EINVAL;
	}
	k->data = p;
	k->size = size;
	k->kernel = p + k->setup_size;
	k->kernel_size = size - k->setup_size;
	k->kernel_alignment = get32(p, 0x230);
	k->relocatable = p[0x234] != 0;
	k->cmdline_size = get32(p, 0x238);
	k->initrd_addr_max = get32(p, 0x22c);
	k->pref_address = get64(p, 0x258);
	k->init_size = get32(p, 0x260);
	if (k->init_size < k->kernel_size)
		k->init_size = (uint32_t)k->kernel_size;
	return 0;
}

static uint64_t align_down(uint64_t v, uint64_t a)
{
	return v & ~(a - 1);
}

int boot_plan_make(const struct bzimage *k, uint64_t initrd_size, size_t cmdline_len,
		   const struct gmem_region *regions, unsigned nr, struct boot_plan *plan,
		   char err[BOOT_ERR_LEN])
{
	uint64_t low_end = regions[0].gpa + regions[0].size;
	uint64_t kernel_end, initrd_top;

	(void)nr;
	memset(plan, 0, sizeof(*plan));
	if (cmdline_len > k->cmdline_size || cmdline_len >= LAYOUT_CMDLINE_MAX) {
		snprintf(err, BOOT_ERR_LEN, "command line too long (%zu bytes, kernel accepts %u)",
			 cmdline_len, k->cmdline_size);
		return -E2BIG;
	}
	/* At the preferred address the decompressor works in place. */
	plan->kernel_gpa = k->pref_address ? k->pref_address : LAYOUT_HIMEM;
	kernel_end = plan->kernel_gpa + k->init_size;
	if (kernel_end > low_end) {
		snprintf(err, BOOT_ERR_LEN,
			 "memory too small for this kernel (needs more than %llu MiB)",
			 (unsigned long long)(kernel_end >> 20));
		return -ENOMEM;
	}
	plan->entry_gpa = plan->kernel_gpa + ENTRY64_OFFSET;
	plan->cmdline_gpa = LAYOUT_CMDLINE;
	plan->boot_params_gpa = LAYOUT_BOOT_PARAMS;
	plan->pml4_gpa = LAYOUT_PML4;
	if (!initrd_size)
		return 0;

	/* Highest place below the kernel's limit, above the kernel's footprint. */
	initrd_top = low_end;
	if (k->initrd_addr_max && initrd_top > (uint64_t)k->initrd_addr_max + 1)
		initrd_top = (uint64_t)k->initrd_addr_max + 1;
	if (initrd_size > initrd_top || align_down(initrd_top - initrd_size, 4096) < kernel_end) {
		snprintf(err, BOOT_ERR_LEN,
			 "initrd too large for the memory (%llu MiB initrd, %llu MiB free below "
			 "%llu MiB)",
			 (unsigned long long)(initrd_size >> 20),
			 (unsigned long long)(initrd_top > kernel_end
						      ? (initrd_top - kernel_end) >> 20
						      : 0),
			 (unsigned long long)(initrd_top >> 20));
		return -ENOMEM;
	}
	plan->initrd_gpa = align_down(initrd_top - initrd_size, 4096);
	plan->initrd_size = initrd_size;
	return 0;
}

static unsigned e820_add(struct boot_e820_entry *tbl, unsigned n, unsigned max, uint64_t addr,
			 uint64_t size, uint32_t type)
{
	if (n >= max || !size)
		return n;
	tbl[n].addr = addr;
	tbl[n].size = size;
	tbl[n].type = type;
	return n + 1;
}

unsigned e820_build(struct boot_e820_entry *tbl, unsigned max, const struct gmem_region *regions,
		    unsigned nr)
{
	uint64_t low_end = regions[0].size;
	unsigned n = 0;

	/* Conventional memory, then the EBDA (MP table) and BIOS area (ACPI). */
	n = e820_add(tbl, n, max, 0, LAYOUT_EBDA, E820_TYPE_RAM);
	n = e820_add(tbl, n, max, LAYOUT_EBDA, LAYOUT_EBDA_SIZE, E820_TYPE_RESERVED);
	n = e820_add(tbl, n, max, LAYOUT_BIOS, LAYOUT_BIOS_SIZE, E820_TYPE_RESERVED);
	n = e820_add(tbl, n, max, LAYOUT_HIMEM, low_end - LAYOUT_HIMEM, E820_TYPE_RAM);
	/* KVM's TSS and identity-map pages inside the hole. */
	n = e820_add(tbl, n, max, LAYOUT_KVM_IDMAP, 0x4000, E820_TYPE_RESERVED);
	for (unsigned i = 1; i < nr; i++)
		n = e820_add(tbl, n, max, regions[i].gpa, regions[i].size, E820_TYPE_RAM);
	return n;
}

void boot_params_fill(struct boot_params *bp, const struct bzimage *k, const struct boot_plan *plan,
		      const struct gmem_region *regions, unsigned nr, uint64_t rsdp_gpa)
{
	/* The setup header ends where its jump instruction points. */
	size_t hdr_end = 0x202 + k->data[0x201];

	memset(bp, 0, sizeof(*bp));
	if (hdr_end > SETUP_HDR_OFF + sizeof(bp->hdr))
		hdr_end = SETUP_HDR_OFF + sizeof(bp->hdr);
	memcpy(&bp->hdr, k->data + SETUP_HDR_OFF, hdr_end - SETUP_HDR_OFF);
	bp->hdr.type_of_loader = 0xff;
	bp->hdr.loadflags |= LOADED_HIGH;
	bp->hdr.code32_start = (uint32_t)plan->kernel_gpa;
	bp->hdr.cmd_line_ptr = (uint32_t)plan->cmdline_gpa;
	bp->ext_cmd_line_ptr = (uint32_t)(plan->cmdline_gpa >> 32);
	bp->hdr.ramdisk_image = (uint32_t)plan->initrd_gpa;
	bp->hdr.ramdisk_size = (uint32_t)plan->initrd_size;
	bp->ext_ramdisk_image = (uint32_t)(plan->initrd_gpa >> 32);
	bp->ext_ramdisk_size = (uint32_t)(plan->initrd_size >> 32);
	bp->acpi_rsdp_addr = rsdp_gpa;
	bp->e820_entries =
		(uint8_t)e820_build(bp->e820_table, E820_MAX_ENTRIES_ZEROPAGE, regions, nr);
}

/* Identity map of the first 4 GiB with 2 MiB pages, and a flat 64-bit GDT. */
static void boot_setup_paging(struct gmem *m)
{
	uint64_t *pml4 = gmem_hva(m, LAYOUT_PML4, 4096);
	uint64_t *pdpt = gmem_hva(m, LAYOUT_PDPT, 4096);
	uint64_t *pd = gmem_hva(m, LAYOUT_PD, 4 * 4096);
	uint64_t *gdt = gmem_hva(m, LAYOUT_GDT, 5 * 8);

	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	pml4[0] = LAYOUT_PDPT | 0x3;
	for (unsigned i = 0; i < 4; i++)
		pdpt[i] = (LAYOUT_PD + i * 4096ULL) | 0x3;
	for (unsigned i = 0; i < 4 * 512; i++)
		pd[i] = ((uint64_t)i << 21) | 0x83; /* present, writable, 2 MiB */

	gdt[0] = 0;
	gdt[1] = 0;
	gdt[2] = 0x00af9b000000ffffULL; /* __BOOT_CS: 64-bit code */
	gdt[3] = 0x00cf93000000ffffULL; /* __BOOT_DS: flat data */
	gdt[4] = 0x00008b0000000067ULL; /* TSS: VMX wants a usable TR */
}

int boot_load(struct gmem *m, const struct bzimage *k, const struct boot_plan *plan,
	      const void *initrd, const char *cmdline, uint64_t rsdp_gpa)
{
	size_t cmdline_len = strlen(cmdline);
	struct boot_params *bp;
	void *dst;

	dst = gmem_hva(m, plan->kernel_gpa, k->kernel_size);
	if (!dst)
		return -ENOMEM;
	memcpy(dst, k->kernel, k->kernel_size);
	if (plan->initrd_size) {
		dst = gmem_hva(m, plan->initrd_gpa, plan->initrd_size);
		if (!dst)
			return -ENOMEM;
		memcpy(dst, initrd, plan->initrd_size);
	}
	dst = gmem_hva(m, plan->cmdline_gpa, cmdline_len + 1);
	bp = gmem_hva(m, plan->boot_params_gpa, sizeof(*bp));
	if (!dst || !bp)
		return -ENOMEM;
	memcpy(dst, cmdline, cmdline_len + 1);
	boot_params_fill(bp, k, plan, m->regions, m->nr_regions, rsdp_gpa);
	boot_setup_paging(m);
	return 0;
}

int boot_load_firmware(struct gmem *m, const void *fw, size_t size, const char *cmdline,
		       uint64_t rsdp_gpa)
{
	size_t cmdline_len = strlen(cmdline);
	struct boot_params *bp = gmem_hva(m, LAYOUT_BOOT_PARAMS, sizeof(*bp));
	void *dst = gmem_hva(m, LAYOUT_FIRMWARE, size);
	char *cl = gmem_hva(m, LAYOUT_CMDLINE, cmdline_len + 1);

	if (!bp || !dst || !cl || size > LAYOUT_FIRMWARE_MAX || cmdline_len >= LAYOUT_CMDLINE_MAX)
		return -ENOMEM;
	memcpy(dst, fw, size);
	memcpy(cl, cmdline, cmdline_len + 1);
	/* What the firmware reads, and passes on to Linux: memory map, RSDP, command line. */
	memset(bp, 0, sizeof(*bp));
	bp->hdr.cmd_line_ptr = (uint32_t)LAYOUT_CMDLINE;
	bp->hdr.cmdline_size = (uint32_t)cmdline_len;
	bp->acpi_rsdp_addr = rsdp_gpa;
	bp->e820_entries = (uint8_t)e820_build(bp->e820_table, E820_MAX_ENTRIES_ZEROPAGE,
					       m->regions, m->nr_regions);
	boot_setup_paging(m);
	return 0;
}
