/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UV_TEST_IRQ_REC_H
#define UV_TEST_IRQ_REC_H

/*
 * An interrupt line's recorder for device models' tests (test_serial,
 * test_i8042, test_rtc). Atomic: the RTC raises its line from a timer thread.
 */
#include "uvcheck.h"

struct irq_rec {
	unsigned gsi; /* the only one the device may raise */
	int level;
	int rises; /* 0 -> 1 transitions: interrupts an edge-triggered PIC sees */
	int calls;
};

/* An irq_line's .set with .ctx a struct irq_rec. */
static inline void irq_rec_set(void *ctx, unsigned gsi, int level)
{
	struct irq_rec *r = ctx;

	ck_assert_uint_eq(gsi, r->gsi);
	if (level && !__atomic_load_n(&r->level, __ATOMIC_SEQ_CST))
		__atomic_add_fetch(&r->rises, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&r->level, level, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&r->calls, 1, __ATOMIC_SEQ_CST);
}

#endif
