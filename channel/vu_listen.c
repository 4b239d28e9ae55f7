// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <event2/listener.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "unix_sock.h"
#include "vu_back.h"

struct vu_listener {
	struct evconnlistener *evl;
	vu_accept_fn cb;
	void *ctx;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

static void vu_listener_accept(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *sa,
			       int salen, void *arg)
{
	struct vu_listener *l = arg;

	(void)evl;
	(void)sa;
	(void)salen;
	/* libevent accepted it non-blocking and close-on-exec. */
	l->cb(l->ctx, fd);
}

static void *vu_listen_fail(char *err, size_t errlen, int fd, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void *vu_listen_fail(char *err, size_t errlen, int fd, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

struct vu_listener *vu_listener_new(struct event_base *base, const char *path, vu_accept_fn cb,
				    void *ctx, char *err, size_t errlen)
{
	struct vu_listener *l;
	int fd;

	fd = unix_listen(path, 16, err, errlen);
	if (fd < 0)
		return NULL;
	l = calloc(1, sizeof(*l));
	if (!l) {
		unlink(path);
		return vu_listen_fail(err, errlen, fd, "out of memory");
	}
	l->cb = cb;
	l->ctx = ctx;
	strcpy(l->path, path);
	/* Backlog 0: the socket listens already. */
	l->evl = evconnlistener_new(base, vu_listener_accept, l,
				    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (!l->evl) {
		free(l);
		unlink(path);
		return vu_listen_fail(err, errlen, fd, "%s: cannot watch the socket", path);
	}
	return l;
}

void vu_listener_free(struct vu_listener *l)
{
	if (!l)
		return;
	evconnlistener_free(l->evl);
	unlink(l->path);
	free(l);
}
