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

/*
 * A socket file left by a dead server is removed; one somebody still serves,
 * or a file that is no socket, is not ours to remove.
 */
static int vu_listen_clear_path(const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, ret;

	if (lstat(sa->sun_path, &st))
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ret = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	if (!ret)
		return -EADDRINUSE;
	return unlink(sa->sun_path) && errno != ENOENT ? -errno : 0;
}

struct vu_listener *vu_listener_new(struct event_base *base, const char *path, vu_accept_fn cb,
				    void *ctx, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct vu_listener *l;
	int fd, ret;

	if (strlen(path) >= sizeof(sa.sun_path))
		return vu_listen_fail(err, errlen, -1, "%s: socket path too long", path);
	strcpy(sa.sun_path, path);
	ret = vu_listen_clear_path(&sa);
	if (ret == -EEXIST)
		return vu_listen_fail(err, errlen, -1, "%s exists and is not a socket", path);
	if (ret == -EADDRINUSE)
		return vu_listen_fail(err, errlen, -1, "%s: another server listens there", path);
	if (ret)
		return vu_listen_fail(err, errlen, -1, "%s: %s", path, strerror(-ret));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return vu_listen_fail(err, errlen, -1, "socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 16))
		return vu_listen_fail(err, errlen, fd, "%s: %s", path, strerror(errno));
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
