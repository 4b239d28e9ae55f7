// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "console.h"
#include "unix_sock.h"
#include "log.h"

#define CONSOLE_BUF  4096
#define BACKLOG_SIZE (64 * 1024) /* output kept for a unix client that attaches late */
/*
 * Output waiting for a slow reader. A serial port hands us one byte per
 * exit, and a unix socket holds only a few hundred one-byte writes, so the
 * vCPU never writes itself: it queues, and the event loop writes in chunks.
 */
#define OUT_RING_SIZE (1024 * 1024)
#define OUT_CHUNK     4096 /* PIPE_BUF: a write this size to a writable pipe never blocks */
#define DRAIN_MS      2000 /* how long output may still take to leave at exit */
#define CTRL_A	      0x01

/* A byte ring; the backlog overwrites its oldest bytes, the output ring refuses new ones. */
struct byte_ring {
	uint8_t *buf;
	size_t size, head, len;
};

struct console {
	enum console_kind kind;
	struct event_base *base;
	int in_fd, out_fd, listen_fd;
	char *sock_path;
	int pty_slave_fd; /* held open so the master never sees a hangup */
	int file_fd;
	bool tty_raw;
	struct termios saved_tio;
	struct event *in_ev, *listen_ev, *ready_ev;
	pthread_mutex_t out_lock;
	uint8_t pending[CONSOLE_BUF];
	size_t pending_off, pending_len;
	bool escape;
	bool eof;
	struct byte_ring out, backlog;
	uint64_t out_dropped;
	bool out_dropping;
	struct event *flush_ev, *writable_ev;
	console_sink_fn sink;
	void *sink_ctx;
	void (*quit)(void *ctx);
	void *quit_ctx;
};

static void console_offer(struct console *c)
{
	size_t n;

	while (c->pending_len && c->sink) {
		n = c->sink(c->sink_ctx, c->pending + c->pending_off, c->pending_len);
		if (!n)
			break;
		c->pending_off += n;
		c->pending_len -= n;
	}
	/* Stop reading while the guest has not taken what we have. */
	if (c->in_ev && !c->eof) {
		if (c->pending_len)
			event_del(c->in_ev);
		else
			event_add(c->in_ev, NULL);
	}
}

/* Ctrl-A x quits, Ctrl-A Ctrl-A sends one Ctrl-A, as QEMU users expect. */
static size_t console_unescape(struct console *c, uint8_t *buf, size_t n)
{
	size_t out = 0;

	for (size_t i = 0; i < n; i++) {
		if (c->escape) {
			c->escape = false;
			if (buf[i] == 'x' || buf[i] == 'X') {
				if (c->quit)
					c->quit(c->quit_ctx);
				continue;
			}
			if (buf[i] != CTRL_A)
				continue;
		} else if (buf[i] == CTRL_A) {
			c->escape = true;
			continue;
		}
		buf[out++] = buf[i];
	}
	return out;
}

static void console_on_writable(evutil_socket_t fd, short what, void *arg);

/* Gives output a descriptor (or none: fd -1); called with out_lock held. */
static int console_set_out(struct console *c, int fd)
{
	if (c->writable_ev) {
		event_free(c->writable_ev);
		c->writable_ev = NULL;
	}
	c->out_fd = fd;
	c->out.len = 0;
	if (fd < 0)
		return 0;
	c->writable_ev = event_new(c->base, fd, EV_WRITE, console_on_writable, c);
	return c->writable_ev ? 0 : -ENOMEM;
}

static void console_client_gone(struct console *c)
{
	pthread_mutex_lock(&c->out_lock);
	close(c->in_fd);
	c->in_fd = -1;
	console_set_out(c, -1);
	pthread_mutex_unlock(&c->out_lock);
	event_free(c->in_ev);
	c->in_ev = NULL;
	c->pending_len = 0;
}

static void console_on_input(evutil_socket_t fd, short what, void *arg)
{
	struct console *c = arg;
	ssize_t n;

	(void)what;
	n = read(fd, c->pending, sizeof(c->pending));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (c->kind == CONSOLE_UNIX) {
			console_client_gone(c);
		} else {
			/* End of input (a pipe closed, or the pty hung up): stop reading. */
			c->eof = true;
			event_del(c->in_ev);
		}
		return;
	}
	c->pending_off = 0;
	c->pending_len = (size_t)n;
	if (c->tty_raw)
		c->pending_len = console_unescape(c, c->pending, c->pending_len);
	console_offer(c);
}

static void console_on_ready(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	console_offer(arg);
}

static size_t ring_put(struct byte_ring *r, const uint8_t *buf, size_t len, bool overwrite)
{
	size_t done = 0;

	for (; done < len; done++) {
		if (r->len == r->size) {
			if (!overwrite)
				break;
			r->head = (r->head + 1) % r->size;
			r->len--;
		}
		r->buf[(r->head + r->len) % r->size] = buf[done];
		r->len++;
	}
	return done;
}

/* The longest run of queued bytes that is contiguous in memory. */
static size_t ring_peek(const struct byte_ring *r, const uint8_t **p)
{
	size_t first = r->size - r->head;

	*p = r->buf + r->head;
	return r->len < first ? r->len : first;
}

static void ring_consume(struct byte_ring *r, size_t n)
{
	r->head = (r->head + n) % r->size;
	r->len -= n;
}

/*
 * Writes queued output until it is gone or the reader is full; then waits
 * for the descriptor to become writable. Event loop only.
 */
static void console_flush(struct console *c)
{
	struct pollfd p = {.events = POLLOUT};
	const uint8_t *buf;
	ssize_t n;
	size_t len;

	pthread_mutex_lock(&c->out_lock);
	while (c->out.len && c->out_fd >= 0) {
		/* stdout may be blocking: write only what the reader has room for. */
		p.fd = c->out_fd;
		if (poll(&p, 1, 0) != 1 || !(p.revents & POLLOUT)) {
			if (p.revents & (POLLERR | POLLHUP | POLLNVAL))
				goto gone;
			event_add(c->writable_ev, NULL);
			break;
		}
		len = ring_peek(&c->out, &buf);
		n = write(c->out_fd, buf, len < OUT_CHUNK ? len : OUT_CHUNK);
		if (n > 0) {
			ring_consume(&c->out, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			event_add(c->writable_ev, NULL);
			break;
		}
	gone:
		/* The reader went away: a socket client is dropped by its input side. */
		c->out.len = 0;
		if (c->kind != CONSOLE_UNIX)
			console_set_out(c, -1);
		break;
	}
	if (!c->out.len && c->out_dropping) {
		pr_warn("console reader fell behind: %" PRIu64 " bytes of output lost",
			c->out_dropped);
		c->out_dropping = false;
		c->out_dropped = 0;
	}
	pthread_mutex_unlock(&c->out_lock);
}

/* Both the writable event and the kick from console_write(). */
static void console_on_writable(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	console_flush(arg);
}

/* Any thread (vCPUs): queue, and wake the loop when the queue was empty. */
void console_write(struct console *c, const uint8_t *buf, size_t len)
{
	bool kick = false;
	size_t n;

	pthread_mutex_lock(&c->out_lock);
	if (c->backlog.buf)
		ring_put(&c->backlog, buf, len, true);
	if (c->out_fd >= 0) {
		kick = !c->out.len;
		n = ring_put(&c->out, buf, len, false);
		/* A reader that stalls loses output rather than stopping the guest. */
		if (n < len) {
			c->out_dropped += len - n;
			c->out_dropping = true;
		}
	}
	pthread_mutex_unlock(&c->out_lock);
	if (kick)
		event_active(c->flush_ev, 0, 0);
}

/* Exit: what the guest wrote last (often why it stopped) should not be lost. */
static void console_drain(struct console *c)
{
	struct pollfd p = {.events = POLLOUT};
	int left = DRAIN_MS;
	size_t queued;

	for (;;) {
		console_flush(c);
		pthread_mutex_lock(&c->out_lock);
		p.fd = c->out_fd;
		queued = c->out.len;
		pthread_mutex_unlock(&c->out_lock);
		if (!queued || p.fd < 0 || left <= 0)
			break;
		if (poll(&p, 1, 50) == 0)
			left -= 50;
	}
}

static void console_on_accept(evutil_socket_t fd, short what, void *arg)
{
	struct console *c = arg;
	int cfd;

	(void)what;
	cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0)
		return;
	if (c->in_ev) {
		/* One client at a time: the console is not a broadcast. */
		close(cfd);
		return;
	}
	c->in_ev = event_new(c->base, cfd, EV_READ | EV_PERSIST, console_on_input, c);
	if (!c->in_ev) {
		close(cfd);
		return;
	}
	pthread_mutex_lock(&c->out_lock);
	c->in_fd = cfd;
	if (console_set_out(c, cfd)) {
		pthread_mutex_unlock(&c->out_lock);
		console_client_gone(c);
		return;
	}
	/* A late client first gets what it missed. */
	for (size_t i = 0; i < c->backlog.len; i++)
		c->out.buf[i] = c->backlog.buf[(c->backlog.head + i) % c->backlog.size];
	c->out.head = 0;
	c->out.len = c->backlog.len;
	pthread_mutex_unlock(&c->out_lock);
	event_add(c->in_ev, NULL);
	console_flush(c);
}

static int console_setup_stdio(struct console *c, char *err, size_t errlen)
{
	struct termios tio;

	c->in_fd = STDIN_FILENO;
	c->out_fd = STDOUT_FILENO;
	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &c->saved_tio) == 0) {
		tio = c->saved_tio;
		cfmakeraw(&tio);
		tio.c_oflag |= OPOST | ONLCR; /* the guest sends bare LF sometimes */
		if (tcsetattr(STDIN_FILENO, TCSANOW, &tio) == 0)
			c->tty_raw = true;
	}
	(void)err;
	(void)errlen;
	return 0;
}

static int console_setup_pty(struct console *c, const char *name, char *err, size_t errlen)
{
	struct termios tio;
	int fd;

	fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 || grantpt(fd) || unlockpt(fd)) {
		snprintf(err, errlen, "cannot create a pty: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	/* Raw on the master side: the guest's tty does the line discipline. */
	if (tcgetattr(fd, &tio) == 0) {
		cfmakeraw(&tio);
		tcsetattr(fd, TCSANOW, &tio);
	}
	c->in_fd = c->out_fd = fd;
	c->pty_slave_fd = open(ptsname(fd), O_RDWR | O_NOCTTY | O_CLOEXEC);
	/* Tests and tools look for this line to find the pty. */
	pr_info("%s on %s", name ? name : "console", ptsname(fd));
	return 0;
}

static int console_setup_unix(struct console *c, const char *path, char *err, size_t errlen)
{
	char why[256];
	int fd;

	/* A socket left by a run that was killed is replaced, as iopartd's are. */
	fd = unix_listen(path, 1, why, sizeof(why));
	if (fd < 0) {
		snprintf(err, errlen, "cannot listen on console socket: %s", why);
		return -1;
	}
	c->listen_fd = fd;
	c->sock_path = strdup(path);
	c->backlog.buf = malloc(BACKLOG_SIZE);
	c->backlog.size = BACKLOG_SIZE;
	c->listen_ev = event_new(c->base, fd, EV_READ | EV_PERSIST, console_on_accept, c);
	if (!c->sock_path || !c->backlog.buf || !c->listen_ev || event_add(c->listen_ev, NULL)) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* Output only: appended, so that several runs can share a log. */
static int console_setup_file(struct console *c, const char *path, char *err, size_t errlen)
{
	int fd =
		open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0644);

	if (fd < 0) {
		snprintf(err, errlen, "cannot open console file %s: %s", path, strerror(errno));
		return -1;
	}
	c->file_fd = c->out_fd = fd;
	return 0;
}

struct console *console_create(const struct console_cfg *cfg, struct event_base *base, char *err,
			       size_t errlen)
{
	struct console *c = calloc(1, sizeof(*c));
	int ret;

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->kind = cfg->kind;
	c->base = base;
	c->in_fd = c->out_fd = c->listen_fd = c->pty_slave_fd = c->file_fd = -1;
	pthread_mutex_init(&c->out_lock, NULL);
	c->ready_ev = event_new(base, -1, 0, console_on_ready, c);
	c->flush_ev = event_new(base, -1, 0, console_on_writable, c);
	c->out.buf = malloc(OUT_RING_SIZE);
	c->out.size = OUT_RING_SIZE;
	if (!c->ready_ev || !c->flush_ev || !c->out.buf) {
		snprintf(err, errlen, "out of memory");
		goto err_free;
	}
	switch (cfg->kind) {
	case CONSOLE_STDIO:
		ret = console_setup_stdio(c, err, errlen);
		break;
	case CONSOLE_PTY:
		ret = console_setup_pty(c, cfg->name, err, errlen);
		break;
	case CONSOLE_FILE:
		ret = console_setup_file(c, cfg->path, err, errlen);
		break;
	default:
		ret = console_setup_unix(c, cfg->path, err, errlen);
		break;
	}
	if (ret)
		goto err_free;
	if (c->out_fd >= 0 && console_set_out(c, c->out_fd)) {
		snprintf(err, errlen, "out of memory");
		goto err_free;
	}
	if (c->in_fd >= 0) {
		c->in_ev = event_new(base, c->in_fd, EV_READ | EV_PERSIST, console_on_input, c);
		if (!c->in_ev) {
			snprintf(err, errlen, "out of memory");
			goto err_free;
		}
		/* stdin may be /dev/null or a file, which cannot be polled: no input then. */
		if (event_add(c->in_ev, NULL)) {
			pr_debug("console input cannot be polled; ignoring it");
			event_free(c->in_ev);
			c->in_ev = NULL;
		}
	}
	return c;

err_free:
	console_destroy(c);
	return NULL;
}

void console_destroy(struct console *c)
{
	if (!c)
		return;
	if (c->flush_ev && c->out.buf)
		console_drain(c);
	if (c->writable_ev)
		event_free(c->writable_ev);
	if (c->flush_ev)
		event_free(c->flush_ev);
	if (c->in_ev)
		event_free(c->in_ev);
	if (c->listen_ev)
		event_free(c->listen_ev);
	if (c->ready_ev)
		event_free(c->ready_ev);
	if (c->tty_raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &c->saved_tio);
	if (c->kind != CONSOLE_STDIO && c->in_fd >= 0)
		close(c->in_fd);
	if (c->pty_slave_fd >= 0)
		close(c->pty_slave_fd);
	if (c->file_fd >= 0)
		close(c->file_fd);
	if (c->listen_fd >= 0) {
		close(c->listen_fd);
		unlink(c->sock_path);
	}
	free(c->sock_path);
	free(c->backlog.buf);
	free(c->out.buf);
	pthread_mutex_destroy(&c->out_lock);
	free(c);
}

int console_parse(const char *s, struct console_cfg *c)
{
	memset(c, 0, sizeof(*c));
	if (!strcmp(s, "stdio")) {
		c->kind = CONSOLE_STDIO;
	} else if (!strcmp(s, "pty")) {
		c->kind = CONSOLE_PTY;
	} else if (!strncmp(s, "unix:", 5) && s[5]) {
		c->kind = CONSOLE_UNIX;
		c->path = s + 5;
	} else if (!strncmp(s, "file:", 5) && s[5]) {
		c->kind = CONSOLE_FILE;
		c->path = s + 5;
	} else {
		return -1;
	}
	return 0;
}

void console_set_sink(struct console *c, console_sink_fn sink, void *ctx)
{
	c->sink = sink;
	c->sink_ctx = ctx;
}

void console_rx_ready(struct console *c)
{
	event_active(c->ready_ev, 0, 0);
}

void console_set_quit(struct console *c, void (*quit)(void *ctx), void *ctx)
{
	c->quit = quit;
	c->quit_ctx = ctx;
}
