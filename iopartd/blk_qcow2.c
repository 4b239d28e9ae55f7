// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-blk requests on a qcow2 image. Data in allocated clusters moves
 * through io_uring at the translated offsets, one I/O per run of clusters
 * contiguous in the file; everything else (zeroes, backing files, compressed
 * clusters, allocating writes) is done synchronously by qcow2_read/_write,
 * which keeps metadata updates in order without locks.
 */
#include <linux/virtio_blk.h>
#include <stdlib.h>

#include "blk_int.h"
#include "iov.h"
#include "log.h"
#include "qcow2.h"

struct blk_run {
	uint64_t pos;  /* in the request */
	uint64_t host; /* in the file */
	uint64_t len;
	unsigned used; /* entries of r->piov taken */
	unsigned max;
};

/* Queues run as one I/O. */
static int blk_qcow2_queue(struct blk_req *r, struct blk_run *run)
{
	struct iovec *iov = r->piov + run->used;
	int fd = r->q->dev->fd;
	struct io_uring_sqe *sqe;
	int n;

	if (!run->len)
		return 0;
	n = iov_slice(r->iov, r->iovcnt, run->pos, run->len, iov, run->max - run->used);
	if (n <= 0)
		return -1;
	sqe = blk_req_sqe(r);
	if (!sqe)
		return -1;
	if (r->type == VIRTIO_BLK_T_IN)
		io_uring_prep_readv(sqe, fd, iov, n, run->host);
	else
		io_uring_prep_writev(sqe, fd, iov, n, run->host);
	run->used += n;
	r->parts++;
	r->async_len += run->len;
	run->len = 0;
	return 0;
}

/* A piece the back end does itself, through a bounce buffer. */
static int blk_qcow2_sync(struct blk_req *r, struct qcow2 *qc, uint64_t pos, size_t n)
{
	void *b = malloc(n);
	int ret;

	if (!b)
		return -1;
	if (r->type == VIRTIO_BLK_T_IN) {
		ret = qcow2_read(qc, r->off + pos, b, n);
		if (!ret)
			iov_from_buf(r->iov, r->iovcnt, pos, b, n);
	} else {
		iov_to_buf(r->iov, r->iovcnt, pos, b, n);
		ret = qcow2_write(qc, r->off + pos, b, n);
	}
	free(b);
	return ret;
}

/* Pieces for the synchronous path, merged while they follow each other. */
struct blk_sync {
	uint64_t pos;
	uint64_t len;
};

static int blk_qcow2_flush(struct blk_req *r, struct qcow2 *qc, struct blk_sync *s)
{
	int ret = s->len ? blk_qcow2_sync(r, qc, s->pos, s->len) : 0;

	s->len = 0;
	return ret;
}

int blk_qcow2_rw(struct blk_req *r)
{
	struct qcow2 *qc = r->q->dev->qc;
	unsigned cs = qcow2_cluster_size(qc);
	struct blk_run run = {0};
	struct blk_sync sync = {0};
	uint64_t pos = 0;
	int ret = 0;

	/* Each run needs at most iovcnt entries, plus one where it splits a buffer. */
	run.max = (r->len / cs + 2) * (r->iovcnt + 1);
	r->piov = calloc(run.max, sizeof(*r->piov));
	if (!r->piov)
		return VIRTIO_BLK_S_IOERR;
	while (pos < r->len && !ret) {
		uint64_t host, n;
		int m = qcow2_map(qc, r->off + pos, r->len - pos, r->type == VIRTIO_BLK_T_OUT,
				  &host, &n);

		if (m == 1) {
			ret = blk_qcow2_flush(r, qc, &sync);
			if (!ret && run.len && run.host + run.len == host) {
				run.len += n;
			} else if (!ret) {
				ret = blk_qcow2_queue(r, &run);
				run = (struct blk_run){pos, host, n, run.used, run.max};
			}
		} else if (m == 0) {
			ret = blk_qcow2_queue(r, &run);
			if (sync.len)
				sync.len += n;
			else
				sync = (struct blk_sync){pos, n};
		} else {
			ret = m;
		}
		pos += n;
	}
	if (!ret)
		ret = blk_qcow2_flush(r, qc, &sync);
	if (!ret)
		ret = blk_qcow2_queue(r, &run);
	if (ret)
		pr_warn("blk: qcow2 %s at byte %llu failed (corrupt image?)",
			r->type == VIRTIO_BLK_T_IN ? "read" : "write",
			(unsigned long long)(r->off + pos));
	if (!r->parts)
		return ret ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
	r->part_err |= ret != 0; /* queued parts complete the request */
	return -1;
}

/* WRITE_ZEROES: zeroes written (or nothing, where it reads as zeroes already). */
int blk_qcow2_zero(struct blk_req *r)
{
	if (r->type == VIRTIO_BLK_T_DISCARD)
		return VIRTIO_BLK_S_OK; /* a hint, and the clusters stay allocated */
	if (qcow2_write(r->q->dev->qc, r->off, NULL, r->len)) {
		pr_warn("blk: qcow2 write-zeroes at byte %llu failed", (unsigned long long)r->off);
		return VIRTIO_BLK_S_IOERR;
	}
	return VIRTIO_BLK_S_OK;
}
