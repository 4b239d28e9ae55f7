// SPDX-License-Identifier: GPL-2.0
/*
 * i8042 PS/2 controller with nothing plugged in.
 *
 * Guests touch it to probe for a keyboard and mouse and to reboot through
 * the reset line. Bytes sent to the keyboard get what a controller returns
 * when no device answers, 0xfe with the time-out status bit, so that a
 * driver gives up at once rather than waiting for each command to time out.
 * Bytes for the mouse are dropped. Only the keyboard interrupt (IRQ 1) is
 * wired: aux output sits in the buffer without raising IRQ 12, which makes
 * Linux's aux IRQ test fail and leaves the aux port unregistered.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "i8042.h"

#define I8042_DATA 0x60
#define I8042_CMD  0x64

/* Status register. */
#define STR_OBF	     0x01
#define STR_SYS	     0x04
#define STR_CMD	     0x08 /* the last write went to the command port */
#define STR_UNLOCKED 0x10 /* keyboard not inhibited by the key lock */
#define STR_AUXDATA  0x20
#define STR_TIMEOUT  0x40

/* Command byte, which is byte 0 of the controller's RAM. */
#define CTR_KBDINT 0x01
#define CTR_SYS	   0x04
#define CTR_KBDDIS 0x10
#define CTR_AUXDIS 0x20
#define CTR_XLATE  0x40

/* Output port. */
#define OUT_RESET 0x01 /* low holds the CPU in reset */
#define OUT_A20	  0x02

#define I8042_RAM_SIZE 32

struct i8042 {
	pthread_mutex_t lock;
	struct irq_line irq;
	bool irq_level;
	void (*reset)(void *ctx);
	void *reset_ctx;

	uint8_t ram[I8042_RAM_SIZE];
	uint8_t outport;
	uint8_t pending; /* command waiting for its data byte, or 0 */
	uint8_t obuf;
	bool obf, obuf_aux, timeout, last_cmd;
};

/* fresh: a new byte arrived, which needs a new edge even if the line is high. */
static void i8042_update_irq(struct i8042 *k, bool fresh)
{
	bool level = k->obf && !k->obuf_aux && (k->ram[0] & CTR_KBDINT);

	if (fresh && level && k->irq_level) {
		irq_line_set(&k->irq, 0);
		k->irq_level = false;
	}
	if (level != k->irq_level) {
		irq_line_set(&k->irq, level);
		k->irq_level = level;
	}
}

static void i8042_output(struct i8042 *k, uint8_t val, bool aux)
{
	k->obuf = val;
	k->obf = true;
	k->obuf_aux = aux;
	i8042_update_irq(k, true);
}

static uint8_t i8042_status(const struct i8042 *k)
{
	uint8_t st = STR_UNLOCKED;

	if (k->obf)
		st |= STR_OBF;
	if (k->obf && k->obuf_aux)
		st |= STR_AUXDATA;
	if (k->ram[0] & CTR_SYS)
		st |= STR_SYS;
	if (k->last_cmd)
		st |= STR_CMD;
	if (k->timeout)
		st |= STR_TIMEOUT;
	return st;
}

static uint8_t i8042_read_data(struct i8042 *k)
{
	/* An empty buffer reads as the last byte again. */
	if (k->obf) {
		k->obf = false;
		i8042_update_irq(k, false);
	}
	return k->obuf;
}

/* Returns true when the command pulses the reset line. */
static bool i8042_command(struct i8042 *k, uint8_t cmd)
{
	k->pending = 0;
	if (cmd >= 0x20 && cmd < 0x40) {
		i8042_output(k, k->ram[cmd & 0x1f], false);
		return false;
	}
	if (cmd >= 0x60 && cmd < 0x80) {
		k->pending = cmd;
		return false;
	}
	/* Pulse output port bits 3:0 low where cmd has zeroes; bit 0 is reset. */
	if (cmd >= 0xf0)
		return !(cmd & OUT_RESET);

	switch (cmd) {
	case 0xa7:
		k->ram[0] |= CTR_AUXDIS;
		break;
	case 0xa8:
		k->ram[0] &= ~CTR_AUXDIS;
		break;
	case 0xa9: /* aux interface test: lines fine, even with nothing on them */
	case 0xab: /* keyboard interface test */
		i8042_output(k, 0x00, false);
		break;
	case 0xaa: /* self test; passing it sets the system flag */
		k->ram[0] |= CTR_SYS;
		i8042_output(k, 0x55, false);
		break;
	case 0xad:
		k->ram[0] |= CTR_KBDDIS;
		break;
	case 0xae:
		k->ram[0] &= ~CTR_KBDDIS;
		break;
	case 0xd0:
		i8042_output(k, k->outport, false);
		break;
	case 0xd1: /* write output port */
	case 0xd2: /* write keyboard output buffer */
	case 0xd3: /* write aux output buffer */
	case 0xd4: /* write to aux device */
		k->pending = cmd;
		break;
	default:
		break; /* not something guests need */
	}
	return false;
}

/* Returns true when the write pulses the reset line. */
static bool i8042_write_data(struct i8042 *k, uint8_t val)
{
	uint8_t cmd = k->pending;

	k->pending = 0;
	if (cmd >= 0x60 && cmd < 0x80) {
		k->ram[cmd & 0x1f] = val;
		i8042_update_irq(k, false);
		return false;
	}
	switch (cmd) {
	case 0xd1:
		/* A20 cannot be turned off under KVM; keep the bit as written. */
		k->outport = val | OUT_RESET;
		return !(val & OUT_RESET);
	case 0xd2:
		i8042_output(k, val, false);
		break;
	case 0xd3:
		i8042_output(k, val, true);
		break;
	case 0xd4:
		break; /* no mouse */
	default:
		/* For the keyboard, which is not there. */
		k->timeout = true;
		i8042_output(k, 0xfe, false);
		break;
	}
	return false;
}

static void i8042_read(struct i8042 *k, bool cmd_port, void *data, unsigned len)
{
	uint8_t val;

	pthread_mutex_lock(&k->lock);
	val = cmd_port ? i8042_status(k) : i8042_read_data(k);
	pthread_mutex_unlock(&k->lock);
	memset(data, 0, len);
	*(uint8_t *)data = val;
}

/* The reset callback runs without the lock: it may stop vCPUs that want it. */
static void i8042_write(struct i8042 *k, bool cmd_port, const void *data)
{
	uint8_t val = *(const uint8_t *)data;
	bool reset;

	pthread_mutex_lock(&k->lock);
	k->last_cmd = cmd_port;
	/* A time-out is reported for the byte that caused it, until the next. */
	k->timeout = false;
	reset = cmd_port ? i8042_command(k, val) : i8042_write_data(k, val);
	pthread_mutex_unlock(&k->lock);
	if (reset && k->reset)
		k->reset(k->reset_ctx);
}

static void i8042_data_read(void *opaque, uint64_t offset, void *data, unsigned len)
{
	(void)offset;
	i8042_read(opaque, false, data, len);
}

static void i8042_data_write(void *opaque, uint64_t offset, const void *data, unsigned len)
{
	(void)offset;
	(void)len;
	i8042_write(opaque, false, data);
}

static void i8042_cmd_read(void *opaque, uint64_t offset, void *data, unsigned len)
{
	(void)offset;
	i8042_read(opaque, true, data, len);
}

static void i8042_cmd_write(void *opaque, uint64_t offset, const void *data, unsigned len)
{
	(void)offset;
	(void)len;
	i8042_write(opaque, true, data);
}

static const struct bus_ops i8042_data_ops = {
	.read = i8042_data_read,
	.write = i8042_data_write,
};

static const struct bus_ops i8042_cmd_ops = {
	.read = i8042_cmd_read,
	.write = i8042_cmd_write,
};

struct i8042 *i8042_create(struct irq_line kbd_irq, void (*reset)(void *ctx), void *ctx)
{
	struct i8042 *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	if (pthread_mutex_init(&k->lock, NULL)) {
		free(k);
		return NULL;
	}
	k->irq = kbd_irq;
	k->reset = reset;
	k->reset_ctx = ctx;
	/* What firmware would leave: translation on, no mouse, keyboard IRQ on. */
	k->ram[0] = CTR_XLATE | CTR_AUXDIS | CTR_KBDINT;
	k->outport = OUT_A20 | OUT_RESET;
	return k;
}

void i8042_destroy(struct i8042 *k)
{
	if (!k)
		return;
	pthread_mutex_destroy(&k->lock);
	free(k);
}

int i8042_attach(struct i8042 *k, struct bus *pio)
{
	int ret;

	ret = bus_register(pio, I8042_DATA, 1, &i8042_data_ops, k);
	if (ret)
		return ret;
	/* No unregister on failure: the bus is torn down as a whole. */
	return bus_register(pio, I8042_CMD, 1, &i8042_cmd_ops, k);
}
