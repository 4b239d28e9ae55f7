/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UV_IOPART_BLK_INT_H
#define UV_IOPART_BLK_INT_H

#include <liburing.h>

#include "blk.h"

/* Shared by blk.c (device, config) and blk_io.c (requests). */
struct blk_queue;

/* Rounds of completing and taking requests in one pass over a queue. */
#define BLK_SERVE_ROUNDS 8

struct blk_req {
	struct blk_queue *q;
	uint16_t head;
	uint32_t type;
	uint8_t *status;   /* the request's last writable byte */
	uint32_t used_len; /* bytes written into the request on success */
	size_t len;	   /* data bytes */
	uint64_t off;	   /* byte offset in the image */
	struct iovec *iov; /* data buffers (guest memory) */
	int iovcnt;
	void *bounce; /* O_DIRECT copy of unaligned buffers */
	int fa_mode;  /* fallocate mode of DISCARD / WRITE_ZEROES */
	/* qcow2: the request as several I/Os at translated offsets (blk_qcow2.c) */
	unsigned parts;	    /* still in flight */
	bool part_err;	    /* one failed */
	size_t async_len;   /* bytes queued */
	size_t async_done;  /* bytes completed */
	struct iovec *piov; /* the parts' buffers */
};

struct blk_queue {
	struct blk_dev *dev;
	unsigned idx;
	struct virtq *vq;
	const struct ioq_ops *ops;
	void *ctx;
	struct io_uring ring;
	int efd;
	struct event *ev;
	struct event *more_ev; /* serves again after BLK_SERVE_ROUNDS */
	bool fixed_file;       /* the image is registered with the ring (raw images) */
	unsigned inflight;
	unsigned nfree;
	uint16_t free[BLK_QUEUE_DEPTH];
	struct blk_req req[BLK_QUEUE_DEPTH];
	struct virtq_elem elem; /* where requests are popped into */
};

struct qcow2;

struct blk_dev {
	int fd;
	struct qcow2 *qc; /* NULL for raw images */
	uint64_t size;
	bool readonly;
	bool direct;
	unsigned num_queues;
	char serial[IOPART_SERIAL_LEN];
	struct event_base *base;
	struct blk_queue *q[IOPART_MAX_QUEUES];
};

/* The qcow2 seam of blk_io.c: return a status to complete with now, or -1 when queued. */
int blk_qcow2_rw(struct blk_req *r);
int blk_qcow2_zero(struct blk_req *r);
/* Queues an I/O of r (a part, for qcow2); false when the ring is full and stays so. */
struct io_uring_sqe *blk_req_sqe(struct blk_req *r);

#endif
