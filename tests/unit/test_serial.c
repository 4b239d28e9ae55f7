// SPDX-License-Identifier: GPL-2.0
#include <check.h>

#include "irq_rec.h"
#include "uvcheck.h"
#include <linux/serial_reg.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "serial.h"

#define COM1	  0x3f8
#define RING_SIZE (64 * 1024)

/* What the device did to its interrupt line. */
struct tx_rec {
	pthread_mutex_t lock;
	uint8_t buf[4096];
	size_t len;
};

static struct bus bus;
static struct serial *s;
static struct irq_rec irq;
static struct tx_rec tx;
static int rx_ready_calls;

static void tx_record(void *ctx, const uint8_t *buf, size_t len)
{
	struct tx_rec *t = ctx;

	pthread_mutex_lock(&t->lock);
	if (t->len + len <= sizeof(t->buf)) {
		memcpy(t->buf + t->len, buf, len);
		t->len += len;
	}
	pthread_mutex_unlock(&t->lock);
}

static void rx_ready_record(void *ctx)
{
	(void)ctx;
	rx_ready_calls++;
}

static void setup(void)
{
	struct irq_line line = {.set = irq_rec_set, .ctx = &irq, .gsi = 4};

	irq = (struct irq_rec){.gsi = 4};
	memset(&tx, 0, sizeof(tx));
	pthread_mutex_init(&tx.lock, NULL);
	rx_ready_calls = 0;
	bus_init(&bus);
	s = serial_create(line, tx_record, &tx);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(serial_attach(s, &bus, COM1), 0);
	serial_set_rx_ready(s, rx_ready_record, NULL);
}

static void teardown(void)
{
	serial_destroy(s);
	bus_exit(&bus);
	pthread_mutex_destroy(&tx.lock);
}

static uint8_t inb(unsigned reg)
{
	uint8_t v = 0;

	ck_assert(bus_access(&bus, COM1 + reg, &v, 1, false));
	return v;
}

static void outb(unsigned reg, uint8_t v)
{
	ck_assert(bus_access(&bus, COM1 + reg, &v, 1, true));
}

/* The probe drivers/tty/serial/8250 runs, as far as it tells port types apart. */
START_TEST(test_detect_16550a)
{
	uint8_t save_mcr;

	/* IER holds its low nibble; a missing port would read 0xff. */
	outb(UART_IER, 0);
	ck_assert_uint_eq(inb(UART_IER) & 0x0f, 0);
	outb(UART_IER, 0x0f);
	ck_assert_uint_eq(inb(UART_IER) & 0x0f, 0x0f);
	outb(UART_IER, 0);

	/* Loopback: RTS and OUT2 come back as CTS and DCD. */
	save_mcr = inb(UART_MCR);
	outb(UART_MCR, UART_MCR_LOOP | 0x0a);
	ck_assert_uint_eq(inb(UART_MSR) & 0xf0, 0x90);
	outb(UART_MCR, save_mcr);

	outb(UART_LCR, UART_LCR_CONF_MODE_B);
	outb(UART_FCR, 0); /* EFR on a 16650, FCR here */
	outb(UART_LCR, 0);
	outb(UART_FCR, UART_FCR_ENABLE_FIFO);
	ck_assert_uint_eq(inb(UART_IIR) >> 6, 3);

	/* No EFR: what sits at offset 2 with DLAB set is IIR, never zero. */
	outb(UART_LCR, UART_LCR_CONF_MODE_A);
	ck_assert_uint_ne(inb(UART_IIR), 0);
	outb(UART_LCR, UART_LCR_CONF_MODE_B);
	ck_assert_uint_ne(inb(UART_IIR), 0);
	outb(UART_LCR, 0);

	/* Not a 16750: no 64-byte FIFO bit, with or without DLAB. */
	outb(UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR7_64BYTE);
	ck_assert_uint_eq(inb(UART_IIR) & 0xe0, 0xc0);
	outb(UART_LCR, UART_LCR_CONF_MODE_A);
	outb(UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR7_64BYTE);
	ck_assert_uint_eq(inb(UART_IIR) & 0xe0, 0xc0);
	outb(UART_LCR, 0);

	/* Not an XScale: IER bit 6 does not stick. */
	outb(UART_IER, UART_IER_UUE);
	ck_assert_uint_eq(inb(UART_IER) & UART_IER_UUE, 0);
	outb(UART_IER, 0);

	/* Scratch register. */
	outb(UART_SCR, 0x5a);
	ck_assert_uint_eq(inb(UART_SCR), 0x5a);
	outb(UART_SCR, 0xa5);
	ck_assert_uint_eq(inb(UART_SCR), 0xa5);

	/* Startup's THRE tests: enabling THRI raises it, and again after a re-enable. */
	ck_assert_uint_ne(inb(UART_LSR), 0xff);
	outb(UART_IER, UART_IER_THRI);
	ck_assert_uint_eq(inb(UART_LSR) & UART_LSR_TEMT, UART_LSR_TEMT);
	ck_assert_uint_eq(inb(UART_IIR) & 0x0f, UART_IIR_THRI);
	outb(UART_IER, 0);
	outb(UART_IER, UART_IER_THRI);
	ck_assert_uint_eq(inb(UART_IIR) & 0x0f, UART_IIR_THRI);
	outb(UART_IER, 0);
	ck_assert_int_eq(irq.level, 0);
}
END_TEST

START_TEST(test_reset_state)
{
	ck_assert_uint_eq(inb(UART_IER), 0);
	ck_assert_uint_eq(inb(UART_IIR), UART_IIR_NO_INT);
	ck_assert_uint_eq(inb(UART_LCR), 0);
	ck_assert_uint_eq(inb(UART_MCR), 0);
	ck_assert_uint_eq(inb(UART_LSR), UART_LSR_TEMT | UART_LSR_THRE);
	ck_assert_uint_eq(inb(UART_MSR), UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS);
	ck_assert_int_eq(irq.calls, 0);
}
END_TEST

START_TEST(test_transmit)
{
	const char *msg = "hello\n";
	size_t i;

	outb(UART_LCR, UART_LCR_WLEN8);
	for (i = 0; i < strlen(msg); i++) {
		ck_assert_uint_eq(inb(UART_LSR) & UART_LSR_THRE, UART_LSR_THRE);
		outb(UART_TX, msg[i]);
	}
	ck_assert_uint_eq(tx.len, strlen(msg));
	ck_assert_mem_eq(tx.buf, msg, strlen(msg));
	ck_assert_uint_eq(inb(UART_LSR) & (UART_LSR_THRE | UART_LSR_TEMT),
			  UART_LSR_THRE | UART_LSR_TEMT);
	/* No THRI enabled, no interrupt. */
	ck_assert_int_eq(irq.calls, 0);
}
END_TEST

START_TEST(test_divisor_latch)
{
	outb(UART_LCR, UART_LCR_DLAB | UART_LCR_WLEN8);
	outb(UART_DLL, 0x0c);
	outb(UART_DLM, 0x01);
	ck_assert_uint_eq(inb(UART_DLL), 0x0c);
	ck_assert_uint_eq(inb(UART_DLM), 0x01);
	ck_assert_uint_eq(tx.len, 0);
	outb(UART_LCR, UART_LCR_WLEN8);
	ck_assert_uint_eq(inb(UART_LCR), UART_LCR_WLEN8);
	/* With DLAB clear, offsets 0 and 1 are the data and IER again. */
	ck_assert_uint_eq(inb(UART_IER), 0);
	outb(UART_TX, 'x');
	ck_assert_uint_eq(tx.len, 1);
	outb(UART_LCR, UART_LCR_DLAB);
	ck_assert_uint_eq(inb(UART_DLL), 0x0c);
	ck_assert_uint_eq(inb(UART_DLM), 0x01);
}
END_TEST

START_TEST(test_rx_interrupt)
{
	const uint8_t in[] = "ab";

	outb(UART_FCR, UART_FCR_ENABLE_FIFO);
	outb(UART_IER, UART_IER_RDI);
	ck_assert_int_eq(irq.level, 0);
	ck_assert_uint_eq(serial_receive(s, in, 2), 2);
	ck_assert_int_eq(irq.level, 1);
	ck_assert_int_eq(irq.rises, 1);
	ck_assert_uint_eq(inb(UART_IIR), 0xc0 | UART_IIR_RDI);
	ck_assert_uint_eq(inb(UART_LSR) & UART_LSR_DR, UART_LSR_DR);

	/* More data while it is pending is no new condition. */
	ck_assert_uint_eq(serial_receive(s, in, 1), 1);
	ck_assert_int_eq(irq.rises, 1);

	ck_assert_uint_eq(inb(UART_RX), 'a');
	ck_assert_int_eq(irq.level, 1);
	ck_assert_uint_eq(inb(UART_RX), 'b');
	ck_assert_uint_eq(inb(UART_RX), 'a');
	ck_assert_int_eq(irq.level, 0);
	ck_assert_uint_eq(inb(UART_IIR), 0xc0 | UART_IIR_NO_INT);
	ck_assert_uint_eq(inb(UART_LSR) & UART_LSR_DR, 0);

	/* Data that arrived with RDI off interrupts once it is enabled. */
	outb(UART_IER, 0);
	ck_assert_uint_eq(serial_receive(s, in, 1), 1);
	ck_assert_int_eq(irq.level, 0);
	outb(UART_IER, UART_IER_RDI);
	ck_assert_int_eq(irq.level, 1);
	ck_assert_int_eq(irq.rises, 2);
}
END_TEST

START_TEST(test_thre_interrupt)
{
	const uint8_t in = 'z';

	outb(UART_IER, UART_IER_THRI);
	ck_assert_int_eq(irq.level, 1);
	ck_assert_int_eq(irq.rises, 1);
	/* Reading IIR while THRE is the source acknowledges it. */
	ck_assert_uint_eq(inb(UART_IIR), UART_IIR_THRI);
	ck_assert_int_eq(irq.level, 0);
	ck_assert_uint_eq(inb(UART_IIR), UART_IIR_NO_INT);

	/* Each transmitted byte empties THR again: a new edge per byte. */
	outb(UART_TX, '1');
	ck_assert_int_eq(irq.level, 1);
	ck_assert_int_eq(irq.rises, 2);
	outb(UART_TX, '2');
	ck_assert_int_eq(irq.level, 1);
	ck_assert_int_eq(irq.rises, 3);

	/* THRE is below received data: IIR reports RX and leaves THRE pending. */
	outb(UART_IER, UART_IER_THRI | UART_IER_RDI);
	ck_assert_uint_eq(serial_receive(s, &in, 1), 1);
	ck_assert_int_eq(irq.rises, 4); /* pulsed: RX is new while the line was high */
	ck_assert_uint_eq(inb(UART_IIR), UART_IIR_RDI);
	ck_assert_uint_eq(inb(UART_RX), 'z');
	ck_assert_int_eq(irq.level, 1);
	ck_assert_uint_eq(inb(UART_IIR), UART_IIR_THRI);
	ck_assert_int_eq(irq.level, 0);

	/* Data pending, THR written: the renewed THRE condition gets its own edge. */
	ck_assert_uint_eq(serial_receive(s, &in, 1), 1);
	ck_assert_int_eq(irq.rises, 5);
	outb(UART_TX, '3');
	ck_assert_int_eq(irq.level, 1);
	ck_assert_int_eq(irq.rises, 6);

	/* Turning THRI off drops THRE; the line follows RX alone. */
	outb(UART_IER, UART_IER_RDI);
	ck_assert_uint_eq(inb(UART_IIR), UART_IIR_RDI);
	inb(UART_RX);
	ck_assert_int_eq(irq.level, 0);
	ck_assert_uint_eq(inb(UART_IIR), UART_IIR_NO_INT);

	/* Writing IER with THRI already set is no new enable. */
	outb(UART_IER, UART_IER_THRI);
	ck_assert_uint_eq(inb(UART_IIR), UART_IIR_THRI);
	outb(UART_IER, UART_IER_THRI);
	ck_assert_uint_eq(inb(UART_IIR), UART_IIR_NO_INT);
	ck_assert_mem_eq(tx.buf, "123", 3);
}
END_TEST

START_TEST(test_loopback)
{
	const uint8_t in = 'q';

	outb(UART_MCR, UART_MCR_LOOP);
	outb(UART_TX, 'L');
	ck_assert_uint_eq(tx.len, 0);
	ck_assert_uint_eq(inb(UART_LSR) & UART_LSR_DR, UART_LSR_DR);
	ck_assert_uint_eq(inb(UART_RX), 'L');
	ck_assert_uint_eq(inb(UART_LSR) & UART_LSR_DR, 0);

	/* The line is disconnected from the receiver meanwhile. */
	ck_assert_uint_eq(serial_receive(s, &in, 1), 0);
	ck_assert_int_eq(rx_ready_calls, 0);
	outb(UART_MCR, 0);
	ck_assert_int_eq(rx_ready_calls, 1);
	ck_assert_uint_eq(serial_receive(s, &in, 1), 1);
	ck_assert_uint_eq(inb(UART_RX), 'q');
	outb(UART_TX, 'T');
	ck_assert_uint_eq(tx.len, 1);
}
END_TEST

START_TEST(test_modem_status)
{
	/* Entering loopback with all outputs low drops CTS, DSR and DCD. */
	outb(UART_IER, UART_IER_MSI);
	outb(UART_MCR, UART_MCR_LOOP);
	ck_assert_int_eq(irq.level, 1);
	ck_assert_uint_eq(inb(UART_IIR), UART_IIR_MSI);
	ck_assert_uint_eq(inb(UART_MSR), UART_MSR_DCTS | UART_MSR_DDSR | UART_MSR_DDCD);
	ck_assert_int_eq(irq.level, 0);
	ck_assert_uint_eq(inb(UART_MSR), 0);

	/* Each output shows up on its input. */
	outb(UART_MCR, UART_MCR_LOOP | UART_MCR_DTR);
	ck_assert_uint_eq(inb(UART_MSR), UART_MSR_DSR | UART_MSR_DDSR);
	outb(UART_MCR, UART_MCR_LOOP | UART_MCR_RTS);
	ck_assert_uint_eq(inb(UART_MSR), UART_MSR_CTS | UART_MSR_DCTS | UART_MSR_DDSR);
	outb(UART_MCR, UART_MCR_LOOP | UART_MCR_OUT1);
	ck_assert_uint_eq(inb(UART_MSR), UART_MSR_RI | UART_MSR_DCTS);
	outb(UART_MCR, UART_MCR_LOOP | UART_MCR_OUT2);
	ck_assert_uint_eq(inb(UART_MSR), UART_MSR_DCD | UART_MSR_DDCD | UART_MSR_TERI);
	outb(UART_MCR, UART_MCR_LOOP | UART_MCR_OUT2 | 0xe0);
	ck_assert_uint_eq(inb(UART_MCR), UART_MCR_LOOP | UART_MCR_OUT2);
}
END_TEST

START_TEST(test_overrun)
{
	static uint8_t fill[RING_SIZE];
	unsigned i;

	outb(UART_IER, UART_IER_RLSI);
	ck_assert_uint_eq(serial_receive(s, fill, sizeof(fill)), sizeof(fill));
	/* Full ring, loopback byte lost: overrun, a line status interrupt. */
	outb(UART_MCR, UART_MCR_LOOP);
	outb(UART_TX, 'x');
	ck_assert_int_eq(irq.level, 1);
	ck_assert_uint_eq(inb(UART_IIR), UART_IIR_RLSI);
	ck_assert_uint_eq(inb(UART_LSR) & (UART_LSR_OE | UART_LSR_DR), UART_LSR_OE | UART_LSR_DR);
	ck_assert_int_eq(irq.level, 0);
	ck_assert_uint_eq(inb(UART_LSR) & UART_LSR_OE, 0);
	for (i = 0; i < sizeof(fill); i++)
		inb(UART_RX);
	ck_assert_uint_eq(inb(UART_LSR) & UART_LSR_DR, 0);
}
END_TEST

START_TEST(test_fifo_reset)
{
	const uint8_t in[] = "abc";

	outb(UART_IER, UART_IER_RDI);
	ck_assert_uint_eq(serial_receive(s, in, 3), 3);
	ck_assert_int_eq(irq.level, 1);
	outb(UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_CLEAR_RCVR | UART_FCR_CLEAR_XMIT);
	ck_assert_int_eq(irq.level, 0);
	ck_assert_uint_eq(inb(UART_LSR) & UART_LSR_DR, 0);
	ck_assert_uint_eq(inb(UART_IIR), 0xc0 | UART_IIR_NO_INT);
	outb(UART_FCR, 0);
	ck_assert_uint_eq(inb(UART_IIR), UART_IIR_NO_INT);
}
END_TEST

START_TEST(test_ring_full)
{
	static uint8_t in[RING_SIZE + 100];
	size_t i;

	for (i = 0; i < sizeof(in); i++)
		in[i] = i * 7;
	ck_assert_uint_eq(serial_receive(s, in, sizeof(in)), RING_SIZE);
	ck_assert_uint_eq(serial_receive(s, in, 1), 0);
	/* Draining to exactly half is not below half. */
	for (i = 0; i < RING_SIZE / 2; i++)
		ck_assert_uint_eq(inb(UART_RX), (uint8_t)(i * 7));
	ck_assert_int_eq(rx_ready_calls, 0);
	ck_assert_uint_eq(inb(UART_RX), (uint8_t)(i++ * 7));
	ck_assert_int_eq(rx_ready_calls, 1);
	/* Once per refusal. */
	ck_assert_uint_eq(inb(UART_RX), (uint8_t)(i++ * 7));
	ck_assert_int_eq(rx_ready_calls, 1);
	/* The ring wraps with the order kept. */
	ck_assert_uint_eq(serial_receive(s, in + RING_SIZE, 100), 100);
	for (; i < RING_SIZE; i++)
		ck_assert_uint_eq(inb(UART_RX), (uint8_t)(i * 7));
	for (i = 0; i < 100; i++)
		ck_assert_uint_eq(inb(UART_RX), in[RING_SIZE + i]);
	ck_assert_uint_eq(inb(UART_LSR) & UART_LSR_DR, 0);
	ck_assert_int_eq(rx_ready_calls, 1);
}
END_TEST

/* The console's rx_ready handler typically pushes more input right away. */
static void rx_ready_refill(void *ctx)
{
	const uint8_t more = '!';

	rx_ready_calls++;
	ck_assert_uint_eq(serial_receive(ctx, &more, 1), 1);
}

START_TEST(test_rx_ready_reenters)
{
	static uint8_t in[RING_SIZE + 1];
	size_t i;

	serial_set_rx_ready(s, rx_ready_refill, s);
	ck_assert_uint_eq(serial_receive(s, in, sizeof(in)), RING_SIZE);
	for (i = 0; i <= RING_SIZE / 2; i++)
		inb(UART_RX);
	ck_assert_int_eq(rx_ready_calls, 1);
}
END_TEST

START_TEST(test_wide_access)
{
	uint32_t v = 0xffffffff;
	uint32_t w = 0x1234;

	ck_assert(bus_access(&bus, COM1 + UART_SCR, &w, 4, true));
	ck_assert(bus_access(&bus, COM1 + UART_SCR, &v, 4, false));
	ck_assert_uint_eq(v, 0x34);
}
END_TEST

#define SMOKE_BYTES 100000
#define SMOKE_TX    4000

static void *smoke_console(void *arg)
{
	static uint8_t buf[SMOKE_BYTES];
	size_t i, done = 0;

	(void)arg;
	for (i = 0; i < SMOKE_BYTES; i++)
		buf[i] = i % 251;
	while (done < SMOKE_BYTES) {
		size_t n = SMOKE_BYTES - done < 4096 ? SMOKE_BYTES - done : 4096;

		n = serial_receive(s, buf + done, n);
		if (!n)
			sched_yield();
		done += n;
	}
	return NULL;
}

static void *smoke_writer(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < SMOKE_TX; i++) {
		outb(UART_TX, 'w');
		inb(UART_IIR);
	}
	return NULL;
}

START_TEST(test_threads)
{
	pthread_t console, writer;
	size_t got = 0;

	outb(UART_IER, UART_IER_RDI | UART_IER_THRI);
	ck_assert_int_eq(pthread_create(&console, NULL, smoke_console, NULL), 0);
	ck_assert_int_eq(pthread_create(&writer, NULL, smoke_writer, NULL), 0);
	while (got < SMOKE_BYTES) {
		if (!(inb(UART_LSR) & UART_LSR_DR)) {
			sched_yield();
			continue;
		}
		ck_assert_uint_eq(inb(UART_RX), got % 251);
		got++;
	}
	pthread_join(console, NULL);
	pthread_join(writer, NULL);
	ck_assert_uint_eq(tx.len, SMOKE_TX);
}
END_TEST

int main(void)
{
	return uv_check_run(uv_suite(
		"serial", setup, teardown, 30,
		UV_TESTS(test_detect_16550a, test_reset_state, test_transmit, test_divisor_latch,
			 test_rx_interrupt, test_thre_interrupt, test_loopback, test_modem_status,
			 test_overrun, test_fifo_reset, test_ring_full, test_rx_ready_reenters,
			 test_wide_access, test_threads)));
}
