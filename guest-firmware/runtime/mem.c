// SPDX-License-Identifier: GPL-2.0
/* Guest RAM as uvmm describes it, and mappings for MMIO above 4 GiB. */
#include <asm/bootparam.h>

#include "rt.h"

#define E820_RAM  1
#define SZ_1M	  0x100000ULL
#define SZ_2M	  0x200000ULL
#define SZ_1G	  0x40000000ULL
#define SZ_4G	  0x100000000ULL
#define PTE_P	  0x001ULL
#define PTE_RW	  0x002ULL
#define PTE_PWT	  0x008ULL
#define PTE_PCD	  0x010ULL
#define PTE_PS	  0x080ULL
#define PTE_ADDR  0x000ffffffffff000ULL
#define PD_POOL_N 8

static uint64_t pd_pool[PD_POOL_N][512] __attribute__((aligned(4096)));
static unsigned pd_used;

/*
 * The heap is the largest RAM range above 1 MiB and below 4 GiB (the part
 * uvmm's page tables map); kernels and initrds are read into it.
 */
int rt_mem_init(struct rt_mem *m, const void *boot_params)
{
	const struct boot_params *bp = boot_params;
	uint64_t best = 0;
	unsigned n = bp->e820_entries;

	if (n > E820_MAX_ENTRIES_ZEROPAGE)
		n = E820_MAX_ENTRIES_ZEROPAGE;
	m->heap_next = m->ram_top = 0;
	for (unsigned i = 0; i < n; i++) {
		const struct boot_e820_entry *e = &bp->e820_table[i];
		uint64_t start = e->addr, end = e->addr + e->size;

		if (e->type != E820_RAM || end <= SZ_1M || start >= SZ_4G)
			continue;
		if (start < SZ_1M)
			start = SZ_1M;
		if (end > SZ_4G)
			end = SZ_4G;
		if (end - start > best) {
			best = end - start;
			m->heap_next = start;
			m->ram_top = end;
		}
	}
	return best ? 0 : -1;
}

void *rt_alloc(struct rt_mem *m, uint64_t size, uint64_t align)
{
	uint64_t p = (m->heap_next + align - 1) & ~(align - 1);

	if (p < m->heap_next || size > m->ram_top - p)
		return NULL;
	m->heap_next = p + size;
	return (void *)(uintptr_t)p;
}

static uint64_t *rt_pdpt(void)
{
	uint64_t cr3;

	__asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
	return (uint64_t *)(uintptr_t)(((uint64_t *)(uintptr_t)(cr3 & PTE_ADDR))[0] & PTE_ADDR);
}

int rt_map_mmio(uint64_t addr, uint64_t len)
{
	uint64_t *pdpt = rt_pdpt(), cr3;

	if (!len || addr + len < addr || addr + len > 512 * SZ_1G)
		return -1;
	for (uint64_t g = addr & ~(SZ_1G - 1); g < addr + len; g += SZ_1G) {
		uint64_t *pd;

		if (pdpt[g / SZ_1G] & PTE_P)
			continue;
		if (pd_used == PD_POOL_N)
			return -1;
		pd = pd_pool[pd_used++];
		for (unsigned i = 0; i < 512; i++)
			pd[i] = (g + i * SZ_2M) | PTE_P | PTE_RW | PTE_PS | PTE_PCD | PTE_PWT;
		pdpt[g / SZ_1G] = (uint64_t)(uintptr_t)pd | PTE_P | PTE_RW;
	}
	__asm__ volatile("mov %%cr3, %0; mov %0, %%cr3" : "=r"(cr3)::"memory");
	return 0;
}
