// SPDX-License-Identifier: GPL-2.0
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "qcow2_int.h"

/*
 * Crash safety: a new cluster is written (data, or a zeroed L2 table) and
 * its refcount set, then fdatasync, and only then is the L1/L2 entry that
 * points at it written. A crash leaks clusters at worst; no entry ever
 * points at a cluster whose refcount on disk is 0.
 */

uint64_t qcow2_min(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

int qcow2_sync(struct qcow2 *q)
{
	return fdatasync(q->fd) < 0 ? -errno : 0;
}

/* The L2 table at off, through the cache. */
static int qcow2_l2_get(struct qcow2 *q, uint64_t off, struct qcow2_l2 **out)
{
	struct qcow2_l2 *victim = &q->l2[0];

	for (unsigned i = 0; i < QCOW2_L2_CACHE; i++) {
		if (q->l2[i].off == off) {
			q->l2[i].used = ++q->l2_tick;
			*out = &q->l2[i];
			return 0;
		}
		if (q->l2[i].used < victim->used)
			victim = &q->l2[i];
	}
	victim->off = 0;
	if (qcow2_meta_read(q, off, victim->t, q->cluster_size))
		return -EIO;
	victim->off = off;
	victim->used = ++q->l2_tick;
	*out = victim;
	return 0;
}

/* An L1/L2/refcount table pointer: aligned, past the header, inside the file. */
static bool qcow2_ptr_ok(const struct qcow2 *q, uint64_t off)
{
	return !(off & (q->cluster_size - 1)) && off >= q->cluster_size && off < q->file_size &&
	       q->cluster_size <= q->file_size - off;
}

/* The L2 entry of voff: *l2 NULL (and *e 0) when its L2 table is not allocated. */
int qcow2_entry(struct qcow2 *q, uint64_t voff, struct qcow2_l2 **l2, unsigned *idx, uint64_t *e)
{
	uint64_t l2_entries = q->cluster_size / 8;
	uint64_t cl = voff >> q->cluster_bits, l1i = cl / l2_entries;
	uint64_t off;

	*l2 = NULL;
	*e = 0;
	*idx = cl % l2_entries;
	if (l1i >= q->l1_size)
		return -EIO;
	off = q->l1[l1i] & QCOW2_L1_OFF_MASK;
	if (!off)
		return 0;
	if (!qcow2_ptr_ok(q, off) || qcow2_l2_get(q, off, l2))
		return -EIO;
	*e = be64toh((*l2)->t[*idx]);
	return 0;
}

int qcow2_read_backing(struct qcow2 *q, uint64_t off, uint8_t *buf, size_t len)
{
	size_t n = off < q->bsize ? qcow2_min(len, q->bsize - off) : 0;
	ssize_t got = 0;

	if (n && q->bq) {
		if (qcow2_read(q->bq, off, buf, n))
			return -EIO;
		got = n;
	} else if (n) {
		do
			got = pread(q->bfd, buf, n, off);
		while (got < 0 && errno == EINTR);
		if (got < 0)
			return -EIO;
	}
	memset(buf + got, 0, len - got);
	return 0;
}

/* Inflates the compressed cluster of entry e into q->dbuf. */
int qcow2_inflate(struct qcow2 *q, uint64_t e)
{
	unsigned x = 62 - (q->cluster_bits - 8);
	uint64_t off = e & ((1ull << x) - 1);
	uint64_t nsect = ((e >> x) & ((1ull << (q->cluster_bits - 8)) - 1)) + 1;
	uint64_t csize = nsect * 512 - (off & 511);
	z_stream s;
	int ret;

	if (e == q->dbuf_e) /* a guest reading a cluster in pieces */
		return 0;
	q->dbuf_e = 0;
	if (off < q->cluster_size || off >= q->file_size)
		return -EIO;
	csize = qcow2_min(csize, q->file_size - off);
	if (qcow2_meta_read(q, off, q->cbuf, csize))
		return -EIO;
	memset(&s, 0, sizeof(s));
	if (inflateInit2(&s, -15) != Z_OK)
		return -ENOMEM;
	s.next_in = q->cbuf;
	s.avail_in = csize;
	s.next_out = q->dbuf;
	s.avail_out = q->cluster_size;
	ret = inflate(&s, Z_FINISH);
	inflateEnd(&s);
	if ((ret != Z_STREAM_END && ret != Z_BUF_ERROR) || s.avail_out)
		return -EIO;
	q->dbuf_e = e;
	return 0;
}

/* A data cluster's offset: aligned, past the header, starting inside the file. */
int qcow2_host(const struct qcow2 *q, uint64_t e, uint64_t *host)
{
	*host = e & QCOW2_L2_OFF_MASK;
	if (*host & (q->cluster_size - 1) || *host < q->cluster_size || *host >= q->file_size)
		return -EIO;
	return 0;
}

/* Guest data must not land on the header, the L1 or the refcount table. */
bool qcow2_overlaps_meta(const struct qcow2 *q, uint64_t host)
{
	uint64_t end = host + q->cluster_size;

	return host < q->cluster_size ||
	       (host < q->l1_off + q->l1_size * 8ull && end > q->l1_off) ||
	       (host < q->rt_off + q->rt_entries * 8 && end > q->rt_off);
}

int qcow2_map(struct qcow2 *q, uint64_t off, uint64_t len, bool write, uint64_t *host, uint64_t *n)
{
	uint64_t in = off & (q->cluster_size - 1), e;
	struct qcow2_l2 *l2;
	unsigned idx;

	*n = qcow2_min(len, q->cluster_size - in);
	if (off >= q->size || qcow2_entry(q, off, &l2, &idx, &e))
		return -EIO;
	if (!e || e & QCOW2_COMPRESSED || e & QCOW2_ZERO)
		return 0;
	if (qcow2_host(q, e, host))
		return -EIO;
	if (write && qcow2_overlaps_meta(q, *host))
		return -EIO;
	*host += in;
	/* Past the end of the file reads as zeroes: the synchronous path does that. */
	return *host + *n <= q->file_size;
}

/* One piece of one cluster. */
static int qcow2_read_piece(struct qcow2 *q, uint64_t off, uint8_t *buf, size_t n)
{
	uint64_t in = off & (q->cluster_size - 1), e, host;
	struct qcow2_l2 *l2;
	unsigned idx;
	ssize_t got;

	if (qcow2_entry(q, off, &l2, &idx, &e))
		return -EIO;
	if (!e)
		return qcow2_read_backing(q, off, buf, n);
	if (e & QCOW2_COMPRESSED) {
		if (qcow2_inflate(q, e))
			return -EIO;
		memcpy(buf, q->dbuf + in, n);
		return 0;
	}
	if (e & QCOW2_ZERO) {
		memset(buf, 0, n);
		return 0;
	}
	if (qcow2_host(q, e, &host))
		return -EIO;
	do
		got = pread(q->fd, buf, n, host + in);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		return -EIO;
	memset(buf + got, 0, n - got);
	return 0;
}

int qcow2_read(struct qcow2 *q, uint64_t off, void *buf, size_t len)
{
	uint8_t *b = buf;

	if (off > q->size || len > q->size - off)
		return -EIO;
	while (len) {
		size_t n = qcow2_min(len, q->cluster_size - (off & (q->cluster_size - 1)));

		if (qcow2_read_piece(q, off, b, n))
			return -EIO;
		off += n;
		b += n;
		len -= n;
	}
	return 0;
}

/* Where the refcount of cluster cl lives; *blk 0 when its block is not allocated. */
static int qcow2_rc_where(struct qcow2 *q, uint64_t cl, uint64_t *blk, uint64_t *ri)
{
	*ri = cl / (q->cluster_size / 2);
	if (*ri >= q->rt_entries)
		return -ENOSPC; /* the table must grow */
	*blk = q->rt[*ri] & QCOW2_L1_OFF_MASK;
	if (*blk && !qcow2_ptr_ok(q, *blk))
		return -EIO;
	return 0;
}

int qcow2_rc_get(struct qcow2 *q, uint64_t cl, uint16_t *rc)
{
	uint64_t blk, ri;
	int ret = qcow2_rc_where(q, cl, &blk, &ri);

	*rc = 0;
	if (ret || !blk)
		return ret;
	if (qcow2_meta_read(q, blk + cl % (q->cluster_size / 2) * 2, rc, 2))
		return -EIO;
	*rc = be16toh(*rc);
	return 0;
}

int qcow2_rc_set(struct qcow2 *q, uint64_t cl, uint16_t rc)
{
	uint64_t blk, ri;
	int ret = qcow2_rc_where(q, cl, &blk, &ri);

	if (ret)
		return ret;
	if (!blk)
		return -EIO;
	rc = htobe16(rc);
	return qcow2_meta_write(q, blk + cl % (q->cluster_size / 2) * 2, &rc, 2);
}

/* A refcount block for table entry ri, in cluster cl, which it covers itself. */
static int qcow2_rc_block_new(struct qcow2 *q, uint64_t ri, uint64_t cl)
{
	uint8_t *b = calloc(1, q->cluster_size);
	uint64_t e = htobe64(cl << q->cluster_bits);
	int ret;

	if (!b)
		return -ENOMEM;
	((uint16_t *)b)[cl % (q->cluster_size / 2)] = htobe16(1);
	ret = qcow2_meta_write(q, cl << q->cluster_bits, b, q->cluster_size);
	free(b);
	if (!ret)
		ret = qcow2_sync(q);
	if (!ret)
		ret = qcow2_meta_write(q, q->rt_off + ri * 8, &e, 8);
	if (!ret)
		q->rt[ri] = cl << q->cluster_bits;
	return ret;
}

/* The layout of a grown refcount table at cluster c0: nb blocks, then nt table clusters. */
static void qcow2_rt_layout(const struct qcow2 *q, uint64_t c0, uint64_t *nb, uint64_t *nt)
{
	uint64_t per = q->cluster_size / 2, entries;

	*nb = 1;
	for (;;) {
		entries = qcow2_min(q->rt_entries * 2, q->rt_entries + 65536);
		*nt = (entries * 8 + q->cluster_size - 1) / q->cluster_size;
		uint64_t last = (c0 + *nb + *nt - 1) / per;

		if (last >= *nt * q->cluster_size / 8) {
			*nt = ((last + 1) * 8 + q->cluster_size - 1) / q->cluster_size;
			last = (c0 + *nb + *nt - 1) / per;
		}
		if (last - c0 / per + 1 <= *nb)
			return;
		*nb = last - c0 / per + 1;
	}
}

/* Writes the new blocks (covering themselves and the table) and the table. */
static int qcow2_rt_write(struct qcow2 *q, uint64_t c0, uint64_t nb, uint64_t nt, uint64_t *rt)
{
	uint64_t per = q->cluster_size / 2;
	uint16_t *b = malloc(q->cluster_size);
	int ret = 0;

	if (!b)
		return -ENOMEM;
	for (uint64_t k = 0; k < nb && !ret; k++) {
		uint64_t ri = c0 / per + k;

		memset(b, 0, q->cluster_size);
		for (uint64_t cl = c0; cl < c0 + nb + nt; cl++)
			if (cl / per == ri)
				b[cl % per] = htobe16(1);
		rt[ri] = htobe64((c0 + k) << q->cluster_bits);
		ret = qcow2_meta_write(q, (c0 + k) << q->cluster_bits, b, q->cluster_size);
	}
	free(b);
	if (!ret)
		ret = qcow2_meta_write(q, (c0 + nb) << q->cluster_bits, rt, nt * q->cluster_size);
	return ret;
}

/*
 * A larger refcount table at the end of the file, with refcount blocks for
 * itself: written and synced before the header points at it, and the old
 * table's clusters freed only after that is synced too.
 */
static int qcow2_rt_grow(struct qcow2 *q, uint64_t c0)
{
	uint64_t nb, nt, old_off = q->rt_off, old_n = q->rt_entries, *rt;
	struct {
		uint64_t off;
		uint32_t clusters;
	} __attribute__((packed)) h;
	int ret;

	qcow2_rt_layout(q, c0, &nb, &nt);
	if (nt * q->cluster_size > QCOW2_MAX_RT_BYTES)
		return -ENOSPC;
	rt = calloc(nt, q->cluster_size);
	if (!rt)
		return -ENOMEM;
	for (uint64_t i = 0; i < q->rt_entries; i++)
		rt[i] = htobe64(q->rt[i]);
	ret = qcow2_rt_write(q, c0, nb, nt, rt);
	if (!ret)
		ret = qcow2_sync(q);
	h.off = htobe64((c0 + nb) << q->cluster_bits);
	h.clusters = htobe32(nt);
	if (!ret)
		ret = qcow2_meta_write(q, 48, &h, sizeof(h)); /* refcount_table_offset, _clusters */
	if (!ret)
		ret = qcow2_sync(q);
	if (ret) {
		free(rt);
		return ret;
	}
	for (uint64_t i = 0; i < nt * q->cluster_size / 8; i++)
		rt[i] = be64toh(rt[i]);
	free(q->rt);
	q->rt = rt;
	q->rt_off = (c0 + nb) << q->cluster_bits;
	q->rt_entries = nt * q->cluster_size / 8;
	for (uint64_t cl = old_off >> q->cluster_bits;
	     cl < (old_off + old_n * 8) >> q->cluster_bits; cl++)
		qcow2_rc_set(q, cl, 0); /* on failure, a leak */
	return 0;
}

/*
 * A free cluster at the end of the file, its refcount set to 1 (not yet
 * synced). The file grows by appending; clusters in use are skipped.
 */
int qcow2_alloc(struct qcow2 *q, uint64_t *out)
{
	for (unsigned tries = 0; tries < 1024; tries++) {
		uint64_t cl = (q->file_size + q->cluster_size - 1) >> q->cluster_bits;
		uint64_t blk, ri;
		uint16_t rc;
		int ret = qcow2_rc_where(q, cl, &blk, &ri);

		if (ret == -ENOSPC) {
			ret = qcow2_rt_grow(q, cl);
			if (ret)
				return ret;
			continue;
		}
		if (ret)
			return ret;
		if (!blk) {
			ret = qcow2_rc_block_new(q, ri, cl);
			if (ret)
				return ret;
			continue;
		}
		ret = qcow2_rc_get(q, cl, &rc);
		if (!ret && !rc)
			ret = qcow2_rc_set(q, cl, 1);
		if (ret)
			return ret;
		q->file_size = (cl + 1) << q->cluster_bits;
		if (!rc) {
			*out = cl << q->cluster_bits;
			return 0;
		}
	}
	return -EIO;
}
