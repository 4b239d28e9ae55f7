// SPDX-License-Identifier: GPL-2.0
/*
 * uvctl console: the user's terminal on a partition's console socket (uvmm's
 * --console unix:PATH, one client at a time, which first replays recent
 * output). A terminal is put in raw mode, so Ctrl-C and friends reach the
 * guest; Ctrl-] detaches. Any other input (a pipe, a file) is relayed
 * verbatim; its end half-closes the socket, and output is relayed until the
 * far end closes.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "uvctl.h"

#define CONSOLE_DETACH	 0x1d	   /* Ctrl-] */
#define CONSOLE_IN_PAUSE (1 << 20) /* stop reading input while this much waits for the socket */
#define CONSOLE_NSIGNALS 4

struct relay {
	struct event_base *base;
	int in, out;
	bool tty, in_eof, shut;
	int signo;
	enum { RELAY_RUNNING, RELAY_DETACHED, RELAY_CLOSED } end;
	struct bufferevent *sock;
	struct event *in_ev;
	struct event *sig[CONSOLE_NSIGNALS];
};

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EAGAIN) {
			/* An output someone else made non-blocking: wait, do not drop. */
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};

			poll(&pfd, 1, -1);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void relay_stop(struct relay *r, int end)
{
	if (r->end == RELAY_RUNNING)
		r->end = end;
	event_base_loopbreak(r->base);
}

/* Once input has ended and all of it is out, the far end learns it. */
static void relay_maybe_shut(struct relay *r)
{
	if (!r->in_eof || r->shut || evbuffer_get_length(bufferevent_get_output(r->sock)))
		return;
	r->shut = true;
	shutdown(bufferevent_getfd(r->sock), SHUT_WR);
}

static void relay_sock_read(struct bufferevent *bev, void *arg)
{
	struct relay *r = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len;

	while ((len = evbuffer_get_contiguous_space(in))) {
		if (write_all(r->out, evbuffer_pullup(in, (ssize_t)len), len)) {
			relay_stop(r, RELAY_CLOSED); /* nobody reads our output any more */
			return;
		}
		evbuffer_drain(in, len);
	}
}

static void relay_sock_written(struct bufferevent *bev, void *arg)
{
	struct relay *r = arg;

	(void)bev;
	if (r->end == RELAY_DETACHED) {
		event_base_loopbreak(r->base);
		return;
	}
	if (!r->in_eof)
		event_add(r->in_ev, NULL);
	relay_maybe_shut(r);
}

static void relay_sock_event(struct bufferevent *bev, short what, void *arg)
{
	struct relay *r = arg;

	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		relay_sock_read(bev, arg);
		relay_stop(r, RELAY_CLOSED);
	}
}

/* What was typed before Ctrl-] is still owed to the guest: the write callback ends the loop. */
static void relay_detach(struct relay *r)
{
	static const struct timeval grace = {1, 0};

	r->end = RELAY_DETACHED;
	event_del(r->in_ev);
	if (!evbuffer_get_length(bufferevent_get_output(r->sock)))
		event_base_loopbreak(r->base);
	else
		event_base_loopexit(r->base, &grace);
}

static void relay_input(evutil_socket_t fd, short what, void *arg)
{
	struct relay *r = arg;
	char buf[4096], *esc;
	ssize_t n;

	(void)what;
	n = read(fd, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		event_del(r->in_ev);
		r->in_eof = true;
		if (r->tty) /* a hung-up terminal */
			relay_stop(r, RELAY_CLOSED);
		else
			relay_maybe_shut(r);
		return;
	}
	esc = r->tty ? memchr(buf, CONSOLE_DETACH, (size_t)n) : NULL;
	bufferevent_write(r->sock, buf, esc ? (size_t)(esc - buf) : (size_t)n);
	if (esc) {
		relay_detach(r);
		return;
	}
	if (evbuffer_get_length(bufferevent_get_output(r->sock)) > CONSOLE_IN_PAUSE)
		event_del(r->in_ev); /* the write callback resumes input */
}

static void relay_signal(evutil_socket_t sig, short what, void *arg)
{
	struct relay *r = arg;

	(void)what;
	r->signo = (int)sig;
	relay_stop(r, RELAY_CLOSED);
}

static int console_connect(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "console socket path %s is too long", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		snprintf(err, errlen, "cannot attach to the console at %s: %s%s", path,
			 strerror(errno),
			 errno == ENOENT || errno == ECONNREFUSED ? " (is the partition running?)"
								  : "");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int relay_setup(struct relay *r, int fd)
{
	static const int sigs[CONSOLE_NSIGNALS] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
	struct event_config *cfg = event_config_new();

	/* poll, not epoll: an input or output that is a plain file must work too. */
	if (!cfg || event_config_avoid_method(cfg, "epoll")) {
		event_config_free(cfg);
		close(fd);
		return -1;
	}
	r->base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	r->sock = r->base ? bufferevent_socket_new(r->base, fd, BEV_OPT_CLOSE_ON_FREE) : NULL;
	if (!r->sock) {
		close(fd);
		return -1;
	}
	evutil_make_socket_nonblocking(fd);
	bufferevent_setcb(r->sock, relay_sock_read, relay_sock_written, relay_sock_event, r);
	r->in_ev = event_new(r->base, r->in, EV_READ | EV_PERSIST, relay_input, r);
	if (!r->in_ev || event_add(r->in_ev, NULL) || bufferevent_enable(r->sock, EV_READ))
		return -1;
	for (int i = 0; i < CONSOLE_NSIGNALS; i++) {
		r->sig[i] = evsignal_new(r->base, sigs[i], relay_signal, r);
		if (!r->sig[i] || event_add(r->sig[i], NULL))
			return -1;
	}
	return 0;
}

static void relay_teardown(struct relay *r)
{
	for (int i = 0; i < CONSOLE_NSIGNALS; i++)
		if (r->sig[i])
			event_free(r->sig[i]);
	if (r->in_ev)
		event_free(r->in_ev);
	if (r->sock)
		bufferevent_free(r->sock);
	if (r->base)
		event_base_free(r->base);
}

int uvctl_console(const char *sock, const char *name, int in, int out, char *err, size_t errlen)
{
	struct relay r = {.in = in, .out = out, .tty = isatty(in)};
	struct termios saved, raw;
	int fd, status = UVCTL_OK;

	signal(SIGPIPE, SIG_IGN); /* a reader that goes away is an error return, not a death */
	fd = console_connect(sock, err, errlen);
	if (fd < 0)
		return UVCTL_REFUSED;
	if (relay_setup(&r, fd)) {
		snprintf(err, errlen, "cannot set up the console relay");
		relay_teardown(&r);
		return UVCTL_REFUSED;
	}
	if (r.tty && tcgetattr(in, &saved))
		r.tty = false;
	if (r.tty) {
		raw = saved;
		cfmakeraw(&raw);
		tcsetattr(in, TCSANOW, &raw);
		fprintf(stderr, "Connected to the console of %s. Ctrl-] detaches.\r\n", name);
	}
	event_base_dispatch(r.base);
	if (r.tty) {
		/* Every way out of the loop (detach, close, signal) passes here. */
		tcsetattr(in, TCSADRAIN, &saved);
		if (r.end == RELAY_DETACHED)
			fprintf(stderr, "\nuvctl: detached from the console of %s\n", name);
		else if (!r.signo)
			fprintf(stderr, "\nuvctl: the console of %s closed\n", name);
	}
	if (r.signo)
		status = 128 + r.signo;
	relay_teardown(&r);
	return status;
}
