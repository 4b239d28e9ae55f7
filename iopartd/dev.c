// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "blk.h"
#include "dev.h"
#include "log.h"
#include "net.h"
#include "rng.h"
#include "vcon.h"

/* The production queue interface: requests come and go through the vu_back. */
static int vu_pop(void *ctx, unsigned idx, struct virtq_elem *e)
{
	return vu_back_pop(ctx, idx, e);
}

static void vu_complete(void *ctx, unsigned idx, uint16_t head, uint32_t len)
{
	vu_back_complete(ctx, idx, head, len);
}

static void vu_notify(void *ctx, unsigned idx)
{
	vu_back_notify(ctx, idx);
}

static void vu_needs_reset(void *ctx, unsigned idx)
{
	pr_warn("%s: queue %u broke the virtio rules; the device needs a reset", vu_back_name(ctx),
		idx);
	vu_back_needs_reset(ctx, idx);
}

const struct ioq_ops ioq_vu_ops = {
	.pop = vu_pop,
	.complete = vu_complete,
	.notify = vu_notify,
	.needs_reset = vu_needs_reset,
};

static uint64_t dev_features(void *dev)
{
	struct iopart_dev *d = dev;

	switch (d->e.kind) {
	case IOPART_BLK:
		return blk_features(d->priv);
	case IOPART_NET:
		return net_features(d->priv);
	case IOPART_CONSOLE:
		return vcon_features(d->priv);
	case IOPART_RNG:
		break;
	}
	return 0;
}

static uint16_t dev_num_queues(void *dev)
{
	struct iopart_dev *d = dev;

	switch (d->e.kind) {
	case IOPART_BLK:
		return blk_num_queues(d->priv);
	case IOPART_NET:
	case IOPART_CONSOLE:
		return 2;
	case IOPART_RNG:
		break;
	}
	return 1;
}

static int dev_get_config(void *dev, uint32_t off, void *buf, uint32_t len)
{
	struct iopart_dev *d = dev;

	switch (d->e.kind) {
	case IOPART_BLK:
		return blk_get_config(d->priv, off, buf, len);
	case IOPART_NET:
		return net_get_config(d->priv, off, buf, len);
	case IOPART_CONSOLE:
		return vcon_get_config(d->priv, off, buf, len);
	case IOPART_RNG:
		break;
	}
	return -EINVAL;
}

static int dev_set_config(void *dev, uint32_t off, const void *buf, uint32_t len)
{
	struct iopart_dev *d = dev;

	/* Only the console's emerg_wr: no CONFIG_WCE, no ctrl MAC. */
	if (d->e.kind == IOPART_CONSOLE)
		return vcon_set_config(d->priv, off, buf, len);
	return -EINVAL;
}

static void dev_set_features(void *dev, uint64_t features)
{
	(void)dev;
	(void)features;
}

static void dev_queue_start(void *dev, struct vu_back *b, unsigned idx, struct virtq *vq)
{
	struct iopart_dev *d = dev;
	int ret = -EINVAL;

	switch (d->e.kind) {
	case IOPART_BLK:
		ret = blk_queue_start(d->priv, idx, vq, &ioq_vu_ops, b);
		break;
	case IOPART_NET:
		ret = net_queue_start(d->priv, idx, vq, &ioq_vu_ops, b);
		break;
	case IOPART_RNG:
		ret = rng_queue_start(d->priv, idx, vq, &ioq_vu_ops, b);
		break;
	case IOPART_CONSOLE:
		ret = vcon_queue_start(d->priv, idx, vq, &ioq_vu_ops, b);
		break;
	}
	if (ret < 0) {
		pr_err("%s: queue %u: cannot start: %s", vu_back_name(b), idx, strerror(-ret));
		vu_back_needs_reset(b, idx);
	}
}

static void dev_queue_kick(void *dev, struct vu_back *b, unsigned idx, struct virtq *vq)
{
	struct iopart_dev *d = dev;

	(void)b;
	(void)vq;
	switch (d->e.kind) {
	case IOPART_BLK:
		blk_queue_kick(d->priv, idx);
		break;
	case IOPART_NET:
		net_queue_kick(d->priv, idx);
		break;
	case IOPART_RNG:
		rng_queue_kick(d->priv, idx);
		break;
	case IOPART_CONSOLE:
		vcon_queue_kick(d->priv, idx);
		break;
	}
}

static void dev_queue_stop_idx(struct iopart_dev *d, unsigned idx)
{
	switch (d->e.kind) {
	case IOPART_BLK:
		blk_queue_stop(d->priv, idx);
		break;
	case IOPART_NET:
		net_queue_stop(d->priv, idx);
		break;
	case IOPART_RNG:
		rng_queue_stop(d->priv, idx);
		break;
	case IOPART_CONSOLE:
		vcon_queue_stop(d->priv, idx);
		break;
	}
}

static void dev_queue_stop(void *dev, struct vu_back *b, unsigned idx, struct virtq *vq)
{
	(void)b;
	(void)vq;
	dev_queue_stop_idx(dev, idx);
}

static void dev_stop_all(struct iopart_dev *d)
{
	for (unsigned i = 0; i < VU_BACK_MAX_QUEUES; i++)
		dev_queue_stop_idx(d, i);
}

static void dev_disconnected(void *dev, struct vu_back *b)
{
	struct iopart_dev *d = dev;

	pr_info("%s: front end disconnected", vu_back_name(b));
	dev_stop_all(d);
	d->back = NULL;
	if (d->on_disconnect)
		d->on_disconnect(d);
}

const struct vu_dev_ops iopart_vu_ops = {
	.features = dev_features,
	.num_queues = dev_num_queues,
	.get_config = dev_get_config,
	.set_config = dev_set_config,
	.set_features = dev_set_features,
	.queue_start = dev_queue_start,
	.queue_kick = dev_queue_kick,
	.queue_stop = dev_queue_stop,
	.disconnected = dev_disconnected,
};

int iopart_dev_open(struct iopart_dev *d, const struct iopart_export *e, struct event_base *base,
		    char *err, size_t errlen)
{
	int ret = -EINVAL;

	memset(d, 0, sizeof(*d));
	d->e = *e;
	switch (e->kind) {
	case IOPART_BLK:
		ret = blk_open((struct blk_dev **)&d->priv, e, base, err, errlen);
		break;
	case IOPART_NET:
		ret = net_open((struct net_dev **)&d->priv, e, base, err, errlen);
		break;
	case IOPART_RNG:
		ret = rng_open((struct rng_dev **)&d->priv, base);
		if (ret < 0)
			snprintf(err, errlen, "rng: %s", strerror(-ret));
		break;
	case IOPART_CONSOLE:
		ret = vcon_open((struct vcon_dev **)&d->priv, e, base, err, errlen);
		break;
	}
	return ret;
}

/* Logs name the channel by its socket, or (in-process) by what it serves. */
static const char *dev_label(const struct iopart_dev *d)
{
	if (d->e.socket[0])
		return d->e.socket;
	switch (d->e.kind) {
	case IOPART_NET:
		return d->e.tap;
	case IOPART_CONSOLE:
		return d->e.console == CONSOLE_PTY ? "pty" : d->e.path;
	default:
		return d->e.path;
	}
}

int iopart_dev_serve(struct iopart_dev *d, struct event_base *base, int fd)
{
	char name[160];

	if (d->back) {
		close(fd);
		return -EBUSY;
	}
	snprintf(name, sizeof(name), "%s %.140s", iopart_kind_name(d->e.kind), dev_label(d));
	/* virtio-rng has no config space: without get_config, CONFIG is not offered. */
	d->ops = iopart_vu_ops;
	if (d->e.kind == IOPART_RNG) {
		d->ops.get_config = NULL;
		d->ops.set_config = NULL;
	}
	d->back = vu_back_new(base, fd, &d->ops, d, name); /* owns fd, even on failure */
	if (!d->back)
		return -ENOMEM;
	return 0;
}

void iopart_dev_close(struct iopart_dev *d)
{
	if (d->back) {
		/* Queues first: outstanding I/O finishes while guest memory is still mapped. */
		dev_stop_all(d);
		vu_back_free(d->back);
		d->back = NULL;
	}
	switch (d->e.kind) {
	case IOPART_BLK:
		blk_close(d->priv);
		break;
	case IOPART_NET:
		net_close(d->priv);
		break;
	case IOPART_RNG:
		rng_close(d->priv);
		break;
	case IOPART_CONSOLE:
		vcon_close(d->priv);
		break;
	}
	d->priv = NULL;
}
