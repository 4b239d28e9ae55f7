// SPDX-License-Identifier: GPL-2.0
/* MP spec 1.4 tables, parsed by the spec's byte offsets. */
#include <check.h>

#include "uvcheck.h"
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "layout.h"
#include "le.h"
#include "mptable.h"

#define BUF_GPA	 0xf0000ULL
#define BUF_SIZE 0x4000

static uint8_t buf[BUF_SIZE];

static uint8_t sum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s += *p++;
	return s;
}

static long build(unsigned nr_cpus)
{
	memset(buf, 0xa5, sizeof(buf));
	return mptable_build(buf, BUF_GPA, sizeof(buf), nr_cpus, LAYOUT_IOAPIC, IOAPIC_PINS);
}

/* The configuration table, after checking the floating pointer to it. */
static const uint8_t *mpc_of(long used)
{
	const uint8_t *mpc;
	uint32_t addr;

	ck_assert_int_gt(used, 16 + 44);
	ck_assert_mem_eq(buf, "_MP_", 4);
	ck_assert_uint_eq(buf[8], 1); /* length in paragraphs */
	ck_assert_uint_eq(buf[9], 4); /* spec 1.4 */
	ck_assert_uint_eq(sum(buf, 16), 0);
	for (int i = 11; i < 16; i++)
		ck_assert_uint_eq(buf[i], 0); /* table present, no IMCR */
	addr = le_get32(buf + 4);
	ck_assert_uint_ge(addr, BUF_GPA + 16);
	mpc = buf + (addr - BUF_GPA);
	ck_assert_mem_eq(mpc, "PCMP", 4);
	ck_assert_uint_eq(addr + le_get16(mpc + 4), BUF_GPA + used);
	return mpc;
}

START_TEST(test_header)
{
	long used = build(4);
	const uint8_t *mpc = mpc_of(used);

	ck_assert_uint_eq(mpc[6], 4);
	ck_assert_uint_eq(sum(mpc, le_get16(mpc + 4)), 0);
	ck_assert_mem_eq(mpc + 8, "ULTRAV  ", 8);
	ck_assert_uint_eq(le_get32(mpc + 36), LAYOUT_LAPIC);
	ck_assert_uint_eq(le_get16(mpc + 40), 0); /* no extended table */
	ck_assert_uint_eq(le_get32(mpc + 28), 0); /* no OEM table */
}
END_TEST

struct mp_counts {
	unsigned entries, cpus, buses, ioapics, ioints, lints;
};

static void check_cpu(const uint8_t *e, unsigned idx)
{
	ck_assert_uint_eq(e[1], idx);
	ck_assert_uint_eq(e[2], 0x14);
	ck_assert_uint_eq(e[3], idx == 0 ? 3 : 1); /* enabled, BSP on 0 */
}

static void check_bus(const uint8_t *e, unsigned idx)
{
	ck_assert_uint_eq(e[1], idx);
	ck_assert_mem_eq(e + 2, idx == 0 ? "PCI   " : "ISA   ", 6);
}

static void check_ioapic(const uint8_t *e, unsigned nr_cpus)
{
	ck_assert_uint_eq(e[1], (uint8_t)nr_cpus);
	ck_assert_uint_eq(e[2], 0x11);
	ck_assert_uint_eq(e[3], 1);
	ck_assert_uint_eq(le_get32(e + 4), LAYOUT_IOAPIC);
}

/* ISA IRQ n on IOAPIC pin n, INT type, conforming polarity and trigger. */
static void check_ioint(const uint8_t *e, unsigned idx, unsigned nr_cpus)
{
	ck_assert_uint_eq(e[1], 0);
	ck_assert_uint_eq(le_get16(e + 2), 0);
	ck_assert_uint_eq(e[4], 1); /* ISA bus */
	ck_assert_uint_eq(e[5], idx);
	ck_assert_uint_eq(e[6], (uint8_t)nr_cpus);
	ck_assert_uint_eq(e[7], idx);
}

/* ExtINT on LINT0, then NMI on LINT1, for all local APICs. */
static void check_lint(const uint8_t *e, unsigned idx)
{
	ck_assert_uint_eq(e[1], idx == 0 ? 3 : 1);
	ck_assert_uint_eq(e[6], 0xff);
	ck_assert_uint_eq(e[7], idx);
}

/* Walks the entries, which must come grouped by type in ascending order. */
static struct mp_counts walk(const uint8_t *mpc, unsigned nr_cpus)
{
	struct mp_counts n = {0};
	uint16_t len = le_get16(mpc + 4), off;
	unsigned last_type = 0;

	for (off = 44; off < len; n.entries++) {
		const uint8_t *e = mpc + off;

		ck_assert_uint_le(e[0], 4);
		ck_assert_uint_ge(e[0], last_type);
		last_type = e[0];
		switch (e[0]) {
		case 0:
			check_cpu(e, n.cpus++);
			break;
		case 1:
			check_bus(e, n.buses++);
			break;
		case 2:
			check_ioapic(e, nr_cpus);
			n.ioapics++;
			break;
		case 3:
			check_ioint(e, n.ioints++, nr_cpus);
			break;
		case 4:
			check_lint(e, n.lints++);
			break;
		}
		off += e[0] == 0 ? 20 : 8;
	}
	ck_assert_uint_eq(off, len);
	return n;
}

static const unsigned cpu_counts[] = {1, 2, 64, 255};

START_TEST(test_entries)
{
	unsigned nr = cpu_counts[_i];
	long used = build(nr);
	const uint8_t *mpc = mpc_of(used);
	struct mp_counts n = walk(mpc, nr);

	ck_assert_uint_eq(sum(mpc, le_get16(mpc + 4)), 0);
	ck_assert_uint_eq(n.entries, le_get16(mpc + 34));
	ck_assert_uint_eq(n.cpus, nr);
	ck_assert_uint_eq(n.buses, 2);
	ck_assert_uint_eq(n.ioapics, 1);
	ck_assert_uint_eq(n.ioints, 16);
	ck_assert_uint_eq(n.lints, 2);
}
END_TEST

START_TEST(test_enospc)
{
	long need = build(255);
	uint8_t *big = malloc(need + 64);

	ck_assert_int_gt(need, 0);
	/* Plain compares in the loop: each ck_assert reports to the runner. */
	for (long size = 0; size < need; size++) {
		bool spilled = false;

		memset(big, 0x5a, need + 64);
		if (mptable_build(big, BUF_GPA, size, 255, LAYOUT_IOAPIC, IOAPIC_PINS) != -ENOSPC)
			ck_abort_msg("size %ld did not fail with -ENOSPC", size);
		for (long i = size; i < need + 64; i++)
			spilled |= big[i] != 0x5a;
		if (spilled)
			ck_abort_msg("size %ld: written past the end", size);
	}
	ck_assert_int_eq(mptable_build(big, BUF_GPA, need, 255, LAYOUT_IOAPIC, IOAPIC_PINS), need);
	ck_assert_mem_eq(big, buf, need);
	free(big);
}
END_TEST

START_TEST(test_einval)
{
	ck_assert_int_eq(build(0), -EINVAL);
	ck_assert_int_eq(build(256), -EINVAL);
	ck_assert_int_eq(mptable_build(buf, BUF_GPA + 4, sizeof(buf), 1, LAYOUT_IOAPIC, 24),
			 -EINVAL);
	ck_assert_int_eq(mptable_build(buf, BUF_GPA, sizeof(buf), 1, LAYOUT_IOAPIC, 8), -EINVAL);
	ck_assert_int_eq(mptable_build(buf, (1ULL << 32) - 64, sizeof(buf), 1, LAYOUT_IOAPIC, 24),
			 -EINVAL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mptable");
	TCase *tc =
		uv_tcase(s, "core", NULL, NULL, 0, UV_TESTS(test_header, test_enospc, test_einval));

	tcase_add_loop_test(tc, test_entries, 0, sizeof(cpu_counts) / sizeof(cpu_counts[0]));
	return uv_check_run(s);
}
