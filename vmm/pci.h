/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UVMM_PCI_H
#define UVMM_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus.h"

/*
 * PCI bus 0 behind a host bridge at 00.0, reached with configuration
 * mechanism #1 (0xcf8/0xcfc). Devices attach to a slot; their BARs are
 * decoded by the bus at whatever address the guest programs, so BARs can
 * move without re-registering anything.
 */
#define PCI_SLOTS    32
#define PCI_CFG_SIZE 256
#define PCI_NUM_BARS 6

#define PCI_VENDOR_ID		0x00
#define PCI_DEVICE_ID		0x02
#define PCI_COMMAND		0x04
#define PCI_STATUS		0x06
#define PCI_CLASS_REVISION	0x08
#define PCI_HEADER_TYPE		0x0e
#define PCI_BASE_ADDRESS_0	0x10
#define PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define PCI_CAPABILITY_LIST	0x34
#define PCI_INTERRUPT_LINE	0x3c
#define PCI_INTERRUPT_PIN	0x3d

#define PCI_COMMAND_IO	    0x1
#define PCI_COMMAND_MEMORY  0x2
#define PCI_COMMAND_MASTER  0x4
#define PCI_STATUS_CAP_LIST 0x10

struct pci_dev;

struct pci_dev_ops {
	/* Called after a config write has been applied (capabilities, MSI-X). */
	void (*cfg_written)(struct pci_dev *d, unsigned off, unsigned len);
	/*
	 * Optional: serves a config read itself (a window such as virtio's
	 * PCI_CFG capability); returns false to read cfg[] as usual.
	 */
	bool (*cfg_read)(struct pci_dev *d, unsigned off, unsigned len, uint32_t *val);
};

struct pci_bar {
	uint64_t size; /* power of two; 0 = unused */
	bool io;
	bool is64;
	const struct bus_ops *ops;
	void *opaque;
};

struct pci_dev {
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE]; /* guest-writable bits */
	struct pci_bar bars[PCI_NUM_BARS];
	const struct pci_dev_ops *ops;
	void *opaque;
	unsigned slot;
};

struct pci_bus;

/* An address window of the host bridge, forwarded to the BARs inside it. */
struct pci_window {
	struct pci_bus *pb;
	uint64_t base;
	bool io;
};

struct pci_bus {
	pthread_mutex_t lock;
	struct pci_window windows[3];
	uint32_t cf8;
	struct pci_dev *slots[PCI_SLOTS];
	struct pci_dev host;
	/* Where uvmm places BARs before the guest looks. */
	uint64_t mmio32_next, mmio32_end;
	uint64_t mmio64_next, mmio64_end;
	uint32_t io_next, io_end;
};

struct pci_windows {
	uint64_t mmio32_base, mmio32_size;
	uint64_t mmio64_base, mmio64_size;
	uint32_t io_base, io_size;
};

int pci_bus_init(struct pci_bus *pb, const struct pci_windows *w, struct bus *pio,
		 struct bus *mmio);
void pci_bus_exit(struct pci_bus *pb);
/* Fills the header of d; then set BARs with pci_dev_set_bar() before pci_bus_add(). */
void pci_dev_init(struct pci_dev *d, uint16_t vendor, uint16_t device, uint32_t class_rev,
		  uint16_t subsys_vendor, uint16_t subsys);
void pci_dev_set_bar(struct pci_dev *d, unsigned bar, uint64_t size, bool io, bool is64,
		     const struct bus_ops *ops, void *opaque);
/* Places d's BARs and puts it in the next free slot; returns the slot or -ENOSPC. */
int pci_bus_add(struct pci_bus *pb, struct pci_dev *d);
/* Current guest address of a BAR (0 if unassigned). */
uint64_t pci_bar_addr(const struct pci_dev *d, unsigned bar);

/* Config-space accessors, exposed for tests. */
uint32_t pci_cfg_read(struct pci_bus *pb, unsigned slot, unsigned fn, unsigned off, unsigned len);
void pci_cfg_write(struct pci_bus *pb, unsigned slot, unsigned fn, unsigned off, unsigned len,
		   uint32_t val);

#endif
