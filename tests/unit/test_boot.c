// SPDX-License-Identifier: GPL-2.0
#include <check.h>

#include "uvcheck.h"
#include <stdlib.h>
#include <string.h>

#include "boot.h"
#include "layout.h"

#define IMG_SIZE    (64 * 1024)
#define SETUP_SECTS 4

static uint8_t img[IMG_SIZE];

static void put16(size_t off, uint16_t v)
{
	img[off] = (uint8_t)v;
	img[off + 1] = (uint8_t)(v >> 8);
}

static void put32(size_t off, uint32_t v)
{
	put16(off, (uint16_t)v);
	put16(off + 2, (uint16_t)(v >> 16));
}

/* A synthetic bzImage header, as a 6.x kernel's. */
static void make_image(uint32_t init_size)
{
	size_t setup = (SETUP_SECTS + 1) * 512;

	memset(img, 0, sizeof(img));
	img[0x1f1] = SETUP_SECTS;
	put32(0x1f4, (uint32_t)((IMG_SIZE - setup) / 16));
	put16(0x1fe, 0xaa55);
	img[0x200] = 0xeb;
	img[0x201] = 0x6a;
	memcpy(img + 0x202, "HdrS", 4);
	put16(0x206, 0x020f);
	img[0x211] = 0x01;
	put32(0x22c, 0x7fffffff);
	put32(0x230, 0x200000);
	img[0x234] = 1;
	put16(0x236, 0x7f);
	put32(0x238, 2047);
	put32(0x258, 0x1000000);
	put32(0x260, init_size);
}

static struct bzimage parse_ok(void)
{
	char err[BOOT_ERR_LEN];
	struct bzimage k;

	ck_assert_int_eq(bzimage_parse(img, sizeof(img), &k, err), 0);
	return k;
}

START_TEST(parse_fields)
{
	struct bzimage k;

	make_image(32 << 20);
	k = parse_ok();
	ck_assert_uint_eq(k.version, 0x20f);
	ck_assert_uint_eq(k.setup_size, 5 * 512);
	ck_assert_uint_eq(k.kernel_size, IMG_SIZE - 5 * 512);
	ck_assert_uint_eq(k.init_size, 32 << 20);
	ck_assert_uint_eq(k.pref_address, 0x1000000);
	ck_assert_uint_eq(k.cmdline_size, 2047);
	ck_assert(k.relocatable);
}
END_TEST

static void expect_reject(size_t size, const char *why)
{
	char err[BOOT_ERR_LEN] = "";
	struct bzimage k;

	ck_assert_int_lt(bzimage_parse(img, size, &k, err), 0);
	ck_assert_msg(strstr(err, why), "error '%s' lacks '%s'", err, why);
}

START_TEST(parse_rejects)
{
	make_image(32 << 20);
	img[0x202] = 'X';
	expect_reject(sizeof(img), "not a bzImage");

	make_image(32 << 20);
	put16(0x1fe, 0);
	expect_reject(sizeof(img), "not a bzImage");

	make_image(32 << 20);
	expect_reject(sizeof(img) - 4096, "truncated");
	expect_reject(0x100, "not a bzImage");

	make_image(32 << 20);
	put16(0x206, 0x0209);
	expect_reject(sizeof(img), "too old");

	make_image(32 << 20);
	put16(0x236, 0);
	expect_reject(sizeof(img), "64-bit");

	make_image(32 << 20);
	put32(0x1f4, 0);
	expect_reject(sizeof(img), "truncated");
}
END_TEST

/* A guest of mem bytes (its memory map) and a kernel whose init_size is init, parsed. */
struct plan_rig {
	struct gmem_region r[GMEM_MAX_REGIONS];
	unsigned nr;
	struct bzimage k;
	struct boot_plan p;
	char err[BOOT_ERR_LEN];
};

static void plan_rig(struct plan_rig *g, uint64_t mem, uint32_t init)
{
	g->nr = gmem_layout(mem, g->r);
	make_image(init);
	g->k = parse_ok();
}

static int plan(struct plan_rig *g, uint64_t initrd_size, size_t cmdline_len)
{
	return boot_plan_make(&g->k, initrd_size, cmdline_len, g->r, g->nr, &g->p, g->err);
}

START_TEST(plan_initrd_high)
{
	struct plan_rig g;

	plan_rig(&g, 512ULL << 20, 32 << 20);
	ck_assert_int_eq(plan(&g, 10 << 20, 100), 0);
	ck_assert_uint_eq(g.p.kernel_gpa, 0x1000000);
	ck_assert_uint_eq(g.p.entry_gpa, 0x1000200);
	ck_assert_uint_eq(g.p.initrd_gpa % 4096, 0);
	ck_assert_uint_le(g.p.initrd_gpa + g.p.initrd_size, 512ULL << 20);
	ck_assert_uint_ge(g.p.initrd_gpa, g.p.kernel_gpa + g.k.init_size);
	ck_assert_uint_eq(g.p.initrd_size, 10 << 20);
}
END_TEST

START_TEST(plan_initrd_below_limit)
{
	struct plan_rig g;

	plan_rig(&g, 8ULL << 30, 32 << 20);
	ck_assert_int_eq(plan(&g, 10 << 20, 100), 0);
	ck_assert_uint_le(g.p.initrd_gpa + g.p.initrd_size, 0x80000000ULL);
}
END_TEST

START_TEST(plan_rejects)
{
	struct plan_rig g;

	plan_rig(&g, 64ULL << 20, 32 << 20);
	ck_assert_int_lt(plan(&g, 20 << 20, 10), 0);
	ck_assert_ptr_nonnull(strstr(g.err, "initrd too large"));
	ck_assert_int_lt(plan(&g, 100ULL << 30, 10), 0);
	ck_assert_ptr_nonnull(strstr(g.err, "initrd too large"));
	ck_assert_int_lt(plan(&g, 0, 4096), 0);
	ck_assert_ptr_nonnull(strstr(g.err, "command line too long"));

	make_image(63 << 20);
	g.k = parse_ok();
	ck_assert_int_lt(plan(&g, 0, 10), 0);
	ck_assert_ptr_nonnull(strstr(g.err, "memory too small"));
}
END_TEST

static uint64_t e820_ram(const struct boot_e820_entry *t, unsigned n)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < n; i++) {
		if (t[i].type == 1)
			sum += t[i].size;
		if (i)
			ck_assert_uint_ge(t[i].addr, t[i - 1].addr + t[i - 1].size);
	}
	return sum;
}

START_TEST(e820_small)
{
	struct gmem_region r[GMEM_MAX_REGIONS];
	struct boot_e820_entry t[E820_MAX_ENTRIES_ZEROPAGE];
	unsigned nr = gmem_layout(512ULL << 20, r);
	unsigned n = e820_build(t, E820_MAX_ENTRIES_ZEROPAGE, r, nr);

	ck_assert_uint_eq(nr, 1);
	ck_assert_uint_eq(e820_ram(t, n), (512ULL << 20) - (0x100000 - 0x9fc00));
	ck_assert_uint_eq(t[0].addr, 0);
	ck_assert_uint_eq(t[0].size, 0x9fc00);
	ck_assert_uint_eq(t[3].addr, 0x100000);
	ck_assert_uint_eq(t[3].addr + t[3].size, 512ULL << 20);
}
END_TEST

START_TEST(e820_hole)
{
	struct gmem_region r[GMEM_MAX_REGIONS];
	struct boot_e820_entry t[E820_MAX_ENTRIES_ZEROPAGE];
	unsigned nr = gmem_layout(8ULL << 30, r);
	unsigned n = e820_build(t, E820_MAX_ENTRIES_ZEROPAGE, r, nr);

	ck_assert_uint_eq(nr, 2);
	ck_assert_uint_eq(r[0].size, LAYOUT_MMIO32_BASE);
	ck_assert_uint_eq(r[1].gpa, SZ_4G);
	ck_assert_uint_eq(r[1].size, (8ULL << 30) - LAYOUT_MMIO32_BASE);
	ck_assert_uint_eq(e820_ram(t, n), (8ULL << 30) - (0x100000 - 0x9fc00));
	/* Nothing in the hole is RAM. */
	for (unsigned i = 0; i < n; i++)
		if (t[i].type == 1)
			ck_assert(t[i].addr + t[i].size <= LAYOUT_MMIO32_BASE ||
				  t[i].addr >= SZ_4G);
}
END_TEST

START_TEST(zero_page)
{
	struct boot_params *bp = calloc(1, sizeof(*bp));
	struct plan_rig g;

	plan_rig(&g, 1ULL << 30, 32 << 20);
	ck_assert_int_eq(plan(&g, 1 << 20, 20), 0);
	boot_params_fill(bp, &g.k, &g.p, g.r, g.nr, 0xe0000);
	ck_assert_uint_eq(bp->hdr.type_of_loader, 0xff);
	ck_assert_uint_eq(bp->hdr.boot_flag, 0xaa55);
	ck_assert_uint_eq(bp->hdr.header, 0x53726448);
	ck_assert_uint_eq(bp->hdr.cmd_line_ptr, LAYOUT_CMDLINE);
	ck_assert_uint_eq(bp->hdr.ramdisk_image, g.p.initrd_gpa);
	ck_assert_uint_eq(bp->hdr.ramdisk_size, 1 << 20);
	ck_assert_uint_eq(bp->acpi_rsdp_addr, 0xe0000);
	ck_assert_uint_eq(bp->e820_entries, 5);
	free(bp);
}
END_TEST

int main(void)
{
	return uv_check_run(uv_suite("boot", NULL, NULL, 0,
				     UV_TESTS(parse_fields, parse_rejects, plan_initrd_high,
					      plan_initrd_below_limit, plan_rejects, e820_small,
					      e820_hole, zero_page)));
}
