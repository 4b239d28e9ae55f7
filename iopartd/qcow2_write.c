// SPDX-License-Identifier: GPL-2.0
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "qcow2_int.h"

/*
 * Writes. Crash safety: a new cluster is written (data, or a zeroed L2 table)
 * and its refcount set, then fdatasync, and only then is the L1/L2 entry that
 * points at it written. A crash leaks clusters at worst; no entry on disk
 * ever points at a cluster whose refcount on disk is 0. The clusters of one
 * write share one fdatasync (struct qcow2_batch).
 */

#define QCOW2_BATCH 64

struct qcow2_pending {
	uint64_t l2_off; /* the L2 table */
	unsigned idx;
	uint64_t e; /* the new entry */
	uint64_t old;
};

struct qcow2_batch {
	unsigned n;
	struct qcow2_pending p[QCOW2_BATCH];
};

/* Drops the references of a compressed cluster, once its replacement is durable. */
static void qcow2_unref_compressed(struct qcow2 *q, uint64_t e)
{
	unsigned x = 62 - (q->cluster_bits - 8);
	uint64_t off = e & ((1ull << x) - 1) & ~511ull;
	uint64_t nsect = ((e >> x) & ((1ull << (q->cluster_bits - 8)) - 1)) + 1;
	uint64_t first = off >> q->cluster_bits;
	uint64_t last = (off + nsect * 512 - 1) >> q->cluster_bits;

	for (uint64_t cl = first; cl <= last; cl++) {
		uint16_t rc;

		if (!qcow2_rc_get(q, cl, &rc) && rc)
			qcow2_rc_set(q, cl, rc - 1);
	}
}

/* Writes the waiting L2 entries, once what they point at is durable. */
static int qcow2_commit(struct qcow2 *q, struct qcow2_batch *b)
{
	bool compressed = false;
	int ret = b->n ? qcow2_sync(q) : 0;

	for (unsigned i = 0; i < b->n && !ret; i++) {
		struct qcow2_pending *p = &b->p[i];
		uint64_t be = htobe64(p->e);

		ret = qcow2_meta_write(q, p->l2_off + p->idx * 8ull, &be, 8);
		for (unsigned c = 0; c < QCOW2_L2_CACHE && !ret; c++)
			if (q->l2[c].off == p->l2_off)
				q->l2[c].t[p->idx] = be;
		compressed |= (p->old & QCOW2_COMPRESSED) != 0;
	}
	/* The old compressed clusters are dropped after the new entries are durable. */
	if (!ret && compressed && !qcow2_sync(q))
		for (unsigned i = 0; i < b->n; i++)
			if (b->p[i].old & QCOW2_COMPRESSED)
				qcow2_unref_compressed(q, b->p[i].old);
	b->n = 0;
	return ret;
}

/* The L2 table of voff, allocated (zeroed, refcounted, synced) when missing. */
static int qcow2_l2_alloc(struct qcow2 *q, uint64_t voff, struct qcow2_l2 **l2, unsigned *idx,
			  uint64_t *e)
{
	uint64_t l1i = (voff >> q->cluster_bits) / (q->cluster_size / 8), off, be;
	int ret = qcow2_entry(q, voff, l2, idx, e);

	if (ret || *l2)
		return ret;
	ret = qcow2_alloc(q, &off);
	if (ret)
		return ret;
	memset(q->dbuf, 0, q->cluster_size);
	ret = qcow2_meta_write(q, off, q->dbuf, q->cluster_size);
	if (!ret)
		ret = qcow2_sync(q);
	be = htobe64(off | QCOW2_COPIED);
	if (!ret)
		ret = qcow2_meta_write(q, q->l1_off + l1i * 8, &be, 8);
	if (ret)
		return ret;
	q->l1[l1i] = off | QCOW2_COPIED;
	return qcow2_entry(q, voff, l2, idx, e);
}

/*
 * Copy-on-write of the cluster of voff into a new (or preallocated zero)
 * cluster: written, its refcount set; the L2 entry waits in b.
 */
static int qcow2_cow(struct qcow2 *q, struct qcow2_batch *b, struct qcow2_l2 *l2, unsigned idx,
		     uint64_t e, uint64_t voff, const uint8_t *buf, size_t n)
{
	uint64_t start = voff & ~(q->cluster_size - 1), host = 0;
	int ret = 0;

	if (e & QCOW2_ZERO && !(e & QCOW2_COMPRESSED) && (ret = qcow2_host(q, e, &host)) < 0)
		host = 0; /* a bad preallocation: leave it, take a new cluster */
	if (!host || qcow2_overlaps_meta(q, host))
		ret = qcow2_alloc(q, &host);
	if (ret)
		return ret;
	if (e & QCOW2_COMPRESSED)
		ret = qcow2_inflate(q, e);
	else if (e & QCOW2_ZERO)
		memset(q->dbuf, 0, q->cluster_size);
	else
		ret = qcow2_read_backing(q, start, q->dbuf, q->cluster_size);
	if (ret)
		return ret;
	if (buf)
		memcpy(q->dbuf + (voff - start), buf, n);
	else
		memset(q->dbuf + (voff - start), 0, n);
	ret = qcow2_meta_write(q, host, q->dbuf, q->cluster_size);
	if (ret)
		return ret;
	b->p[b->n++] = (struct qcow2_pending){l2->off, idx, host | QCOW2_COPIED, e};
	return b->n == QCOW2_BATCH ? qcow2_commit(q, b) : 0;
}

/*
 * A whole cluster of zeroes on v3: the zero flag, the cluster (if any) kept
 * allocated. No refcount changes, so no ordering to keep.
 */
static int qcow2_zero_flag(struct qcow2 *q, struct qcow2_l2 *l2, unsigned idx, uint64_t e)
{
	uint64_t host = 0, be;
	int ret;

	if (e && !(e & QCOW2_ZERO) && qcow2_host(q, e, &host))
		return -EIO;
	if (e & QCOW2_ZERO)
		host = e & QCOW2_L2_OFF_MASK;
	be = htobe64(host ? host | QCOW2_COPIED | QCOW2_ZERO : QCOW2_ZERO);
	ret = qcow2_meta_write(q, l2->off + idx * 8ull, &be, 8);
	if (!ret)
		l2->t[idx] = be;
	return ret;
}

static int qcow2_write_piece(struct qcow2 *q, struct qcow2_batch *b, uint64_t voff,
			     const uint8_t *buf, size_t n)
{
	struct qcow2_l2 *l2;
	unsigned idx;
	uint64_t e, host;
	int ret = qcow2_l2_alloc(q, voff, &l2, &idx, &e);

	if (ret)
		return ret;
	/* Zeroes over what reads as zeroes already need nothing. */
	if (!buf && ((e & QCOW2_ZERO && !(e & QCOW2_COMPRESSED)) || (!e && q->bfd < 0 && !q->bq)))
		return 0;
	if (!buf && q->version >= 3 && n == q->cluster_size && !(e & QCOW2_COMPRESSED))
		return qcow2_zero_flag(q, l2, idx, e);
	if (!e || e & (QCOW2_COMPRESSED | QCOW2_ZERO))
		return qcow2_cow(q, b, l2, idx, e, voff, buf, n);
	if (qcow2_host(q, e, &host) || qcow2_overlaps_meta(q, host))
		return -EIO;
	if (!buf) {
		memset(q->dbuf, 0, n);
		buf = q->dbuf;
	}
	return qcow2_meta_write(q, host + (voff & (q->cluster_size - 1)), buf, n);
}

int qcow2_write(struct qcow2 *q, uint64_t off, const void *buf, size_t len)
{
	struct qcow2_batch *b;
	const uint8_t *p = buf;
	int ret = 0;

	if (q->readonly)
		return -EROFS;
	if (off > q->size || len > q->size - off)
		return -EIO;
	b = malloc(sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->n = 0;
	q->dbuf_e = 0; /* dbuf is scratch space here */
	while (len && !ret) {
		size_t n = qcow2_min(len, q->cluster_size - (off & (q->cluster_size - 1)));

		ret = qcow2_write_piece(q, b, off, p, n);
		off += n;
		if (p)
			p += n;
		len -= n;
	}
	if (!ret) /* on failure the new clusters leak, and the request fails */
		ret = qcow2_commit(q, b);
	free(b);
	return ret;
}
