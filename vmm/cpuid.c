// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "cpuid.h"

#define F1_ECX_DTES64	  (1u << 2)
#define F1_ECX_MONITOR	  (1u << 3)
#define F1_ECX_DS_CPL	  (1u << 4)
#define F1_ECX_VMX	  (1u << 5)
#define F1_ECX_SMX	  (1u << 6)
#define F1_ECX_EST	  (1u << 7)
#define F1_ECX_TM2	  (1u << 8)
#define F1_ECX_PDCM	  (1u << 15)
#define F1_ECX_HYPERVISOR (1u << 31)
#define F1_EDX_DS	  (1u << 21)
#define F1_EDX_ACPI	  (1u << 22)
#define F1_EDX_HTT	  (1u << 28)
#define F1_EDX_TM	  (1u << 29)
#define F1_EDX_PBE	  (1u << 31)
#define E1_ECX_SVM	  (1u << 2)
#define F6_EAX_ARAT	  (1u << 2)

#define TOPO_LEVEL_SMT	1
#define TOPO_LEVEL_CORE 2

struct kvm_cpuid2 *cpuid_alloc(void)
{
	struct kvm_cpuid2 *c;

	c = calloc(1, sizeof(*c) + CPUID_MAX_ENTRIES * sizeof(c->entries[0]));
	if (c)
		c->nent = CPUID_MAX_ENTRIES;
	return c;
}

int cpuid_get_supported(int kvm_fd, struct kvm_cpuid2 *c)
{
	c->nent = CPUID_MAX_ENTRIES;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0)
		return -errno;
	return 0;
}

struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *c, unsigned function, unsigned index)
{
	for (unsigned i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		if (e->function != function)
			continue;
		if (!(e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) || e->index == index)
			return e;
	}
	return NULL;
}

static unsigned order_base_2(unsigned n)
{
	unsigned bits = 0;

	while ((1u << bits) < n)
		bits++;
	return bits;
}

static bool cpuid_is_amd(struct kvm_cpuid2 *c)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(c, 0, 0);

	/* "AuthenticAMD" and Hygon's "HygonGenuine" share AMD's topology leaves. */
	return e && (e->ebx == 0x68747541 || e->ebx == 0x6f677948);
}

static void cpuid_remove(struct kvm_cpuid2 *c, unsigned function)
{
	unsigned j = 0;

	for (unsigned i = 0; i < c->nent; i++)
		if (c->entries[i].function != function)
			c->entries[j++] = c->entries[i];
	c->nent = j;
}

/* Leaves 0xb and 0x1f: one SMT level of 1, one core level of nr_cpus. */
static int cpuid_set_ext_topology(struct kvm_cpuid2 *c, unsigned function, unsigned cpu,
				  unsigned nr_cpus)
{
	cpuid_remove(c, function);
	for (unsigned sub = 0; sub < 3; sub++) {
		struct kvm_cpuid_entry2 *e;

		if (c->nent >= CPUID_MAX_ENTRIES)
			return -ENOSPC;
		e = &c->entries[c->nent++];
		memset(e, 0, sizeof(*e));
		e->function = function;
		e->index = sub;
		e->flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
		e->edx = cpu;
		e->ecx = sub;
		if (sub == 0) {
			e->ebx = 1;
			e->ecx |= TOPO_LEVEL_SMT << 8;
		} else if (sub == 1) {
			e->eax = order_base_2(nr_cpus);
			e->ebx = nr_cpus;
			e->ecx |= TOPO_LEVEL_CORE << 8;
		}
	}
	return 0;
}

/* Caches up to L2 are per core; L3 is shared by the whole socket. */
static void cpuid_set_cache_sharing(struct kvm_cpuid_entry2 *e, unsigned nr_cpus, bool cores)
{
	unsigned level = (e->eax >> 5) & 7;
	unsigned sharing = level >= 3 ? nr_cpus - 1 : 0;

	if (!(e->eax & 0x1f))
		return; /* no more caches */
	e->eax &= ~(0xfffu << 14);
	e->eax |= (sharing & 0xfff) << 14;
	if (cores) {
		e->eax &= ~(0x3fu << 26);
		e->eax |= ((nr_cpus - 1) & 0x3f) << 26;
	}
}

static void cpuid_filter_entry(struct kvm_cpuid_entry2 *e, unsigned cpu, unsigned nr_cpus, bool amd)
{
	switch (e->function) {
	case 1:
		e->ebx &= 0x0000ffff;
		e->ebx |= (cpu & 0xff) << 24 | (nr_cpus & 0xff) << 16;
		e->ecx &= ~(F1_ECX_DTES64 | F1_ECX_MONITOR | F1_ECX_DS_CPL | F1_ECX_VMX |
			    F1_ECX_SMX | F1_ECX_EST | F1_ECX_TM2 | F1_ECX_PDCM);
		e->ecx |= F1_ECX_HYPERVISOR;
		e->edx &= ~(F1_EDX_DS | F1_EDX_ACPI | F1_EDX_TM | F1_EDX_PBE | F1_EDX_HTT);
		if (nr_cpus > 1)
			e->edx |= F1_EDX_HTT;
		break;
	case 4:
		cpuid_set_cache_sharing(e, nr_cpus, true);
		break;
	case 6:
		/* No thermal or power management; keep "APIC timer always runs". */
		e->eax &= F6_EAX_ARAT;
		e->ebx = e->ecx = e->edx = 0;
		break;
	case 0x40000001:
		/* The vCPUs are not pinned: no realtime hint. */
		e->edx = 0;
		break;
	case 0x80000001:
		e->ecx &= ~E1_ECX_SVM;
		break;
	case 0x80000008:
		if (amd) {
			e->ecx &= ~0xf0ffu;
			e->ecx |= (nr_cpus - 1) & 0xff;
			e->ecx |= order_base_2(nr_cpus) << 12;
		}
		break;
	case 0x8000001d:
		cpuid_set_cache_sharing(e, nr_cpus, false);
		break;
	case 0x8000001e:
		e->eax = cpu;
		e->ebx = cpu & 0xff; /* compute unit = core, one thread each */
		e->ecx = 0;	     /* node 0, one node */
		break;
	}
}

int cpuid_filter(struct kvm_cpuid2 *c, unsigned cpu, unsigned nr_cpus)
{
	struct kvm_cpuid_entry2 *leaf0 = cpuid_find(c, 0, 0);
	bool amd = cpuid_is_amd(c);
	bool has_1f = cpuid_find(c, 0x1f, 0) != NULL;
	int err;

	for (unsigned i = 0; i < c->nent; i++)
		cpuid_filter_entry(&c->entries[i], cpu, nr_cpus, amd);
	if (leaf0 && leaf0->eax >= 0xb) {
		err = cpuid_set_ext_topology(c, 0xb, cpu, nr_cpus);
		if (err)
			return err;
	}
	if (has_1f)
		return cpuid_set_ext_topology(c, 0x1f, cpu, nr_cpus);
	return 0;
}
