// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dev.h"
#include "kind.h"
#include "log.h"

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

	return d->kind->features(d->priv);
}

static uint16_t dev_num_queues(void *dev)
{
	struct iopart_dev *d = dev;

	return d->kind->num_queues(d->priv);
}

static int dev_get_config(void *dev, uint32_t off, void *buf, uint32_t len)
{
	struct iopart_dev *d = dev;

	return d->kind->get_config(d->priv, off, buf, len);
}

static int dev_set_config(void *dev, uint32_t off, const void *buf, uint32_t len)
{
	struct iopart_dev *d = dev;

	/* Nothing is writable (blk has no CONFIG_WCE, net no ctrl MAC): the write is invalid. */
	if (!d->kind->set_config)
		return -EINVAL;
	return d->kind->set_config(d->priv, off, buf, len);
}

static void dev_set_features(void *dev, uint64_t features)
{
	(void)dev;
	(void)features;
}

/* A standby taking over: the device as the old back end left it, opened again. */
static int dev_take_over(struct iopart_dev *d, struct vu_back *b)
{
	void *fresh = NULL;
	char why[256] = "";
	int ret = d->kind->open(&fresh, &d->e, d->base, why, sizeof(why));

	if (ret < 0) {
		pr_err("%s: cannot open the device to take over: %s", vu_back_name(b),
		       *why ? why : strerror(-ret));
		return ret;
	}
	d->kind->close(d->priv);
	d->priv = fresh;
	d->standby = false;
	pr_info("%s: standby taking over; device opened again", vu_back_name(b));
	return 0;
}

static void dev_queue_start(void *dev, struct vu_back *b, unsigned idx, struct virtq *vq)
{
	struct iopart_dev *d = dev;
	int ret = d->standby ? dev_take_over(d, b) : 0;

	if (!ret)
		ret = d->kind->queue_start(d->priv, idx, vq, &ioq_vu_ops, b);

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
	d->kind->queue_kick(d->priv, idx);
}

static void dev_queue_stop(void *dev, struct vu_back *b, unsigned idx, struct virtq *vq)
{
	struct iopart_dev *d = dev;

	(void)b;
	(void)vq;
	d->kind->queue_stop(d->priv, idx);
}

static void dev_stop_all(struct iopart_dev *d)
{
	for (unsigned i = 0; i < VU_BACK_MAX_QUEUES; i++)
		d->kind->queue_stop(d->priv, i);
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

/*
 * Every connection starts from these, less the hooks its kind lacks
 * (iopart_dev_serve), so that these call only hooks the kind has.
 */
static const struct vu_dev_ops dev_vu_ops = {
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

/* By enum iopart_kind: the one place that knows every kind. */
static const struct iopart_kind_ops *const dev_kinds[] = {
	[IOPART_BLK] = &blk_kind_ops,
	[IOPART_NET] = &net_kind_ops,
	[IOPART_RNG] = &rng_kind_ops,
	[IOPART_CONSOLE] = &vcon_kind_ops,
};

int iopart_dev_open(struct iopart_dev *d, const struct iopart_export *e, struct event_base *base,
		    char *err, size_t errlen)
{
	memset(d, 0, sizeof(*d));
	d->e = *e;
	if ((unsigned)e->kind >= sizeof(dev_kinds) / sizeof(dev_kinds[0]) || !dev_kinds[e->kind])
		return -EINVAL;
	d->kind = dev_kinds[e->kind];
	d->base = base;
	return d->kind->open(&d->priv, e, base, err, errlen);
}

bool iopart_kind_shared(enum iopart_kind kind)
{
	return (unsigned)kind < sizeof(dev_kinds) / sizeof(dev_kinds[0]) && dev_kinds[kind] &&
	       dev_kinds[kind]->shared_open;
}

int iopart_dev_standby(struct iopart_dev *d)
{
	if (!d->kind->shared_open)
		return -EOPNOTSUPP;
	d->standby = true;
	return 0;
}

/* Logs name the channel by its label, its socket, or (in-process) by what it serves. */
static const char *dev_label(const struct iopart_dev *d)
{
	if (d->label)
		return d->label;
	if (d->e.socket[0])
		return d->e.socket;
	return d->kind->label ? d->kind->label(&d->e) : d->e.path;
}

int iopart_dev_serve(struct iopart_dev *d, struct event_base *base, int fd)
{
	char name[160];

	if (d->back) {
		close(fd);
		return -EBUSY;
	}
	snprintf(name, sizeof(name), "%s %.140s", iopart_kind_name(d->e.kind), dev_label(d));
	/*
	 * What the kind lacks, the connection lacks: the vu_back's defaults then
	 * mean the same (no features, one queue), and a device without config
	 * space must not be offered CONFIG, which only a NULL get_config avoids.
	 */
	d->ops = dev_vu_ops;
	if (!d->kind->features)
		d->ops.features = NULL;
	if (!d->kind->num_queues)
		d->ops.num_queues = NULL;
	if (!d->kind->get_config) {
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
	if (d->kind)
		d->kind->close(d->priv);
	d->priv = NULL;
}
