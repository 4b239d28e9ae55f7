/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UV_CONSOLE_H
#define UV_CONSOLE_H

#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The host end of a guest console: the process's stdin/stdout (a terminal
 * is put in raw mode; Ctrl-A x quits), a pseudo-terminal, a unix socket that
 * one client at a time attaches to (a late client first gets the recent
 * output), or a file that output is appended to (no input). Input is read on
 * the event loop and offered to a sink, which may refuse it until it has
 * room; output may be written from any thread. uvmm's UART and the
 * virtio-console back end (iopartd/console.c) both use it.
 */
enum console_kind {
	CONSOLE_STDIO,
	CONSOLE_PTY,
	CONSOLE_UNIX,
	CONSOLE_FILE,
};

struct console_cfg {
	enum console_kind kind;
	const char *path; /* unix socket or file path */
	const char *name; /* in log lines ("NAME on /dev/pts/N"); NULL: "console" */
};

/* "stdio", "pty", "unix:PATH" or "file:PATH" (path points into s); 0 or -1. */
int console_parse(const char *s, struct console_cfg *c);

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
