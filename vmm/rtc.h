/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UVMM_RTC_H
#define UVMM_RTC_H

#include <stdint.h>

#include "bus.h"
#include "irq.h"

/*
 * MC146818 CMOS RTC at ports 0x70/0x71: the host's UTC time (plus whatever
 * offset the guest sets), BCD or binary and 12/24-hour per register B,
 * register A/B/C/D semantics, and 128 bytes of CMOS RAM.
 */
struct rtc;

/* Starts a thread that raises update and alarm interrupts when enabled. */
struct rtc *rtc_create(struct irq_line irq);
void rtc_destroy(struct rtc *r);
int rtc_attach(struct rtc *r, struct bus *pio);
/*
 * Presets a CMOS RAM byte (memory size for firmware, for example): index
 * 0x0e-0x7f except the century byte 0x32; others are ignored.
 */
void rtc_set_cmos(struct rtc *r, uint8_t index, uint8_t val);

#endif
