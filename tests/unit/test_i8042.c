// SPDX-License-Identifier: GPL-2.0
#include <check.h>

#include "irq_rec.h"
#include "uvcheck.h"
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "i8042.h"

#define DATA 0x60
#define CMD  0x64

#define STR_OBF	    0x01
#define STR_IBF	    0x02
#define STR_SYS	    0x04
#define STR_AUXDATA 0x20
#define STR_TIMEOUT 0x40

#define CTR_KBDINT 0x01
#define CTR_SYS	   0x04
#define CTR_KBDDIS 0x10
#define CTR_AUXDIS 0x20

static struct bus bus;
static struct i8042 *k;
static struct irq_rec irq;
static int resets;

static void reset_record(void *ctx)
{
	ck_assert_ptr_eq(ctx, &resets);
	resets++;
}

static void setup(void)
{
	struct irq_line line = {.set = irq_rec_set, .ctx = &irq, .gsi = 1};

	irq = (struct irq_rec){.gsi = 1};
	resets = 0;
	bus_init(&bus);
	k = i8042_create(line, reset_record, &resets);
	ck_assert_ptr_nonnull(k);
	ck_assert_int_eq(i8042_attach(k, &bus), 0);
}

static void teardown(void)
{
	i8042_destroy(k);
	bus_exit(&bus);
}

static uint8_t inb(uint16_t port)
{
	uint8_t v;

	ck_assert(bus_access(&bus, port, &v, 1, false));
	return v;
}

static void outb(uint16_t port, uint8_t v)
{
	ck_assert(bus_access(&bus, port, &v, 1, true));
}

/* What a driver does for a command with one result byte. */
static uint8_t command_result(uint8_t cmd)
{
	outb(CMD, cmd);
	ck_assert_uint_eq(inb(CMD) & (STR_OBF | STR_IBF), STR_OBF);
	return inb(DATA);
}

static void write_ctr(uint8_t ctr)
{
	outb(CMD, 0x60);
	outb(DATA, ctr);
}

START_TEST(test_self_test)
{
	ck_assert_uint_eq(inb(CMD) & (STR_OBF | STR_IBF | STR_SYS), 0);
	ck_assert_uint_eq(command_result(0xaa), 0x55);
	ck_assert_uint_eq(inb(CMD) & (STR_OBF | STR_IBF | STR_SYS), STR_SYS);
	ck_assert_uint_eq(command_result(0x20) & CTR_SYS, CTR_SYS);
	ck_assert_uint_eq(command_result(0xab), 0x00);
	ck_assert_uint_eq(command_result(0xa9), 0x00);
	ck_assert_int_eq(resets, 0);
}
END_TEST

START_TEST(test_command_byte)
{
	write_ctr(0x47);
	ck_assert_uint_eq(command_result(0x20), 0x47);
	write_ctr(0x00);
	ck_assert_uint_eq(command_result(0x20), 0x00);
	/* The system flag in the status register follows the command byte. */
	ck_assert_uint_eq(inb(CMD) & STR_SYS, 0);

	outb(CMD, 0xad);
	ck_assert_uint_eq(command_result(0x20), CTR_KBDDIS);
	outb(CMD, 0xa7);
	ck_assert_uint_eq(command_result(0x20), CTR_KBDDIS | CTR_AUXDIS);
	outb(CMD, 0xae);
	ck_assert_uint_eq(command_result(0x20), CTR_AUXDIS);
	outb(CMD, 0xa8);
	ck_assert_uint_eq(command_result(0x20), 0);

	/* The rest of the controller RAM. */
	outb(CMD, 0x65);
	outb(DATA, 0x99);
	ck_assert_uint_eq(command_result(0x25), 0x99);
}
END_TEST

START_TEST(test_irq)
{
	write_ctr(CTR_KBDINT);
	ck_assert_int_eq(irq.level, 0);
	outb(CMD, 0x20);
	ck_assert_int_eq(irq.level, 1);
	ck_assert_uint_eq(inb(DATA), CTR_KBDINT);
	ck_assert_int_eq(irq.level, 0);
	ck_assert_uint_eq(inb(CMD) & STR_OBF, 0);

	/* A new byte over an unread one is a new edge. */
	outb(CMD, 0xaa);
	outb(CMD, 0xab);
	ck_assert_int_eq(irq.rises, 3);
	ck_assert_uint_eq(inb(DATA), 0x00);
	ck_assert_int_eq(irq.level, 0);

	/* Interrupts off in the command byte: no IRQ, the byte is still there. */
	write_ctr(0);
	outb(CMD, 0xaa);
	ck_assert_int_eq(irq.level, 0);
	/* Turning them back on with the buffer full raises the line. */
	write_ctr(CTR_KBDINT);
	ck_assert_int_eq(irq.level, 1);
	ck_assert_uint_eq(inb(DATA), 0x55);
	ck_assert_int_eq(irq.level, 0);
}
END_TEST

START_TEST(test_reset_pulse)
{
	outb(CMD, 0xfe);
	ck_assert_int_eq(resets, 1);
	/* Bit 0 set: no pulse on the reset line. */
	outb(CMD, 0xff);
	outb(CMD, 0xf1);
	ck_assert_int_eq(resets, 1);
	outb(CMD, 0xf0);
	ck_assert_int_eq(resets, 2);
	outb(CMD, 0xfa);
	ck_assert_int_eq(resets, 3);
}
END_TEST

START_TEST(test_output_port)
{
	uint8_t out = command_result(0xd0);

	ck_assert_uint_eq(out & 0x03, 0x03);
	outb(CMD, 0xd1);
	outb(DATA, 0xdf);
	ck_assert_int_eq(resets, 0);
	ck_assert_uint_eq(command_result(0xd0), 0xdf);
	outb(CMD, 0xd1);
	outb(DATA, 0xde);
	ck_assert_int_eq(resets, 1);
	/* The line was pulsed, not held: the port reads back out of reset. */
	ck_assert_uint_eq(command_result(0xd0) & 0x01, 0x01);
}
END_TEST

START_TEST(test_write_buffers)
{
	write_ctr(CTR_KBDINT);
	outb(CMD, 0xd2);
	outb(DATA, 0x1c);
	ck_assert_uint_eq(inb(CMD) & (STR_OBF | STR_AUXDATA), STR_OBF);
	ck_assert_int_eq(irq.level, 1);
	ck_assert_uint_eq(inb(DATA), 0x1c);
	ck_assert_int_eq(irq.level, 0);

	/* Aux loop: the byte comes back as mouse data, on IRQ 12 (not wired). */
	outb(CMD, 0xd3);
	outb(DATA, 0x5a);
	ck_assert_uint_eq(inb(CMD) & (STR_OBF | STR_AUXDATA), STR_OBF | STR_AUXDATA);
	ck_assert_int_eq(irq.level, 0);
	ck_assert_uint_eq(inb(DATA), 0x5a);
	ck_assert_uint_eq(inb(CMD) & (STR_OBF | STR_AUXDATA), 0);

	/* Bytes for the absent mouse vanish. */
	outb(CMD, 0xd4);
	outb(DATA, 0xf2);
	ck_assert_uint_eq(inb(CMD) & (STR_OBF | STR_TIMEOUT), 0);
}
END_TEST

START_TEST(test_absent_keyboard)
{
	write_ctr(CTR_KBDINT);
	outb(DATA, 0xf2); /* identify */
	ck_assert_uint_eq(inb(CMD) & (STR_OBF | STR_TIMEOUT), STR_OBF | STR_TIMEOUT);
	ck_assert_int_eq(irq.level, 1);
	ck_assert_uint_eq(inb(DATA), 0xfe);
	ck_assert_int_eq(irq.level, 0);
	/* The time-out flag goes with the next command. */
	ck_assert_uint_eq(command_result(0x20), CTR_KBDINT);
	ck_assert_uint_eq(inb(CMD) & STR_TIMEOUT, 0);
}
END_TEST

START_TEST(test_command_aborts_pending)
{
	outb(CMD, 0x60);
	outb(CMD, 0xaa); /* a command instead of the expected data */
	ck_assert_uint_eq(inb(DATA), 0x55);
	outb(CMD, 0xd1);
	outb(CMD, 0x20);
	ck_assert_uint_ne(inb(DATA), 0);
	ck_assert_int_eq(resets, 0);
}
END_TEST

int main(void)
{
	return uv_check_run(
		uv_suite("i8042", setup, teardown, 0,
			 UV_TESTS(test_self_test, test_command_byte, test_irq, test_reset_pulse,
				  test_output_port, test_write_buffers, test_absent_keyboard,
				  test_command_aborts_pending)));
}
