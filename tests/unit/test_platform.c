// SPDX-License-Identifier: GPL-2.0
/* The bus, the PCI host bridge and the ACPI PM block. */
#include <check.h>

#include "uvcheck.h"
#include <stdlib.h>
#include <string.h>

#include "layout.h"
#include "pci.h"
#include "pm.h"

struct rec {
	uint8_t last[8];
	uint64_t off;
	int reads, writes;
};

static void rec_read(void *opaque, uint64_t off, void *data, unsigned len)
{
	struct rec *r = opaque;

	r->reads++;
	r->off = off;
	memset(data, 0xab, len);
}

static void rec_write(void *opaque, uint64_t off, const void *data, unsigned len)
{
	struct rec *r = opaque;

	r->writes++;
	r->off = off;
	memcpy(r->last, data, len);
}

static const struct bus_ops rec_ops = {.read = rec_read, .write = rec_write};

START_TEST(bus_dispatch)
{
	struct rec a = {0}, b = {0};
	struct bus bus;
	uint32_t v = 0;

	bus_init(&bus);
	ck_assert_int_eq(bus_register(&bus, 0x3f8, 8, &rec_ops, &a), 0);
	ck_assert_int_eq(bus_register(&bus, 0x70, 2, &rec_ops, &b), 0);
	ck_assert_int_lt(bus_register(&bus, 0x3fc, 8, &rec_ops, &b), 0);
	ck_assert_int_lt(bus_register(&bus, 0x10, 0, &rec_ops, &b), 0);
	ck_assert(bus_access(&bus, 0x3fd, &v, 1, false));
	ck_assert_uint_eq(a.off, 5);
	ck_assert_uint_eq(v & 0xff, 0xab);
	v = 0x42;
	ck_assert(bus_access(&bus, 0x71, &v, 1, true));
	ck_assert_uint_eq(b.off, 1);
	ck_assert_uint_eq(b.last[0], 0x42);
	ck_assert(!bus_access(&bus, 0x3f7, &v, 4, false));
	ck_assert_uint_eq(v, 0xffffffff);
	ck_assert(!bus_access(&bus, 0x400, &v, 1, true));
	bus_exit(&bus);
}
END_TEST

static uint32_t cfg_read(struct bus *pio, unsigned slot, unsigned off, unsigned len)
{
	uint32_t addr = 0x80000000u | slot << 11 | (off & 0xfc), v = 0;

	bus_access(pio, 0xcf8, &addr, 4, true);
	bus_access(pio, 0xcfc + (off & 3), &v, len, false);
	return v;
}

static void cfg_write(struct bus *pio, unsigned slot, unsigned off, unsigned len, uint32_t v)
{
	uint32_t addr = 0x80000000u | slot << 11 | (off & 0xfc);

	bus_access(pio, 0xcf8, &addr, 4, true);
	bus_access(pio, 0xcfc + (off & 3), &v, len, true);
}

static const struct pci_windows windows = {
	.mmio32_base = LAYOUT_MMIO32_BASE,
	.mmio32_size = LAYOUT_MMIO32_SIZE,
	.mmio64_base = 0x800000000ULL,
	.mmio64_size = 0x100000000ULL,
	.io_base = PORT_PCI_IO_BASE,
	.io_size = PORT_PCI_IO_SIZE,
};

START_TEST(pci_host_bridge)
{
	struct bus pio, mmio;
	struct pci_bus pb;

	bus_init(&pio);
	bus_init(&mmio);
	ck_assert_int_eq(pci_bus_init(&pb, &windows, &pio, &mmio), 0);
	ck_assert_uint_eq(cfg_read(&pio, 0, 0, 2), 0x1b36);
	ck_assert_uint_eq(cfg_read(&pio, 0, 0x0a, 2), 0x0600);
	ck_assert_uint_eq(cfg_read(&pio, 0, 0x0b, 1), 0x06);
	/* An empty slot reads as all ones. */
	ck_assert_uint_eq(cfg_read(&pio, 3, 0, 4), 0xffffffff);
	ck_assert_uint_eq(cfg_read(&pio, 3, 0, 2), 0xffff);
	/* Vendor ID is read-only. */
	cfg_write(&pio, 0, 0, 2, 0x1234);
	ck_assert_uint_eq(cfg_read(&pio, 0, 0, 2), 0x1b36);
	pci_bus_exit(&pb);
	bus_exit(&pio);
	bus_exit(&mmio);
}
END_TEST

START_TEST(pci_bar_sizing_and_decode)
{
	struct bus pio, mmio;
	struct pci_bus pb;
	struct pci_dev d;
	struct rec r = {0};
	uint32_t v = 0;
	uint64_t base;

	bus_init(&pio);
	bus_init(&mmio);
	ck_assert_int_eq(pci_bus_init(&pb, &windows, &pio, &mmio), 0);
	pci_dev_init(&d, 0x1af4, 0x1042, 0x01000001, 0x1af4, 2);
	pci_dev_set_bar(&d, 0, 0x4000, false, true, &rec_ops, &r);
	ck_assert_int_eq(pci_bus_add(&pb, &d), 1);
	base = pci_bar_addr(&d, 0);
	ck_assert_uint_eq(base, 0x800000000ULL);

	/* The sizing dance: all ones, read the mask, restore. */
	cfg_write(&pio, 1, 0x10, 4, 0xffffffff);
	ck_assert_uint_eq(cfg_read(&pio, 1, 0x10, 4), 0xffffc004);
	cfg_write(&pio, 1, 0x10, 4, (uint32_t)base | 4);
	ck_assert_uint_eq(pci_bar_addr(&d, 0), base);

	/* Decoding follows the command register. */
	ck_assert(!bus_access(&mmio, base + 0x10, &v, 4, false) || r.reads == 0);
	cfg_write(&pio, 1, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	bus_access(&mmio, base + 0x10, &v, 4, false);
	ck_assert_int_eq(r.reads, 1);
	ck_assert_uint_eq(r.off, 0x10);
	pci_bus_exit(&pb);
	bus_exit(&pio);
	bus_exit(&mmio);
}
END_TEST

static unsigned slept = 99;

static void on_sleep(void *ctx, unsigned typ)
{
	(void)ctx;
	slept = typ;
}

static int sci_level;

static void set_sci(void *ctx, unsigned gsi, int level)
{
	(void)ctx;
	ck_assert_uint_eq(gsi, 9);
	sci_level = level;
}

START_TEST(pm_poweroff_and_button)
{
	struct irq_line sci = {.set = set_sci, .gsi = 9};
	struct pm *pm = pm_create(sci, on_sleep, NULL);
	struct bus pio;
	uint16_t v;
	uint32_t t1;

	bus_init(&pio);
	ck_assert_int_eq(pm_attach(pm, &pio, PORT_PM_BASE), 0);
	bus_access(&pio, PORT_PM_CNT, &v, 2, false);
	ck_assert(v & 1); /* SCI_EN: already in ACPI mode */

	bus_access(&pio, PORT_PM_TMR, &t1, 4, false);
	ck_assert_uint_le(t1, 0xffffff);

	v = 1 << 8; /* PWRBTN_EN */
	bus_access(&pio, PORT_PM_EVT + 2, &v, 2, true);
	pm_power_button(pm);
	ck_assert_int_eq(sci_level, 1);
	bus_access(&pio, PORT_PM_EVT, &v, 2, false);
	ck_assert(v & (1 << 8));
	bus_access(&pio, PORT_PM_EVT, &v, 2, true); /* write 1 to clear */
	ck_assert_int_eq(sci_level, 0);

	v = (5 << 10) | (1 << 13);
	bus_access(&pio, PORT_PM_CNT, &v, 2, true);
	ck_assert_uint_eq(slept, 5);
	pm_destroy(pm);
	bus_exit(&pio);
}
END_TEST

int main(void)
{
	return uv_check_run(uv_suite("platform", NULL, NULL, 0,
				     UV_TESTS(bus_dispatch, pci_host_bridge,
					      pci_bar_sizing_and_decode, pm_poweroff_and_button)));
}
