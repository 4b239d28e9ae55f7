/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UV_VU_BACK_INT_H
#define UV_VU_BACK_INT_H

/* Shared by vu_back.c (protocol, queues) and vu_back_mem.c (memory, in-flight area). */
#include "vhost_user.h"
#include "vu_back.h"

#define VIRTIO_STATUS_NEEDS_RESET 0x40

struct vu_queue {
	struct vu_back *b;
	unsigned idx;
	struct virtq vq;
	unsigned num;
	struct vhost_user_vring_addr addr;
	uint16_t base;
	bool addr_set, kick_set, enabled, started, broken;
	uint16_t told_used; /* used idx at the last interrupt check */
	int kick_fd, call_fd, err_fd;
	struct event *kick_ev;
	/* Heads a previous back end left in flight, served before new ones. */
	uint16_t *resubmit;
	unsigned nresubmit, next_resubmit;
};

struct vu_back {
	struct event_base *base;
	int fd;
	struct event *ev;
	struct event *flush_ev; /* sends the interrupts completions left pending */
	bool flush_armed;
	const struct vu_dev_ops *ops;
	void *dev;
	char name[64];
	uint64_t features; /* negotiated */
	uint64_t protocol; /* negotiated */
	uint8_t status;
	bool conn_err; /* a reply could not be sent: the peer is gone */
	bool replied;
	int backend_fd;
	struct chan_mem mem;
	void *inflight_map;
	uint64_t inflight_len;
	uint8_t *inflight; /* queue 0's area */
	uint16_t inflight_nq, inflight_qs;
	unsigned nq;
	struct vu_queue q[VU_BACK_MAX_QUEUES];
	struct vu_rx rx;
};

void vu_back_send(struct vu_back *b, struct vhost_user_msg *r);
bool vu_back_any_started(struct vu_back *b);
int vu_back_set_mem_table(struct vu_back *b, struct vhost_user_msg *m);
void vu_back_drop_inflight(struct vu_back *b);
int vu_back_map_inflight(struct vu_back *b, int fd, const struct vhost_user_inflight *in);
int vu_back_get_inflight(struct vu_back *b, struct vhost_user_msg *m);

#endif
