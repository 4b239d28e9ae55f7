// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <string.h>

#include "le.h"
#include "pci.h"

#define CF8_ENABLE     (1u << 31)
#define PCI_BAR_MEM_64 0x4
#define PCI_BAR_IO     0x1

/* A generic host bridge ID (Red Hat's PCIe host bridge, as other VMMs use). */
#define HOST_VENDOR	  0x1b36
#define HOST_DEVICE	  0x0008
#define CLASS_HOST_BRIDGE 0x06000000

void pci_dev_init(struct pci_dev *d, uint16_t vendor, uint16_t device, uint32_t class_rev,
		  uint16_t subsys_vendor, uint16_t subsys)
{
	memset(d, 0, sizeof(*d));
	le_put16(d->cfg + PCI_VENDOR_ID, vendor);
	le_put16(d->cfg + PCI_DEVICE_ID, device);
	le_put32(d->cfg + PCI_CLASS_REVISION, class_rev);
	le_put16(d->cfg + PCI_SUBSYSTEM_VENDOR_ID, subsys_vendor);
	le_put16(d->cfg + PCI_SUBSYSTEM_VENDOR_ID + 2, subsys);
	le_put16(d->wmask + PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
						 0x400 /* INTx disable */);
	d->wmask[PCI_INTERRUPT_LINE] = 0xff;
}

void pci_dev_set_bar(struct pci_dev *d, unsigned bar, uint64_t size, bool io, bool is64,
		     const struct bus_ops *ops, void *opaque)
{
	uint64_t mask = ~(size - 1);
	unsigned off = PCI_BASE_ADDRESS_0 + 4 * bar;

	d->bars[bar] = (struct pci_bar){size, io, is64 && !io, ops, opaque};
	le_put32(d->cfg + off, io ? PCI_BAR_IO : (is64 ? PCI_BAR_MEM_64 : 0));
	le_put32(d->wmask + off, (uint32_t)mask & (io ? ~3u : ~0xfu));
	if (is64 && !io)
		le_put32(d->wmask + off + 4, (uint32_t)(mask >> 32));
}

uint64_t pci_bar_addr(const struct pci_dev *d, unsigned bar)
{
	const struct pci_bar *b = &d->bars[bar];
	uint64_t addr = le_get32(d->cfg + PCI_BASE_ADDRESS_0 + 4 * bar);

	if (!b->size)
		return 0;
	if (b->is64)
		addr |= (uint64_t)le_get32(d->cfg + PCI_BASE_ADDRESS_0 + 4 * bar + 4) << 32;
	return addr & (b->io ? ~3ULL : ~0xfULL);
}

static uint64_t pci_alloc(uint64_t *next, uint64_t end, uint64_t size)
{
	uint64_t addr = (*next + size - 1) & ~(size - 1);

	if (addr < *next || addr + size > end)
		return 0;
	*next = addr + size;
	return addr;
}

static int pci_place_bars(struct pci_bus *pb, struct pci_dev *d)
{
	for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
		struct pci_bar *b = &d->bars[i];
		unsigned off = PCI_BASE_ADDRESS_0 + 4 * i;
		uint64_t addr, io_next = pb->io_next;

		if (!b->size)
			continue;
		if (b->io)
			addr = pci_alloc(&io_next, pb->io_end, b->size);
		else if (b->is64)
			addr = pci_alloc(&pb->mmio64_next, pb->mmio64_end, b->size);
		else
			addr = pci_alloc(&pb->mmio32_next, pb->mmio32_end, b->size);
		if (!addr)
			return -ENOSPC;
		pb->io_next = (uint32_t)io_next;
		le_put32(d->cfg + off, (le_get32(d->cfg + off) & 0xf) | (uint32_t)addr);
		if (b->is64)
			le_put32(d->cfg + off + 4, (uint32_t)(addr >> 32));
	}
	return 0;
}

int pci_bus_add(struct pci_bus *pb, struct pci_dev *d)
{
	int err;

	for (unsigned slot = 1; slot < PCI_SLOTS; slot++) {
		if (pb->slots[slot])
			continue;
		err = pci_place_bars(pb, d);
		if (err)
			return err;
		d->slot = slot;
		pb->slots[slot] = d;
		return (int)slot;
	}
	return -ENOSPC;
}

static struct pci_dev *pci_find(struct pci_bus *pb, unsigned slot, unsigned fn)
{
	if (slot >= PCI_SLOTS || fn != 0)
		return NULL; /* single-function devices only */
	return pb->slots[slot];
}

uint32_t pci_cfg_read(struct pci_bus *pb, unsigned slot, unsigned fn, unsigned off, unsigned len)
{
	struct pci_dev *d = pci_find(pb, slot, fn);
	uint32_t v = 0;

	if (!d || off + len > PCI_CFG_SIZE)
		return len == 4 ? 0xffffffffu : (1u << (8 * len)) - 1;
	if (d->ops && d->ops->cfg_read && d->ops->cfg_read(d, off, len, &v))
		return v;
	memcpy(&v, d->cfg + off, len);
	return v;
}

void pci_cfg_write(struct pci_bus *pb, unsigned slot, unsigned fn, unsigned off, unsigned len,
		   uint32_t val)
{
	struct pci_dev *d = pci_find(pb, slot, fn);

	if (!d || off + len > PCI_CFG_SIZE)
		return;
	for (unsigned i = 0; i < len; i++) {
		uint8_t m = d->wmask[off + i];
		uint8_t b = (uint8_t)(val >> (8 * i));

		d->cfg[off + i] = (uint8_t)((d->cfg[off + i] & ~m) | (b & m));
	}
	if (d->ops && d->ops->cfg_written)
		d->ops->cfg_written(d, off, len);
}

static void pci_addr_read(void *opaque, uint64_t off, void *data, unsigned len)
{
	struct pci_bus *pb = opaque;
	uint32_t v;

	pthread_mutex_lock(&pb->lock);
	v = pb->cf8;
	pthread_mutex_unlock(&pb->lock);
	if (off == 0 && len == 4)
		memcpy(data, &v, 4);
	else
		memset(data, 0xff, len);
}

static void pci_addr_write(void *opaque, uint64_t off, const void *data, unsigned len)
{
	struct pci_bus *pb = opaque;

	/* Byte writes to 0xcf8-0xcfb are other chipset registers, not CONFIG_ADDRESS. */
	if (off != 0 || len != 4)
		return;
	pthread_mutex_lock(&pb->lock);
	memcpy(&pb->cf8, data, 4);
	pthread_mutex_unlock(&pb->lock);
}

static void pci_data_access(struct pci_bus *pb, uint64_t off, void *data, unsigned len,
			    bool is_write)
{
	uint32_t cf8, v = 0;
	unsigned reg;

	pthread_mutex_lock(&pb->lock);
	cf8 = pb->cf8;
	reg = (cf8 & 0xfc) + (unsigned)off;
	if (!(cf8 & CF8_ENABLE) || ((cf8 >> 16) & 0xff) != 0) {
		if (!is_write)
			memset(data, 0xff, len);
	} else if (is_write) {
		memcpy(&v, data, len);
		pci_cfg_write(pb, (cf8 >> 11) & 0x1f, (cf8 >> 8) & 7, reg, len, v);
	} else {
		v = pci_cfg_read(pb, (cf8 >> 11) & 0x1f, (cf8 >> 8) & 7, reg, len);
		memcpy(data, &v, len);
	}
	pthread_mutex_unlock(&pb->lock);
}

static void pci_data_read(void *opaque, uint64_t off, void *data, unsigned len)
{
	pci_data_access(opaque, off, data, len, false);
}

static void pci_data_write(void *opaque, uint64_t off, const void *data, unsigned len)
{
	pci_data_access(opaque, off, (void *)data, len, true);
}

static const struct bus_ops pci_addr_ops = {.read = pci_addr_read, .write = pci_addr_write};
static const struct bus_ops pci_data_ops = {.read = pci_data_read, .write = pci_data_write};

/* BAR decode: find the enabled BAR that covers addr right now. */
static bool pci_bar_access(struct pci_bus *pb, bool io, uint64_t addr, void *data, unsigned len,
			   bool is_write)
{
	const struct bus_ops *ops = NULL;
	uint64_t off = 0;
	void *opaque = NULL;

	pthread_mutex_lock(&pb->lock);
	for (unsigned s = 1; s < PCI_SLOTS && !ops; s++) {
		struct pci_dev *d = pb->slots[s];
		uint16_t cmd;

		if (!d)
			continue;
		cmd = d->cfg[PCI_COMMAND] | d->cfg[PCI_COMMAND + 1] << 8;
		if (!(cmd & (io ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY)))
			continue;
		for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
			uint64_t base = pci_bar_addr(d, i);

			if (d->bars[i].io != io || !base || addr < base ||
			    addr - base >= d->bars[i].size)
				continue;
			ops = d->bars[i].ops;
			opaque = d->bars[i].opaque;
			off = addr - base;
			break;
		}
	}
	pthread_mutex_unlock(&pb->lock);
	if (!ops) {
		if (!is_write)
			memset(data, 0xff, len);
		return false;
	}
	if (is_write && ops->write)
		ops->write(opaque, off, data, len);
	else if (!is_write && ops->read)
		ops->read(opaque, off, data, len);
	return true;
}

static void pci_window_read(void *opaque, uint64_t off, void *data, unsigned len)
{
	struct pci_window *w = opaque;

	pci_bar_access(w->pb, w->io, w->base + off, data, len, false);
}

static void pci_window_write(void *opaque, uint64_t off, const void *data, unsigned len)
{
	struct pci_window *w = opaque;

	pci_bar_access(w->pb, w->io, w->base + off, (void *)data, len, true);
}

static const struct bus_ops pci_window_ops = {.read = pci_window_read, .write = pci_window_write};

int pci_bus_init(struct pci_bus *pb, const struct pci_windows *w, struct bus *pio, struct bus *mmio)
{
	struct pci_window *windows;
	int err;

	memset(pb, 0, sizeof(*pb));
	windows = pb->windows;
	pthread_mutex_init(&pb->lock, NULL);
	pb->mmio32_next = w->mmio32_base;
	pb->mmio32_end = w->mmio32_base + w->mmio32_size;
	pb->mmio64_next = w->mmio64_base;
	pb->mmio64_end = w->mmio64_base + w->mmio64_size;
	pb->io_next = w->io_base;
	pb->io_end = w->io_base + w->io_size;

	pci_dev_init(&pb->host, HOST_VENDOR, HOST_DEVICE, CLASS_HOST_BRIDGE, 0, 0);
	pb->slots[0] = &pb->host;

	err = bus_register(pio, 0xcf8, 4, &pci_addr_ops, pb);
	if (!err)
		err = bus_register(pio, 0xcfc, 4, &pci_data_ops, pb);
	windows[0] = (struct pci_window){pb, w->mmio32_base, false};
	windows[1] = (struct pci_window){pb, w->mmio64_base, false};
	windows[2] = (struct pci_window){pb, w->io_base, true};
	if (!err && w->mmio32_size)
		err = bus_register(mmio, w->mmio32_base, w->mmio32_size, &pci_window_ops,
				   &windows[0]);
	if (!err && w->mmio64_size)
		err = bus_register(mmio, w->mmio64_base, w->mmio64_size, &pci_window_ops,
				   &windows[1]);
	if (!err && w->io_size)
		err = bus_register(pio, w->io_base, w->io_size, &pci_window_ops, &windows[2]);
	return err;
}

void pci_bus_exit(struct pci_bus *pb)
{
	pthread_mutex_destroy(&pb->lock);
}
