// SPDX-License-Identifier: GPL-2.0
/*
 * ACPI tables for a PC-like guest with full (not hardware-reduced) fixed
 * hardware: RSDP, FACS, DSDT, FADT, MADT, XSDT and RSDT, in that order in
 * one buffer. Layouts follow ACPI 6.3; the structs are packed so that any
 * placement in the buffer is a valid access.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "acpi.h"
#include "aml.h"

#define PACKED __attribute__((packed))

#define ACPI_OEM_ID	  "ULTRAV"
#define ACPI_OEM_TABLE_ID "UVMM" /* followed by the signature */
#define ACPI_CREATOR_ID	  "UVMM"
#define ACPI_OEM_REVISION 1

struct acpi_header {
	char sig[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} PACKED;

struct acpi_rsdp {
	char sig[8];
	uint8_t checksum; /* over the ACPI 1.0 part, the first 20 bytes */
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt;
	uint32_t length;
	uint64_t xsdt;
	uint8_t ext_checksum;
	uint8_t reserved[3];
} PACKED;

#define RSDP_V1_LEN 20

struct acpi_gas {
	uint8_t space_id;
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size;
	uint64_t address;
} PACKED;

#define GAS_SYSTEM_IO	 1
#define GAS_ACCESS_BYTE	 1
#define GAS_ACCESS_WORD	 2
#define GAS_ACCESS_DWORD 3

struct acpi_fadt {
	struct acpi_header h;
	uint32_t firmware_ctrl;
	uint32_t dsdt;
	uint8_t reserved0;
	uint8_t pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable, acpi_disable, s4bios_req, pstate_cnt;
	uint32_t pm1a_evt_blk, pm1b_evt_blk, pm1a_cnt_blk, pm1b_cnt_blk;
	uint32_t pm2_cnt_blk, pm_tmr_blk, gpe0_blk, gpe1_blk;
	uint8_t pm1_evt_len, pm1_cnt_len, pm2_cnt_len, pm_tmr_len;
	uint8_t gpe0_blk_len, gpe1_blk_len, gpe1_base, cst_cnt;
	uint16_t p_lvl2_lat, p_lvl3_lat, flush_size, flush_stride;
	uint8_t duty_offset, duty_width, day_alrm, mon_alrm, century;
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl;
	uint64_t x_dsdt;
	struct acpi_gas x_pm1a_evt_blk, x_pm1b_evt_blk, x_pm1a_cnt_blk, x_pm1b_cnt_blk;
	struct acpi_gas x_pm2_cnt_blk, x_pm_tmr_blk, x_gpe0_blk, x_gpe1_blk;
	struct acpi_gas sleep_control, sleep_status;
	uint64_t hypervisor_id;
} PACKED;

#define FADT_REVISION	    6
#define FADT_MINOR_REVISION 3

#define FADT_F_WBINVD	     (1u << 0)
#define FADT_F_PROC_C1	     (1u << 2)
#define FADT_F_SLP_BUTTON    (1u << 5) /* set: no fixed sleep button */
#define FADT_F_RESET_REG_SUP (1u << 10)

#define FADT_BOOT_VGA_NOT_PRESENT (1u << 2)

/* The RTC keeps the century in CMOS byte 0x32, as PC/AT BIOSes did. */
#define FADT_RTC_CENTURY 0x32

/* Above 100 us (C2) and 1000 us (C3) the states count as unsupported. */
#define FADT_C2_NONE 101
#define FADT_C3_NONE 1001

#define PM1_EVT_LEN 4
#define PM1_CNT_LEN 2
#define PM_TMR_LEN  4

struct acpi_facs {
	char sig[4];
	uint32_t length;
	uint32_t hw_signature;
	uint32_t waking_vector;
	uint32_t global_lock;
	uint32_t flags;
	uint64_t x_waking_vector;
	uint8_t version;
	uint8_t reserved[3];
	uint32_t ospm_flags;
	uint8_t reserved2[24];
} PACKED;

#define FACS_VERSION 2
#define FACS_ALIGN   64

struct acpi_madt {
	struct acpi_header h;
	uint32_t lapic_addr;
	uint32_t flags;
} PACKED;

#define MADT_REVISION	 5
#define MADT_PCAT_COMPAT 1
#define MADT_LAPIC	 0
#define MADT_IOAPIC	 1
#define MADT_ISO	 2
#define MADT_LAPIC_NMI	 4
#define MADT_ENABLED	 1
#define MADT_ALL_CPUS	 0xff
/* MPS INTI flags: polarity in bits 0-1, trigger mode in bits 2-3. */
#define MPS_ACTIVE_HIGH 0x1
#define MPS_LEVEL	0xc

struct madt_lapic {
	uint8_t type, length;
	uint8_t uid, apic_id;
	uint32_t flags;
} PACKED;

struct madt_ioapic {
	uint8_t type, length;
	uint8_t id, reserved;
	uint32_t address;
	uint32_t gsi_base;
} PACKED;

struct madt_iso {
	uint8_t type, length;
	uint8_t bus, source;
	uint32_t gsi;
	uint16_t flags;
} PACKED;

struct madt_lapic_nmi {
	uint8_t type, length;
	uint8_t uid;
	uint16_t flags;
	uint8_t lint;
} PACKED;

_Static_assert(sizeof(struct acpi_header) == 36, "ACPI header");
_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP");
_Static_assert(sizeof(struct acpi_gas) == 12, "GAS");
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT");
_Static_assert(sizeof(struct acpi_facs) == 64, "FACS");
_Static_assert(sizeof(struct acpi_madt) == 44, "MADT");
_Static_assert(sizeof(struct madt_lapic) == 8, "MADT LAPIC");
_Static_assert(sizeof(struct madt_ioapic) == 12, "MADT IOAPIC");
_Static_assert(sizeof(struct madt_iso) == 10, "MADT ISO");
_Static_assert(sizeof(struct madt_lapic_nmi) == 6, "MADT LAPIC NMI");

/* Standard PC devices the DSDT names for pnpacpi. */
#define COM1_PORT      0x3f8
#define COM1_IRQ       4
#define RTC_PORT       0x70
#define RTC_IRQ	       8
#define PCI_CONF1_PORT 0xcf8

/* The output buffer, carved front to back. */
struct acpi_buf {
	uint8_t *base;
	uint64_t gpa;
	size_t size;
	size_t off;
};

uint8_t acpi_checksum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	while (len--)
		sum += *b++;
	return sum;
}

/* Zeroed space for len bytes at a guest address aligned to align. */
static void *acpi_alloc(struct acpi_buf *b, size_t len, size_t align)
{
	uint64_t addr = (b->gpa + b->off + align - 1) & ~(uint64_t)(align - 1);
	size_t off = addr - b->gpa;

	if (off > b->size || len > b->size - off)
		return NULL;
	memset(b->base + b->off, 0, off + len - b->off);
	b->off = off + len;
	return b->base + off;
}

static uint64_t acpi_gpa(const struct acpi_buf *b, const void *p)
{
	return b->gpa + (uint64_t)((const uint8_t *)p - b->base);
}

static void acpi_header_init(struct acpi_header *h, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(h->sig, sig, 4);
	h->length = len;
	h->revision = rev;
	memcpy(h->oem_id, ACPI_OEM_ID, 6);
	memcpy(h->oem_table_id, ACPI_OEM_TABLE_ID, 4);
	memcpy(h->oem_table_id + 4, sig, 4);
	h->oem_revision = ACPI_OEM_REVISION;
	memcpy(h->creator_id, ACPI_CREATOR_ID, 4);
	h->creator_revision = 1;
}

/* Last step for a table: every field, including length, is final. */
static void acpi_header_seal(struct acpi_header *h)
{
	h->checksum = 0;
	h->checksum = -acpi_checksum(h, h->length);
}

static void gas_io(struct acpi_gas *g, uint16_t port, unsigned bytes, uint8_t access)
{
	g->space_id = GAS_SYSTEM_IO;
	g->bit_width = bytes * 8;
	g->bit_offset = 0;
	g->access_size = access;
	g->address = port;
}

static void dsdt_pci0(const struct acpi_config *cfg, struct aml *a)
{
	size_t dev, crs;

	dev = aml_device_begin(a, "PCI0");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0A03");
	/* No _ADR: a device has _HID or _ADR, never both. */
	aml_name(a, "_UID");
	aml_integer(a, 0);
	aml_name(a, "_SEG");
	aml_integer(a, 0);
	aml_name(a, "_BBN");
	aml_integer(a, 0);

	aml_name(a, "_CRS");
	crs = aml_restemplate_begin(a);
	aml_res_word_bus(a, 0, 0xff);
	/* The config ports are the bridge's own, not forwarded to the bus. */
	aml_res_io(a, PCI_CONF1_PORT, PCI_CONF1_PORT, 1, 8);
	/* Legacy ISA ports below them (PM, COM, RTC, PIC, PIT) pass through. */
	aml_res_word_io(a, 0, PCI_CONF1_PORT - 1);
	if (cfg->pci_io_size)
		aml_res_word_io(a, cfg->pci_io_base, cfg->pci_io_base + cfg->pci_io_size - 1);
	if (cfg->mmio32_size)
		aml_res_dword_mem(a, cfg->mmio32_base, cfg->mmio32_base + cfg->mmio32_size - 1,
				  false);
	if (cfg->mmio64_size)
		aml_res_qword_mem(a, cfg->mmio64_base, cfg->mmio64_base + cfg->mmio64_size - 1,
				  true);
	aml_restemplate_end(a, crs);
	aml_end(a, dev);
}

/* An ISA device with one port range and one edge-triggered IRQ. */
static void dsdt_isa_dev(struct aml *a, const char *name, const char *hid, int uid, uint16_t port,
			 uint8_t len, unsigned irq)
{
	size_t dev, crs;

	dev = aml_device_begin(a, name);
	aml_name(a, "_HID");
	aml_eisaid(a, hid);
	if (uid >= 0) {
		aml_name(a, "_UID");
		aml_integer(a, uid);
	}
	aml_name(a, "_CRS");
	crs = aml_restemplate_begin(a);
	aml_res_io(a, port, port, 1, len);
	aml_res_irq_noflags(a, 1u << irq);
	aml_restemplate_end(a, crs);
	aml_end(a, dev);
}

static void dsdt_write(const struct acpi_config *cfg, struct aml *a)
{
	size_t pkg, sb;

	/* SLP_TYPa and SLP_TYPb for S5; the PM device powers off on 5. */
	aml_name(a, "_S5_");
	pkg = aml_package_begin(a, 4);
	aml_integer(a, 5);
	aml_integer(a, 5);
	aml_integer(a, 0);
	aml_integer(a, 0);
	aml_end(a, pkg);

	sb = aml_scope_begin(a, "\\_SB");
	dsdt_pci0(cfg, a);
	dsdt_isa_dev(a, "COM1", "PNP0501", 1, COM1_PORT, 8, COM1_IRQ);
	dsdt_isa_dev(a, "RTC", "PNP0B00", -1, RTC_PORT, 2, RTC_IRQ);
	aml_end(a, sb);
}

static struct acpi_header *dsdt_build(const struct acpi_config *cfg, struct acpi_buf *b, int *err)
{
	struct acpi_header *h = acpi_alloc(b, sizeof(*h), 16);
	struct aml a;

	if (!h) {
		*err = -ENOSPC;
		return NULL;
	}
	aml_init(&a, b->base + b->off, b->size - b->off);
	dsdt_write(cfg, &a);
	if (a.err) {
		*err = a.err;
		return NULL;
	}
	b->off += a.len;
	/* Revision 2: integers in the AML are 64 bits wide. */
	acpi_header_init(h, "DSDT", sizeof(*h) + a.len, 2);
	acpi_header_seal(h);
	return h;
}

static struct acpi_facs *facs_build(struct acpi_buf *b)
{
	struct acpi_facs *f = acpi_alloc(b, sizeof(*f), FACS_ALIGN);

	if (!f)
		return NULL;
	memcpy(f->sig, "FACS", 4);
	f->length = sizeof(*f);
	f->version = FACS_VERSION;
	/* No checksum: the OS writes the global lock and waking vector. */
	return f;
}

static void fadt_fill_pm(const struct acpi_config *cfg, struct acpi_fadt *f)
{
	f->sci_int = cfg->sci_irq;
	/* SMI_CMD 0: no SMM handshake, the platform is in ACPI mode already. */
	f->smi_cmd = 0;
	f->pm1a_evt_blk = cfg->pm_evt_port;
	f->pm1_evt_len = PM1_EVT_LEN;
	gas_io(&f->x_pm1a_evt_blk, cfg->pm_evt_port, PM1_EVT_LEN, GAS_ACCESS_WORD);
	f->pm1a_cnt_blk = cfg->pm_cnt_port;
	f->pm1_cnt_len = PM1_CNT_LEN;
	gas_io(&f->x_pm1a_cnt_blk, cfg->pm_cnt_port, PM1_CNT_LEN, GAS_ACCESS_WORD);
	if (cfg->pm_tmr_port) {
		f->pm_tmr_blk = cfg->pm_tmr_port;
		f->pm_tmr_len = PM_TMR_LEN;
		gas_io(&f->x_pm_tmr_blk, cfg->pm_tmr_port, PM_TMR_LEN, GAS_ACCESS_DWORD);
	}
	if (cfg->reset_port) {
		gas_io(&f->reset_reg, cfg->reset_port, 1, GAS_ACCESS_BYTE);
		f->reset_value = cfg->reset_value;
		f->flags |= FADT_F_RESET_REG_SUP;
	}
}

static struct acpi_fadt *fadt_build(const struct acpi_config *cfg, struct acpi_buf *b,
				    const struct acpi_facs *facs, const struct acpi_header *dsdt)
{
	struct acpi_fadt *f = acpi_alloc(b, sizeof(*f), 16);

	if (!f)
		return NULL;
	acpi_header_init(&f->h, "FACP", sizeof(*f), FADT_REVISION);
	f->minor_version = FADT_MINOR_REVISION;
	/*
	 * The spec wants X_FIRMWARE_CTRL zero when FIRMWARE_CTRL is set, and
	 * ACPICA would map the FACS twice; the buffer is below 4 GiB.
	 */
	f->firmware_ctrl = acpi_gpa(b, facs);
	f->dsdt = acpi_gpa(b, dsdt);
	f->x_dsdt = acpi_gpa(b, dsdt);
	f->p_lvl2_lat = FADT_C2_NONE;
	f->p_lvl3_lat = FADT_C3_NONE;
	f->century = FADT_RTC_CENTURY;
	/* No 8042 (Linux then skips probing it), no VGA, CMOS RTC present. */
	f->iapc_boot_arch = FADT_BOOT_VGA_NOT_PRESENT;
	/* PWR_BUTTON clear: the fixed power button exists. */
	f->flags = FADT_F_WBINVD | FADT_F_PROC_C1 | FADT_F_SLP_BUTTON;
	fadt_fill_pm(cfg, f);
	acpi_header_seal(&f->h);
	return f;
}

static struct acpi_madt *madt_build(const struct acpi_config *cfg, struct acpi_buf *b)
{
	size_t len = sizeof(struct acpi_madt) + cfg->nr_cpus * sizeof(struct madt_lapic) +
		     sizeof(struct madt_ioapic) + sizeof(struct madt_iso) +
		     sizeof(struct madt_lapic_nmi);
	struct acpi_madt *m = acpi_alloc(b, len, 16);
	struct madt_ioapic *io;
	struct madt_lapic *l;
	struct madt_iso *iso;
	struct madt_lapic_nmi *nmi;

	if (!m)
		return NULL;
	acpi_header_init(&m->h, "APIC", len, MADT_REVISION);
	m->lapic_addr = cfg->lapic_addr;
	/* The 8259s exist; the OS masks them when it takes the IOAPIC. */
	m->flags = MADT_PCAT_COMPAT;

	l = (struct madt_lapic *)(m + 1);
	for (unsigned i = 0; i < cfg->nr_cpus; i++, l++)
		*l = (struct madt_lapic){
			.type = MADT_LAPIC,
			.length = sizeof(*l),
			.uid = i,
			.apic_id = i,
			.flags = MADT_ENABLED,
		};

	io = (struct madt_ioapic *)l;
	*io = (struct madt_ioapic){
		.type = MADT_IOAPIC,
		.length = sizeof(*io),
		.id = cfg->ioapic_id,
		.address = cfg->ioapic_addr,
		.gsi_base = 0,
	};

	/* Without this Linux would make the SCI active-low like a PCI line. */
	iso = (struct madt_iso *)(io + 1);
	*iso = (struct madt_iso){
		.type = MADT_ISO,
		.length = sizeof(*iso),
		.bus = 0, /* ISA */
		.source = cfg->sci_irq,
		.gsi = cfg->sci_irq,
		.flags = MPS_ACTIVE_HIGH | MPS_LEVEL,
	};

	nmi = (struct madt_lapic_nmi *)(iso + 1);
	*nmi = (struct madt_lapic_nmi){
		.type = MADT_LAPIC_NMI,
		.length = sizeof(*nmi),
		.uid = MADT_ALL_CPUS,
		.flags = 0, /* conforming to the bus */
		.lint = 1,
	};

	acpi_header_seal(&m->h);
	return m;
}

static int acpi_config_check(const struct acpi_config *cfg, uint64_t gpa, size_t size)
{
	const uint64_t four_g = 1ULL << 32;

	if (cfg->nr_cpus < 1 || cfg->nr_cpus > ACPI_MAX_CPUS)
		return -EINVAL;
	/* RSDT and the FADT's 32-bit pointers must reach every table. */
	if (gpa % 16 || gpa >= four_g || size > four_g - gpa)
		return -EINVAL;
	if (!cfg->pm_evt_port || !cfg->pm_cnt_port)
		return -EINVAL;
	if (cfg->pci_io_size && cfg->pci_io_base + cfg->pci_io_size - 1 > UINT16_MAX)
		return -EINVAL;
	if (cfg->mmio32_size &&
	    (cfg->mmio32_base >= four_g || cfg->mmio32_size > four_g - cfg->mmio32_base))
		return -EINVAL;
	if (cfg->mmio64_size && cfg->mmio64_base + cfg->mmio64_size - 1 < cfg->mmio64_base)
		return -EINVAL;
	return 0;
}

/* Two tables hang off the root: FADT (which leads to FACS, DSDT) and MADT. */
#define ROOT_ENTRIES 2

static int roots_build(struct acpi_buf *b, struct acpi_rsdp *rsdp,
		       const struct acpi_header *tables[ROOT_ENTRIES])
{
	struct acpi_header *xsdt, *rsdt;
	size_t xlen = sizeof(*xsdt) + ROOT_ENTRIES * 8;
	size_t rlen = sizeof(*rsdt) + ROOT_ENTRIES * 4;

	xsdt = acpi_alloc(b, xlen, 16);
	rsdt = xsdt ? acpi_alloc(b, rlen, 16) : NULL;
	if (!rsdt)
		return -ENOSPC;
	acpi_header_init(xsdt, "XSDT", xlen, 1);
	acpi_header_init(rsdt, "RSDT", rlen, 1);
	for (unsigned i = 0; i < ROOT_ENTRIES; i++) {
		uint64_t addr = acpi_gpa(b, tables[i]);
		uint32_t addr32 = addr;

		/* Entries are unaligned in the XSDT; copy bytes. */
		memcpy((uint8_t *)(xsdt + 1) + 8 * i, &addr, 8);
		memcpy((uint8_t *)(rsdt + 1) + 4 * i, &addr32, 4);
	}
	acpi_header_seal(xsdt);
	acpi_header_seal(rsdt);

	memcpy(rsdp->sig, "RSD PTR ", 8);
	memcpy(rsdp->oem_id, ACPI_OEM_ID, 6);
	rsdp->revision = 2;
	rsdp->rsdt = acpi_gpa(b, rsdt);
	rsdp->length = sizeof(*rsdp);
	rsdp->xsdt = acpi_gpa(b, xsdt);
	rsdp->checksum = -acpi_checksum(rsdp, RSDP_V1_LEN);
	rsdp->ext_checksum = -acpi_checksum(rsdp, sizeof(*rsdp));
	return 0;
}

long acpi_build(const struct acpi_config *cfg, void *buf, uint64_t gpa, size_t size)
{
	struct acpi_buf b = {.base = buf, .gpa = gpa, .size = size};
	const struct acpi_header *roots[ROOT_ENTRIES];
	struct acpi_header *dsdt;
	struct acpi_rsdp *rsdp;
	struct acpi_facs *facs;
	struct acpi_fadt *fadt;
	struct acpi_madt *madt;
	int err = acpi_config_check(cfg, gpa, size);

	if (err)
		return err;
	rsdp = acpi_alloc(&b, sizeof(*rsdp), 16);
	facs = rsdp ? facs_build(&b) : NULL;
	if (!facs)
		return -ENOSPC;
	/*
	 * The DSDT goes before fixed-size tables: the AML writer holds 3
	 * spare bytes per open PkgLength until it closes, and the FADT after
	 * it covers them, so a buffer of exactly the returned size works.
	 */
	dsdt = dsdt_build(cfg, &b, &err);
	if (!dsdt)
		return err;
	fadt = fadt_build(cfg, &b, facs, dsdt);
	madt = fadt ? madt_build(cfg, &b) : NULL;
	if (!madt)
		return -ENOSPC;
	roots[0] = &fadt->h;
	roots[1] = &madt->h;
	err = roots_build(&b, rsdp, roots);
	if (err)
		return err;
	return b.off;
}
