// SPDX-License-Identifier: GPL-2.0
/*
 * Enough interrupt plumbing for uvfw.test=irq: an IDT with one gate, the
 * local APIC switched on, and MSI-X entry 0 of a PCI function pointed at
 * it. The boot path never enables interrupts; only this self-test does.
 */
#include "rt.h"

#define LAPIC_BASE   0xfee00000UL
#define LAPIC_TPR    0x80
#define LAPIC_SVR    0xf0
#define PCI_CAP_MSIX 0x11
#define MSIX_ENABLE  0x8000
#define MSIX_MASKALL 0x4000
#define IDT_ENTRIES  256
#define KERNEL_CS    0x10

volatile uint32_t rt_irq_count;
void rt_irq_stub(void);

static struct {
	uint16_t off_lo, sel;
	uint8_t ist, type;
	uint16_t off_mid;
	uint32_t off_hi, zero;
} __attribute__((packed)) idt[IDT_ENTRIES] __attribute__((aligned(16)));

static void lapic_write(unsigned reg, uint32_t v)
{
	rt_write((volatile uint32_t *)(LAPIC_BASE + reg), v);
}

/* Gate `vector` to rt_irq_stub, the IDT loaded, the local APIC accepting all. */
void rt_irq_setup(uint8_t vector)
{
	uint64_t h = (uint64_t)(uintptr_t)rt_irq_stub;
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) idtr = {sizeof(idt) - 1, (uint64_t)(uintptr_t)idt};

	idt[vector].off_lo = (uint16_t)h;
	idt[vector].sel = KERNEL_CS;
	idt[vector].type = 0x8e; /* present, interrupt gate */
	idt[vector].off_mid = (uint16_t)(h >> 16);
	idt[vector].off_hi = (uint32_t)(h >> 32);
	__asm__ volatile("lidt %0" ::"m"(idtr));
	lapic_write(LAPIC_TPR, 0);
	lapic_write(LAPIC_SVR, 0x100 | 0xff); /* enabled, spurious vector 0xff */
}

/* Points MSI-X entry 0 of PCI function dev at `vector` on CPU 0 and enables MSI-X. */
int rt_msix_route(unsigned dev, uint8_t vector)
{
	unsigned p = rt_pci_read8(dev, 0x34) & 0xfc, guard = 0;

	for (; p && guard < 48; p = rt_pci_read8(dev, p + 1) & 0xfc, guard++) {
		uint32_t tbl = rt_pci_read32(dev, p + 4);
		uint64_t base = rt_pci_bar(dev, tbl & 7) + (tbl & ~7u);
		volatile uint32_t *e = (volatile uint32_t *)(uintptr_t)base;
		uint16_t ctrl;

		if (rt_pci_read8(dev, p) != PCI_CAP_MSIX)
			continue;
		if (base == (tbl & ~7u) || rt_map_mmio(base, 16))
			return -1;
		rt_write(&e[0], (uint32_t)LAPIC_BASE); /* destination APIC ID 0 */
		rt_write(&e[1], 0);
		rt_write(&e[2], vector); /* fixed delivery, edge */
		rt_write(&e[3], 0);	 /* unmasked */
		ctrl = rt_pci_read16(dev, p + 2);
		rt_pci_write16(dev, p + 2, (uint16_t)((ctrl & ~MSIX_MASKALL) | MSIX_ENABLE));
		return 0;
	}
	return -1;
}
