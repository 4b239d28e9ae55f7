/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UV_IOPART_QCOW2_INT_H
#define UV_IOPART_QCOW2_INT_H

#include "qcow2.h"

/* Shared by qcow2.c (header, open, checks) and qcow2_map.c (tables, I/O). */
#define QCOW2_MAGIC	   0x514649fbu /* "QFI\xfb" */
#define QCOW2_L1_OFF_MASK  0x00fffffffffffe00ull
#define QCOW2_L2_OFF_MASK  0x00fffffffffffe00ull
#define QCOW2_COPIED	   (1ull << 63)
#define QCOW2_COMPRESSED   (1ull << 62)
#define QCOW2_ZERO	   1ull
#define QCOW2_L2_CACHE	   8
#define QCOW2_MAX_L1	   ((32u << 20) / 8) /* entries, as QEMU's limit */
#define QCOW2_MAX_RT_BYTES (8u << 20)

struct qcow2_l2 {
	uint64_t off; /* of the table in the file; 0 when the slot is empty */
	uint64_t used;
	uint64_t *t; /* big endian, as on disk */
};

struct qcow2 {
	int fd;
	bool own_fd; /* backing images */
	bool readonly;
	uint32_t version;
	uint32_t cluster_bits;
	uint64_t cluster_size;
	uint64_t size;	    /* virtual */
	uint64_t file_size; /* grows as clusters are allocated */
	uint64_t l1_off;
	uint32_t l1_size;
	uint64_t *l1; /* host endian */
	uint64_t rt_off;
	uint64_t rt_entries;
	uint64_t *rt; /* refcount table, host endian; writable opens only */
	struct qcow2_l2 l2[QCOW2_L2_CACHE];
	uint64_t l2_tick;
	uint8_t *cbuf;	 /* a compressed cluster as read */
	uint8_t *dbuf;	 /* a cluster: decompressed, or being copied */
	uint64_t dbuf_e; /* the compressed entry dbuf holds inflated; 0: none */
	/* The backing image: none (bfd < 0), raw (bq NULL) or qcow2. */
	int bfd;
	uint64_t bsize;
	struct qcow2 *bq;
};

/* Reads metadata at off, which must lie inside the file. */
int qcow2_meta_read(struct qcow2 *q, uint64_t off, void *buf, size_t len);
int qcow2_meta_write(struct qcow2 *q, uint64_t off, const void *buf, size_t len);

/* qcow2_map.c, for qcow2_write.c */
uint64_t qcow2_min(uint64_t a, uint64_t b);
int qcow2_sync(struct qcow2 *q);
int qcow2_entry(struct qcow2 *q, uint64_t voff, struct qcow2_l2 **l2, unsigned *idx, uint64_t *e);
int qcow2_read_backing(struct qcow2 *q, uint64_t off, uint8_t *buf, size_t len);
int qcow2_inflate(struct qcow2 *q, uint64_t e);
int qcow2_host(const struct qcow2 *q, uint64_t e, uint64_t *host);
bool qcow2_overlaps_meta(const struct qcow2 *q, uint64_t host);
int qcow2_rc_get(struct qcow2 *q, uint64_t cl, uint16_t *rc);
int qcow2_rc_set(struct qcow2 *q, uint64_t cl, uint16_t rc);
int qcow2_alloc(struct qcow2 *q, uint64_t *out);

#endif
