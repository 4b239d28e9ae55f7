/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UVMM_MPTABLE_H
#define UVMM_MPTABLE_H

#include <stddef.h>
#include <stdint.h>

/* xAPIC IDs 0..254; 255 is the broadcast ID. */
#define MPTABLE_MAX_CPUS 255

/*
 * Intel MultiProcessor Specification 1.4 tables for kernels booted with
 * acpi=off: floating pointer, then the configuration table with one
 * processor entry per vCPU (APIC ID = index), the ISA and PCI buses, the
 * IOAPIC (ID nr_cpus) and identity interrupt assignments for ISA IRQs 0-15.
 * LINT0 is ExtINT and LINT1 NMI on every CPU. buf (at guest-physical gpa,
 * 16-byte aligned, below 4 GiB) gets the floating pointer, then the table:
 * 16 + 44 + 20 * nr_cpus + 168 bytes. Returns bytes used, -ENOSPC if size is
 * too small, or -EINVAL (nr_cpus outside 1..255, fewer than 16 pins, bad gpa).
 */
long mptable_build(void *buf, uint64_t gpa, size_t size, unsigned nr_cpus, uint32_t ioapic_addr,
		   unsigned ioapic_pins);

#endif
