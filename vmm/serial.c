// SPDX-License-Identifier: GPL-2.0
/*
 * 16550A UART.
 *
 * Transmission is instantaneous: a byte written to THR goes straight to the
 * host, so THR and the shift register always read empty. Reception is fed
 * from a 64 KiB ring that stands in for the line: the guest sees data ready
 * as long as the ring holds anything, which lets a paste of any size through
 * without the console having to pace it.
 *
 * The interrupt output is a level, as on the chip: high while an enabled
 * condition is pending. ISA interrupts are edge-triggered in the PIC and
 * IOAPIC though, so a condition that appears while the line is already high
 * would raise no new interrupt; for that case the line is pulsed low first.
 * OUT2 does not gate the line (PCs wire it that way, but nothing needs it).
 */
#include <linux/serial_reg.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "serial.h"

#define SERIAL_RING_SIZE (64 * 1024) /* a power of two */

struct serial {
	pthread_mutex_t lock;
	struct irq_line irq;
	serial_tx_fn tx;
	void *tx_ctx;
	void (*rx_ready)(void *ctx);
	void *rx_ready_ctx;

	uint8_t ier, lcr, mcr, msr, scr, fcr, dll, dlm;
	uint8_t lsr_err; /* sticky error bits, cleared by reading LSR */
	uint8_t rbr;	 /* what RBR reads when the ring is empty */
	bool thr_ipending;
	bool rx_throttled; /* serial_receive() turned input away */

	/* What the line was last set to, and the conditions behind it. */
	bool irq_level;
	uint8_t irq_pending;

	size_t rx_head, rx_count;
	uint8_t rx_ring[SERIAL_RING_SIZE];
};

/* Pending conditions that IER enables, as IER bits. */
static uint8_t serial_pending(const struct serial *s)
{
	uint8_t p = 0;

	if (s->lsr_err)
		p |= UART_IER_RLSI;
	if (s->rx_count)
		p |= UART_IER_RDI;
	if (s->thr_ipending)
		p |= UART_IER_THRI;
	if (s->msr & UART_MSR_ANY_DELTA)
		p |= UART_IER_MSI;
	return p & s->ier;
}

static uint8_t serial_iir(const struct serial *s)
{
	uint8_t p = serial_pending(s);
	uint8_t iir;

	if (p & UART_IER_RLSI)
		iir = UART_IIR_RLSI;
	else if (p & UART_IER_RDI)
		iir = UART_IIR_RDI;
	else if (p & UART_IER_THRI)
		iir = UART_IIR_THRI;
	else if (p & UART_IER_MSI)
		iir = UART_IIR_MSI;
	else
		iir = UART_IIR_NO_INT;
	/* Bits 7:6 both set is what tells a 16550A from a 16550 or 8250. */
	if (s->fcr & UART_FCR_ENABLE_FIFO)
		iir |= 0xc0;
	return iir;
}

static void serial_update_irq(struct serial *s)
{
	uint8_t pending = serial_pending(s);
	bool level = pending != 0;

	if (s->irq_level && (pending & ~s->irq_pending)) {
		irq_line_set(&s->irq, 0);
		s->irq_level = false;
	}
	if (level != s->irq_level) {
		irq_line_set(&s->irq, level);
		s->irq_level = level;
	}
	s->irq_pending = pending;
}

/* In loopback the modem inputs follow the modem outputs. */
static uint8_t serial_modem_lines(const struct serial *s)
{
	uint8_t m = s->mcr, lines = 0;

	if (!(m & UART_MCR_LOOP))
		return UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
	if (m & UART_MCR_RTS)
		lines |= UART_MSR_CTS;
	if (m & UART_MCR_DTR)
		lines |= UART_MSR_DSR;
	if (m & UART_MCR_OUT1)
		lines |= UART_MSR_RI;
	if (m & UART_MCR_OUT2)
		lines |= UART_MSR_DCD;
	return lines;
}

static void serial_update_msr(struct serial *s)
{
	uint8_t old = s->msr & 0xf0, lines = serial_modem_lines(s);
	uint8_t delta = s->msr & UART_MSR_ANY_DELTA;
	uint8_t changed = old ^ lines;

	/* Each status bit sits four above its delta bit. */
	delta |= (changed >> 4) & (UART_MSR_DCTS | UART_MSR_DDSR | UART_MSR_DDCD);
	if ((old & UART_MSR_RI) && !(lines & UART_MSR_RI))
		delta |= UART_MSR_TERI;
	s->msr = lines | delta;
}

static size_t serial_rx_push(struct serial *s, const uint8_t *buf, size_t len)
{
	size_t room = SERIAL_RING_SIZE - s->rx_count;
	size_t tail = (s->rx_head + s->rx_count) & (SERIAL_RING_SIZE - 1);
	size_t n = len < room ? len : room;
	size_t first = SERIAL_RING_SIZE - tail;

	if (first > n)
		first = n;
	memcpy(s->rx_ring + tail, buf, first);
	memcpy(s->rx_ring, buf + first, n - first);
	s->rx_count += n;
	return n;
}

/*
 * Whether to tell the console it may send again: once per refusal, when the
 * ring has drained below half so that the console can push a large chunk.
 */
static bool serial_rx_resume(struct serial *s)
{
	if (!s->rx_throttled || (s->mcr & UART_MCR_LOOP) || s->rx_count >= SERIAL_RING_SIZE / 2)
		return false;
	s->rx_throttled = false;
	return s->rx_ready != NULL;
}

static uint8_t serial_read_rbr(struct serial *s)
{
	if (s->rx_count) {
		s->rbr = s->rx_ring[s->rx_head];
		s->rx_head = (s->rx_head + 1) & (SERIAL_RING_SIZE - 1);
		s->rx_count--;
		serial_update_irq(s);
	}
	return s->rbr;
}

static uint8_t serial_read_reg(struct serial *s, unsigned reg)
{
	bool dlab = s->lcr & UART_LCR_DLAB;
	uint8_t val;

	switch (reg) {
	case UART_RX:
		return dlab ? s->dll : serial_read_rbr(s);
	case UART_IER:
		return dlab ? s->dlm : s->ier;
	case UART_IIR:
		val = serial_iir(s);
		/* Reading IIR acknowledges THRE when that is what it reports. */
		if ((val & UART_IIR_ID) == UART_IIR_THRI && !(val & UART_IIR_NO_INT)) {
			s->thr_ipending = false;
			serial_update_irq(s);
		}
		return val;
	case UART_LCR:
		return s->lcr;
	case UART_MCR:
		return s->mcr;
	case UART_LSR:
		val = UART_LSR_TEMT | UART_LSR_THRE | s->lsr_err;
		if (s->rx_count)
			val |= UART_LSR_DR;
		if (s->lsr_err) {
			s->lsr_err = 0;
			serial_update_irq(s);
		}
		return val;
	case UART_MSR:
		val = s->msr;
		if (val & UART_MSR_ANY_DELTA) {
			s->msr &= ~UART_MSR_ANY_DELTA;
			serial_update_irq(s);
		}
		return val;
	default:
		return s->scr;
	}
}

static void serial_write_thr(struct serial *s, uint8_t val)
{
	s->thr_ipending = false;
	serial_update_irq(s);
	if (s->mcr & UART_MCR_LOOP) {
		if (!serial_rx_push(s, &val, 1))
			s->lsr_err |= UART_LSR_OE;
	} else if (s->tx) {
		s->tx(s->tx_ctx, &val, 1);
	}
	/* The byte is gone at once: THR is empty again. */
	s->thr_ipending = s->ier & UART_IER_THRI;
	serial_update_irq(s);
}

static void serial_write_ier(struct serial *s, uint8_t val)
{
	uint8_t old = s->ier;

	/* Bits 7:4 read back as zero on a 16550A; Linux probes for that. */
	s->ier = val & 0x0f;
	if (!(old & UART_IER_THRI) && (s->ier & UART_IER_THRI))
		s->thr_ipending = true;
	else if (!(s->ier & UART_IER_THRI))
		s->thr_ipending = false;
	serial_update_irq(s);
}

static void serial_write_fcr(struct serial *s, uint8_t val)
{
	if (val & UART_FCR_CLEAR_RCVR) {
		s->rx_head = 0;
		s->rx_count = 0;
		serial_update_irq(s);
	}
	/* The transmit FIFO is always empty, so clearing it changes nothing. */
	s->fcr = val & (UART_FCR_ENABLE_FIFO | UART_FCR_TRIGGER_MASK);
}

static void serial_write_reg(struct serial *s, unsigned reg, uint8_t val)
{
	bool dlab = s->lcr & UART_LCR_DLAB;

	switch (reg) {
	case UART_TX:
		if (dlab)
			s->dll = val;
		else
			serial_write_thr(s, val);
		break;
	case UART_IER:
		if (dlab)
			s->dlm = val;
		else
			serial_write_ier(s, val);
		break;
	case UART_FCR:
		serial_write_fcr(s, val);
		break;
	case UART_LCR:
		s->lcr = val;
		break;
	case UART_MCR:
		s->mcr = val & 0x1f;
		serial_update_msr(s);
		serial_update_irq(s);
		break;
	case UART_LSR:
	case UART_MSR:
		break; /* read-only */
	default:
		s->scr = val;
		break;
	}
}

/*
 * The rx_ready callback runs without the lock: the console may well call
 * serial_receive() from it.
 */
static void serial_notify(void (*fn)(void *ctx), void *ctx)
{
	if (fn)
		fn(ctx);
}

/* Wider accesses are taken as byte accesses to the first register. */
static void serial_read(void *opaque, uint64_t offset, void *data, unsigned len)
{
	struct serial *s = opaque;
	void (*fn)(void *ctx) = NULL;
	void *ctx = NULL;
	uint8_t val;

	pthread_mutex_lock(&s->lock);
	val = serial_read_reg(s, offset & 7);
	if (serial_rx_resume(s)) {
		fn = s->rx_ready;
		ctx = s->rx_ready_ctx;
	}
	pthread_mutex_unlock(&s->lock);

	memset(data, 0, len);
	*(uint8_t *)data = val;
	serial_notify(fn, ctx);
}

static void serial_write(void *opaque, uint64_t offset, const void *data, unsigned len)
{
	struct serial *s = opaque;
	void (*fn)(void *ctx) = NULL;
	void *ctx = NULL;

	(void)len;
	pthread_mutex_lock(&s->lock);
	serial_write_reg(s, offset & 7, *(const uint8_t *)data);
	if (serial_rx_resume(s)) {
		fn = s->rx_ready;
		ctx = s->rx_ready_ctx;
	}
	pthread_mutex_unlock(&s->lock);
	serial_notify(fn, ctx);
}

static const struct bus_ops serial_ops = {
	.read = serial_read,
	.write = serial_write,
};

struct serial *serial_create(struct irq_line irq, serial_tx_fn tx, void *tx_ctx)
{
	struct serial *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	if (pthread_mutex_init(&s->lock, NULL)) {
		free(s);
		return NULL;
	}
	s->irq = irq;
	s->tx = tx;
	s->tx_ctx = tx_ctx;
	/* A divisor of 1 is 115200 baud, what firmware usually leaves behind. */
	s->dll = 1;
	serial_update_msr(s);
	s->msr &= ~UART_MSR_ANY_DELTA;
	return s;
}

void serial_destroy(struct serial *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	free(s);
}

int serial_attach(struct serial *s, struct bus *pio, uint16_t base)
{
	return bus_register(pio, base, 8, &serial_ops, s);
}

size_t serial_receive(struct serial *s, const uint8_t *buf, size_t len)
{
	size_t n = 0;

	pthread_mutex_lock(&s->lock);
	/* In loopback the receiver listens to the transmitter, not the line. */
	if (!(s->mcr & UART_MCR_LOOP))
		n = serial_rx_push(s, buf, len);
	if (n < len)
		s->rx_throttled = true;
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return n;
}

void serial_set_rx_ready(struct serial *s, void (*fn)(void *ctx), void *ctx)
{
	pthread_mutex_lock(&s->lock);
	s->rx_ready = fn;
	s->rx_ready_ctx = ctx;
	pthread_mutex_unlock(&s->lock);
}
