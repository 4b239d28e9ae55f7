// SPDX-License-Identifier: GPL-2.0
/*
 * Intel MultiProcessor Specification 1.4 tables, for guests that run with
 * acpi=off. The entries mirror the MADT: every vCPU enabled, one IOAPIC,
 * ISA IRQs 0-15 on IOAPIC pins 0-15 (KVM's default GSI routing is the
 * identity, so IRQ 0 needs no move to pin 2), ExtINT on LINT0, NMI on LINT1.
 */
#include <errno.h>
#include <string.h>

#include "layout.h"
#include "mptable.h"

#define PACKED __attribute__((packed))

#define MP_SPEC_REV 4 /* 1.4 */
#define MP_OEM_ID   "ULTRAV  "
#define MP_PRODUCT  "UVMM        "

struct mpf {
	char sig[4];
	uint32_t config; /* physical address of the configuration table */
	uint8_t length;	 /* in 16-byte units */
	uint8_t spec_rev;
	uint8_t checksum;
	uint8_t feature[5]; /* all 0: a configuration table is present, no IMCR */
} PACKED;

struct mpc {
	char sig[4];
	uint16_t length;
	uint8_t spec_rev;
	uint8_t checksum;
	char oem_id[8];
	char product_id[12];
	uint32_t oem_table;
	uint16_t oem_table_size;
	uint16_t count;
	uint32_t lapic;
	uint16_t ext_length;
	uint8_t ext_checksum;
	uint8_t reserved;
} PACKED;

struct mpc_cpu {
	uint8_t type;
	uint8_t apic_id;
	uint8_t apic_ver;
	uint8_t flags;
	uint32_t signature;
	uint32_t features;
	uint32_t reserved[2];
} PACKED;

struct mpc_bus {
	uint8_t type;
	uint8_t id;
	char name[6];
} PACKED;

struct mpc_ioapic {
	uint8_t type;
	uint8_t id;
	uint8_t ver;
	uint8_t flags;
	uint32_t addr;
} PACKED;

/* I/O and local interrupt assignments share a layout. */
struct mpc_int {
	uint8_t type;
	uint8_t irq_type;
	uint16_t flags;
	uint8_t bus;
	uint8_t bus_irq;
	uint8_t dst_apic;
	uint8_t dst_pin;
} PACKED;

_Static_assert(sizeof(struct mpf) == 16, "MP floating pointer");
_Static_assert(sizeof(struct mpc) == 44, "MP config header");
_Static_assert(sizeof(struct mpc_cpu) == 20, "MP processor");
_Static_assert(sizeof(struct mpc_bus) == 8, "MP bus");
_Static_assert(sizeof(struct mpc_ioapic) == 8, "MP IOAPIC");
_Static_assert(sizeof(struct mpc_int) == 8, "MP interrupt");

enum { MP_CPU, MP_BUS, MP_IOAPIC, MP_IOINT, MP_LINT };
enum { MP_INT, MP_NMI, MP_SMI, MP_EXTINT };

#define MP_CPU_EN     1
#define MP_CPU_BP     2
#define MP_IOAPIC_EN  1
#define MP_ALL_LAPICS 0xff

/* The versions KVM's in-kernel LAPIC and IOAPIC report. */
#define LAPIC_VERSION  0x14
#define IOAPIC_VERSION 0x11

/*
 * Linux only prints these. Family 6 with an FPU (bit 0) and an on-chip
 * APIC (bit 9) says "a modern CPU" without promising anything else.
 */
#define MP_CPU_SIGNATURE (6 << 8)
#define MP_CPU_FEATURES	 ((1u << 0) | (1u << 9))

#define MP_BUS_PCI 0
#define MP_BUS_ISA 1
#define ISA_IRQS   16

static uint8_t mp_checksum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	while (len--)
		sum += *b++;
	return sum;
}

static size_t mpc_length(unsigned nr_cpus)
{
	return sizeof(struct mpc) + nr_cpus * sizeof(struct mpc_cpu) + 2 * sizeof(struct mpc_bus) +
	       sizeof(struct mpc_ioapic) + (ISA_IRQS + 2) * sizeof(struct mpc_int);
}

static uint8_t *mpc_cpus(uint8_t *p, unsigned nr_cpus)
{
	for (unsigned i = 0; i < nr_cpus; i++) {
		struct mpc_cpu *c = (struct mpc_cpu *)p;

		*c = (struct mpc_cpu){
			.type = MP_CPU,
			.apic_id = i,
			.apic_ver = LAPIC_VERSION,
			.flags = MP_CPU_EN | (i == 0 ? MP_CPU_BP : 0),
			.signature = MP_CPU_SIGNATURE,
			.features = MP_CPU_FEATURES,
		};
		p += sizeof(*c);
	}
	return p;
}

/* Bus entries come in ascending bus ID order. */
static uint8_t *mpc_buses(uint8_t *p)
{
	struct mpc_bus *b = (struct mpc_bus *)p;

	b[0] = (struct mpc_bus){MP_BUS, MP_BUS_PCI, {'P', 'C', 'I', ' ', ' ', ' '}};
	b[1] = (struct mpc_bus){MP_BUS, MP_BUS_ISA, {'I', 'S', 'A', ' ', ' ', ' '}};
	return p + 2 * sizeof(*b);
}

static uint8_t *mpc_ints(uint8_t *p, uint8_t ioapic_id)
{
	struct mpc_int *e = (struct mpc_int *)p;

	/* Flags 0: polarity and trigger conform to the ISA bus (high, edge). */
	for (unsigned irq = 0; irq < ISA_IRQS; irq++)
		*e++ = (struct mpc_int){MP_IOINT, MP_INT, 0, MP_BUS_ISA, irq, ioapic_id, irq};
	*e++ = (struct mpc_int){MP_LINT, MP_EXTINT, 0, MP_BUS_ISA, 0, MP_ALL_LAPICS, 0};
	*e++ = (struct mpc_int){MP_LINT, MP_NMI, 0, MP_BUS_ISA, 0, MP_ALL_LAPICS, 1};
	return (uint8_t *)e;
}

long mptable_build(void *buf, uint64_t gpa, size_t size, unsigned nr_cpus, uint32_t ioapic_addr,
		   unsigned ioapic_pins)
{
	uint8_t ioapic_id = nr_cpus;
	struct mpc_ioapic *io;
	struct mpf *mpf = buf;
	struct mpc *mpc;
	size_t len;
	uint8_t *p;

	if (nr_cpus < 1 || nr_cpus > MPTABLE_MAX_CPUS || ioapic_pins < ISA_IRQS)
		return -EINVAL;
	len = mpc_length(nr_cpus);
	/* The floating pointer is found by a 16-byte scan; its pointer is 32-bit. */
	if (gpa % 16 || gpa > (1ULL << 32) - sizeof(*mpf) - len)
		return -EINVAL;
	if (size < sizeof(*mpf) || size - sizeof(*mpf) < len)
		return -ENOSPC;
	memset(buf, 0, sizeof(*mpf) + len);

	mpc = (struct mpc *)(mpf + 1);
	memcpy(mpc->sig, "PCMP", 4);
	mpc->length = len;
	mpc->spec_rev = MP_SPEC_REV;
	memcpy(mpc->oem_id, MP_OEM_ID, sizeof(mpc->oem_id));
	memcpy(mpc->product_id, MP_PRODUCT, sizeof(mpc->product_id));
	mpc->count = nr_cpus + 2 + 1 + ISA_IRQS + 2;
	mpc->lapic = LAYOUT_LAPIC;

	p = mpc_cpus((uint8_t *)(mpc + 1), nr_cpus);
	p = mpc_buses(p);
	io = (struct mpc_ioapic *)p;
	*io = (struct mpc_ioapic){MP_IOAPIC, ioapic_id, IOAPIC_VERSION, MP_IOAPIC_EN, ioapic_addr};
	p = mpc_ints((uint8_t *)(io + 1), ioapic_id);
	mpc->checksum = -mp_checksum(mpc, len);

	memcpy(mpf->sig, "_MP_", 4);
	mpf->config = gpa + sizeof(*mpf);
	mpf->length = 1;
	mpf->spec_rev = MP_SPEC_REV;
	mpf->checksum = -mp_checksum(mpf, sizeof(*mpf));
	return p - (uint8_t *)buf;
}
