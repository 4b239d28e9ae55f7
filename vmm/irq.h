/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UVMM_IRQ_H
#define UVMM_IRQ_H

/*
 * One interrupt line of a device. The VM wires it to KVM_IRQ_LINE on a GSI;
 * unit tests wire it to a recorder. Devices report the line's level and the
 * in-kernel IOAPIC/PIC turn edges into interrupts.
 */
struct irq_line {
	void (*set)(void *ctx, unsigned gsi, int level);
	void *ctx;
	unsigned gsi;
};

static inline void irq_line_set(const struct irq_line *l, int level)
{
	if (l->set)
		l->set(l->ctx, l->gsi, level);
}

#endif
