// SPDX-License-Identifier: GPL-2.0
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <unistd.h>

#include "iov.h"
#include "kind.h"
#include "log.h"
#include "net.h"

struct net_queue {
	const struct ioq_ops *ops; /* NULL: stopped */
	void *ctx;
	struct event *more; /* resumes a turn that ran out of budget */
};

struct net_dev {
	int tap;
	char ifname[IFNAMSIZ];
	uint8_t mac[6];
	struct event *tap_ev; /* the tap is readable; armed while rx has buffers */
	bool tap_armed;
	struct net_queue q[2];
	/*
	 * A frame read from the tap waiting for an rx buffer. Reading first, then
	 * popping, means a popped buffer is never left without a frame.
	 */
	size_t pending;
	uint8_t frame[NET_FRAME_MAX];
	struct virtq_elem elem;
};

static int net_tap_open(struct net_dev *d, const char *name, char *err, size_t errlen)
{
	struct ifreq ifr = {.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR};
	int hdr = NET_HDR_LEN;

	d->tap = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (d->tap < 0) {
		snprintf(err, errlen, "/dev/net/tun: %s", strerror(errno));
		return -errno;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(d->tap, TUNSETIFF, &ifr) < 0) {
		snprintf(err, errlen, "tap %s: %s", name, strerror(errno));
		return -errno;
	}
	if (ioctl(d->tap, TUNSETVNETHDRSZ, &hdr) < 0) {
		snprintf(err, errlen, "tap %s: TUNSETVNETHDRSZ: %s", name, strerror(errno));
		return -errno;
	}
	/* No offloads yet: the tap hands us plain frames only. */
	if (ioctl(d->tap, TUNSETOFFLOAD, 0) < 0) {
		snprintf(err, errlen, "tap %s: TUNSETOFFLOAD: %s", name, strerror(errno));
		return -errno;
	}
	snprintf(d->ifname, sizeof(d->ifname), "%s", ifr.ifr_name);
	return 0;
}

static void net_tap_event(evutil_socket_t fd, short what, void *arg);
static void net_more(evutil_socket_t fd, short what, void *arg);

int net_open(struct net_dev **out, const struct iopart_export *e, struct event_base *base,
	     char *err, size_t errlen)
{
	struct net_dev *d = calloc(1, sizeof(*d));
	int ret;

	if (!d) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ret = net_tap_open(d, e->tap, err, errlen);
	if (ret < 0)
		goto err;
	if (e->has_mac) {
		memcpy(d->mac, e->mac, 6);
	} else {
		if (getrandom(d->mac, 6, 0) != 6)
			memset(d->mac, 0x5a, 6);
		d->mac[0] = (d->mac[0] & ~1) | 2; /* unicast, locally administered */
	}
	ret = -ENOMEM;
	snprintf(err, errlen, "out of memory");
	d->tap_ev = event_new(base, d->tap, EV_READ | EV_PERSIST, net_tap_event, d);
	if (!d->tap_ev)
		goto err;
	for (int i = 0; i < 2; i++) {
		d->q[i].more = event_new(base, -1, 0, net_more, d);
		if (!d->q[i].more)
			goto err;
	}
	err[0] = 0;
	*out = d;
	return 0;
err:
	net_close(d);
	return ret;
}

void net_close(struct net_dev *d)
{
	if (!d)
		return;
	for (int i = 0; i < 2; i++)
		if (d->q[i].more)
			event_free(d->q[i].more);
	if (d->tap_ev)
		event_free(d->tap_ev);
	if (d->tap >= 0)
		close(d->tap);
	free(d);
}

uint64_t net_features(struct net_dev *d)
{
	(void)d;
	return 1ull << VIRTIO_NET_F_MAC | 1ull << VIRTIO_NET_F_STATUS;
}

int net_get_config(struct net_dev *d, uint32_t off, void *buf, uint32_t len)
{
	struct virtio_net_config c;

	if (off > sizeof(c) || len > sizeof(c) - off)
		return -EINVAL;
	memset(&c, 0, sizeof(c));
	memcpy(c.mac, d->mac, 6);
	c.status = htole16(VIRTIO_NET_S_LINK_UP);
	c.max_virtqueue_pairs = htole16(1);
	memcpy(buf, (uint8_t *)&c + off, len);
	return 0;
}

static void net_tap_arm(struct net_dev *d, bool on)
{
	if (on == d->tap_armed)
		return;
	if (on)
		event_add(d->tap_ev, NULL);
	else
		event_del(d->tap_ev);
	d->tap_armed = on;
}

/* Hands the pending frame to the next rx buffer; false when there is none. */
static bool net_rx_one(struct net_dev *d)
{
	struct net_queue *q = &d->q[NET_RXQ];
	int ret = q->ops->pop(q->ctx, NET_RXQ, &d->elem);
	size_t n;

	if (ret <= 0) {
		if (ret < 0)
			q->ops->needs_reset(q->ctx, NET_RXQ);
		return false;
	}
	/* One buffer per frame (no MRG_RXBUF): num_buffers is 1. */
	d->frame[10] = 1;
	d->frame[11] = 0;
	n = iov_from_buf(d->elem.iov + d->elem.out_num, d->elem.in_num, 0, d->frame, d->pending);
	if (n < d->pending)
		pr_debug("net %s: rx frame of %zu bytes cut to %zu", d->ifname, d->pending, n);
	q->ops->complete(q->ctx, NET_RXQ, d->elem.head, n);
	d->pending = 0;
	return true;
}

static void net_rx(struct net_dev *d)
{
	struct net_queue *q = &d->q[NET_RXQ];
	unsigned budget = NET_KICK_BUDGET;

	if (!q->ops)
		return;
	while (budget--) {
		if (!d->pending) {
			ssize_t n = read(d->tap, d->frame, sizeof(d->frame));

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= NET_HDR_LEN)
				break; /* EAGAIN, or nothing worth delivering */
			d->pending = n;
		}
		if (!net_rx_one(d)) {
			/* No buffer: stop reading the tap until the driver adds some. */
			net_tap_arm(d, false);
			q->ops->notify(q->ctx, NET_RXQ);
			return;
		}
	}
	net_tap_arm(d, true);
	if (budget == (unsigned)-1)
		event_active(q->more, 0, 0);
	q->ops->notify(q->ctx, NET_RXQ);
}

static void net_tx(struct net_dev *d)
{
	struct net_queue *q = &d->q[NET_TXQ];
	unsigned budget = NET_KICK_BUDGET;

	if (!q->ops)
		return;
	while (budget--) {
		int ret = q->ops->pop(q->ctx, NET_TXQ, &d->elem);

		if (ret <= 0) {
			if (ret < 0)
				q->ops->needs_reset(q->ctx, NET_TXQ);
			break;
		}
		/* The header travels with the frame: the tap parses it. */
		if (iov_size(d->elem.iov, d->elem.out_num) > NET_HDR_LEN &&
		    writev(d->tap, d->elem.iov, d->elem.out_num) < 0 && errno != EAGAIN)
			pr_debug("net %s: tx: %s", d->ifname, strerror(errno));
		q->ops->complete(q->ctx, NET_TXQ, d->elem.head, 0);
	}
	if (budget == (unsigned)-1)
		event_active(q->more, 0, 0);
	q->ops->notify(q->ctx, NET_TXQ);
}

static void net_tap_event(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	net_rx(arg);
}

static void net_more(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	net_rx(arg);
	net_tx(arg);
}

int net_queue_start(struct net_dev *d, unsigned idx, struct virtq *vq, const struct ioq_ops *ops,
		    void *ctx)
{
	(void)vq;
	if (idx > NET_TXQ)
		return -EINVAL;
	d->q[idx].ops = ops;
	d->q[idx].ctx = ctx;
	if (idx == NET_RXQ)
		net_tap_arm(d, true);
	return 0;
}

void net_queue_kick(struct net_dev *d, unsigned idx)
{
	if (idx == NET_RXQ)
		net_rx(d);
	else if (idx == NET_TXQ)
		net_tx(d);
}

void net_queue_stop(struct net_dev *d, unsigned idx)
{
	if (idx > NET_TXQ)
		return;
	d->q[idx].ops = NULL;
	event_del(d->q[idx].more);
	if (idx == NET_RXQ)
		net_tap_arm(d, false);
}

/* net as dev.c serves it (kind.h): the functions above, with priv as the struct net_dev. */
static int net_kind_open(void **priv, const struct iopart_export *e, struct event_base *base,
			 char *err, size_t errlen)
{
	struct net_dev *d;
	int ret = net_open(&d, e, base, err, errlen);

	if (!ret)
		*priv = d;
	return ret;
}

static void net_kind_close(void *priv)
{
	net_close(priv);
}

static uint64_t net_kind_features(void *priv)
{
	return net_features(priv);
}

static uint16_t net_kind_num_queues(void *priv)
{
	(void)priv;
	return NET_TXQ + 1; /* receiveq1 and transmitq1, no MQ */
}

static int net_kind_get_config(void *priv, uint32_t off, void *buf, uint32_t len)
{
	return net_get_config(priv, off, buf, len);
}

static int net_kind_queue_start(void *priv, unsigned idx, struct virtq *vq,
				const struct ioq_ops *ops, void *ctx)
{
	return net_queue_start(priv, idx, vq, ops, ctx);
}

static void net_kind_queue_kick(void *priv, unsigned idx)
{
	net_queue_kick(priv, idx);
}

static void net_kind_queue_stop(void *priv, unsigned idx)
{
	net_queue_stop(priv, idx);
}

/* An in-process channel is named by its tap, having no image path. */
static const char *net_kind_label(const struct iopart_export *e)
{
	return e->tap;
}

/* No set_config: without the control queue the MAC is not the driver's to write. */
const struct iopart_kind_ops net_kind_ops = {
	.open = net_kind_open,
	.close = net_kind_close,
	.features = net_kind_features,
	.num_queues = net_kind_num_queues,
	.get_config = net_kind_get_config,
	.queue_start = net_kind_queue_start,
	.queue_kick = net_kind_queue_kick,
	.queue_stop = net_kind_queue_stop,
	.label = net_kind_label,
};
