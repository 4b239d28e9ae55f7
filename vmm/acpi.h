/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UVMM_ACPI_H
#define UVMM_ACPI_H

#include <stddef.h>
#include <stdint.h>

/* xAPIC IDs 0..254; 255 is the broadcast ID. */
#define ACPI_MAX_CPUS 255

/* What the ACPI tables describe; filled by the VM from its layout. */
struct acpi_config {
	unsigned nr_cpus; /* APIC IDs are 0 .. nr_cpus-1 */
	uint32_t lapic_addr;
	uint32_t ioapic_addr;
	uint8_t ioapic_id;
	uint16_t pm_evt_port; /* PM1a event block, 4 bytes */
	uint16_t pm_cnt_port; /* PM1a control block, 2 bytes */
	uint16_t pm_tmr_port; /* PM timer, 4 bytes, 24-bit */
	uint8_t sci_irq;
	/* FADT RESET_REG: writing reset_value to this port resets; 0 = none. */
	uint16_t reset_port;
	uint8_t reset_value;
	/* PCI host bridge 0000:00 (config mechanism #1 at 0xcf8) and its windows. */
	uint16_t pci_io_base, pci_io_size;
	uint64_t mmio32_base, mmio32_size;
	uint64_t mmio64_base, mmio64_size;
};

/*
 * Writes the RSDP at the start of buf and the FACS, DSDT, FADT, MADT, XSDT
 * and RSDT after it. gpa is the guest-physical address of buf. Returns bytes used,
 * or -ENOSPC if size is too small, or -EINVAL for a config the tables
 * cannot express: nr_cpus outside 1..255, gpa not 16-byte aligned, buf
 * not wholly below 4 GiB, a window that wraps or the 32-bit window above
 * 4 GiB, or no PM1a event/control port.
 */
long acpi_build(const struct acpi_config *cfg, void *buf, uint64_t gpa, size_t size);

/* Sum of bytes; a valid table sums to 0. Exposed for tests. */
uint8_t acpi_checksum(const void *p, size_t len);

#endif
