/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UVMM_I8042_H
#define UVMM_I8042_H

#include "bus.h"
#include "irq.h"

/*
 * The PS/2 controller at 0x60/0x64, as far as guests need it: the command
 * byte, self tests, port enable/disable, the output port, and the pulse of
 * the reset line (command 0xfe, or output-port bit 0 cleared) that Linux
 * uses to reboot. No keyboard or mouse is attached.
 */
struct i8042;

struct i8042 *i8042_create(struct irq_line kbd_irq, void (*reset)(void *ctx), void *ctx);
void i8042_destroy(struct i8042 *k);
int i8042_attach(struct i8042 *k, struct bus *pio);

#endif
