// SPDX-License-Identifier: GPL-2.0
/*
 * GET /v1/status: ultravisord's {"op": "status"} reply under "ultravisord".
 * The call never blocks opsd's loop: a non-blocking connect, one send, and
 * the reply read from the loop, or 503 after OPSD_STATUS_MS.
 */
#include <errno.h>
#include <stdarg.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl_msg.h"
#include "log.h"
#include "opsd.h"

struct status_call {
	struct opsd_held *h;
	int fd;
	struct event *ev;
	int64_t id;
};

/*
 * ctl_connect blocks while the listener's backlog is full (a stuck
 * ultravisord); here that must be an immediate refusal instead.
 */
static int status_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	return fd;
}

static void status_free(struct status_call *c)
{
	if (c->ev)
		event_free(c->ev);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

static void status_drop(struct opsd_held *h)
{
	status_free(h->priv);
}

static void status_error(struct status_call *c, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void status_error(struct status_call *c, int code, const char *fmt, ...)
{
	struct opsd_held *h = c->h;
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	status_free(c);
	opsd_held_reply_error(h, code, "%s", msg);
}

static void status_expire(struct opsd_held *h)
{
	status_error(h->priv, 503, "ultravisord did not answer within %d ms", OPSD_STATUS_MS);
}

static json_object *status_body(struct opsd *d, json_object *reply)
{
	json_object *o = json_object_new_object(), *me = json_object_new_object();

	json_object_object_del(reply, "op");
	json_object_object_del(reply, "id");
	json_object_object_del(reply, "ok");
	json_object_object_add(me, "version", json_object_new_string(UV_VERSION));
	json_object_object_add(me, "pid", json_object_new_int(getpid()));
	json_object_object_add(me, "partitions", json_object_new_int64(d->store.n));
	json_object_object_add(me, "generation", json_object_new_int64(d->store.generation));
	json_object_object_add(o, "opsd", me);
	json_object_object_add(o, "ultravisord", json_object_get(reply));
	return o;
}

static void status_readable(evutil_socket_t fd, short what, void *arg)
{
	struct status_call *c = arg;
	json_object *msg = NULL, *id;
	int fds[CTL_MAX_FDS], nfds = 0, ret;
	char err[256];

	(void)what;
	ret = ctl_recv(fd, &msg, fds, &nfds, err, sizeof(err));
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	if (ret == -EAGAIN)
		return;
	if (ret == -EPIPE || ret == -ECONNRESET) {
		status_error(c, 503, "ultravisord closed the connection without answering");
	} else if (ret == -EBADMSG) {
		status_error(c, 502, "ultravisord sent a bad reply: %s", err);
	} else if (ret) {
		status_error(c, 503, "reading ultravisord's reply: %s", strerror(-ret));
	} else if (!ctl_is_reply(msg) || !json_object_object_get_ex(msg, "id", &id) ||
		   json_object_get_int64(id) != c->id) {
		pr_debug("ultravisord: ignoring a message that is not our reply");
	} else if (!json_object_get_boolean(json_object_object_get(msg, "ok"))) {
		const char *why = json_object_get_string(json_object_object_get(msg, "error"));

		status_error(c, 502, "ultravisord refused: %s", why ? why : "no reason given");
	} else {
		struct opsd_held *h = c->h;

		status_free(c);
		opsd_held_reply(h, 200, status_body(h->d, msg));
	}
	json_object_put(msg);
}

void opsd_status_get(struct opsd_req *r)
{
	struct timeval tv = {OPSD_STATUS_MS / 1000, (OPSD_STATUS_MS % 1000) * 1000};
	struct status_call *c;
	json_object *req, *id;
	int fd, ret;

	fd = status_connect(r->d->uvd_path);
	if (fd < 0) {
		opsd_reply_error(r->req, 503, "ultravisord is not reachable at %s: %s",
				 r->d->uvd_path, strerror(-fd));
		return;
	}
	req = ctl_request("status");
	json_object_object_get_ex(req, "id", &id);
	c = calloc(1, sizeof(*c));
	ret = c ? ctl_send(fd, req, NULL, 0) : -ENOMEM;
	if (c)
		c->id = json_object_get_int64(id);
	json_object_put(req);
	if (ret) {
		close(fd);
		free(c);
		opsd_reply_error(r->req, 503, "ultravisord is not reachable at %s: %s",
				 r->d->uvd_path, strerror(-ret));
		return;
	}
	c->fd = fd;
	c->h = opsd_held_new(r, &r->d->statuses, &tv, status_expire, status_drop, c);
	if (!c->h) {
		status_free(c);
		return;
	}
	c->ev = event_new(r->d->base, fd, EV_READ | EV_PERSIST, status_readable, c);
	if (!c->ev || event_add(c->ev, NULL))
		status_error(c, 500, "cannot watch ultravisord's socket");
}
