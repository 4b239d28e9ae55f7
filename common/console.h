/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UV_CONSOLE_H
#define UV_CONSOLE_H

#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The host side of the guest's serial console: uvmm's stdin/stdout (a
 * terminal is put in raw mode; Ctrl-A x quits), a pseudo-terminal, or a
 * unix socket that one client at a time attaches to. Input is read on the
 * event loop and offered to a sink; output is written from vCPU threads.
 */
enum console_kind {
	CONSOLE_STDIO,
	CONSOLE_PTY,
	CONSOLE_UNIX,
};

struct console_cfg {
	enum console_kind kind;
	const char *path; /* unix socket path */
};

struct console;

typedef size_t (*console_sink_fn)(void *ctx, const uint8_t *buf, size_t len);

struct console *console_create(const struct console_cfg *cfg, struct event_base *base, char *err,
			       size_t errlen);
void console_destroy(struct console *c);
/* Where input goes; the sink returns how much it took. */
void console_set_sink(struct console *c, console_sink_fn sink, void *ctx);
/* The sink has room again; safe from any thread. */
void console_rx_ready(struct console *c);
void console_write(struct console *c, const uint8_t *buf, size_t len);
/* Set when the user typed the quit sequence; checked by the VM. */
void console_set_quit(struct console *c, void (*quit)(void *ctx), void *ctx);

#endif
