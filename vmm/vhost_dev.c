// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "inproc.h"
#include "log.h"
#include "vhost_dev.h"
#include "vhost_user.h"

#define VHOST_RETRY_US	    100000
#define VHOST_RETRY_LOG_SEC 5
#define VHOST_TIMEOUT_MS    15000
#define VHOST_QUIESCE_MS    1000 /* an old back end still answering, on a move */

static bool vhost_has_proto(const struct vhost_dev *d, unsigned bit)
{
	return d->f.protocol_features & (1ULL << bit);
}

/* ---- the data path: memory table, in-flight area, rings ---------------------- */

int vhost_dev_set_mem(struct vhost_dev *d, struct vu_front *f)
{
	struct vu_mem_region r[GMEM_MAX_REGIONS];
	const struct gmem *m = d->mem;

	for (unsigned i = 0; i < m->nr_regions; i++)
		r[i] = (struct vu_mem_region){
			.gpa = m->regions[i].gpa,
			.size = m->regions[i].size,
			.uaddr = (uint64_t)(uintptr_t)(m->host + m->regions[i].offset),
			.mmap_offset = m->regions[i].offset,
			.fd = m->fd,
		};
	return vu_front_set_mem_table(f, r, m->nr_regions);
}

static uint16_t vhost_queue_size(const struct vhost_dev *d)
{
	uint16_t n = 0;

	for (unsigned i = 0; i < d->nq; i++)
		if (d->q[i].enabled && d->q[i].size > n)
			n = d->q[i].size;
	return n;
}

/*
 * A fresh area when the driver starts the device; the saved one when a
 * back end comes back, so that it resubmits what was in flight.
 */
static int vhost_set_inflight(struct vhost_dev *d, bool reconnect)
{
	int err;

	if (!vhost_has_proto(d, VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD))
		return 0;
	if (!reconnect || !d->have_inflight || d->inflight_stale) {
		if (d->have_inflight)
			close(d->inflight.fd);
		d->have_inflight = false;
		err = vu_front_get_inflight(&d->f, (uint16_t)d->nq, vhost_queue_size(d),
					    &d->inflight);
		if (err)
			return err;
		d->have_inflight = true;
		d->inflight_stale = false;
		/* ultravisord keeps a copy, for a back end it moves the channel to. */
		if (d->on_inflight)
			d->on_inflight(d->inflight_ctx, d->channel, d->inflight.fd);
	}
	return vu_front_set_inflight(&d->f, &d->inflight);
}

static int vhost_set_ring(struct vhost_dev *d, unsigned i, bool reconnect)
{
	struct vpci_queue *q = &d->q[i];
	struct vu_vring v = {
		.num = q->size,
		.desc_uaddr = (uint64_t)(uintptr_t)q->desc_hva,
		.avail_uaddr = (uint64_t)(uintptr_t)q->avail_hva,
		.used_uaddr = (uint64_t)(uintptr_t)q->used_hva,
		.kick_fd = q->kick_fd,
		.call_fd = q->call_fd,
	};
	int err;

	/* A new back end goes on from what the guest has seen completed. */
	if (reconnect)
		v.base = __atomic_load_n((uint16_t *)q->used_hva + 1, __ATOMIC_ACQUIRE);
	err = vu_front_vring_setup(&d->f, i, &v);
	if (!err && (d->f.features & (1ULL << VHOST_USER_F_PROTOCOL_FEATURES)))
		err = vu_front_vring_enable(&d->f, i, true);
	return err;
}

/* Called with d->lock held and the back end connected. */
static int vhost_setup(struct vhost_dev *d, bool reconnect)
{
	uint64_t f = d->features | (d->f.features & (1ULL << VHOST_USER_F_PROTOCOL_FEATURES));
	int err;

	err = vu_front_set_features(&d->f, f);
	/* A standby taking over has had the memory table since it came. */
	if (!err && !d->mem_sent)
		err = vhost_dev_set_mem(d, &d->f);
	d->mem_sent = false;
	if (!err)
		err = vhost_set_inflight(d, reconnect);
	for (unsigned i = 0; !err && i < d->nq; i++)
		if (d->q[i].enabled)
			err = vhost_set_ring(d, i, reconnect);
	if (err)
		pr_warn("%s: cannot start the back end: %s", d->name, d->f.err);
	return err;
}

/* ---- the transport's back-end ops ------------------------------------------------ */

static int vhost_get_config(void *be, uint32_t off, void *buf, uint32_t len)
{
	struct vhost_dev *d = be;

	/* While the back end is away the driver sees the last known values. */
	pthread_mutex_lock(&d->lock);
	if (d->connected && vhost_has_proto(d, VHOST_USER_PROTOCOL_F_CONFIG) &&
	    vu_front_get_config(&d->f, off, d->config + off, len))
		pr_debug("%s: GET_CONFIG: %s", d->name, d->f.err);
	memcpy(buf, d->config + off, len);
	pthread_mutex_unlock(&d->lock);
	return 0;
}

static int vhost_set_config(void *be, uint32_t off, const void *buf, uint32_t len)
{
	struct vhost_dev *d = be;
	int err = -ENOTCONN;

	pthread_mutex_lock(&d->lock);
	if (d->connected && vhost_has_proto(d, VHOST_USER_PROTOCOL_F_CONFIG))
		err = vu_front_set_config(&d->f, off, buf, len);
	pthread_mutex_unlock(&d->lock);
	return err;
}

/*
 * A request that failed for want of a peer, or left the stream out of step,
 * ends the connection: the event loop then sees it close and recovers.
 */
static bool vhost_conn_error(struct vhost_dev *d, int err)
{
	if (err != -ETIMEDOUT && err != -EPROTO && err != -EPIPE && err != -ECONNRESET &&
	    err != -ENOTCONN)
		return false;
	if (d->f.fd >= 0)
		shutdown(d->f.fd, SHUT_RDWR);
	return true;
}

static int vhost_start(void *be, uint64_t features, struct vpci_queue *q, unsigned nq)
{
	struct vhost_dev *d = be;
	int err = 0;

	pthread_mutex_lock(&d->lock);
	d->features = features;
	d->q = q;
	d->nq = nq;
	/* Requests from before this start are not to be resubmitted, by any back end. */
	d->inflight_stale = true;
	if (d->gone)
		err = -ENOTCONN;
	else if (d->connected) /* else the reconnection will start it */
		err = vhost_setup(d, false);
	/* In another process, a lost back end is waited for, not an error. */
	if (err && !d->thread && vhost_conn_error(d, err))
		err = 0;
	d->running = !err;
	pthread_mutex_unlock(&d->lock);
	return err;
}

static void vhost_stop(void *be, struct vpci_queue *q, unsigned nq)
{
	struct vhost_dev *d = be;
	uint16_t base;
	int err;

	pthread_mutex_lock(&d->lock);
	for (unsigned i = 0; d->connected && i < nq; i++)
		if (q[i].enabled && (err = vu_front_vring_stop(&d->f, i, &base))) {
			pr_debug("%s: GET_VRING_BASE %u: %s", d->name, i, d->f.err);
			if (vhost_conn_error(d, err))
				break;
		}
	d->running = false;
	pthread_mutex_unlock(&d->lock);
}

static const struct vpci_backend_ops vhost_be_ops = {
	.get_config = vhost_get_config,
	.set_config = vhost_set_config,
	.start = vhost_start,
	.stop = vhost_stop,
};

/* ---- connection, loss and reconnection --------------------------------------------- */

static void vhost_on_sock(evutil_socket_t fd, short what, void *arg);

static int vhost_watch(struct vhost_dev *d, struct event_base *base)
{
	d->sock_ev = event_new(base, d->f.fd, EV_READ | EV_PERSIST, vhost_on_sock, d);
	if (!d->sock_ev || event_add(d->sock_ev, NULL))
		return -ENOMEM;
	return 0;
}

static void vhost_retry_later(struct vhost_dev *d)
{
	const struct timeval tv = {0, VHOST_RETRY_US};

	evtimer_add(d->retry_ev, &tv);
}

static void vhost_drop(struct vhost_dev *d)
{
	if (d->sock_ev)
		event_free(d->sock_ev);
	d->sock_ev = NULL;
	vu_front_close(&d->f);
	d->connected = false;
}

/* Called with d->lock held; returns whether the guest must be told. */
static bool vhost_lost(struct vhost_dev *d)
{
	vhost_drop(d);
	if (d->thread) {
		pr_err("%s: the in-process back end stopped", d->name);
		d->gone = true;
		return true;
	}
	/* A channel ultravisord made has no path to go back to: a standby, or a move. */
	if (d->adopted && vhost_standby_promote(d))
		return false;
	if (d->adopted) {
		pr_warn("%s: its back end went away; the guest waits until ultravisord moves "
			"channel %d to another",
			d->name, d->channel);
		return false;
	}
	pr_warn("%s: back end on %s went away; the guest waits while uvmm reconnects", d->name,
		d->socket);
	d->retries = 0;
	d->last_retry_log = time(NULL);
	vhost_retry_later(d);
	return false;
}

/*
 * The front socket carries only replies to our requests, read under d->lock;
 * anything readable while we hold the lock is the end of the connection or a
 * broken peer.
 */
int vhost_sock_peek(int fd)
{
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

	if (n > 0)
		return 1;
	return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) ? -1 : 0;
}

static void vhost_on_sock(evutil_socket_t fd, short what, void *arg)
{
	struct vhost_dev *d = arg;
	bool tell = false;
	int st;

	(void)what;
	pthread_mutex_lock(&d->lock);
	st = vhost_sock_peek(fd);
	if (d->connected && fd == d->f.fd && st) {
		if (st > 0)
			pr_warn("%s: unexpected message from the back end", d->name);
		tell = vhost_lost(d);
	}
	pthread_mutex_unlock(&d->lock);
	if (tell)
		virtio_pci_needs_reset(&d->vp);
}

int vhost_dev_take(struct vhost_dev *d)
{
	int err = 0;

	if (d->running)
		err = vhost_setup(d, true);
	if (!err)
		err = vhost_watch(d, event_get_base(d->retry_ev));
	if (err) {
		if (d->sock_ev)
			event_free(d->sock_ev);
		d->sock_ev = NULL;
		return err;
	}
	d->connected = true;
	return 0;
}

/*
 * Called with d->lock held and d->f on a new connection: the handshake, and
 * when the driver runs the device, the replay of its state (vhost_setup).
 */
static int vhost_resume(struct vhost_dev *d)
{
	int err = vu_front_handshake(&d->f);

	return err ? err : vhost_dev_take(d);
}

static void vhost_on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct vhost_dev *d = arg;
	int err;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&d->lock);
	d->retries++;
	err = vu_front_connect(&d->f, d->socket);
	if (!err)
		err = vhost_resume(d);
	if (err) {
		if (time(NULL) - d->last_retry_log >= VHOST_RETRY_LOG_SEC) {
			pr_warn("%s: still reconnecting to %s (%u tries): %s", d->name, d->socket,
				d->retries, d->f.err);
			d->last_retry_log = time(NULL);
		}
		vu_front_close(&d->f);
		vhost_retry_later(d);
	} else {
		pr_info("%s: reconnected to %s after %u tries", d->name, d->socket, d->retries);
	}
	pthread_mutex_unlock(&d->lock);
}

/*
 * An old back end that still answers (a planned move) stops its rings before
 * the new one starts, so the two never serve a ring at once; what it had in
 * flight stays in the in-flight area for the new one. A dead one fails at once.
 */
static void vhost_quiesce(struct vhost_dev *d)
{
	int timeout = d->f.timeout_ms;
	uint16_t base;

	d->f.timeout_ms = VHOST_QUIESCE_MS;
	for (unsigned i = 0; d->running && i < d->nq; i++)
		if (d->q[i].enabled && vu_front_vring_stop(&d->f, i, &base))
			break;
	d->f.timeout_ms = timeout;
}

int vhost_dev_move(struct vhost_dev *d, int fd)
{
	int err;

	if (d->thread || !d->retry_ev) {
		close(fd);
		return -EINVAL;
	}
	pthread_mutex_lock(&d->lock);
	evtimer_del(d->retry_ev);
	if (d->connected)
		vhost_quiesce(d);
	vhost_drop(d);
	/* ultravisord forgot the standby when it moved the channel: so do we. */
	vhost_standby_drop(d, NULL);
	d->adopted = true;
	vu_front_attach(&d->f, fd);
	err = vhost_resume(d);
	if (err) {
		pr_err("%s: channel %d's new back end failed to start: %s; waiting for another "
		       "move",
		       d->name, d->channel, d->f.err);
		vu_front_close(&d->f);
	} else {
		pr_info("%s: channel %d moved to a new back end", d->name, d->channel);
	}
	pthread_mutex_unlock(&d->lock);
	return err;
}

void vhost_dev_set_inflight_hook(struct vhost_dev *d, void (*fn)(void *ctx, int channel, int fd),
				 void *ctx)
{
	pthread_mutex_lock(&d->lock);
	d->on_inflight = fn;
	d->inflight_ctx = ctx;
	if (fn && d->have_inflight)
		fn(ctx, d->channel, d->inflight.fd);
	pthread_mutex_unlock(&d->lock);
}

/* ---- setup and teardown ---------------------------------------------------------- */

static const char *vhost_opt_name(enum iopart_kind kind)
{
	switch (kind) {
	case IOPART_BLK:
		return "--disk";
	case IOPART_NET:
		return "--net";
	case IOPART_RNG:
		return "--rng";
	case IOPART_CONSOLE:
		break;
	}
	return "--virtio-console";
}

/* Connects, adopts an inherited socket, or starts the in-process back end. */
static int vhost_dev_link(struct vhost_dev *d, const struct iopart_export *e,
			  const struct vm_dev_link *l, char *err, size_t errlen)
{
	char why[256];
	int fd, ret;

	if (l->fd >= 0) {
		fcntl(l->fd, F_SETFD, FD_CLOEXEC);
		vu_front_attach(&d->f, l->fd);
		d->adopted = true;
	} else if (d->socket[0]) {
		ret = vu_front_connect(&d->f, d->socket);
		if (ret) {
			snprintf(err, errlen, "%s: cannot connect to vhost-user socket %s: %s",
				 d->name, d->socket, d->f.err);
			return ret;
		}
	} else {
		ret = iopart_thread_start(&d->thread, e, &fd, why, sizeof(why));
		if (ret) {
			snprintf(err, errlen, "%s: %s", vhost_opt_name(e->kind), why);
			return ret;
		}
		vu_front_attach(&d->f, fd);
	}
	return 0;
}

int vhost_dev_open(struct vhost_dev **out, const struct iopart_export *e,
		   const struct vm_dev_link *l, unsigned index, char *err, size_t errlen)
{
	struct vhost_dev *d = calloc(1, sizeof(*d));
	int ret;

	*out = d;
	if (!d) {
		if (l->fd >= 0)
			close(l->fd);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	pthread_mutex_init(&d->lock, NULL);
	vu_front_init(&d->f);
	vu_front_init(&d->sf);
	/* A slow back end pauses a vCPU; one that never answers is given up on. */
	d->f.timeout_ms = VHOST_TIMEOUT_MS;
	d->info = virtio_dev_info(e->kind);
	d->channel = -1;
	if (!d->info) {
		if (l->fd >= 0)
			close(l->fd);
		snprintf(err, errlen, "device %u: unknown kind", index);
		return -EINVAL;
	}
	snprintf(d->name, sizeof(d->name), "%s%u", d->info->name, index);
	memcpy(d->socket, e->socket, sizeof(d->socket));
	d->channel = l->channel;
	ret = vhost_dev_link(d, e, l, err, errlen);
	if (ret)
		return ret;
	ret = vu_front_handshake(&d->f);
	if (ret) {
		snprintf(err, errlen, "%s: vhost-user handshake failed: %s", d->name, d->f.err);
		return ret;
	}
	d->connected = true;
	return 0;
}

int vhost_dev_realize(struct vhost_dev *d, const struct gmem *mem, struct event_base *base,
		      const struct vpci_host_ops *host, void *host_ctx, struct pci_bus *pb,
		      char *err, size_t errlen)
{
	uint64_t features = d->f.features & ~d->info->hidden;
	struct virtio_pci_cfg c = {
		.device_type = d->info->type,
		.class_code = d->info->class_code,
		.features = features,
		.queue_size = d->info->queue_size,
		.config_size = d->info->config_size,
		.mem = mem,
		.host = host,
		.host_ctx = host_ctx,
		.be = &vhost_be_ops,
		.be_ctx = d,
	};
	int ret;

	d->mem = mem;
	if (c.config_size && vhost_has_proto(d, VHOST_USER_PROTOCOL_F_CONFIG) &&
	    vu_front_get_config(&d->f, 0, d->config, c.config_size))
		pr_warn("%s: GET_CONFIG: %s", d->name, d->f.err);
	c.num_queues = virtio_dev_queues(d->info, features, d->config, d->f.max_queues);
	d->retry_ev = evtimer_new(base, vhost_on_retry, d);
	ret = d->retry_ev ? vhost_watch(d, base) : -ENOMEM;
	if (!ret)
		ret = virtio_pci_init(&d->vp, &c);
	d->realized = !ret;
	if (!ret) {
		ret = pci_bus_add(pb, &d->vp.pci);
		if (ret >= 0) {
			pr_debug("%s at PCI 00:%02x.0, %u queues", d->name, ret, c.num_queues);
			return 0;
		}
	}
	snprintf(err, errlen, "%s: cannot create the device: %s", d->name, strerror(-ret));
	return ret;
}

void vhost_dev_destroy(struct vhost_dev *d)
{
	if (!d)
		return;
	if (d->realized)
		virtio_pci_exit(&d->vp);
	if (d->sock_ev)
		event_free(d->sock_ev);
	if (d->retry_ev)
		event_free(d->retry_ev);
	vhost_standby_drop(d, NULL);
	vu_front_close(&d->f);
	iopart_thread_stop(d->thread);
	if (d->have_inflight)
		close(d->inflight.fd);
	pthread_mutex_destroy(&d->lock);
	free(d);
}
