// SPDX-License-Identifier: GPL-2.0
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "iov.h"
#include "kind.h"
#include "log.h"
#include "vcon.h"

struct vcon_queue {
	const struct ioq_ops *ops; /* NULL: stopped */
	void *ctx;
};

struct vcon_dev {
	struct console *con;
	struct vcon_queue q[2];
	struct event *more; /* resumes a transmit turn that ran out of budget */
	/* Both queues run on the one loop thread and never keep a request. */
	struct virtq_elem elem;
};

/* A queue that broke a rule serves nothing more; the other one goes on. */
static void vcon_break(struct vcon_dev *d, unsigned idx, const char *why)
{
	struct vcon_queue *q = &d->q[idx];

	pr_warn("virtio-console: %s: %s", idx == VCON_RXQ ? "receiveq0" : "transmitq0", why);
	q->ops->needs_reset(q->ctx, idx);
}

/*
 * The endpoint's input, offered as it comes: one receive buffer per call.
 * Returning 0 (no buffer posted, or the queue stopped) makes the endpoint
 * stop reading until vcon_queue_kick() says the guest posted more.
 */
static size_t vcon_sink(void *ctx, const uint8_t *buf, size_t len)
{
	struct vcon_dev *d = ctx;
	struct vcon_queue *q = &d->q[VCON_RXQ];
	size_t n;
	int ret;

	if (!q->ops)
		return 0;
	ret = q->ops->pop(q->ctx, VCON_RXQ, &d->elem);
	if (ret <= 0) {
		if (ret < 0)
			q->ops->needs_reset(q->ctx, VCON_RXQ);
		return 0;
	}
	if (d->elem.out_num) {
		vcon_break(d, VCON_RXQ, "a device-readable buffer");
		return 0;
	}
	n = iov_from_buf(d->elem.iov, d->elem.in_num, 0, buf, len);
	q->ops->complete(q->ctx, VCON_RXQ, d->elem.head, n);
	q->ops->notify(q->ctx, VCON_RXQ);
	return n;
}

static void vcon_tx(struct vcon_dev *d)
{
	struct vcon_queue *q = &d->q[VCON_TXQ];
	unsigned budget = VCON_KICK_BUDGET;

	if (!q->ops)
		return;
	while (budget--) {
		int ret = q->ops->pop(q->ctx, VCON_TXQ, &d->elem);

		if (ret <= 0) {
			if (ret < 0)
				q->ops->needs_reset(q->ctx, VCON_TXQ);
			break;
		}
		if (d->elem.in_num) {
			vcon_break(d, VCON_TXQ, "a device-writable buffer");
			break;
		}
		if (iov_size(d->elem.iov, d->elem.out_num) > VCON_TX_MAX) {
			vcon_break(d, VCON_TXQ, "a chain longer than 1 MiB");
			break;
		}
		/* A reader that falls behind loses output; the guest never waits for it. */
		for (unsigned i = 0; i < d->elem.out_num; i++)
			console_write(d->con, d->elem.iov[i].iov_base, d->elem.iov[i].iov_len);
		q->ops->complete(q->ctx, VCON_TXQ, d->elem.head, 0);
	}
	if (budget == (unsigned)-1)
		event_active(d->more, 0, 0);
	q->ops->notify(q->ctx, VCON_TXQ);
}

static void vcon_more(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	vcon_tx(arg);
}

int vcon_open(struct vcon_dev **out, const struct iopart_export *e, struct event_base *base,
	      char *err, size_t errlen)
{
	struct console_cfg cfg = {.kind = e->console, .path = e->path, .name = "virtio-console"};
	struct vcon_dev *d;

	if (!base || !e->has_console || e->console == CONSOLE_STDIO) {
		snprintf(err, errlen, "virtio-console: no usable endpoint");
		return -EINVAL;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	d->more = event_new(base, -1, 0, vcon_more, d);
	if (!d->more) {
		snprintf(err, errlen, "out of memory");
		vcon_close(d);
		return -ENOMEM;
	}
	d->con = console_create(&cfg, base, err, errlen);
	if (!d->con) {
		vcon_close(d);
		return -EINVAL;
	}
	console_set_sink(d->con, vcon_sink, d);
	*out = d;
	return 0;
}

void vcon_close(struct vcon_dev *d)
{
	if (!d)
		return;
	/* Output still queued leaves first (console_destroy drains it). */
	console_destroy(d->con);
	if (d->more)
		event_free(d->more);
	free(d);
}

uint64_t vcon_features(struct vcon_dev *d)
{
	(void)d;
	/* No SIZE: the endpoints have no window size to report. */
	return 1ull << VIRTIO_CONSOLE_F_EMERG_WRITE;
}

int vcon_get_config(struct vcon_dev *d, uint32_t off, void *buf, uint32_t len)
{
	uint8_t c[VCON_CFG_SIZE] = {0};
	uint32_t ports = htole32(1);

	(void)d;
	if (off > sizeof(c) || len > sizeof(c) - off)
		return -EINVAL;
	memcpy(c + VCON_CFG_MAX_NR_PORTS, &ports, 4);
	memcpy(buf, c + off, len);
	return 0;
}

int vcon_set_config(struct vcon_dev *d, uint32_t off, const void *buf, uint32_t len)
{
	/* The driver writes the character as a 32-bit field; its low byte is it. */
	if (off != VCON_CFG_EMERG_WR || !len || len > 4)
		return -EINVAL;
	console_write(d->con, buf, 1);
	return 0;
}

int vcon_queue_start(struct vcon_dev *d, unsigned idx, struct virtq *vq, const struct ioq_ops *ops,
		     void *ctx)
{
	(void)vq;
	if (idx > VCON_TXQ)
		return -EINVAL;
	d->q[idx].ops = ops;
	d->q[idx].ctx = ctx;
	/* Input held back while the queue was away may go now. */
	if (idx == VCON_RXQ)
		console_rx_ready(d->con);
	return 0;
}

void vcon_queue_kick(struct vcon_dev *d, unsigned idx)
{
	if (idx == VCON_RXQ && d->q[idx].ops)
		console_rx_ready(d->con); /* buffers posted: read the endpoint again */
	else if (idx == VCON_TXQ)
		vcon_tx(d);
}

void vcon_queue_stop(struct vcon_dev *d, unsigned idx)
{
	if (idx > VCON_TXQ)
		return;
	d->q[idx].ops = NULL;
	if (idx == VCON_TXQ)
		event_del(d->more);
}

/* vcon as dev.c serves it (kind.h): the functions above, with priv as the struct vcon_dev. */
static int vcon_kind_open(void **priv, const struct iopart_export *e, struct event_base *base,
			  char *err, size_t errlen)
{
	struct vcon_dev *d;
	int ret = vcon_open(&d, e, base, err, errlen);

	if (!ret)
		*priv = d;
	return ret;
}

static void vcon_kind_close(void *priv)
{
	vcon_close(priv);
}

static uint64_t vcon_kind_features(void *priv)
{
	return vcon_features(priv);
}

static uint16_t vcon_kind_num_queues(void *priv)
{
	(void)priv;
	return VCON_TXQ + 1; /* receiveq0 and transmitq0, no MULTIPORT */
}

static int vcon_kind_get_config(void *priv, uint32_t off, void *buf, uint32_t len)
{
	return vcon_get_config(priv, off, buf, len);
}

static int vcon_kind_set_config(void *priv, uint32_t off, const void *buf, uint32_t len)
{
	return vcon_set_config(priv, off, buf, len);
}

static int vcon_kind_queue_start(void *priv, unsigned idx, struct virtq *vq,
				 const struct ioq_ops *ops, void *ctx)
{
	return vcon_queue_start(priv, idx, vq, ops, ctx);
}

static void vcon_kind_queue_kick(void *priv, unsigned idx)
{
	vcon_queue_kick(priv, idx);
}

static void vcon_kind_queue_stop(void *priv, unsigned idx)
{
	vcon_queue_stop(priv, idx);
}

/* An in-process channel is named by its endpoint; a pty has no path until it is open. */
static const char *vcon_kind_label(const struct iopart_export *e)
{
	return e->console == CONSOLE_PTY ? "pty" : e->path;
}

const struct iopart_kind_ops vcon_kind_ops = {
	.open = vcon_kind_open,
	.close = vcon_kind_close,
	.features = vcon_kind_features,
	.num_queues = vcon_kind_num_queues,
	.get_config = vcon_kind_get_config,
	.set_config = vcon_kind_set_config,
	.queue_start = vcon_kind_queue_start,
	.queue_kick = vcon_kind_queue_kick,
	.queue_stop = vcon_kind_queue_stop,
	.label = vcon_kind_label,
};
