// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "vhost_user.h"
#include "vu_back_int.h"

/* How long a reply may wait for room in the socket before we give up on the peer. */
#define VU_BACK_SEND_MS 1000

#define BIT(n) (1ULL << (n))

static const uint64_t vu_back_protocol =
	BIT(VHOST_USER_PROTOCOL_F_MQ) | BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK) |
	BIT(VHOST_USER_PROTOCOL_F_BACKEND_REQ) | BIT(VHOST_USER_PROTOCOL_F_CONFIG) |
	BIT(VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD) | BIT(VHOST_USER_PROTOCOL_F_RESET_DEVICE) |
	BIT(VHOST_USER_PROTOCOL_F_STATUS);

static uint64_t vu_back_offered(struct vu_back *b)
{
	uint64_t f = b->ops->features ? b->ops->features(b->dev) : 0;

	return f | BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_F_EVENT_IDX) | BIT(VIRTIO_F_INDIRECT_DESC) |
	       BIT(VHOST_USER_F_PROTOCOL_FEATURES);
}

/* A device without config space does not offer CONFIG (QEMU warns about it). */
static uint64_t vu_back_protocol_offered(const struct vu_back *b)
{
	uint64_t p = vu_back_protocol;

	if (!b->ops->get_config)
		p &= ~BIT(VHOST_USER_PROTOCOL_F_CONFIG);
	return p;
}

void vu_back_send(struct vu_back *b, struct vhost_user_msg *r)
{
	r->hdr.flags = VHOST_USER_VERSION | VHOST_USER_REPLY;
	b->replied = true;
	if (vu_msg_send(b->fd, r, VU_BACK_SEND_MS) < 0)
		b->conn_err = true;
}

static void vu_back_reply_u64(struct vu_back *b, uint32_t request, uint64_t v)
{
	struct vhost_user_msg r;

	vu_msg_init(&r, request, sizeof(uint64_t));
	r.payload.u64 = v;
	vu_back_send(b, &r);
}

/* ---- queues ---- */

/* Without protocol features a ring is enabled from the start. */
static bool vu_queue_enabled(struct vu_back *b, struct vu_queue *q)
{
	return q->enabled || !(b->features & BIT(VHOST_USER_F_PROTOCOL_FEATURES));
}

static void vu_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vu_queue *q = arg;
	struct vu_back *b = q->b;
	uint64_t v;

	(void)what;
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	if (q->started && vu_queue_enabled(b, q) && b->ops->queue_kick)
		b->ops->queue_kick(b->dev, b, q->idx, &q->vq);
}

static void vu_queue_stop(struct vu_back *b, unsigned idx)
{
	struct vu_queue *q = &b->q[idx];

	if (!q->started)
		return;
	/* What was pushed is the driver's: it hears of it before the ring stops. */
	vu_back_notify(b, idx);
	/* First, so that completions from the device's queue_stop are dropped. */
	q->started = false;
	if (q->kick_ev) {
		event_free(q->kick_ev);
		q->kick_ev = NULL;
	}
	q->base = q->vq.last_avail;
	free(q->resubmit);
	q->resubmit = NULL;
	q->nresubmit = q->next_resubmit = 0;
	if (b->ops->queue_stop)
		b->ops->queue_stop(b->dev, b, idx, &q->vq);
}

static void vu_close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void vu_queue_clear(struct vu_back *b, unsigned idx)
{
	struct vu_queue *q = &b->q[idx];

	vu_queue_stop(b, idx);
	vu_close_fd(&q->kick_fd);
	vu_close_fd(&q->call_fd);
	vu_close_fd(&q->err_fd);
	memset(q, 0, sizeof(*q));
	q->b = b;
	q->idx = idx;
	q->kick_fd = q->call_fd = q->err_fd = -1;
}

static void vu_back_config_changed(struct vu_back *b)
{
	struct vhost_user_msg m;

	if (b->backend_fd < 0 || !(b->protocol & BIT(VHOST_USER_PROTOCOL_F_BACKEND_REQ)))
		return;
	vu_msg_init(&m, VHOST_USER_BACKEND_CONFIG_CHANGE_MSG, 0);
	if (vu_msg_send(b->backend_fd, &m, 100) < 0)
		pr_warn("%s: could not tell the front end of the change", b->name);
}

static void vu_queue_break(struct vu_back *b, unsigned idx, const char *why)
{
	struct vu_queue *q = &b->q[idx];

	if (q->broken)
		return;
	pr_err("%s: queue %u: %s; the device needs a reset", b->name, idx, why);
	q->broken = true;
	vu_queue_stop(b, idx);
	b->status |= VIRTIO_STATUS_NEEDS_RESET;
	if (q->err_fd >= 0 && eventfd_write(q->err_fd, 1) < 0)
		pr_warn("%s: queue %u: error eventfd: %s", b->name, idx, strerror(errno));
	vu_back_config_changed(b);
}

/* Attaches the in-flight area (if any) and lists what a previous back end left. */
static void vu_queue_attach_inflight(struct vu_back *b, struct vu_queue *q)
{
	struct virtq_inflight *area;

	if (!b->inflight || q->idx >= b->inflight_nq)
		return;
	if (q->num > b->inflight_qs) {
		pr_warn("%s: queue %u: %u entries, in-flight area for %u; not tracked", b->name,
			q->idx, q->num, b->inflight_qs);
		return;
	}
	area = (void *)(b->inflight + q->idx * virtq_inflight_size(b->inflight_qs));
	if (virtq_inflight_attach(&q->vq, area, false)) {
		pr_warn("%s: queue %u: in-flight area does not fit the queue; not tracked", b->name,
			q->idx);
		return;
	}
	q->resubmit = calloc(q->num, sizeof(*q->resubmit));
	if (q->resubmit)
		q->nresubmit = virtq_inflight_resubmit(&q->vq, q->resubmit, q->num);
	if (q->nresubmit)
		pr_info("%s: queue %u: resubmitting %u requests left in flight", b->name, q->idx,
			q->nresubmit);
}

static int vu_queue_watch_kick(struct vu_back *b, struct vu_queue *q)
{
	if (q->kick_ev) {
		event_free(q->kick_ev);
		q->kick_ev = NULL;
	}
	if (q->kick_fd < 0)
		return 0;
	q->kick_ev = event_new(b->base, q->kick_fd, EV_READ | EV_PERSIST, vu_kick_cb, q);
	if (!q->kick_ev || event_add(q->kick_ev, NULL))
		return -ENOMEM;
	return 0;
}

/* Starts a ring once it is complete: size, addresses, kick, memory, enabled. */
static void vu_queue_try_start(struct vu_back *b, unsigned idx)
{
	struct vu_queue *q = &b->q[idx];
	void *desc, *avail, *used;

	if (q->started || q->broken || !q->num || !q->addr_set || !q->kick_set || !b->mem.nr ||
	    !vu_queue_enabled(b, q))
		return;
	desc = chan_mem_uva(&b->mem, q->addr.desc_uaddr, virtq_desc_size(q->num));
	avail = chan_mem_uva(&b->mem, q->addr.avail_uaddr, virtq_avail_size(q->num));
	used = chan_mem_uva(&b->mem, q->addr.used_uaddr, virtq_used_size(q->num));
	if (virtq_setup_host(&q->vq, &b->mem, q->num, desc, avail, used, b->features, q->base)) {
		vu_queue_break(b, idx, "rings outside guest memory or misaligned");
		return;
	}
	vu_queue_attach_inflight(b, q);
	q->told_used = q->vq.used_idx;
	if (vu_queue_watch_kick(b, q)) {
		vu_queue_break(b, idx, "cannot watch the kick eventfd");
		return;
	}
	q->started = true;
	if (b->ops->queue_start)
		b->ops->queue_start(b->dev, b, idx, &q->vq);
	/* Kicks may predate the watch, and resubmitted requests wait. */
	if (q->started && b->ops->queue_kick)
		b->ops->queue_kick(b->dev, b, idx, &q->vq);
}

bool vu_back_any_started(struct vu_back *b)
{
	for (unsigned i = 0; i < b->nq; i++)
		if (b->q[i].started)
			return true;
	return false;
}

static void vu_back_reset(struct vu_back *b)
{
	for (unsigned i = 0; i < VU_BACK_MAX_QUEUES; i++)
		vu_queue_clear(b, i);
	b->status = 0;
}

/* ---- the device API ---- */

int vu_back_pop(struct vu_back *b, unsigned idx, struct virtq_elem *e)
{
	struct vu_queue *q;

	if (idx >= b->nq)
		return 0;
	q = &b->q[idx];
	if (!q->started)
		return q->broken ? -EIO : 0;
	if (q->next_resubmit < q->nresubmit)
		return virtq_pop_head(&q->vq, q->resubmit[q->next_resubmit++], e);
	return virtq_pop(&q->vq, e);
}

void vu_back_notify(struct vu_back *b, unsigned idx)
{
	struct vu_queue *q;

	if (idx >= b->nq)
		return;
	q = &b->q[idx];
	/* Nothing new in the used ring: nothing to tell (without EVENT_IDX too). */
	if (q->vq.used_idx == q->told_used)
		return;
	q->told_used = q->vq.used_idx;
	if (q->started && q->call_fd >= 0 && virtq_need_notify(&q->vq) &&
	    eventfd_write(q->call_fd, 1) < 0)
		pr_warn("%s: queue %u: call eventfd: %s", b->name, idx, strerror(errno));
}

/* Still in the loop iteration that completed them: what the device did not notify. */
static void vu_back_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vu_back *b = arg;

	(void)fd;
	(void)what;
	b->flush_armed = false;
	for (unsigned i = 0; i < b->nq; i++)
		vu_back_notify(b, i);
}

void vu_back_complete(struct vu_back *b, unsigned idx, uint16_t head, uint32_t len)
{
	/* A stopped queue's requests stay in flight for whoever serves it next. */
	if (idx >= b->nq || !b->q[idx].started)
		return;
	virtq_push(&b->q[idx].vq, head, len);
	/*
	 * The interrupt waits for the device's vu_back_notify() after its batch,
	 * or at the latest for the end of this loop iteration: one interrupt for
	 * many completions, and none that wakes the guest (and, on a busy host,
	 * preempts us) while we still have completions to push.
	 */
	if (!b->flush_armed) {
		b->flush_armed = true;
		event_active(b->flush_ev, EV_TIMEOUT, 0);
	}
}

void vu_back_needs_reset(struct vu_back *b, unsigned idx)
{
	if (idx < b->nq)
		vu_queue_break(b, idx, virtq_strerror(b->q[idx].vq.error));
}

const struct chan_mem *vu_back_mem(const struct vu_back *b)
{
	return &b->mem;
}

const char *vu_back_name(const struct vu_back *b)
{
	return b->name;
}

/* ---- requests ---- */

static int vu_back_config(struct vu_back *b, struct vhost_user_msg *m)
{
	struct vhost_user_config *c = &m->payload.config;
	struct vhost_user_msg r;
	int ret;

	if (m->hdr.request == VHOST_USER_SET_CONFIG)
		return b->ops->set_config ? b->ops->set_config(b->dev, c->offset, c->data, c->size)
					  : -ENOTSUP;
	if (!b->ops->get_config)
		return -ENOTSUP;
	vu_msg_init(&r, VHOST_USER_GET_CONFIG, m->hdr.size);
	r.payload.config = *c;
	ret = b->ops->get_config(b->dev, c->offset, r.payload.config.data, c->size);
	if (!ret)
		vu_back_send(b, &r);
	return ret;
}

/* SET_VRING_KICK/CALL/ERR: the new descriptor replaces the old one. */
static int vu_back_vring_fd(struct vu_back *b, struct vhost_user_msg *m, unsigned idx)
{
	struct vu_queue *q = &b->q[idx];
	int fd = vu_msg_take_fd(m, 0);

	switch (m->hdr.request) {
	case VHOST_USER_SET_VRING_CALL:
		vu_close_fd(&q->call_fd);
		q->call_fd = fd;
		return 0;
	case VHOST_USER_SET_VRING_ERR:
		vu_close_fd(&q->err_fd);
		q->err_fd = fd;
		return 0;
	}
	vu_close_fd(&q->kick_fd);
	q->kick_fd = fd; /* -1: the front end polls, we are woken by resubmits only */
	q->kick_set = true;
	if (q->started && vu_queue_watch_kick(b, q))
		vu_queue_break(b, idx, "cannot watch the kick eventfd");
	vu_queue_try_start(b, idx);
	return 0;
}

static int vu_back_vring(struct vu_back *b, struct vhost_user_msg *m)
{
	const struct vhost_user_vring_state *s = &m->payload.state;
	struct vhost_user_msg r;
	struct vu_queue *q;
	unsigned idx;

	if (m->hdr.request == VHOST_USER_SET_VRING_ADDR)
		idx = m->payload.addr.index;
	else if (m->hdr.request >= VHOST_USER_SET_VRING_KICK &&
		 m->hdr.request <= VHOST_USER_SET_VRING_ERR)
		idx = m->payload.u64 & VHOST_USER_VRING_IDX_MASK;
	else
		idx = s->index;
	if (idx >= b->nq)
		return -ERANGE;
	q = &b->q[idx];
	switch (m->hdr.request) {
	case VHOST_USER_SET_VRING_NUM:
		if (q->started)
			return -EBUSY;
		q->num = s->num;
		q->broken = false; /* set up again */
		return 0;
	case VHOST_USER_SET_VRING_ADDR:
		if (q->started)
			return -EBUSY;
		q->addr = m->payload.addr; /* the log address is ignored: no LOG_ALL */
		q->addr_set = true;
		return 0;
	case VHOST_USER_SET_VRING_BASE:
		if (q->started)
			return -EBUSY;
		q->base = (uint16_t)s->num;
		return 0;
	case VHOST_USER_GET_VRING_BASE:
		vu_queue_stop(b, idx);
		/* Ring stopped: a restart needs a fresh kick (and call) descriptor. */
		vu_close_fd(&q->kick_fd);
		vu_close_fd(&q->call_fd);
		q->kick_set = false;
		vu_msg_init(&r, VHOST_USER_GET_VRING_BASE, sizeof(*s));
		r.payload.state = (struct vhost_user_vring_state){idx, q->base};
		vu_back_send(b, &r);
		return 0;
	case VHOST_USER_SET_VRING_ENABLE:
		q->enabled = s->num;
		if (q->started && q->enabled && b->ops->queue_kick)
			b->ops->queue_kick(b->dev, b, idx, &q->vq);
		vu_queue_try_start(b, idx);
		return 0;
	}
	return vu_back_vring_fd(b, m, idx);
}

static int vu_back_set_features(struct vu_back *b, uint64_t f)
{
	if (f & ~vu_back_offered(b))
		return -EINVAL;
	b->features = f;
	if (b->ops->set_features)
		b->ops->set_features(b->dev, f & ~BIT(VHOST_USER_F_PROTOCOL_FEATURES));
	return 0;
}

static int vu_back_handle(struct vu_back *b, struct vhost_user_msg *m)
{
	uint64_t v = m->payload.u64;
	int fd;

	switch (m->hdr.request) {
	case VHOST_USER_GET_FEATURES:
		vu_back_reply_u64(b, m->hdr.request, vu_back_offered(b));
		return 0;
	case VHOST_USER_SET_FEATURES:
		return vu_back_set_features(b, v);
	case VHOST_USER_GET_PROTOCOL_FEATURES:
		vu_back_reply_u64(b, m->hdr.request, vu_back_protocol_offered(b));
		return 0;
	case VHOST_USER_SET_PROTOCOL_FEATURES:
		if (v & ~vu_back_protocol_offered(b))
			return -EINVAL;
		b->protocol = v;
		return 0;
	case VHOST_USER_SET_OWNER:
		return 0;
	case VHOST_USER_RESET_OWNER:
	case VHOST_USER_RESET_DEVICE:
		vu_back_reset(b);
		return 0;
	case VHOST_USER_GET_QUEUE_NUM:
		vu_back_reply_u64(b, m->hdr.request, b->nq);
		return 0;
	case VHOST_USER_SET_MEM_TABLE:
		return vu_back_set_mem_table(b, m);
	case VHOST_USER_GET_CONFIG:
	case VHOST_USER_SET_CONFIG:
		return vu_back_config(b, m);
	case VHOST_USER_GET_INFLIGHT_FD:
		return vu_back_get_inflight(b, m);
	case VHOST_USER_SET_INFLIGHT_FD:
		return vu_back_map_inflight(b, m->fds[0], &m->payload.inflight);
	case VHOST_USER_SET_BACKEND_REQ_FD:
		fd = vu_msg_take_fd(m, 0);
		vu_close_fd(&b->backend_fd);
		b->backend_fd = fd;
		return 0;
	case VHOST_USER_SET_STATUS:
		if (!(v & 0xff))
			vu_back_reset(b);
		else
			b->status = (uint8_t)v | (b->status & VIRTIO_STATUS_NEEDS_RESET);
		return 0;
	case VHOST_USER_GET_STATUS:
		vu_back_reply_u64(b, m->hdr.request, b->status);
		return 0;
	}
	return vu_back_vring(b, m);
}

/* A request that fails still gets the reply its sender waits for. */
static void vu_back_answer_failure(struct vu_back *b, const struct vhost_user_hdr *h)
{
	struct vhost_user_msg r;

	if (vu_request_has_reply(h->request)) {
		vu_msg_init(&r, h->request, 0);
		vu_back_send(b, &r);
	} else if ((h->flags & VHOST_USER_NEED_REPLY) &&
		   (b->protocol & BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK))) {
		vu_back_reply_u64(b, h->request, 1);
	}
}

static void vu_back_dispatch(struct vu_back *b, struct vhost_user_msg *m)
{
	struct vhost_user_hdr h = m->hdr;
	int ret;

	b->replied = false;
	ret = vu_back_handle(b, m);
	vu_msg_close_fds(m);
	if (ret)
		pr_warn("%s: %s refused: %s", b->name, vu_request_name(h.request), strerror(-ret));
	if (ret && !b->replied)
		vu_back_answer_failure(b, &h);
	else if (!ret && (h.flags & VHOST_USER_NEED_REPLY) &&
		 (b->protocol & BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK)) &&
		 !vu_request_has_reply(h.request))
		vu_back_reply_u64(b, h.request, 0);
}

static void vu_back_destroy(struct vu_back *b)
{
	if (b->ev)
		event_free(b->ev);
	if (b->flush_ev)
		event_free(b->flush_ev);
	vu_rx_reset(&b->rx);
	close(b->fd);
	vu_close_fd(&b->backend_fd);
	chan_mem_clear(&b->mem);
	vu_back_drop_inflight(b);
	free(b);
}

/* The connection ends: the device hears it, then everything goes. */
static void vu_back_drop(struct vu_back *b)
{
	for (unsigned i = 0; i < VU_BACK_MAX_QUEUES; i++)
		vu_queue_clear(b, i);
	if (b->ops->disconnected)
		b->ops->disconnected(b->dev, b);
	vu_back_destroy(b);
}

static void vu_back_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vu_back *b = arg;
	struct vhost_user_msg m;
	char err[160];
	int ret;

	(void)fd;
	(void)what;
	/* A bounded batch: other connections on the loop get their turn. */
	for (int i = 0; i < 32; i++) {
		ret = vu_rx_read(&b->rx, b->fd, err, sizeof(err));
		if (ret == 0)
			return;
		if (ret < 0) {
			if (ret == -ECONNRESET)
				pr_info("%s: %s", b->name, err);
			else
				pr_err("%s: %s; dropping the connection", b->name, err);
			vu_back_drop(b);
			return;
		}
		ret = vu_rx_parse(&b->rx, &m, err, sizeof(err));
		if (ret == -ENOSYS) {
			pr_warn("%s: %s; ignored", b->name, err);
			vu_back_answer_failure(b, &m.hdr);
		} else if (ret) {
			/* The protocol has no way back from a garbled stream. */
			pr_err("%s: bad message: %s; dropping the connection", b->name, err);
			vu_back_answer_failure(b, &m.hdr);
			vu_back_drop(b);
			return;
		} else {
			vu_back_dispatch(b, &m);
		}
		if (b->conn_err) {
			pr_err("%s: cannot reply; dropping the connection", b->name);
			vu_back_drop(b);
			return;
		}
	}
}

struct vu_back *vu_back_new(struct event_base *base, int fd, const struct vu_dev_ops *ops,
			    void *dev, const char *name)
{
	struct vu_back *b = calloc(1, sizeof(*b));

	if (!b) {
		close(fd);
		return NULL;
	}
	b->base = base;
	b->fd = fd;
	b->ops = ops;
	b->dev = dev;
	b->backend_fd = -1;
	snprintf(b->name, sizeof(b->name), "%s", name ? name : "vhost-user");
	chan_mem_init(&b->mem);
	vu_rx_init(&b->rx);
	b->nq = ops->num_queues ? ops->num_queues(dev) : 1;
	if (b->nq < 1 || b->nq > VU_BACK_MAX_QUEUES)
		b->nq = b->nq < 1 ? 1 : VU_BACK_MAX_QUEUES;
	for (unsigned i = 0; i < VU_BACK_MAX_QUEUES; i++) {
		b->q[i] = (struct vu_queue){
			.b = b, .idx = i, .kick_fd = -1, .call_fd = -1, .err_fd = -1};
	}
	if (evutil_make_socket_nonblocking(fd) < 0)
		goto fail;
	b->flush_ev = event_new(base, -1, 0, vu_back_flush_cb, b);
	b->ev = event_new(base, fd, EV_READ | EV_PERSIST, vu_back_read_cb, b);
	if (!b->flush_ev || !b->ev || event_add(b->ev, NULL))
		goto fail;
	return b;
fail:
	vu_back_destroy(b);
	return NULL;
}

void vu_back_free(struct vu_back *b)
{
	if (!b)
		return;
	for (unsigned i = 0; i < VU_BACK_MAX_QUEUES; i++)
		vu_queue_clear(b, i);
	vu_back_destroy(b);
}
