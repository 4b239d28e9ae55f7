/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UV_VIRTQ_H
#define UV_VIRTQ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "chan_mem.h"

/*
 * The device side of a split virtqueue (virtio 1.x, 2.7), with indirect
 * descriptors and VIRTIO_F_EVENT_IDX. The rings live in guest memory, which
 * the guest may change under us at any time: every index and address read
 * from them is checked, each field is read once, and a queue that breaks a
 * rule is marked broken and serves nothing more until it is set up again.
 */
#define VIRTQ_MAX_SIZE 32768
/* The longest chain accepted, direct and indirect together (Linux's UIO_MAXIOV). */
#define VIRTQ_MAX_IOV 1024

#define VIRTQ_DESC_F_NEXT     1
#define VIRTQ_DESC_F_WRITE    2
#define VIRTQ_DESC_F_INDIRECT 4

#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX     29
#define VIRTIO_F_VERSION_1     32

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct virtq_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[]; /* then used_event */
};

struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
};

struct virtq_used {
	uint16_t flags;
	uint16_t idx;
	struct virtq_used_elem ring[]; /* then avail_event */
};

/* Ring sizes in bytes for a queue of num entries, as the driver lays them out. */
uint64_t virtq_desc_size(unsigned num);
uint64_t virtq_avail_size(unsigned num);
uint64_t virtq_used_size(unsigned num);

/*
 * The shared in-flight area of one split queue, laid out as vhost-user's
 * "inflight I/O tracking" describes it, so that QEMU's front end and ours
 * can hand it to a restarted back end.
 */
struct virtq_inflight_desc {
	uint8_t inflight;
	uint8_t padding[5];
	uint16_t next;
	uint64_t counter;
};

struct virtq_inflight {
	uint64_t features;
	uint16_t version;
	uint16_t desc_num;
	uint16_t last_batch_head;
	uint16_t used_idx;
	struct virtq_inflight_desc desc[];
};

/* Bytes of the in-flight area for one queue of num entries (64-byte aligned). */
uint64_t virtq_inflight_size(unsigned num);

/* A popped request: its readable buffers first, then its writable ones. */
struct virtq_elem {
	uint16_t head;
	unsigned out_num; /* driver -> device */
	unsigned in_num;  /* device -> driver */
	struct iovec iov[VIRTQ_MAX_IOV];
};

enum virtq_error {
	VIRTQ_OK = 0,
	VIRTQ_ERR_AVAIL_IDX, /* avail idx moved more than num ahead */
	VIRTQ_ERR_HEAD,	     /* head index >= num */
	VIRTQ_ERR_NEXT,	     /* next index >= num */
	VIRTQ_ERR_LOOP,	     /* more descriptors than the table holds */
	VIRTQ_ERR_ADDR,	     /* a buffer outside guest RAM */
	VIRTQ_ERR_LEN,	     /* a zero-length or overlong buffer */
	VIRTQ_ERR_INDIRECT,  /* bad indirect table (size, nesting, flags) */
	VIRTQ_ERR_ORDER,     /* a readable buffer after a writable one */
	VIRTQ_ERR_TOO_LONG,  /* more than VIRTQ_MAX_IOV buffers */
};

struct virtq {
	const struct chan_mem *mem;
	uint16_t num;
	struct virtq_desc *desc;
	struct virtq_avail *avail;
	struct virtq_used *used;
	uint16_t last_avail;   /* next avail entry to take */
	uint16_t shadow_avail; /* avail idx as last read */
	uint16_t used_idx;     /* next used entry to fill */
	uint16_t signalled_used;
	bool signalled_used_valid;
	bool event_idx;
	bool indirect;
	bool broken;
	bool notify_off;		 /* between disable_notify and enable_notify */
	enum virtq_error error;		 /* why it broke */
	struct virtq_inflight *inflight; /* NULL: not tracked */
	uint64_t inflight_counter;
};

/*
 * Sets the queue up over rings at guest-physical addresses (vhost-user gives
 * user addresses: translate those with chan_mem_uva() and use
 * virtq_setup_host()). features gives EVENT_IDX and INDIRECT_DESC; base is
 * where the avail and used indexes start. Returns 0 or -EINVAL when num is
 * not a power of two up to VIRTQ_MAX_SIZE or a ring is not in guest RAM.
 */
int virtq_setup(struct virtq *vq, const struct chan_mem *mem, unsigned num, uint64_t desc_gpa,
		uint64_t avail_gpa, uint64_t used_gpa, uint64_t features, uint16_t base);
int virtq_setup_host(struct virtq *vq, const struct chan_mem *mem, unsigned num, void *desc,
		     void *avail, void *used, uint64_t features, uint16_t base);

/*
 * Takes the next request. Returns 1 with *e filled, 0 when the ring is empty,
 * or -EIO when the queue is (now) broken; vq->error says why.
 */
int virtq_pop(struct virtq *vq, struct virtq_elem *e);
/* Gives a request back to the driver with len bytes written into it. */
void virtq_push(struct virtq *vq, uint16_t head, uint32_t len);
/* Whether the driver wants an interrupt for what was pushed since the last one. */
bool virtq_need_notify(struct virtq *vq);
/*
 * Notification suppression for a device that polls: disable, drain, then
 * enable; enable returns true when buffers arrived in between (poll again).
 */
void virtq_disable_notify(struct virtq *vq);
bool virtq_enable_notify(struct virtq *vq);

/*
 * In-flight tracking: with an area attached, every popped request is marked
 * in flight until pushed. After a back-end restart, virtq_inflight_resubmit()
 * lists (oldest first) the heads the previous back end had not completed, and
 * virtq_pop_head() turns each into a request again.
 */
int virtq_inflight_attach(struct virtq *vq, struct virtq_inflight *area, bool fresh);
unsigned virtq_inflight_resubmit(struct virtq *vq, uint16_t *heads, unsigned max);
int virtq_pop_head(struct virtq *vq, uint16_t head, struct virtq_elem *e);

const char *virtq_strerror(enum virtq_error err);

#endif
