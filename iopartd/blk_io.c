// SPDX-License-Identifier: GPL-2.0
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/virtio_blk.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "blk_int.h"
#include "iov.h"
#include "log.h"

struct blk_outhdr {
	uint32_t type;
	uint32_t ioprio;
	uint64_t sector;
};

struct blk_dwz_seg {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
};

static void blk_req_done(struct blk_req *r, uint8_t status)
{
	struct blk_queue *q = r->q;

	if (status == VIRTIO_BLK_S_OK && r->bounce && r->type == VIRTIO_BLK_T_IN)
		iov_from_buf(r->iov, r->iovcnt, 0, r->bounce, r->len);
	*r->status = status;
	q->ops->complete(q->ctx, q->idx, r->head, status == VIRTIO_BLK_S_OK ? r->used_len : 1);
	free(r->iov);
	free(r->bounce);
	free(r->piov);
	r->iov = NULL;
	r->bounce = NULL;
	r->piov = NULL;
	q->free[q->nfree++] = r - q->req;
}

static bool blk_aligned(const struct iovec *iov, int n)
{
	for (int i = 0; i < n; i++)
		if ((uintptr_t)iov[i].iov_base % 512 || iov[i].iov_len % 512)
			return false;
	return true;
}

/* Queues the request's I/O; returns a status to complete it with now, or -1 when queued. */
static int blk_req_submit(struct blk_req *r)
{
	struct blk_queue *q = r->q;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);
	int fd = q->dev->fd;

	if (!sqe) /* cannot happen: one entry per request slot */
		return VIRTIO_BLK_S_IOERR;
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		if (q->dev->direct && !blk_aligned(r->iov, r->iovcnt)) {
			if (r->len > BLK_BOUNCE_MAX ||
			    posix_memalign(&r->bounce, 4096, r->len ? r->len : 512))
				return VIRTIO_BLK_S_IOERR;
			if (r->type == VIRTIO_BLK_T_OUT)
				iov_to_buf(r->iov, r->iovcnt, 0, r->bounce, r->len);
			if (r->type == VIRTIO_BLK_T_IN)
				io_uring_prep_read(sqe, fd, r->bounce, r->len, r->off);
			else
				io_uring_prep_write(sqe, fd, r->bounce, r->len, r->off);
		} else if (r->type == VIRTIO_BLK_T_IN) {
			io_uring_prep_readv(sqe, fd, r->iov, r->iovcnt, r->off);
		} else {
			io_uring_prep_writev(sqe, fd, r->iov, r->iovcnt, r->off);
		}
		break;
	case VIRTIO_BLK_T_FLUSH:
		io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
		break;
	default: /* DISCARD, WRITE_ZEROES */
		if (r->fa_mode)
			io_uring_prep_fallocate(sqe, fd, r->fa_mode, r->off, r->len);
		else /* writing zeroes by hand, a chunk at a time */
			io_uring_prep_write(sqe, fd, r->bounce,
					    r->len < BLK_ZERO_CHUNK ? r->len : BLK_ZERO_CHUNK,
					    r->off);
		break;
	}
	/* The image as registered file 0: no file reference taken per request. */
	if (q->fixed_file) {
		sqe->fd = 0;
		sqe->flags |= IOSQE_FIXED_FILE;
	}
	io_uring_sqe_set_data(sqe, r);
	q->inflight++;
	return -1;
}

struct io_uring_sqe *blk_req_sqe(struct blk_req *r)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&r->q->ring);

	/* A qcow2 request can take several entries: hand the full ring to the kernel. */
	if (!sqe && io_uring_submit(&r->q->ring) >= 0)
		sqe = io_uring_get_sqe(&r->q->ring);
	if (sqe) {
		io_uring_sqe_set_data(sqe, r);
		r->q->inflight++;
	}
	return sqe;
}

/* Checks a sector range against the disk. */
static bool blk_in_range(struct blk_dev *d, uint64_t sector, uint64_t bytes)
{
	uint64_t cap = d->size / 512;

	return sector <= cap && bytes / 512 <= cap - sector;
}

static int blk_req_dwz(struct blk_req *r, const struct virtq_elem *e, size_t out_len)
{
	struct blk_dev *d = r->q->dev;
	struct blk_dwz_seg seg;
	uint32_t flags;

	if (d->readonly)
		return VIRTIO_BLK_S_IOERR;
	/* One segment, as max_discard_seg / max_write_zeroes_seg say. */
	if (out_len - sizeof(struct blk_outhdr) != sizeof(seg))
		return VIRTIO_BLK_S_IOERR;
	iov_to_buf(e->iov, e->out_num, sizeof(struct blk_outhdr), &seg, sizeof(seg));
	flags = le32toh(seg.flags);
	if (flags &
	    ~(r->type == VIRTIO_BLK_T_WRITE_ZEROES ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0))
		return VIRTIO_BLK_S_UNSUPP;
	if (le32toh(seg.num_sectors) > BLK_DISCARD_MAX ||
	    !blk_in_range(d, le64toh(seg.sector), (uint64_t)le32toh(seg.num_sectors) * 512))
		return VIRTIO_BLK_S_IOERR;
	r->off = le64toh(seg.sector) * 512;
	r->len = (size_t)le32toh(seg.num_sectors) * 512;
	if (!r->len)
		return VIRTIO_BLK_S_OK;
	if (d->qc)
		return blk_qcow2_zero(r);
	/* Both read back as zeroes; punching also frees the space. */
	if (r->type == VIRTIO_BLK_T_DISCARD || flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP)
		r->fa_mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	else
		r->fa_mode = FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
	return blk_req_submit(r);
}

static int blk_req_data(struct blk_req *r, const struct iovec *iov, unsigned n, size_t skip,
			size_t len)
{
	r->iov = calloc(n ? n : 1, sizeof(*r->iov));
	if (!r->iov)
		return -1;
	r->iovcnt = iov_slice(iov, n, skip, len, r->iov, n);
	r->len = len;
	return r->iovcnt < 0 ? -1 : 0;
}

/* Parses and starts one request; returns a status to complete it with now, or -1. */
static int blk_req_start(struct blk_req *r, const struct virtq_elem *e)
{
	struct blk_dev *d = r->q->dev;
	const struct iovec *in = e->iov + e->out_num;
	size_t out_len = iov_size(e->iov, e->out_num);
	size_t in_len = iov_size(in, e->in_num) - 1; /* minus the status byte */
	struct blk_outhdr h;
	size_t len;

	if (out_len < sizeof(h))
		return VIRTIO_BLK_S_IOERR;
	iov_to_buf(e->iov, e->out_num, 0, &h, sizeof(h));
	r->type = le32toh(h.type);
	r->off = le64toh(h.sector) * 512;
	r->used_len = 1;
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		len = r->type == VIRTIO_BLK_T_IN ? in_len : out_len - sizeof(h);
		if (len % 512 || !blk_in_range(d, le64toh(h.sector), len))
			return VIRTIO_BLK_S_IOERR;
		if (r->type == VIRTIO_BLK_T_OUT && d->readonly)
			return VIRTIO_BLK_S_IOERR;
		if (r->type == VIRTIO_BLK_T_IN) {
			if (blk_req_data(r, in, e->in_num, 0, len))
				return VIRTIO_BLK_S_IOERR;
			r->used_len = len + 1;
		} else if (blk_req_data(r, e->iov, e->out_num, sizeof(h), len)) {
			return VIRTIO_BLK_S_IOERR;
		}
		if (!len)
			return VIRTIO_BLK_S_OK;
		return d->qc ? blk_qcow2_rw(r) : blk_req_submit(r);
	case VIRTIO_BLK_T_FLUSH:
		return blk_req_submit(r);
	case VIRTIO_BLK_T_GET_ID:
		len = in_len < IOPART_SERIAL_LEN ? in_len : IOPART_SERIAL_LEN;
		r->used_len = iov_from_buf(in, e->in_num, 0, d->serial, len) + 1;
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return blk_req_dwz(r, e, out_len);
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}

/* The status byte: the last writable byte of the chain, or NULL when there is none. */
static uint8_t *blk_status_byte(const struct virtq_elem *e)
{
	const struct iovec *last;

	if (!e->in_num)
		return NULL;
	last = &e->iov[e->out_num + e->in_num - 1];
	return (uint8_t *)last->iov_base + last->iov_len - 1;
}

/* Takes new requests while slots are free and starts them; returns how many. */
static unsigned blk_queue_take(struct blk_queue *q)
{
	unsigned n = 0;
	bool queued = false;

	/* Bounded: requests that complete at once free their slot at once. */
	while (q->nfree && n < BLK_QUEUE_DEPTH) {
		struct blk_req *r;
		int ret = q->ops->pop(q->ctx, q->idx, &q->elem);

		if (ret == 0)
			break;
		if (ret < 0) {
			q->ops->needs_reset(q->ctx, q->idx);
			break;
		}
		r = &q->req[q->free[--q->nfree]];
		memset(r, 0, sizeof(*r));
		r->q = q;
		r->head = q->elem.head;
		r->status = blk_status_byte(&q->elem);
		if (!r->status) {
			/* Nowhere to answer: the driver broke the protocol. */
			q->free[q->nfree++] = r - q->req;
			q->ops->needs_reset(q->ctx, q->idx);
			break;
		}
		n++;
		ret = blk_req_start(r, &q->elem);
		if (ret >= 0)
			blk_req_done(r, ret);
		else
			queued = true;
	}
	/* One system call for the whole batch. */
	if (queued)
		io_uring_submit(&q->ring);
	return n;
}

static unsigned blk_queue_complete_ready(struct blk_queue *q);

/*
 * One pass over the queue: what finished is completed, what the driver added
 * is started, until neither is left (a bounded number of rounds, after which
 * the loop comes back). A read on a fast device often finishes during its
 * own submission, so it is completed here rather than one loop iteration
 * later through the eventfd. The driver hears of all of it at once, at the
 * end: one interrupt, however many completions.
 */
static void blk_queue_serve(struct blk_queue *q)
{
	unsigned rounds = 0, n;

again:
	do {
		n = q->dev->base ? blk_queue_complete_ready(q) : 0;
		n += blk_queue_take(q);
	} while (n && ++rounds < BLK_SERVE_ROUNDS);
	/*
	 * While requests are in flight, each completion brings us back here,
	 * so the driver need not kick: a kick is a VM exit, which can cost more
	 * than the I/O (nested virtualization above all). With none in flight
	 * kicks are wanted again, and what arrived meanwhile is taken now.
	 */
	if (q->inflight)
		virtq_disable_notify(q->vq);
	else if (q->vq->notify_off && virtq_enable_notify(q->vq) && rounds < BLK_SERVE_ROUNDS)
		goto again;
	q->ops->notify(q->ctx, q->idx);
	/* Work left after the rounds: the loop serves everyone else first. */
	if (rounds >= BLK_SERVE_ROUNDS && q->more_ev)
		event_active(q->more_ev, EV_TIMEOUT, 0);
}

void blk_queue_kick(struct blk_dev *d, unsigned idx)
{
	struct blk_queue *q = idx < IOPART_MAX_QUEUES ? d->q[idx] : NULL;

	if (q)
		blk_queue_serve(q);
}

/* Queues r's next step from its completion; false when it could not be queued. */
static bool blk_req_resubmit(struct blk_req *r)
{
	if (blk_req_submit(r) >= 0)
		return false;
	io_uring_submit(&r->q->ring);
	return true;
}

static void blk_req_finish(struct blk_req *r, int res)
{
	struct blk_queue *q = r->q;

	q->inflight--;
	if (r->parts) { /* qcow2: done when the last part is */
		if (res < 0)
			r->part_err = true;
		else
			r->async_done += (size_t)res;
		if (--r->parts)
			return;
		blk_req_done(r, !r->part_err && r->async_done == r->async_len ? VIRTIO_BLK_S_OK
									      : VIRTIO_BLK_S_IOERR);
		return;
	}
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		blk_req_done(r, res >= 0 && (size_t)res == r->len ? VIRTIO_BLK_S_OK
								  : VIRTIO_BLK_S_IOERR);
		return;
	case VIRTIO_BLK_T_FLUSH:
		blk_req_done(r, res == 0 ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR);
		return;
	}
	if (!r->fa_mode) {
		if (res <= 0) {
			blk_req_done(r, VIRTIO_BLK_S_IOERR);
			return;
		}
		r->off += (uint64_t)res;
		r->len -= (size_t)res;
		if (!r->len)
			blk_req_done(r, VIRTIO_BLK_S_OK);
		else if (!blk_req_resubmit(r))
			blk_req_done(r, VIRTIO_BLK_S_IOERR);
		return;
	}
	/* Some file systems (tmpfs) punch holes but cannot zero a range. */
	if (res == -EOPNOTSUPP && r->fa_mode & FALLOC_FL_ZERO_RANGE) {
		r->fa_mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
		if (blk_req_resubmit(r))
			return;
	}
	/* Nor punch (9p): then zeroes are written, from one zeroed buffer. */
	if (res == -EOPNOTSUPP && r->type == VIRTIO_BLK_T_WRITE_ZEROES &&
	    !posix_memalign(&r->bounce, 4096, BLK_ZERO_CHUNK)) {
		memset(r->bounce, 0, BLK_ZERO_CHUNK);
		r->fa_mode = 0;
		if (blk_req_resubmit(r))
			return;
	}
	/* A discard is a hint: a file system that cannot punch loses nothing. */
	if (res == -EOPNOTSUPP && r->type == VIRTIO_BLK_T_DISCARD)
		res = 0;
	blk_req_done(r, res == 0 ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR);
}

/* Handles what io_uring finished, without waiting; returns how many I/Os. */
static unsigned blk_queue_complete_ready(struct blk_queue *q)
{
	struct io_uring_cqe *cqe;
	unsigned n = 0;

	while (q->inflight && io_uring_peek_cqe(&q->ring, &cqe) == 0) {
		struct blk_req *r = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&q->ring, cqe);
		blk_req_finish(r, res);
		n++;
	}
	return n;
}

int blk_queue_reap(struct blk_dev *d, unsigned idx, bool wait)
{
	struct blk_queue *q = idx < IOPART_MAX_QUEUES ? d->q[idx] : NULL;
	struct io_uring_cqe *cqe;
	int ret;

	if (!q || !q->inflight)
		return 0;
	if (wait) {
		while ((ret = io_uring_wait_cqe(&q->ring, &cqe)) == -EINTR)
			;
		if (ret < 0)
			return 0;
	}
	return (int)blk_queue_complete_ready(q);
}

static void blk_queue_event(evutil_socket_t fd, short what, void *arg)
{
	struct blk_queue *q = arg;
	uint64_t v;

	(void)what;
	if (fd >= 0 && read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		pr_warn("blk: queue %u eventfd: %s", q->idx, strerror(errno));
	/* Completions, then what waited for their slots. */
	blk_queue_serve(q);
}

static int blk_queue_events(struct blk_queue *q)
{
	q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (q->efd < 0)
		return -errno;
	if (io_uring_register_eventfd(&q->ring, q->efd) < 0)
		return -EIO;
	q->ev = event_new(q->dev->base, q->efd, EV_READ | EV_PERSIST, blk_queue_event, q);
	if (!q->ev || event_add(q->ev, NULL) < 0)
		return -ENOMEM;
	q->more_ev = event_new(q->dev->base, -1, 0, blk_queue_event, q);
	return q->more_ev ? 0 : -ENOMEM;
}

static void blk_queue_free(struct blk_queue *q)
{
	if (q->ev)
		event_free(q->ev);
	if (q->more_ev)
		event_free(q->more_ev);
	if (q->efd >= 0)
		close(q->efd);
	io_uring_queue_exit(&q->ring);
	free(q);
}

/* qcow2 requests can take an I/O per cluster: room for their completions. */
static int blk_queue_ring(struct blk_dev *d, struct blk_queue *q)
{
	struct io_uring_params p = {.flags = IORING_SETUP_CQSIZE,
				    .cq_entries = BLK_QUEUE_DEPTH * 32};
	int ret;

	if (d->qc)
		return io_uring_queue_init_params(BLK_QUEUE_DEPTH, &q->ring, &p);
	ret = io_uring_queue_init(BLK_QUEUE_DEPTH, &q->ring, 0);
	/* Without it (an old kernel) requests name the fd as usual. */
	if (!ret)
		q->fixed_file = io_uring_register_files(&q->ring, &d->fd, 1) == 0;
	return ret;
}

int blk_queue_start(struct blk_dev *d, unsigned idx, struct virtq *vq, const struct ioq_ops *ops,
		    void *ctx)
{
	struct blk_queue *q;
	int ret;

	if (idx >= d->num_queues)
		return -EINVAL;
	blk_queue_stop(d, idx);
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->dev = d;
	q->idx = idx;
	q->vq = vq;
	q->ops = ops;
	q->ctx = ctx;
	q->efd = -1;
	ret = blk_queue_ring(d, q);
	if (ret < 0) {
		free(q);
		return ret;
	}
	if (d->base) {
		ret = blk_queue_events(q);
		if (ret < 0) {
			blk_queue_free(q);
			return ret;
		}
	}
	for (unsigned i = 0; i < BLK_QUEUE_DEPTH; i++)
		q->free[q->nfree++] = BLK_QUEUE_DEPTH - 1 - i;
	d->q[idx] = q;
	return 0;
}

void blk_queue_stop(struct blk_dev *d, unsigned idx)
{
	struct blk_queue *q = idx < IOPART_MAX_QUEUES ? d->q[idx] : NULL;

	if (!q)
		return;
	/* The kernel may still be writing guest memory: let it finish, and answer. */
	while (q->inflight)
		if (blk_queue_reap(d, idx, true) <= 0)
			break;
	q->ops->notify(q->ctx, idx);
	d->q[idx] = NULL;
	blk_queue_free(q);
}

unsigned blk_queue_inflight(struct blk_dev *d, unsigned idx)
{
	return idx < IOPART_MAX_QUEUES && d->q[idx] ? d->q[idx]->inflight : 0;
}
