// SPDX-License-Identifier: GPL-2.0
/* The event-loop side of control messages: a listening server and its connections. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "ctl_msg.h"
#include "log.h"

/* Messages read per wakeup, so one chatty peer cannot starve the others. */
#define CTL_READ_BATCH 32

struct ctl_out {
	struct ctl_out *next;
	char *buf;
	size_t len;
	int fds[CTL_MAX_FDS];
	int nfds;
};

struct ctl_conn {
	struct ctl_server *srv; /* NULL for ctl_conn_new's */
	struct ctl_conn *prev, *next;
	int fd;
	struct event *rd, *wr, *closer;
	const struct ctl_ops *ops;
	void *arg;
	struct ucred cred;
	void *data;
	struct ctl_out *qhead, **qtail;
	unsigned qlen;
	bool closing;
};

struct ctl_server {
	struct event_base *base;
	int fd;
	struct event *ev;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const struct ctl_ops *ops;
	void *arg;
	struct ctl_conn *conns;
};

static void out_free(struct ctl_out *o)
{
	for (int i = 0; i < o->nfds; i++)
		close(o->fds[i]);
	free(o->buf);
	free(o);
}

/* Calls on_close and frees; the one way a conn goes away. */
static void conn_destroy(struct ctl_conn *c)
{
	c->closing = true;
	if (c->ops->on_close)
		c->ops->on_close(c, c->arg);
	if (c->srv) {
		if (c->prev)
			c->prev->next = c->next;
		else
			c->srv->conns = c->next;
		if (c->next)
			c->next->prev = c->prev;
	}
	while (c->qhead) {
		struct ctl_out *o = c->qhead;

		c->qhead = o->next;
		out_free(o);
	}
	event_free(c->rd);
	event_free(c->wr);
	event_free(c->closer);
	close(c->fd);
	free(c);
}

static void conn_closer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_destroy(arg);
}

void ctl_conn_close(struct ctl_conn *c)
{
	/* Always later, from the loop: the caller may be iterating over conns. */
	if (c->closing)
		return;
	c->closing = true;
	event_del(c->rd);
	event_del(c->wr);
	event_active(c->closer, 0, 0);
}

void ctl_conn_free(struct ctl_conn *c)
{
	if (c)
		conn_destroy(c);
}

static void conn_flush(struct ctl_conn *c)
{
	while (c->qhead) {
		struct ctl_out *o = c->qhead;
		int ret = ctl_send_buf(c->fd, o->buf, o->len, o->fds, o->nfds);

		if (ret == -EAGAIN) {
			event_add(c->wr, NULL);
			return;
		}
		if (ret)
			pr_debug("control connection of pid %d: send: %s", (int)c->cred.pid,
				 strerror(-ret));
		c->qhead = o->next;
		if (!c->qhead)
			c->qtail = &c->qhead;
		c->qlen--;
		out_free(o);
	}
}

static void conn_writable(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_flush(arg);
}

static int conn_enqueue(struct ctl_conn *c, const char *s, size_t len, const int *fds, int nfds)
{
	struct ctl_out *o;

	if (c->qlen >= CTL_CONN_QUEUE_MAX) {
		pr_warn("control connection of pid %d: %u replies unread, disconnecting",
			(int)c->cred.pid, c->qlen);
		ctl_conn_close(c);
		return -ENOBUFS;
	}
	o = calloc(1, sizeof(*o));
	if (!o || !(o->buf = malloc(len)))
		goto nomem;
	memcpy(o->buf, s, len);
	o->len = len;
	for (; o->nfds < nfds; o->nfds++) {
		o->fds[o->nfds] = fcntl(fds[o->nfds], F_DUPFD_CLOEXEC, 0);
		if (o->fds[o->nfds] < 0)
			goto nomem;
	}
	*c->qtail = o;
	c->qtail = &o->next;
	c->qlen++;
	event_add(c->wr, NULL);
	return 0;
nomem:
	if (o)
		out_free(o);
	return -ENOMEM;
}

int ctl_conn_send(struct ctl_conn *c, json_object *msg, const int *fds, int nfds)
{
	size_t len;
	const char *s = json_object_to_json_string_length(msg, JSON_C_TO_STRING_PLAIN, &len);
	int ret;

	if (c->closing)
		return -EPIPE;
	if (!s)
		return -ENOMEM;
	if (len > CTL_MSG_MAX)
		return -EMSGSIZE;
	if (nfds < 0 || nfds > CTL_MAX_FDS)
		return -EINVAL;
	if (!c->qhead) {
		ret = ctl_send_buf(c->fd, s, len, fds, nfds);
		if (ret != -EAGAIN)
			return ret;
	}
	return conn_enqueue(c, s, len, fds, nfds);
}

int ctl_conn_reply_ok(struct ctl_conn *c, json_object *req)
{
	json_object *r = ctl_reply_ok(req);
	int ret = ctl_conn_send(c, r, NULL, 0);

	json_object_put(r);
	return ret;
}

int ctl_conn_reply_err(struct ctl_conn *c, json_object *req, const char *fmt, ...)
{
	char buf[512];
	json_object *r;
	va_list ap;
	int ret;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	r = ctl_reply_err(req, "%s", buf);
	ret = ctl_conn_send(c, r, NULL, 0);
	json_object_put(r);
	return ret;
}

/* One message in; <0 when the connection is done. */
static int conn_read_one(struct ctl_conn *c)
{
	int fds[CTL_MAX_FDS], nfds, ret;
	json_object *msg;
	char err[256];

	ret = ctl_recv(c->fd, &msg, fds, &nfds, err, sizeof(err));
	if (ret == -EBADMSG) {
		pr_debug("control connection of pid %d: %s", (int)c->cred.pid, err);
		/* Only a request gets an answer: refusing a reply would ping-pong. */
		if (!msg || !ctl_is_reply(msg))
			ctl_conn_reply_err(c, msg, "%s", err);
		json_object_put(msg);
		return 0;
	}
	if (ret)
		return ret;
	ret = c->ops->on_msg(c, msg, fds, nfds, c->arg);
	json_object_put(msg);
	for (int i = 0; i < nfds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return ret;
}

static void conn_readable(evutil_socket_t fd, short what, void *arg)
{
	struct ctl_conn *c = arg;

	(void)fd;
	(void)what;
	for (int i = 0; i < CTL_READ_BATCH && !c->closing; i++) {
		int ret = conn_read_one(c);

		if (ret == -EAGAIN)
			return;
		if (ret < 0) {
			if (ret != -EPIPE)
				pr_debug("control connection of pid %d: %s", (int)c->cred.pid,
					 strerror(-ret));
			ctl_conn_close(c);
			return;
		}
	}
}

static struct ctl_conn *conn_make(struct event_base *base, int fd, const struct ctl_ops *ops,
				  void *arg)
{
	struct ctl_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->fd = fd;
	c->ops = ops;
	c->arg = arg;
	c->qtail = &c->qhead;
	if (ctl_peer_cred(fd, &c->cred))
		c->cred = (struct ucred){.pid = -1, .uid = (uid_t)-1, .gid = (gid_t)-1};
	c->rd = event_new(base, fd, EV_READ | EV_PERSIST, conn_readable, c);
	c->wr = event_new(base, fd, EV_WRITE, conn_writable, c);
	c->closer = event_new(base, -1, 0, conn_closer, c);
	if (!c->rd || !c->wr || !c->closer || event_add(c->rd, NULL)) {
		if (c->rd)
			event_free(c->rd);
		if (c->wr)
			event_free(c->wr);
		if (c->closer)
			event_free(c->closer);
		free(c);
		return NULL;
	}
	return c;
}

struct ctl_conn *ctl_conn_new(struct event_base *base, int fd, const struct ctl_ops *ops, void *arg)
{
	struct ctl_conn *c;
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK))
		goto fail;
	c = conn_make(base, fd, ops, arg);
	if (c)
		return c;
fail:
	close(fd);
	return NULL;
}

static void server_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct ctl_server *s = arg;

	(void)what;
	for (;;) {
		int fd = accept4((int)lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct ctl_conn *c;

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				pr_warn("%s: accept: %s", s->path, strerror(errno));
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return;
		}
		c = conn_make(s->base, fd, s->ops, s->arg);
		if (!c) {
			pr_warn("%s: out of memory for a connection", s->path);
			close(fd);
			continue;
		}
		c->srv = s;
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
		pr_debug("%s: connection from pid %d uid %d", s->path, (int)c->cred.pid,
			 (int)c->cred.uid);
	}
}

struct ctl_server *ctl_server_new(struct event_base *base, const char *path,
				  const struct ctl_ops *ops, void *arg, char *err, size_t errlen)
{
	struct ctl_server *s = calloc(1, sizeof(*s));

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->base = base;
	s->ops = ops;
	s->arg = arg;
	snprintf(s->path, sizeof(s->path), "%s", path);
	s->fd = ctl_listen(path, err, errlen);
	if (s->fd < 0) {
		free(s);
		return NULL;
	}
	s->ev = event_new(base, s->fd, EV_READ | EV_PERSIST, server_accept, s);
	if (!s->ev || event_add(s->ev, NULL)) {
		snprintf(err, errlen, "%s: cannot watch the socket", path);
		if (s->ev)
			event_free(s->ev);
		close(s->fd);
		unlink(path);
		free(s);
		return NULL;
	}
	return s;
}

void ctl_server_free(struct ctl_server *s)
{
	if (!s)
		return;
	event_free(s->ev);
	close(s->fd);
	unlink(s->path);
	while (s->conns)
		conn_destroy(s->conns);
	free(s);
}

const struct ucred *ctl_conn_cred(const struct ctl_conn *c)
{
	return &c->cred;
}

bool ctl_conn_privileged(const struct ctl_conn *c)
{
	return c->cred.pid > 0 && (c->cred.uid == 0 || c->cred.uid == geteuid());
}

int ctl_conn_fd(const struct ctl_conn *c)
{
	return c->fd;
}

void ctl_conn_set_data(struct ctl_conn *c, void *data)
{
	c->data = data;
}

void *ctl_conn_data(const struct ctl_conn *c)
{
	return c->data;
}
