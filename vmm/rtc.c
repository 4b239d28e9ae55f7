// SPDX-License-Identifier: GPL-2.0
/*
 * MC146818 RTC and CMOS RAM.
 *
 * The clock is the host's CLOCK_REALTIME plus a whole-second offset that
 * changes only when the guest sets the time. While register B's SET bit is
 * clear, the time registers are recomputed on every read, so there is no
 * update cycle to race with and UIP always reads 0. Setting SET freezes them
 * into plain storage for the guest to rewrite; clearing it turns what the
 * guest wrote into the new offset.
 *
 * Update-ended and alarm interrupts come from a thread that wakes on each
 * host second boundary while UIE or AIE is enabled (Linux emulates UIE on
 * top of the alarm, and hwclock waits for it). Periodic interrupts are not
 * generated: PF never sets. As on the chip, IRQ 8 stays high until the
 * guest reads register C.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rtc.h"
#include "thread.h"

enum {
	RTC_SECONDS = 0x00,
	RTC_SECONDS_ALARM = 0x01,
	RTC_MINUTES = 0x02,
	RTC_MINUTES_ALARM = 0x03,
	RTC_HOURS = 0x04,
	RTC_HOURS_ALARM = 0x05,
	RTC_DAY_OF_WEEK = 0x06,
	RTC_DAY_OF_MONTH = 0x07,
	RTC_MONTH = 0x08,
	RTC_YEAR = 0x09,
	RTC_REG_A = 0x0a,
	RTC_REG_B = 0x0b,
	RTC_REG_C = 0x0c,
	RTC_REG_D = 0x0d,
	RTC_CENTURY = 0x32, /* the IBM PC/AT convention, also in the ACPI FADT */
};

#define RTC_A_UIP    0x80
#define RTC_B_SET    0x80
#define RTC_B_PIE    0x40
#define RTC_B_AIE    0x20
#define RTC_B_UIE    0x10
#define RTC_B_DM     0x04 /* binary, not BCD */
#define RTC_B_24H    0x02
#define RTC_C_IRQF   0x80
#define RTC_C_FLAGS  0x70 /* PF, AF, UF: same bit positions as the enables */
#define RTC_C_AF     0x20
#define RTC_C_UF     0x10
#define RTC_D_VRT    0x80
#define RTC_HOUR_PM  0x80
#define RTC_DONTCARE 0xc0 /* alarm bytes from 0xc0 up match any value */

#define RTC_CMOS_SIZE 128

struct rtc {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t ticker;
	bool stop;
	struct irq_line irq;
	bool irq_level;
	uint8_t index;
	uint8_t cmos[RTC_CMOS_SIZE];
	int64_t offset; /* guest time minus host time, in seconds */
};

static int64_t rtc_host_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec;
}

static bool rtc_is_clock(uint8_t index)
{
	switch (index) {
	case RTC_SECONDS:
	case RTC_MINUTES:
	case RTC_HOURS:
	case RTC_DAY_OF_WEEK:
	case RTC_DAY_OF_MONTH:
	case RTC_MONTH:
	case RTC_YEAR:
	case RTC_CENTURY:
		return true;
	}
	return false;
}

static uint8_t rtc_to_reg(const struct rtc *r, int v)
{
	if (r->cmos[RTC_REG_B] & RTC_B_DM)
		return v;
	return (v / 10) << 4 | v % 10;
}

static int rtc_from_reg(const struct rtc *r, uint8_t v)
{
	if (r->cmos[RTC_REG_B] & RTC_B_DM)
		return v;
	return (v >> 4) * 10 + (v & 0x0f);
}

static uint8_t rtc_hour_to_reg(const struct rtc *r, int hour)
{
	uint8_t pm = 0;

	if (r->cmos[RTC_REG_B] & RTC_B_24H)
		return rtc_to_reg(r, hour);
	/* 12-hour clock: midnight is 12 AM, noon 12 PM. */
	if (hour >= 12)
		pm = RTC_HOUR_PM;
	hour %= 12;
	return rtc_to_reg(r, hour ? hour : 12) | pm;
}

static int rtc_hour_from_reg(const struct rtc *r, uint8_t v)
{
	int hour;

	if (r->cmos[RTC_REG_B] & RTC_B_24H)
		return rtc_from_reg(r, v);
	hour = rtc_from_reg(r, v & ~RTC_HOUR_PM) % 12;
	return v & RTC_HOUR_PM ? hour + 12 : hour;
}

/* Writes guest time t into the clock registers, in register B's format. */
static void rtc_store_time(struct rtc *r, int64_t t)
{
	time_t tt = t;
	struct tm tm;
	int year;

	if (!gmtime_r(&tt, &tm))
		return;
	year = tm.tm_year + 1900;
	r->cmos[RTC_SECONDS] = rtc_to_reg(r, tm.tm_sec);
	r->cmos[RTC_MINUTES] = rtc_to_reg(r, tm.tm_min);
	r->cmos[RTC_HOURS] = rtc_hour_to_reg(r, tm.tm_hour);
	r->cmos[RTC_DAY_OF_WEEK] = rtc_to_reg(r, tm.tm_wday + 1);
	r->cmos[RTC_DAY_OF_MONTH] = rtc_to_reg(r, tm.tm_mday);
	r->cmos[RTC_MONTH] = rtc_to_reg(r, tm.tm_mon + 1);
	r->cmos[RTC_YEAR] = rtc_to_reg(r, year % 100);
	r->cmos[RTC_CENTURY] = rtc_to_reg(r, year / 100);
}

/* The guest time the clock registers hold; timegm() folds out-of-range fields. */
static int64_t rtc_load_time(const struct rtc *r)
{
	struct tm tm = {
		.tm_sec = rtc_from_reg(r, r->cmos[RTC_SECONDS]),
		.tm_min = rtc_from_reg(r, r->cmos[RTC_MINUTES]),
		.tm_hour = rtc_hour_from_reg(r, r->cmos[RTC_HOURS]),
		.tm_mday = rtc_from_reg(r, r->cmos[RTC_DAY_OF_MONTH]),
		.tm_mon = rtc_from_reg(r, r->cmos[RTC_MONTH]) - 1,
		.tm_year = rtc_from_reg(r, r->cmos[RTC_CENTURY]) * 100 +
			   rtc_from_reg(r, r->cmos[RTC_YEAR]) - 1900,
	};

	return timegm(&tm);
}

static void rtc_update_irq(struct rtc *r)
{
	uint8_t flags = r->cmos[RTC_REG_C] & RTC_C_FLAGS;
	bool level = flags & r->cmos[RTC_REG_B];

	r->cmos[RTC_REG_C] = flags | (level ? RTC_C_IRQF : 0);
	if (level != r->irq_level) {
		irq_line_set(&r->irq, level);
		r->irq_level = level;
	}
}

static bool rtc_alarm_matches(uint8_t alarm, uint8_t now)
{
	return (alarm & RTC_DONTCARE) == RTC_DONTCARE || alarm == now;
}

/* One update cycle, at a second boundary. */
static void rtc_tick(struct rtc *r)
{
	const uint8_t *c = r->cmos;

	if (c[RTC_REG_B] & RTC_B_SET)
		return;
	rtc_store_time(r, rtc_host_now() + r->offset);
	r->cmos[RTC_REG_C] |= RTC_C_UF;
	if (rtc_alarm_matches(c[RTC_SECONDS_ALARM], c[RTC_SECONDS]) &&
	    rtc_alarm_matches(c[RTC_MINUTES_ALARM], c[RTC_MINUTES]) &&
	    rtc_alarm_matches(c[RTC_HOURS_ALARM], c[RTC_HOURS]))
		r->cmos[RTC_REG_C] |= RTC_C_AF;
	rtc_update_irq(r);
}

/*
 * Guest seconds start with host seconds (the offset is whole), so ticking on
 * host second boundaries is ticking on guest ones. The condition variable
 * waits on CLOCK_REALTIME, the clock the guest time follows.
 */
static void *rtc_ticker(void *opaque)
{
	struct rtc *r = opaque;
	int64_t due = 0;

	pthread_mutex_lock(&r->lock);
	while (!r->stop) {
		struct timespec ts;

		if (!(r->cmos[RTC_REG_B] & (RTC_B_UIE | RTC_B_AIE))) {
			due = 0;
			pthread_cond_wait(&r->wake, &r->lock);
			continue;
		}
		if (!due)
			due = rtc_host_now() + 1;
		ts.tv_sec = due;
		ts.tv_nsec = 0;
		if (pthread_cond_timedwait(&r->wake, &r->lock, &ts) != ETIMEDOUT)
			continue;
		rtc_tick(r);
		/* Not due + 1: after a host clock jump that would tick in a burst. */
		due = rtc_host_now() + 1;
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

static void rtc_write_b(struct rtc *r, uint8_t val)
{
	uint8_t old = r->cmos[RTC_REG_B];
	int64_t now = rtc_host_now();

	/* Setting SET clears UIE on the chip. */
	if (val & RTC_B_SET)
		val &= ~RTC_B_UIE;
	/* Decode in the format the guest wrote the registers in. */
	if ((old & RTC_B_SET) && !(val & RTC_B_SET))
		r->offset = rtc_load_time(r) - now;
	r->cmos[RTC_REG_B] = val;
	if (!(old & RTC_B_SET) && (val & RTC_B_SET))
		rtc_store_time(r, now + r->offset);
	rtc_update_irq(r);
	pthread_cond_signal(&r->wake);
}

static uint8_t rtc_read_reg(struct rtc *r, uint8_t index)
{
	uint8_t val;

	switch (index) {
	case RTC_REG_A:
		return r->cmos[RTC_REG_A] & ~RTC_A_UIP;
	case RTC_REG_C:
		val = r->cmos[RTC_REG_C];
		r->cmos[RTC_REG_C] = 0;
		rtc_update_irq(r);
		return val;
	case RTC_REG_D:
		return RTC_D_VRT;
	}
	if (rtc_is_clock(index) && !(r->cmos[RTC_REG_B] & RTC_B_SET))
		rtc_store_time(r, rtc_host_now() + r->offset);
	return r->cmos[index];
}

static void rtc_write_reg(struct rtc *r, uint8_t index, uint8_t val)
{
	int64_t now;

	switch (index) {
	case RTC_REG_A:
		r->cmos[RTC_REG_A] = val & ~RTC_A_UIP;
		return;
	case RTC_REG_B:
		rtc_write_b(r, val);
		return;
	case RTC_REG_C:
	case RTC_REG_D:
		return; /* read-only */
	}
	if (rtc_is_clock(index) && !(r->cmos[RTC_REG_B] & RTC_B_SET)) {
		/* Without SET a write takes effect at once; the clock runs on from it. */
		now = rtc_host_now();
		rtc_store_time(r, now + r->offset);
		r->cmos[index] = val;
		r->offset = rtc_load_time(r) - now;
		return;
	}
	r->cmos[index] = val;
}

/*
 * Offset 0 is the index port (0x70), 1 the data port (0x71). A wider access
 * is split into byte accesses, as the ISA bus does: "outw 0x70" sets the
 * index and writes the data in one go.
 */
static void rtc_read(void *opaque, uint64_t offset, void *data, unsigned len)
{
	struct rtc *r = opaque;
	uint8_t *out = data;
	unsigned i;

	memset(data, 0xff, len);
	pthread_mutex_lock(&r->lock);
	for (i = 0; i < len && offset + i < 2; i++) {
		/* The index port is write-only. */
		if (offset + i == 1)
			out[i] = rtc_read_reg(r, r->index);
	}
	pthread_mutex_unlock(&r->lock);
}

static void rtc_write(void *opaque, uint64_t offset, const void *data, unsigned len)
{
	struct rtc *r = opaque;
	const uint8_t *in = data;
	unsigned i;

	pthread_mutex_lock(&r->lock);
	for (i = 0; i < len && offset + i < 2; i++) {
		/* Bit 7 of the index masks NMIs on a PC; there is nothing to mask. */
		if (offset + i == 0)
			r->index = in[i] & (RTC_CMOS_SIZE - 1);
		else
			rtc_write_reg(r, r->index, in[i]);
	}
	pthread_mutex_unlock(&r->lock);
}

static const struct bus_ops rtc_ops = {
	.read = rtc_read,
	.write = rtc_write,
};

struct rtc *rtc_create(struct irq_line irq)
{
	struct rtc *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	if (pthread_mutex_init(&r->lock, NULL))
		goto err_free;
	if (pthread_cond_init(&r->wake, NULL))
		goto err_mutex;
	r->irq = irq;
	r->cmos[RTC_REG_A] = 0x26; /* 32.768 kHz time base, 1024 Hz rate */
	r->cmos[RTC_REG_B] = RTC_B_24H;
	if (uv_thread_create(&r->ticker, rtc_ticker, r))
		goto err_cond;
	return r;

err_cond:
	pthread_cond_destroy(&r->wake);
err_mutex:
	pthread_mutex_destroy(&r->lock);
err_free:
	free(r);
	return NULL;
}

void rtc_destroy(struct rtc *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
	uv_thread_join(r->ticker, NULL);
	pthread_cond_destroy(&r->wake);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

int rtc_attach(struct rtc *r, struct bus *pio)
{
	return bus_register(pio, 0x70, 2, &rtc_ops, r);
}

void rtc_set_cmos(struct rtc *r, uint8_t index, uint8_t val)
{
	index &= RTC_CMOS_SIZE - 1;
	/* The clock and status registers are not RAM. */
	if (index <= RTC_REG_D || index == RTC_CENTURY)
		return;
	pthread_mutex_lock(&r->lock);
	r->cmos[index] = val;
	pthread_mutex_unlock(&r->lock);
}
