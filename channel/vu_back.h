/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UV_VU_BACK_H
#define UV_VU_BACK_H

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>

#include "chan_mem.h"
#include "virtq.h"

/*
 * The back end of one vhost-user connection, on a libevent loop. It speaks
 * the protocol (features, owner, memory table, vrings, config, in-flight
 * area, reply-ack, status) and hands the device each queue's kicks; the
 * device pops requests, completes them (possibly later, from its own I/O
 * completions) and pushes them back with vu_back_complete().
 */
#define VU_BACK_MAX_QUEUES 16

struct vu_back;

struct vu_dev_ops {
	/* Device features offered (VERSION_1, EVENT_IDX, INDIRECT_DESC are added). */
	uint64_t (*features)(void *dev);
	uint16_t (*num_queues)(void *dev);
	/* Config space; both may be NULL for a device without one. */
	int (*get_config)(void *dev, uint32_t off, void *buf, uint32_t len);
	int (*set_config)(void *dev, uint32_t off, const void *buf, uint32_t len);
	void (*set_features)(void *dev, uint64_t features);
	/* A queue became ready (addresses, kick, call, enabled). */
	void (*queue_start)(void *dev, struct vu_back *b, unsigned idx, struct virtq *vq);
	/* The queue's kick fired (or requests were resubmitted): pop and serve. */
	void (*queue_kick)(void *dev, struct vu_back *b, unsigned idx, struct virtq *vq);
	/*
	 * The queue stops (GET_VRING_BASE, reset, disconnect): the device must
	 * drop every reference to requests of it; those not completed stay in
	 * the in-flight area for whoever serves the queue next.
	 */
	void (*queue_stop)(void *dev, struct vu_back *b, unsigned idx, struct virtq *vq);
	/* The front end went away; the vu_back is freed after this returns. */
	void (*disconnected)(void *dev, struct vu_back *b);
};

/* Serves the connected socket fd (takes ownership) on base. */
struct vu_back *vu_back_new(struct event_base *base, int fd, const struct vu_dev_ops *ops,
			    void *dev, const char *name);
void vu_back_free(struct vu_back *b);
/*
 * Next request of queue idx for the device: first those a previous back end
 * left in flight (after a reconnect), then new ones. Returns as virtq_pop():
 * 1 with *e filled, 0 when there is nothing, -EIO when the queue broke (the
 * device then calls vu_back_needs_reset()).
 */
int vu_back_pop(struct vu_back *b, unsigned idx, struct virtq_elem *e);
/* Completes a request: virtq_push() plus an interrupt when the driver wants one. */
void vu_back_complete(struct vu_back *b, unsigned idx, uint16_t head, uint32_t len);
/* Sends the interrupt now if the driver wants one (after a batch of pushes). */
void vu_back_notify(struct vu_back *b, unsigned idx);
/*
 * A queue broke a rule (see virtq_error): the device enters NEEDS_RESET, the
 * queue serves nothing more, and the front end is told when it can be.
 */
void vu_back_needs_reset(struct vu_back *b, unsigned idx);
const struct chan_mem *vu_back_mem(const struct vu_back *b);
const char *vu_back_name(const struct vu_back *b);

/* A listening socket whose connections are each handed to accept_cb. */
struct vu_listener;
typedef void (*vu_accept_fn)(void *ctx, int fd);
struct vu_listener *vu_listener_new(struct event_base *base, const char *path, vu_accept_fn cb,
				    void *ctx, char *err, size_t errlen);
void vu_listener_free(struct vu_listener *l);

#endif
