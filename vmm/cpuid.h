/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UVMM_CPUID_H
#define UVMM_CPUID_H

#include <linux/kvm.h>

/* Room for the leaves KVM reports plus the topology leaves we rebuild. */
#define CPUID_MAX_ENTRIES 256

struct kvm_cpuid2 *cpuid_alloc(void);
/* KVM_GET_SUPPORTED_CPUID into a cpuid_alloc()ed table. */
int cpuid_get_supported(int kvm_fd, struct kvm_cpuid2 *c);
/*
 * Turns the supported table into vCPU cpu's view of an nr_cpus guest: one
 * socket, one thread per core, APIC ID = cpu; the hypervisor bit set;
 * virtualization, thermal, debug-store and perfmon-capability features
 * removed; the KVM leaves kept. Returns 0, or -ENOSPC if the table is full.
 */
int cpuid_filter(struct kvm_cpuid2 *c, unsigned cpu, unsigned nr_cpus);
/* The entry for (function, index), or NULL. */
struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *c, unsigned function, unsigned index);

#endif
