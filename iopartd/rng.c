// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "kind.h"
#include "rng.h"

struct rng_dev {
	const struct ioq_ops *ops; /* NULL: queue stopped */
	void *ctx;
	struct event *more; /* resumes a kick that ran out of budget */
	struct virtq_elem elem;
};

static void rng_more(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	rng_queue_kick(arg, 0);
}

int rng_open(struct rng_dev **out, struct event_base *base)
{
	struct rng_dev *d = calloc(1, sizeof(*d));

	if (!d)
		return -ENOMEM;
	if (base) {
		d->more = event_new(base, -1, 0, rng_more, d);
		if (!d->more) {
			free(d);
			return -ENOMEM;
		}
	}
	*out = d;
	return 0;
}

void rng_close(struct rng_dev *d)
{
	if (!d)
		return;
	if (d->more)
		event_free(d->more);
	free(d);
}

int rng_queue_start(struct rng_dev *d, unsigned idx, struct virtq *vq, const struct ioq_ops *ops,
		    void *ctx)
{
	(void)vq;
	if (idx)
		return -EINVAL;
	d->ops = ops;
	d->ctx = ctx;
	return 0;
}

void rng_queue_stop(struct rng_dev *d, unsigned idx)
{
	if (idx)
		return;
	d->ops = NULL;
	if (d->more)
		event_del(d->more);
}

/* Fills the writable buffers of e, up to RNG_REQ_MAX bytes; returns how many. */
static uint32_t rng_fill(struct virtq_elem *e)
{
	uint32_t done = 0;

	for (unsigned i = e->out_num; i < e->out_num + e->in_num && done < RNG_REQ_MAX; i++) {
		size_t want = e->iov[i].iov_len, got = 0;

		if (want > RNG_REQ_MAX - done)
			want = RNG_REQ_MAX - done;
		while (got < want) {
			ssize_t n = getrandom((uint8_t *)e->iov[i].iov_base + got, want - got, 0);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return done + got;
			got += n;
		}
		done += got;
	}
	return done;
}

void rng_queue_kick(struct rng_dev *d, unsigned idx)
{
	unsigned budget = RNG_KICK_BUDGET;

	if (idx || !d->ops)
		return;
	/* A driver that refills as fast as we serve gets its budget, then yields to the loop. */
	for (;; budget--) {
		if (!budget && d->more) {
			event_active(d->more, 0, 0);
			break;
		}
		int ret = d->ops->pop(d->ctx, 0, &d->elem);

		if (ret == 0)
			break;
		if (ret < 0) {
			d->ops->needs_reset(d->ctx, 0);
			break;
		}
		d->ops->complete(d->ctx, 0, d->elem.head, rng_fill(&d->elem));
	}
	d->ops->notify(d->ctx, 0);
}

/* rng as dev.c serves it (kind.h): the functions above, with priv as the struct rng_dev. */
static int rng_kind_open(void **priv, const struct iopart_export *e, struct event_base *base,
			 char *err, size_t errlen)
{
	struct rng_dev *d;
	int ret = rng_open(&d, base);

	(void)e; /* nothing to configure */
	if (ret < 0) {
		snprintf(err, errlen, "rng: %s", strerror(-ret));
		return ret;
	}
	*priv = d;
	return 0;
}

static void rng_kind_close(void *priv)
{
	rng_close(priv);
}

static int rng_kind_queue_start(void *priv, unsigned idx, struct virtq *vq,
				const struct ioq_ops *ops, void *ctx)
{
	return rng_queue_start(priv, idx, vq, ops, ctx);
}

static void rng_kind_queue_kick(void *priv, unsigned idx)
{
	rng_queue_kick(priv, idx);
}

static void rng_kind_queue_stop(void *priv, unsigned idx)
{
	rng_queue_stop(priv, idx);
}

/* No features, one queue, and no config space (so the front end is not offered CONFIG). */
const struct iopart_kind_ops rng_kind_ops = {
	.open = rng_kind_open,
	.close = rng_kind_close,
	.queue_start = rng_kind_queue_start,
	.queue_kick = rng_kind_queue_kick,
	.queue_stop = rng_kind_queue_stop,
};
