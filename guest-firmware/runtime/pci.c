// SPDX-License-Identifier: GPL-2.0
/* PCI configuration mechanism #1 on bus 0: all a uvmm partition has. */
#include "rt.h"

#define PCI_ADDR 0xcf8
#define PCI_DATA 0xcfc

static void pci_select(unsigned dev, unsigned off)
{
	outl(PCI_ADDR, 0x80000000u | (dev & 31) << 11 | (off & 0xfc));
}

uint32_t rt_pci_read32(unsigned dev, unsigned off)
{
	pci_select(dev, off);
	return inl(PCI_DATA);
}

uint16_t rt_pci_read16(unsigned dev, unsigned off)
{
	return (uint16_t)(rt_pci_read32(dev, off) >> (8 * (off & 2)));
}

uint8_t rt_pci_read8(unsigned dev, unsigned off)
{
	return (uint8_t)(rt_pci_read32(dev, off) >> (8 * (off & 3)));
}

void rt_pci_write16(unsigned dev, unsigned off, uint16_t v)
{
	uint32_t w = rt_pci_read32(dev, off), shift = 8 * (off & 2);

	w = (w & ~(0xffffu << shift)) | (uint32_t)v << shift;
	pci_select(dev, off);
	outl(PCI_DATA, w);
}

int rt_pci_find(unsigned *dev, uint16_t vendor, uint16_t device)
{
	for (unsigned d = *dev; d < 32; d++) {
		uint32_t id = rt_pci_read32(d, 0);

		if ((id & 0xffff) == vendor && id >> 16 == device) {
			*dev = d;
			return 0;
		}
	}
	return -1;
}

uint64_t rt_pci_bar(unsigned dev, unsigned bar)
{
	unsigned off = 0x10 + 4 * bar;
	uint32_t lo;
	uint64_t addr;

	if (bar > 5)
		return 0;
	lo = rt_pci_read32(dev, off);
	if (lo & 1)
		return 0; /* I/O BAR */
	addr = lo & ~0xfu;
	if ((lo & 6) == 4 && bar < 5)
		addr |= (uint64_t)rt_pci_read32(dev, off + 4) << 32;
	return addr;
}
