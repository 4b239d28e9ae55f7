// SPDX-License-Identifier: GPL-2.0
/* COM1 without interrupts, a small printf, and the exit device. */
#include "rt.h"

#define COM1	 0x3f8
#define UART_LSR 5
#define LSR_DR	 0x01
#define LSR_THRE 0x20

void rt_console_init(void)
{
	outb(COM1 + 1, 0x00); /* no interrupts: the firmware polls */
	outb(COM1 + 3, 0x80); /* DLAB */
	outb(COM1 + 0, 0x01); /* 115200 baud */
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x03); /* 8N1 */
	outb(COM1 + 2, 0x01); /* FIFOs on, keeping what was typed before */
	outb(COM1 + 4, 0x03); /* DTR, RTS */
}

void rt_putc(char c)
{
	if (c == '\n')
		rt_putc('\r');
	while (!(inb(COM1 + UART_LSR) & LSR_THRE))
		;
	outb(COM1, (uint8_t)c);
}

int rt_getc(void)
{
	if (!(inb(COM1 + UART_LSR) & LSR_DR))
		return -1;
	return inb(COM1);
}

struct rt_out {
	char *buf;
	size_t cap, len;
};

static void out_c(struct rt_out *o, char c)
{
	if (o->len + 1 < o->cap)
		o->buf[o->len] = c;
	o->len++;
}

static void out_u(struct rt_out *o, uint64_t v, unsigned base, int width, char pad)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (width-- > n)
		out_c(o, pad);
	while (n)
		out_c(o, tmp[--n]);
}

/*
 * %s (and %.*s) %c %d %u %x %p with l/ll/z and a zero-padded width: all the
 * firmware prints.
 */
static void out_fmt(struct rt_out *o, const char *f, va_list ap)
{
	for (; *f; f++) {
		int width = 0, lng = 0, prec = -1;
		char pad = ' ';
		uint64_t u;

		if (*f != '%') {
			out_c(o, *f);
			continue;
		}
		if (*++f == '0')
			pad = '0';
		while (fw_isdigit(*f))
			width = width * 10 + (*f++ - '0');
		if (f[0] == '.' && f[1] == '*') {
			prec = va_arg(ap, int);
			f += 2;
		}
		while (*f == 'l' || *f == 'z')
			lng++, f++;
		switch (*f) {
		case 's': {
			const char *s = va_arg(ap, const char *);

			for (s = s ? s : "(null)"; *s && prec; s++, prec--)
				out_c(o, *s);
			break;
		}
		case 'c':
			out_c(o, (char)va_arg(ap, int));
			break;
		case 'd': {
			int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);

			if (v < 0)
				out_c(o, '-');
			out_u(o, v < 0 ? -(uint64_t)v : (uint64_t)v, 10, width, pad);
			break;
		}
		case 'u':
		case 'x':
			u = lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
			out_u(o, u, *f == 'u' ? 10 : 16, width, pad);
			break;
		case 'p':
			out_u(o, (uint64_t)(uintptr_t)va_arg(ap, void *), 16, 0, ' ');
			break;
		case '%':
			out_c(o, '%');
			break;
		default:
			return;
		}
	}
}

int rt_vsnprintf(char *buf, size_t cap, const char *fmt, va_list ap)
{
	struct rt_out o = {buf, cap, 0};

	out_fmt(&o, fmt, ap);
	if (cap)
		buf[o.len < cap ? o.len : cap - 1] = 0;
	return (int)o.len;
}

int rt_snprintf(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = rt_vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
	return n;
}

void rt_printf(const char *fmt, ...)
{
	char line[256];
	va_list ap;

	va_start(ap, fmt);
	rt_vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	for (const char *p = line; *p; p++)
		rt_putc(*p);
}

uint8_t rt_rtc_seconds(void)
{
	outb(0x70, 0x00);
	return inb(0x71);
}

void rt_exit(enum rt_exit code)
{
	for (;;) {
		outl(RT_EXIT_PORT, (uint32_t)code);
		__asm__ volatile("cli; hlt");
	}
}
