// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "broker.h"
#include "ctl_msg.h"
#include "log.h"

#define BROKER_WARN_SEC 5
#define BROKER_NDEV	(BROKER_MAX_DEVICE + 1)

struct broker {
	struct event_base *base;
	char path[108];
	char name[64];
	pid_t pid;
	const struct broker_ops *ops;
	void *ctx;
	struct ctl_conn *conn;
	struct event *retry_ev, *flush_ev;
	struct timeval retry;
	time_t last_warn;
	unsigned failures;
	bool attached, freeing;

	/* In-flight areas: set by device threads, sent from the loop. */
	pthread_mutex_t lock;
	int inflight[BROKER_NDEV];
	bool sent[BROKER_NDEV]; /* on the current connection */
	/* Switches to a standby not yet acknowledged: their epochs, 0 for none. */
	unsigned promoted[BROKER_NDEV];
	bool promoted_sent[BROKER_NDEV];
	int64_t promoted_id[BROKER_NDEV]; /* the request that said it, for its answer */
};

static void broker_retry_later(struct broker *b)
{
	evtimer_add(b->retry_ev, &b->retry);
}

/* Called with b->lock held. */
static void broker_flush_promoted(struct broker *b, int i)
{
	json_object *m;

	if (!b->promoted[i] || b->promoted_sent[i])
		return;
	m = ctl_request("channel_promoted");
	b->promoted_id[i] = json_object_get_int64(json_object_object_get(m, "id"));
	json_object_object_add(m, "partition", json_object_new_string(b->name));
	json_object_object_add(m, "device", json_object_new_int(i));
	json_object_object_add(m, "epoch", json_object_new_int64(b->promoted[i]));
	if (ctl_conn_send(b->conn, m, NULL, 0))
		pr_warn("ultravisord: cannot say channel %d switched to its standby", i);
	json_object_put(m);
	b->promoted_sent[i] = true;
}

/* Sends what ultravisord does not have yet; only once the partition is ours. */
static void broker_flush(struct broker *b)
{
	json_object *m;

	if (!b->conn || !b->attached)
		return;
	pthread_mutex_lock(&b->lock);
	for (int i = 0; i < BROKER_NDEV; i++)
		broker_flush_promoted(b, i);
	for (int i = 0; i < BROKER_NDEV; i++) {
		if (b->inflight[i] < 0 || b->sent[i])
			continue;
		m = ctl_request("channel_inflight");
		json_object_object_add(m, "partition", json_object_new_string(b->name));
		json_object_object_add(m, "device", json_object_new_int(i));
		if (ctl_conn_send(b->conn, m, &b->inflight[i], 1))
			pr_warn("ultravisord: cannot send channel %d's in-flight area", i);
		json_object_put(m);
		b->sent[i] = true;
	}
	pthread_mutex_unlock(&b->lock);
}

static void broker_on_flush(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	broker_flush(arg);
}

/*
 * Acknowledged (or refused: said once, not again) up to the epoch it names.
 * The answer is matched by its id: a refusal names no device, and one to a
 * word since replaced (a later switch, not sent yet) is not about it.
 */
static void broker_promoted_done(struct broker *b, json_object *msg, bool ok, const char *why)
{
	int64_t id, epoch = 0;
	json_object *v;
	char err[64];

	if (!json_object_object_get_ex(msg, "id", &v) || !json_object_is_type(v, json_type_int))
		return;
	id = json_object_get_int64(v);
	ctl_get_int(msg, "epoch", 0, UINT32_MAX, &epoch, err, sizeof(err));
	pthread_mutex_lock(&b->lock);
	for (int i = 0; i < BROKER_NDEV; i++) {
		if (!b->promoted[i] || !b->promoted_sent[i] || b->promoted_id[i] != id)
			continue;
		if (!ok)
			pr_warn("ultravisord refused channel_promoted of channel %d (epoch %u): %s",
				i, b->promoted[i], why);
		if (!ok || (int64_t)b->promoted[i] <= epoch)
			b->promoted[i] = 0;
	}
	pthread_mutex_unlock(&b->lock);
}

static void broker_on_reply(struct broker *b, json_object *msg)
{
	const char *op = "?", *why = "no reason given";
	json_object *v;
	bool ok;

	json_object_object_get_ex(msg, "ok", &v);
	ok = json_object_get_boolean(v);
	if (json_object_object_get_ex(msg, "op", &v))
		op = json_object_get_string(v);
	if (json_object_object_get_ex(msg, "error", &v))
		why = json_object_get_string(v);
	if (!strcmp(op, "partition_attach")) {
		if (!ok) {
			pr_err("ultravisord refused to attach partition %s: %s", b->name, why);
			return;
		}
		pr_info("attached to ultravisord as partition %s", b->name);
		b->attached = true;
		b->failures = 0;
		broker_flush(b);
	} else if (!strcmp(op, "channel_promoted")) {
		broker_promoted_done(b, msg, ok, why);
	} else if (!ok) {
		pr_warn("ultravisord refused %s: %s", op, why);
	}
}

static void broker_on_moved(struct broker *b, json_object *msg, int *fds, int nfds)
{
	char err[160];
	int64_t dev, epoch = 0;
	const char *iop = "?";

	if (ctl_get_int(msg, "device", 0, BROKER_MAX_DEVICE, &dev, err, sizeof(err))) {
		pr_warn("ultravisord: channel_moved: %s", err);
		return;
	}
	if (nfds != 1) {
		pr_warn("ultravisord: channel_moved of device %d came with %d fds, not 1", (int)dev,
			nfds);
		return;
	}
	ctl_get_str(msg, "iopartd", &iop, err, sizeof(err));
	ctl_get_int(msg, "epoch", 0, INT32_MAX, &epoch, err, sizeof(err));
	pr_info("ultravisord moved channel %d to iopartd %s (epoch %d)", (int)dev, iop, (int)epoch);
	b->ops->channel_moved(b->ctx, (unsigned)dev, fds[0]);
	fds[0] = -1; /* the device's now */
}

static void broker_on_standby(struct broker *b, json_object *msg, int *fds, int nfds)
{
	char err[160];
	int64_t dev, epoch;
	const char *iop = "?";

	if (ctl_get_int(msg, "device", 0, BROKER_MAX_DEVICE, &dev, err, sizeof(err)) ||
	    ctl_get_int(msg, "epoch", 1, UINT32_MAX, &epoch, err, sizeof(err))) {
		pr_warn("ultravisord: channel_standby: %s", err);
		return;
	}
	if (nfds != 1) {
		pr_warn("ultravisord: channel_standby of device %d came with %d fds, not 1",
			(int)dev, nfds);
		return;
	}
	ctl_get_str(msg, "standby", &iop, err, sizeof(err));
	pr_info("ultravisord: iopartd %s stands by for channel %d", iop, (int)dev);
	if (b->ops->channel_standby)
		b->ops->channel_standby(b->ctx, (unsigned)dev, fds[0], (unsigned)epoch);
	else
		close(fds[0]);
	fds[0] = -1;
}

static int broker_on_msg(struct ctl_conn *c, json_object *msg, int *fds, int nfds, void *arg)
{
	struct broker *b = arg;
	json_object *v;
	const char *op;

	if (ctl_is_reply(msg)) {
		broker_on_reply(b, msg);
		return 0;
	}
	json_object_object_get_ex(msg, "op", &v);
	op = json_object_get_string(v);
	if (!strcmp(op, "channel_moved"))
		broker_on_moved(b, msg, fds, nfds);
	else if (!strcmp(op, "channel_standby"))
		broker_on_standby(b, msg, fds, nfds);
	else if (json_object_object_get_ex(msg, "id", NULL))
		ctl_conn_reply_err(c, msg, "a uvmm does not serve '%s'", op);
	else if (strcmp(op, "event"))
		pr_debug("ultravisord: ignoring '%s'", op);
	return 0;
}

static void broker_on_close(struct ctl_conn *c, void *arg)
{
	struct broker *b = arg;

	(void)c;
	b->conn = NULL;
	b->attached = false;
	if (b->freeing)
		return;
	pr_warn("lost ultravisord (%s); the guest runs on, reconnecting every %ld ms", b->path,
		(long)(b->retry.tv_sec * 1000 + b->retry.tv_usec / 1000));
	b->last_warn = time(NULL);
	broker_retry_later(b);
}

static const struct ctl_ops broker_ctl_ops = {
	.on_msg = broker_on_msg,
	.on_close = broker_on_close,
};

static void broker_send_new(struct broker *b, json_object *m)
{
	if (ctl_conn_send(b->conn, m, NULL, 0))
		pr_warn("ultravisord: cannot send %s", json_object_get_string(m));
	json_object_put(m);
}

static int broker_connect(struct broker *b, char *err, size_t errlen)
{
	json_object *m;
	int fd = ctl_connect(b->path, err, errlen);

	if (fd < 0)
		return fd;
	b->conn = ctl_conn_new(b->base, fd, &broker_ctl_ops, b);
	if (!b->conn) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	/* A new connection knows nothing: every in-flight area goes again. */
	pthread_mutex_lock(&b->lock);
	memset(b->sent, 0, sizeof(b->sent));
	memset(b->promoted_sent, 0, sizeof(b->promoted_sent));
	pthread_mutex_unlock(&b->lock);
	m = ctl_request("hello");
	json_object_object_add(m, "role", json_object_new_string("uvmm"));
	json_object_object_add(m, "name", json_object_new_string(b->name));
	broker_send_new(b, m);
	m = ctl_request("partition_attach");
	json_object_object_add(m, "name", json_object_new_string(b->name));
	json_object_object_add(m, "pid", json_object_new_int((int)b->pid));
	broker_send_new(b, m);
	return 0;
}

static void broker_on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct broker *b = arg;
	char err[256];

	(void)fd;
	(void)what;
	if (b->conn)
		return;
	if (!broker_connect(b, err, sizeof(err))) {
		pr_info("connected to ultravisord at %s", b->path);
		return;
	}
	if (b->failures++ == 0 || time(NULL) - b->last_warn >= BROKER_WARN_SEC) {
		pr_warn("cannot reach ultravisord: %s; retrying", err);
		b->last_warn = time(NULL);
	}
	broker_retry_later(b);
}

struct broker *broker_new(struct event_base *base, const struct broker_cfg *cfg,
			  const struct broker_ops *ops, void *ctx)
{
	struct broker *b = calloc(1, sizeof(*b));
	unsigned ms = cfg->retry_ms ? cfg->retry_ms : BROKER_RETRY_MS;

	if (!b)
		return NULL;
	pthread_mutex_init(&b->lock, NULL);
	for (int i = 0; i < BROKER_NDEV; i++)
		b->inflight[i] = -1;
	b->base = base;
	snprintf(b->path, sizeof(b->path), "%s", cfg->path);
	snprintf(b->name, sizeof(b->name), "%s", cfg->partition);
	b->pid = cfg->pid;
	b->ops = ops;
	b->ctx = ctx;
	b->retry = (struct timeval){ms / 1000, (ms % 1000) * 1000};
	b->retry_ev = evtimer_new(base, broker_on_retry, b);
	b->flush_ev = event_new(base, -1, 0, broker_on_flush, b);
	if (!b->retry_ev || !b->flush_ev) {
		broker_free(b);
		return NULL;
	}
	broker_on_retry(-1, 0, b);
	return b;
}

void broker_free(struct broker *b)
{
	if (!b)
		return;
	b->freeing = true;
	if (b->conn)
		ctl_conn_free(b->conn);
	if (b->retry_ev)
		event_free(b->retry_ev);
	if (b->flush_ev)
		event_free(b->flush_ev);
	for (int i = 0; i < BROKER_NDEV; i++)
		if (b->inflight[i] >= 0)
			close(b->inflight[i]);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

void broker_set_inflight(struct broker *b, int device, int fd)
{
	int copy;

	if (device < 0 || device >= BROKER_NDEV)
		return;
	copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (copy < 0) {
		pr_warn("channel %d: cannot keep its in-flight area for ultravisord: %s", device,
			strerror(errno));
		return;
	}
	pthread_mutex_lock(&b->lock);
	if (b->inflight[device] >= 0)
		close(b->inflight[device]);
	b->inflight[device] = copy;
	b->sent[device] = false;
	pthread_mutex_unlock(&b->lock);
	event_active(b->flush_ev, 0, 0);
}

void broker_set_promoted(struct broker *b, int device, unsigned epoch)
{
	if (device < 0 || device >= BROKER_NDEV)
		return;
	pthread_mutex_lock(&b->lock);
	b->promoted[device] = epoch;
	b->promoted_sent[device] = false;
	pthread_mutex_unlock(&b->lock);
	event_active(b->flush_ev, 0, 0);
}

bool broker_attached(const struct broker *b)
{
	return b->attached;
}
