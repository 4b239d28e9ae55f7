/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UVMM_SERIAL_H
#define UVMM_SERIAL_H

#include <stddef.h>
#include <stdint.h>

#include "bus.h"
#include "irq.h"

/*
 * A 16550A UART (8250 family): FIFOs, divisor latch, modem control, and
 * interrupts (received data, THR empty, line status, modem status) on one
 * IRQ line. Thread-safe: vCPU threads access registers while the console
 * thread queues input.
 */
struct serial;

/* Bytes the guest transmits; called with the device lock held, keep it short. */
typedef void (*serial_tx_fn)(void *ctx, const uint8_t *buf, size_t len);

struct serial *serial_create(struct irq_line irq, serial_tx_fn tx, void *tx_ctx);
void serial_destroy(struct serial *s);
/* Registers the eight registers at base (0x3f8 for COM1). */
int serial_attach(struct serial *s, struct bus *pio, uint16_t base);
/*
 * Queues input for the guest; returns how many bytes were accepted: fewer
 * than len when the 64 KiB input ring is full or the guest has the port in
 * loopback. After a short count, rx_ready is called once there is room.
 */
size_t serial_receive(struct serial *s, const uint8_t *buf, size_t len);
/*
 * Called (from a vCPU thread) when the guest has drained input after
 * serial_receive() accepted less than it was offered.
 */
void serial_set_rx_ready(struct serial *s, void (*fn)(void *ctx), void *ctx);

#endif
