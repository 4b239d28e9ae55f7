// SPDX-License-Identifier: GPL-2.0
#include <check.h>

#include "irq_rec.h"
#include "uvcheck.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bus.h"
#include "rtc.h"

#define REG_A	    0x0a
#define REG_B	    0x0b
#define REG_C	    0x0c
#define REG_D	    0x0d
#define REG_CENTURY 0x32

#define B_SET 0x80
#define B_AIE 0x20
#define B_UIE 0x10
#define B_DM  0x04
#define B_24H 0x02

static struct bus bus;
static struct rtc *r;
static struct irq_rec irq;

static void setup(void)
{
	struct irq_line line = {.set = irq_rec_set, .ctx = &irq, .gsi = 8};

	irq = (struct irq_rec){.gsi = 8};
	bus_init(&bus);
	r = rtc_create(line);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(rtc_attach(r, &bus), 0);
}

static void teardown(void)
{
	rtc_destroy(r);
	bus_exit(&bus);
}

static uint8_t cmos_read(uint8_t index)
{
	uint8_t v;

	ck_assert(bus_access(&bus, 0x70, &index, 1, true));
	ck_assert(bus_access(&bus, 0x71, &v, 1, false));
	return v;
}

static void cmos_write(uint8_t index, uint8_t v)
{
	ck_assert(bus_access(&bus, 0x70, &index, 1, true));
	ck_assert(bus_access(&bus, 0x71, &v, 1, true));
}

static int from_reg(uint8_t b, uint8_t v)
{
	if (b & B_DM)
		return v;
	ck_assert_uint_le(v & 0x0f, 9);
	ck_assert_uint_le(v >> 4, 9);
	return (v >> 4) * 10 + (v & 0x0f);
}

static uint8_t to_reg(uint8_t b, int v)
{
	return b & B_DM ? v : (v / 10) << 4 | v % 10;
}

/* Reads the clock the way a driver does, retrying across a second boundary. */
static time_t read_clock(struct tm *out)
{
	uint8_t b = cmos_read(REG_B), sec, hour;
	struct tm tm;
	time_t t;

	do {
		memset(&tm, 0, sizeof(tm));
		sec = cmos_read(0);
		tm.tm_min = from_reg(b, cmos_read(2));
		hour = cmos_read(4);
		tm.tm_wday = from_reg(b, cmos_read(6)) - 1;
		tm.tm_mday = from_reg(b, cmos_read(7));
		tm.tm_mon = from_reg(b, cmos_read(8)) - 1;
		tm.tm_year = from_reg(b, cmos_read(REG_CENTURY)) * 100 + from_reg(b, cmos_read(9));
		tm.tm_year -= 1900;
	} while (sec != cmos_read(0));
	tm.tm_sec = from_reg(b, sec);
	if (b & B_24H) {
		tm.tm_hour = from_reg(b, hour);
	} else {
		ck_assert_uint_ge(from_reg(b, hour & 0x7f), 1);
		ck_assert_uint_le(from_reg(b, hour & 0x7f), 12);
		tm.tm_hour = from_reg(b, hour & 0x7f) % 12 + (hour & 0x80 ? 12 : 0);
	}
	ck_assert_int_ge(tm.tm_sec, 0);
	ck_assert_int_le(tm.tm_sec, 59);
	ck_assert_int_le(tm.tm_min, 59);
	ck_assert_int_le(tm.tm_hour, 23);
	ck_assert_int_ge(tm.tm_mon, 0);
	ck_assert_int_le(tm.tm_mon, 11);
	*out = tm;
	t = timegm(&tm);
	/* timegm() recomputes the weekday; the device must have agreed. */
	ck_assert_int_eq(tm.tm_wday, out->tm_wday);
	return t;
}

/* Bounds by the host clock read around it: a loaded machine may stall us between reads. */
static void check_host_time(void)
{
	time_t before = time(NULL), guest, after;
	struct tm tm;

	guest = read_clock(&tm);
	after = time(NULL);
	ck_assert_int_ge(guest, before - 1);
	ck_assert_int_le(guest, after + 1);
}

/* Whole seconds since *t0 (a stall of the test, not of the device, widens bounds). */
static long seconds_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (long)(t1.tv_sec - t0->tv_sec);
}

START_TEST(test_defaults)
{
	ck_assert_uint_eq(cmos_read(REG_A), 0x26);
	ck_assert_uint_eq(cmos_read(REG_B), B_24H);
	ck_assert_uint_eq(cmos_read(REG_C), 0);
	ck_assert_uint_eq(cmos_read(REG_D), 0x80);
	/* UIP never reads set, even when the guest writes it. */
	cmos_write(REG_A, 0xa6);
	ck_assert_uint_eq(cmos_read(REG_A), 0x26);
	cmos_write(REG_D, 0x00);
	ck_assert_uint_eq(cmos_read(REG_D), 0x80);
}
END_TEST

START_TEST(test_host_time_bcd)
{
	check_host_time();
}
END_TEST

START_TEST(test_host_time_binary)
{
	cmos_write(REG_B, B_24H | B_DM);
	check_host_time();
}
END_TEST

START_TEST(test_host_time_12h)
{
	cmos_write(REG_B, 0);
	check_host_time();
	cmos_write(REG_B, B_DM);
	check_host_time();
}
END_TEST

START_TEST(test_nmi_bit_ignored)
{
	uint8_t index = 0x80 | REG_D, v;

	ck_assert(bus_access(&bus, 0x70, &index, 1, true));
	ck_assert(bus_access(&bus, 0x71, &v, 1, false));
	ck_assert_uint_eq(v, 0x80);
}
END_TEST

static void set_clock(uint8_t b, const struct tm *tm)
{
	int hour = tm->tm_hour;
	uint8_t h;

	if (b & B_24H) {
		h = to_reg(b, hour);
	} else {
		h = to_reg(b, hour % 12 ? hour % 12 : 12) | (hour >= 12 ? 0x80 : 0);
	}
	cmos_write(0, to_reg(b, tm->tm_sec));
	cmos_write(2, to_reg(b, tm->tm_min));
	cmos_write(4, h);
	cmos_write(6, to_reg(b, tm->tm_wday + 1));
	cmos_write(7, to_reg(b, tm->tm_mday));
	cmos_write(8, to_reg(b, tm->tm_mon + 1));
	cmos_write(9, to_reg(b, tm->tm_year % 100));
	cmos_write(REG_CENTURY, to_reg(b, (tm->tm_year + 1900) / 100));
}

static void check_set_time(uint8_t b)
{
	/* 2001-02-03 16:05:06 UTC, a Saturday */
	struct tm want = {.tm_sec = 6,
			  .tm_min = 5,
			  .tm_hour = 16,
			  .tm_mday = 3,
			  .tm_mon = 1,
			  .tm_year = 101,
			  .tm_wday = 6};
	time_t set = timegm(&want), got;
	struct timespec t0;
	struct tm tm;

	cmos_write(REG_B, b | B_SET);
	set_clock(b, &want);
	/* Frozen while SET is held. */
	ck_assert_uint_eq(cmos_read(0), to_reg(b, 6));
	ck_assert_uint_eq(cmos_read(REG_CENTURY), to_reg(b, 20));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cmos_write(REG_B, b);

	got = read_clock(&tm);
	ck_assert_int_ge(got, set);
	ck_assert_int_le(got, set + 1 + seconds_since(&t0));
	usleep(1200 * 1000);
	got = read_clock(&tm);
	ck_assert_int_ge(got, set + 1);
	ck_assert_int_le(got, set + 2 + seconds_since(&t0));
	ck_assert_int_eq(tm.tm_year, 101);
	ck_assert_int_eq(tm.tm_mon, 1);
	ck_assert_int_eq(tm.tm_mday, 3);
}

START_TEST(test_set_time_bcd)
{
	check_set_time(B_24H);
}
END_TEST

START_TEST(test_set_time_binary_12h)
{
	check_set_time(B_DM);
}
END_TEST

START_TEST(test_set_time_survives_mode_change)
{
	struct tm want = {.tm_sec = 30,
			  .tm_min = 59,
			  .tm_hour = 23,
			  .tm_mday = 31,
			  .tm_mon = 11,
			  .tm_year = 199,
			  .tm_wday = 5};
	time_t set = timegm(&want), got;
	struct tm tm;

	cmos_write(REG_B, B_24H | B_SET);
	set_clock(B_24H, &want);
	cmos_write(REG_B, B_24H);
	/* The offset is kept in seconds, so any format reads the same time. */
	cmos_write(REG_B, B_DM);
	got = read_clock(&tm);
	ck_assert_int_ge(got, set);
	ck_assert_int_le(got, set + 1);
}
END_TEST

START_TEST(test_write_without_set)
{
	uint8_t min;

	/* Stay clear of a minute boundary between the write and the read. */
	while (cmos_read(0) >= 0x58)
		usleep(100 * 1000);
	/* The clock runs on from a register written while it runs. */
	min = (from_reg(B_24H, cmos_read(2)) + 30) % 60;
	cmos_write(2, to_reg(B_24H, min));
	ck_assert_uint_eq(cmos_read(2), to_reg(B_24H, min));
}
END_TEST

START_TEST(test_cmos_ram)
{
	rtc_set_cmos(r, 0x34, 0x12);
	ck_assert_uint_eq(cmos_read(0x34), 0x12);
	cmos_write(0x40, 0xab);
	ck_assert_uint_eq(cmos_read(0x40), 0xab);
	cmos_write(0x7f, 0xcd);
	ck_assert_uint_eq(cmos_read(0x7f), 0xcd);
	/* Alarm registers are storage too. */
	cmos_write(1, 0x42);
	ck_assert_uint_eq(cmos_read(1), 0x42);
	/* Presets do not reach the clock or status registers. */
	rtc_set_cmos(r, REG_B, 0xff);
	ck_assert_uint_eq(cmos_read(REG_B), B_24H);
}
END_TEST

START_TEST(test_word_access)
{
	uint16_t w = 0x5a00 | 0x50, v;
	uint8_t index = 0x50, b;

	/* outw 0x70: index in the low byte, data in the high byte. */
	ck_assert(bus_access(&bus, 0x70, &w, 2, true));
	ck_assert(bus_access(&bus, 0x70, &index, 1, true));
	ck_assert(bus_access(&bus, 0x71, &b, 1, false));
	ck_assert_uint_eq(b, 0x5a);
	ck_assert(bus_access(&bus, 0x70, &v, 2, false));
	ck_assert_uint_eq(v, 0x5aff);
}
END_TEST

static int wait_irq(int ms)
{
	for (; ms > 0; ms -= 10) {
		if (__atomic_load_n(&irq.level, __ATOMIC_SEQ_CST))
			return 1;
		usleep(10 * 1000);
	}
	return 0;
}

START_TEST(test_update_interrupt)
{
	uint8_t c;

	cmos_write(REG_B, B_24H | B_UIE);
	ck_assert(wait_irq(2500));
	c = cmos_read(REG_C);
	ck_assert_uint_eq(c & 0x90, 0x90);
	ck_assert_int_eq(irq.level, 0);
	ck_assert_uint_eq(cmos_read(REG_C), 0);
	/* And again a second later: reading C re-arms it. */
	ck_assert(wait_irq(2500));
	ck_assert_uint_eq(cmos_read(REG_C) & 0x90, 0x90);
	cmos_write(REG_B, B_24H);
}
END_TEST

START_TEST(test_alarm_interrupt)
{
	uint8_t c;

	/* Don't-care in all three alarm bytes: fires every second. */
	cmos_write(1, 0xff);
	cmos_write(3, 0xff);
	cmos_write(5, 0xff);
	cmos_write(REG_B, B_24H | B_AIE);
	ck_assert(wait_irq(2500));
	c = cmos_read(REG_C);
	ck_assert_uint_eq(c & 0xa0, 0xa0);
	ck_assert_int_eq(irq.level, 0);
}
END_TEST

START_TEST(test_no_interrupt_unless_enabled)
{
	cmos_write(1, 0xff);
	cmos_write(3, 0xff);
	cmos_write(5, 0xff);
	usleep(1200 * 1000);
	ck_assert_int_eq(irq.rises, 0);
}
END_TEST

int main(void)
{
	return uv_check_run(
		uv_suite("rtc", setup, teardown, 20,
			 UV_TESTS(test_defaults, test_host_time_bcd, test_host_time_binary,
				  test_host_time_12h, test_nmi_bit_ignored, test_set_time_bcd,
				  test_set_time_binary_12h, test_set_time_survives_mode_change,
				  test_write_without_set, test_cmos_ram, test_word_access,
				  test_update_interrupt, test_alarm_interrupt,
				  test_no_interrupt_unless_enabled)));
}
