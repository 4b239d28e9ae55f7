// SPDX-License-Identifier: GPL-2.0
/*
 * ACPI tables and the AML writer. Tables are parsed here by the spec's byte
 * offsets, not by acpi.c's structs, so a layout slip shows up.
 */
#include <check.h>

#include "uvcheck.h"
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "acpi.h"
#include "aml.h"
#include "layout.h"
#include "le.h"

#define BUF_GPA	 LAYOUT_BIOS
#define BUF_SIZE 0x10000

static uint8_t buf[BUF_SIZE];

static struct acpi_config test_config(unsigned nr_cpus)
{
	return (struct acpi_config){
		.nr_cpus = nr_cpus,
		.lapic_addr = LAYOUT_LAPIC,
		.ioapic_addr = LAYOUT_IOAPIC,
		.ioapic_id = nr_cpus < 255 ? nr_cpus : 0,
		.pm_evt_port = PORT_PM_EVT,
		.pm_cnt_port = PORT_PM_CNT,
		.pm_tmr_port = PORT_PM_TMR,
		.sci_irq = IRQ_SCI,
		.pci_io_base = PORT_PCI_IO_BASE,
		.pci_io_size = PORT_PCI_IO_SIZE,
		.mmio32_base = LAYOUT_MMIO32_BASE,
		.mmio32_size = LAYOUT_MMIO32_SIZE,
		.mmio64_base = 0x1000000000ULL,
		.mmio64_size = LAYOUT_MMIO64_SIZE,
	};
}

static long build(const struct acpi_config *c)
{
	memset(buf, 0xa5, sizeof(buf));
	return acpi_build(c, buf, BUF_GPA, sizeof(buf));
}

/* A table at guest address gpa, checked to lie inside the built area. */
static const uint8_t *table_at(uint64_t gpa, long used, const char *sig)
{
	const uint8_t *t;

	ck_assert_uint_ge(gpa, BUF_GPA);
	ck_assert_uint_le(gpa + 36, BUF_GPA + used);
	t = buf + (gpa - BUF_GPA);
	ck_assert_mem_eq(t, sig, 4);
	ck_assert_uint_le(gpa + le_get32(t + 4), BUF_GPA + used);
	return t;
}

/* The XSDT entry whose table has signature sig. */
static const uint8_t *find_table(long used, const char *sig)
{
	const uint8_t *xsdt = table_at(le_get64(buf + 24), used, "XSDT");
	unsigned n = (le_get32(xsdt + 4) - 36) / 8;

	for (unsigned i = 0; i < n; i++) {
		const uint8_t *t = buf + (le_get64(xsdt + 36 + 8 * i) - BUF_GPA);

		if (!memcmp(t, sig, 4))
			return t;
	}
	ck_abort_msg("no %s in XSDT", sig);
	return NULL;
}

static void check_header(const uint8_t *t, uint8_t rev)
{
	ck_assert_uint_eq(t[8], rev);
	ck_assert_uint_eq(acpi_checksum(t, le_get32(t + 4)), 0);
	ck_assert_mem_eq(t + 10, "ULTRAV", 6);
}

START_TEST(test_rsdp)
{
	struct acpi_config c = test_config(4);
	long used = build(&c);

	ck_assert_int_gt(used, 0);
	ck_assert_mem_eq(buf, "RSD PTR ", 8);
	ck_assert_uint_eq(acpi_checksum(buf, 20), 0);
	ck_assert_uint_eq(acpi_checksum(buf, 36), 0);
	ck_assert_mem_eq(buf + 9, "ULTRAV", 6);
	ck_assert_uint_eq(buf[15], 2);
	ck_assert_uint_eq(le_get32(buf + 20), 36);
	table_at(le_get32(buf + 16), used, "RSDT");
	table_at(le_get64(buf + 24), used, "XSDT");
}
END_TEST

START_TEST(test_root_tables)
{
	struct acpi_config c = test_config(4);
	long used = build(&c);
	const uint8_t *xsdt = table_at(le_get64(buf + 24), used, "XSDT");
	const uint8_t *rsdt = table_at(le_get32(buf + 16), used, "RSDT");

	check_header(xsdt, 1);
	check_header(rsdt, 1);
	ck_assert_uint_eq(le_get32(xsdt + 4), 36 + 2 * 8);
	ck_assert_uint_eq(le_get32(rsdt + 4), 36 + 2 * 4);
	table_at(le_get64(xsdt + 36), used, "FACP");
	table_at(le_get64(xsdt + 44), used, "APIC");
	ck_assert_uint_eq(le_get32(rsdt + 36), le_get64(xsdt + 36));
	ck_assert_uint_eq(le_get32(rsdt + 40), le_get64(xsdt + 44));
}
END_TEST

static void check_gas_io(const uint8_t *g, uint16_t port, unsigned bits)
{
	ck_assert_uint_eq(g[0], 1); /* SystemIO */
	ck_assert_uint_eq(g[1], bits);
	ck_assert_uint_eq(g[2], 0);
	ck_assert_uint_eq(le_get64(g + 4), port);
}

START_TEST(test_fadt)
{
	struct acpi_config c = test_config(2);
	long used = build(&c);
	const uint8_t *f = find_table(used, "FACP");
	uint32_t flags = le_get32(f + 112);
	uint16_t boot = le_get16(f + 109);
	const uint8_t *facs, *dsdt;

	check_header(f, 6);
	ck_assert_uint_eq(le_get32(f + 4), 276);
	ck_assert_uint_eq(le_get16(f + 46), IRQ_SCI);
	ck_assert_uint_eq(le_get32(f + 48), 0); /* SMI_CMD */
	ck_assert_uint_eq(le_get32(f + 56), PORT_PM_EVT);
	ck_assert_uint_eq(le_get32(f + 64), PORT_PM_CNT);
	ck_assert_uint_eq(le_get32(f + 76), PORT_PM_TMR);
	ck_assert_uint_eq(le_get32(f + 80), 0); /* no GPE0 */
	ck_assert_uint_eq(f[88], 4);
	ck_assert_uint_eq(f[89], 2);
	ck_assert_uint_eq(f[91], 4);
	ck_assert_uint_eq(f[108], 0x32); /* CMOS century byte */
	check_gas_io(f + 148, PORT_PM_EVT, 32);
	check_gas_io(f + 172, PORT_PM_CNT, 16);
	check_gas_io(f + 208, PORT_PM_TMR, 32);

	ck_assert(flags & (1 << 0));	 /* WBINVD */
	ck_assert(flags & (1 << 2));	 /* PROC_C1 */
	ck_assert(!(flags & (1 << 4)));	 /* fixed power button present */
	ck_assert(flags & (1 << 5));	 /* no sleep button */
	ck_assert(!(flags & (1 << 8)));	 /* 24-bit timer */
	ck_assert(!(flags & (1 << 10))); /* no reset register */
	ck_assert(!(flags & (1 << 20))); /* not hardware-reduced */
	ck_assert(!(boot & (1 << 1)));	 /* no 8042 */
	ck_assert(boot & (1 << 2));	 /* no VGA */
	ck_assert(!(boot & (1 << 3)));	 /* MSI works */
	ck_assert(!(boot & (1 << 5)));	 /* CMOS RTC present */

	facs = table_at(le_get32(f + 36), used, "FACS");
	ck_assert_uint_eq(le_get32(f + 36) % 64, 0);
	ck_assert_uint_eq(le_get32(facs + 4), 64);
	dsdt = table_at(le_get64(f + 140), used, "DSDT");
	ck_assert_uint_eq(le_get32(f + 40), le_get64(f + 140));
	check_header(dsdt, 2);
}
END_TEST

START_TEST(test_fadt_reset_reg)
{
	struct acpi_config c = test_config(1);
	const uint8_t *f;

	c.reset_port = 0xcf9;
	c.reset_value = 0x06;
	f = find_table(build(&c), "FACP");
	ck_assert_uint_eq(acpi_checksum(f, 276), 0);
	ck_assert(le_get32(f + 112) & (1 << 10));
	check_gas_io(f + 116, 0xcf9, 8);
	ck_assert_uint_eq(f[128], 0x06);
}
END_TEST

/* The FACS must be 64-byte aligned in guest memory, not just in buf. */
START_TEST(test_facs_alignment)
{
	struct acpi_config c = test_config(1);
	uint64_t gpa = BUF_GPA + 0x10;
	long used = acpi_build(&c, buf + 0x10, gpa, sizeof(buf) - 0x10);
	const uint8_t *f, *rsdp = buf + 0x10;
	uint32_t facs;

	ck_assert_int_gt(used, 0);
	f = buf + (le_get64(rsdp + 24) - BUF_GPA);
	f = buf + (le_get64(f + 36) - BUF_GPA);
	ck_assert_mem_eq(f, "FACP", 4);
	facs = le_get32(f + 36);
	ck_assert_uint_eq(facs % 64, 0);
	ck_assert_mem_eq(buf + (facs - BUF_GPA), "FACS", 4);
}
END_TEST

static const unsigned madt_cpus[] = {1, 2, 64, 255};

START_TEST(test_madt)
{
	unsigned nr = madt_cpus[_i], lapics = 0, ioapics = 0, isos = 0, nmis = 0;
	struct acpi_config c = test_config(nr);
	long used = build(&c);
	const uint8_t *m = find_table(used, "APIC");
	uint32_t len = le_get32(m + 4), off;

	check_header(m, 5);
	ck_assert_uint_eq(le_get32(m + 36), LAYOUT_LAPIC);
	ck_assert_uint_eq(le_get32(m + 40), 1); /* PCAT_COMPAT */
	for (off = 44; off < len; off += m[off + 1]) {
		const uint8_t *e = m + off;

		ck_assert_uint_ge(e[1], 2);
		switch (e[0]) {
		case 0:
			ck_assert_uint_eq(e[1], 8);
			ck_assert_uint_eq(e[2], lapics); /* UID */
			ck_assert_uint_eq(e[3], lapics); /* APIC ID */
			ck_assert_uint_eq(le_get32(e + 4), 1);
			lapics++;
			break;
		case 1:
			ck_assert_uint_eq(e[1], 12);
			ck_assert_uint_eq(e[2], c.ioapic_id);
			ck_assert_uint_eq(le_get32(e + 4), LAYOUT_IOAPIC);
			ck_assert_uint_eq(le_get32(e + 8), 0);
			ioapics++;
			break;
		case 2:
			ck_assert_uint_eq(e[1], 10);
			ck_assert_uint_eq(e[2], 0);
			ck_assert_uint_eq(e[3], IRQ_SCI);
			ck_assert_uint_eq(le_get32(e + 4), IRQ_SCI);
			ck_assert_uint_eq(le_get16(e + 8), 0xd); /* active high, level */
			isos++;
			break;
		case 4:
			ck_assert_uint_eq(e[1], 6);
			ck_assert_uint_eq(e[2], 0xff);
			ck_assert_uint_eq(e[5], 1);
			nmis++;
			break;
		default:
			ck_abort_msg("unexpected MADT entry type %u", e[0]);
		}
	}
	ck_assert_uint_eq(off, len);
	ck_assert_uint_eq(lapics, nr);
	ck_assert_uint_eq(ioapics, 1);
	ck_assert_uint_eq(isos, 1);
	ck_assert_uint_eq(nmis, 1);
}
END_TEST

START_TEST(test_dsdt)
{
	static const uint8_t s5[] = {0x08, '_',	 'S',  '5',  '_',  0x12, 0x08,
				     0x04, 0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00};
	static const uint8_t hid[] = {'_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0a, 0x03};
	struct acpi_config c = test_config(2);
	long used = build(&c);
	const uint8_t *f = find_table(used, "FACP");
	const uint8_t *d = table_at(le_get64(f + 140), used, "DSDT");
	uint32_t len = le_get32(d + 4);

	check_header(d, 2);
	ck_assert_uint_gt(len, 36);
	ck_assert_ptr_nonnull(memmem(d + 36, len - 36, s5, sizeof(s5)));
	ck_assert_ptr_nonnull(memmem(d + 36, len - 36, hid, sizeof(hid)));
	ck_assert_ptr_nonnull(memmem(d + 36, len - 36, "PCI0", 4));
	ck_assert_ptr_nonnull(memmem(d + 36, len - 36, "COM1", 4));
	ck_assert_ptr_nonnull(memmem(d + 36, len - 36, "_CRS", 4));
}
END_TEST

static uint32_t dsdt_len(const struct acpi_config *c)
{
	long used = build(c);
	const uint8_t *f = find_table(used, "FACP");

	return le_get32(table_at(le_get64(f + 140), used, "DSDT") + 4);
}

/* A QWordMemory descriptor is 46 bytes, only there for a 64-bit window. */
START_TEST(test_dsdt_no_mmio64)
{
	struct acpi_config c = test_config(2);
	uint32_t with = dsdt_len(&c);

	c.mmio64_size = 0;
	ck_assert_uint_eq(dsdt_len(&c), with - 46);
}
END_TEST

/* Every short buffer fails cleanly and nothing is written past its end. */
START_TEST(test_enospc)
{
	struct acpi_config c = test_config(255);
	long need = build(&c);
	uint8_t *big = malloc(need + 64);

	ck_assert_int_gt(need, 0);
	/* Plain compares in the loop: each ck_assert reports to the runner. */
	for (long size = 0; size < need; size++) {
		bool spilled = false;

		memset(big, 0x5a, need + 64);
		if (acpi_build(&c, big, BUF_GPA, size) != -ENOSPC)
			ck_abort_msg("size %ld did not fail with -ENOSPC", size);
		for (long i = size; i < need + 64; i++)
			spilled |= big[i] != 0x5a;
		if (spilled)
			ck_abort_msg("size %ld: written past the end", size);
	}
	ck_assert_int_eq(acpi_build(&c, big, BUF_GPA, need), need);
	ck_assert_mem_eq(big, buf, need);
	free(big);
}
END_TEST

START_TEST(test_einval)
{
	struct acpi_config c = test_config(1);

	c.nr_cpus = 0;
	ck_assert_int_eq(build(&c), -EINVAL);
	c.nr_cpus = 256;
	ck_assert_int_eq(build(&c), -EINVAL);
	c = test_config(1);
	ck_assert_int_eq(acpi_build(&c, buf, BUF_GPA + 8, 4096), -EINVAL);
	ck_assert_int_eq(acpi_build(&c, buf, (1ULL << 32) - 4096, 8192), -EINVAL);
	c.pci_io_base = 0x8000;
	c.pci_io_size = 0x9000;
	ck_assert_int_eq(build(&c), -EINVAL);
	c = test_config(1);
	c.mmio32_base = 0xff000000;
	c.mmio32_size = 0x02000000;
	ck_assert_int_eq(build(&c), -EINVAL);
	c = test_config(1);
	c.pm_cnt_port = 0;
	ck_assert_int_eq(build(&c), -EINVAL);
}
END_TEST

/* Decodes a PkgLength at p; returns its value and stores its size. */
static size_t pkglen_decode(const uint8_t *p, unsigned *bytes)
{
	unsigned n = (p[0] >> 6) + 1;
	size_t v;

	*bytes = n;
	if (n == 1)
		return p[0] & 0x3f;
	ck_assert_uint_eq(p[0] & 0x30, 0);
	v = p[0] & 0xf;
	for (unsigned i = 1; i < n; i++)
		v |= (size_t)p[i] << (4 + 8 * (i - 1));
	return v;
}

/* Bodies around each PkgLength size boundary: 1 byte to 63, 2 to 4095, ... */
static const struct {
	size_t body;
	unsigned bytes;
} pkg_cases[] = {
	{0, 1}, {62, 1}, {63, 2}, {0xffd, 2}, {0xffe, 3}, {0xffffc, 3}, {0xffffd, 4}, {0x100000, 4},
};

START_TEST(test_aml_pkglength)
{
	size_t body = pkg_cases[_i].body, cap = body + 16, mark;
	uint8_t *mem = malloc(cap);
	struct aml a;
	unsigned bytes;

	aml_init(&a, mem, cap);
	mark = aml_package_begin(&a, 7);
	for (size_t i = 1; i < body; i++)
		aml_u8(&a, i);
	aml_end(&a, mark);
	ck_assert_int_eq(a.err, 0);
	ck_assert_uint_eq(mem[0], 0x12);
	ck_assert_uint_eq(pkglen_decode(mem + 1, &bytes), a.len - 1);
	ck_assert_uint_eq(bytes, pkg_cases[_i].bytes);
	if (body) {
		ck_assert_uint_eq(mem[1 + bytes], 7);
		ck_assert_uint_eq(mem[a.len - 1], (uint8_t)(body - 1));
	}
	free(mem);
}
END_TEST

static void expect_aml(struct aml *a, const uint8_t *want, size_t len)
{
	ck_assert_int_eq(a->err, 0);
	ck_assert_uint_eq(a->len, len);
	ck_assert_mem_eq(a->buf, want, len);
	a->len = 0;
}

#define EXPECT(a, ...)                                                                             \
	do {                                                                                       \
		static const uint8_t w[] = {__VA_ARGS__};                                          \
		expect_aml(a, w, sizeof(w));                                                       \
	} while (0)

START_TEST(test_aml_integers)
{
	uint8_t mem[64];
	struct aml a;

	aml_init(&a, mem, sizeof(mem));
	aml_integer(&a, 0);
	EXPECT(&a, 0x00);
	aml_integer(&a, 1);
	EXPECT(&a, 0x01);
	aml_integer(&a, 0xff);
	EXPECT(&a, 0x0a, 0xff);
	aml_integer(&a, 0x100);
	EXPECT(&a, 0x0b, 0x00, 0x01);
	aml_integer(&a, 0x12345678);
	EXPECT(&a, 0x0c, 0x78, 0x56, 0x34, 0x12);
	aml_integer(&a, 0x100000000ULL);
	EXPECT(&a, 0x0e, 0, 0, 0, 0, 1, 0, 0, 0);
	aml_dword(&a, 2);
	EXPECT(&a, 0x0c, 2, 0, 0, 0);
	aml_string(&a, "ab");
	EXPECT(&a, 0x0d, 'a', 'b', 0);
	aml_eisaid(&a, "PNP0501");
	EXPECT(&a, 0x0c, 0x41, 0xd0, 0x05, 0x01);
}
END_TEST

START_TEST(test_aml_names)
{
	uint8_t mem[64];
	struct aml a;

	aml_init(&a, mem, sizeof(mem));
	aml_namestring(&a, "_S5");
	EXPECT(&a, '_', 'S', '5', '_');
	aml_namestring(&a, "\\_SB.PCI0");
	EXPECT(&a, '\\', 0x2e, '_', 'S', 'B', '_', 'P', 'C', 'I', '0');
	aml_namestring(&a, "^^A.B.C");
	EXPECT(&a, '^', '^', 0x2f, 3, 'A', '_', '_', '_', 'B', '_', '_', '_', 'C', '_', '_', '_');
	aml_namestring(&a, "\\");
	EXPECT(&a, '\\', 0x00);

	aml_namestring(&a, "TOOLONG");
	ck_assert_int_eq(a.err, -EINVAL);
	aml_init(&a, mem, sizeof(mem));
	aml_namestring(&a, "1ABC");
	ck_assert_int_eq(a.err, -EINVAL);
	aml_init(&a, mem, sizeof(mem));
	aml_namestring(&a, "A..B");
	ck_assert_int_eq(a.err, -EINVAL);
	aml_init(&a, mem, sizeof(mem));
	aml_eisaid(&a, "pnp0a03");
	ck_assert_int_eq(a.err, -EINVAL);
}
END_TEST

START_TEST(test_aml_restemplate)
{
	static const uint8_t want[] = {0x11, 0x11, 0x0b, 0x0d, 0x00, 0x47, 0x01, 0x70, 0x00,
				       0x70, 0x00, 0x01, 0x02, 0x22, 0x00, 0x01, 0x79};
	uint8_t mem[64];
	struct aml a;
	size_t mark;

	aml_init(&a, mem, sizeof(mem));
	mark = aml_restemplate_begin(&a);
	aml_res_io(&a, 0x70, 0x70, 1, 2);
	aml_res_irq_noflags(&a, 1 << 8);
	aml_restemplate_end(&a, mark);
	ck_assert_int_eq(a.err, 0);
	ck_assert_uint_eq(a.len, sizeof(want) + 1);
	ck_assert_mem_eq(mem, want, sizeof(want));
	/* The end tag's checksum zeroes the sum of the template's bytes. */
	ck_assert_uint_eq(acpi_checksum(mem + 5, a.len - 5), 0);
}
END_TEST

START_TEST(test_aml_address_descriptors)
{
	uint8_t mem[64];
	struct aml a;

	aml_init(&a, mem, sizeof(mem));
	aml_res_word_bus(&a, 0, 0xff);
	EXPECT(&a, 0x88, 13, 0, 2, 0x0c, 0, 0, 0, 0, 0, 0xff, 0, 0, 0, 0x00, 0x01);
	aml_res_word_io(&a, 0x1000, 0xffff);
	EXPECT(&a, 0x88, 13, 0, 1, 0x0c, 3, 0, 0, 0x00, 0x10, 0xff, 0xff, 0, 0, 0x00, 0xf0);
	aml_res_dword_mem(&a, 0xc0000000, 0xfebfffff, false);
	EXPECT(&a, 0x87, 23, 0, 0, 0x0c, 1, 0, 0, 0, 0, 0, 0, 0, 0xc0, 0xff, 0xff, 0xbf, 0xfe, 0, 0,
	       0, 0, 0, 0, 0xc0, 0x3e);
	aml_res_qword_mem(&a, 1ULL << 36, (2ULL << 36) - 1, true);
	ck_assert_uint_eq(a.len, 46);
	ck_assert_uint_eq(mem[0], 0x8a);
	ck_assert_uint_eq(le_get16(mem + 1), 43);
	ck_assert_uint_eq(mem[5], 3);
	ck_assert_uint_eq(le_get64(mem + 14), 1ULL << 36);
	ck_assert_uint_eq(le_get64(mem + 22), (2ULL << 36) - 1);
	ck_assert_uint_eq(le_get64(mem + 38), 1ULL << 36);
}
END_TEST

START_TEST(test_aml_enospc)
{
	uint8_t mem[8];
	struct aml a;
	size_t mark;

	aml_init(&a, mem, sizeof(mem));
	mark = aml_device_begin(&a, "DEV0");
	ck_assert_int_eq(a.err, -ENOSPC);
	aml_integer(&a, 5); /* sticky: no write, no crash */
	aml_end(&a, mark);
	ck_assert_int_eq(a.err, -ENOSPC);
	ck_assert_uint_le(a.len, sizeof(mem));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("acpi");
	TCase *tables = uv_tcase(s, "tables", NULL, NULL, 0,
				 UV_TESTS(test_rsdp, test_root_tables, test_fadt,
					  test_fadt_reset_reg, test_facs_alignment, test_dsdt,
					  test_dsdt_no_mmio64, test_enospc, test_einval));
	TCase *aml = uv_tcase(s, "aml", NULL, NULL, 0,
			      UV_TESTS(test_aml_integers, test_aml_names, test_aml_restemplate,
				       test_aml_address_descriptors, test_aml_enospc));

	tcase_add_loop_test(tables, test_madt, 0, sizeof(madt_cpus) / sizeof(madt_cpus[0]));
	tcase_add_loop_test(aml, test_aml_pkglength, 0, sizeof(pkg_cases) / sizeof(pkg_cases[0]));
	return uv_check_run(s);
}
