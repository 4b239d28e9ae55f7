/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UV_IOPART_QCOW2_H
#define UV_IOPART_QCOW2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * qcow2 images (docs/disk-formats.md): v2 and v3, read and write with cluster
 * allocation, backing files, compressed clusters (read; a write copies the
 * cluster). Metadata is read and written synchronously; the caller moves the
 * data of allocated clusters itself (io_uring) at the offsets qcow2_map gives.
 */
struct qcow2;

#define QCOW2_MAX_CHAIN 16 /* images in a backing chain, the top one included */

/* Whether fd starts with the qcow2 magic. */
bool qcow2_probe(int fd);

/*
 * Opens the qcow2 image on fd (which stays the caller's). probed: the format
 * came from the header, not from format=qcow2; then a backing file is refused
 * (a guest can write a qcow2 header with any backing path into a raw disk).
 */
int qcow2_open(struct qcow2 **out, int fd, const char *path, bool readonly, bool probed, char *err,
	       size_t errlen);
void qcow2_close(struct qcow2 *q);
uint64_t qcow2_size(const struct qcow2 *q); /* virtual size in bytes */
unsigned qcow2_cluster_size(const struct qcow2 *q);

/*
 * Where [off, off + len) is in the file: returns 1 with *host and *n (bytes,
 * within one cluster) when that much is plain data the caller can read (or,
 * with write, overwrite) in place; 0 with *n when it must go through
 * qcow2_read / qcow2_write; a negative errno when the metadata is corrupt.
 */
int qcow2_map(struct qcow2 *q, uint64_t off, uint64_t len, bool write, uint64_t *host, uint64_t *n);
/* Synchronous I/O of any range inside the virtual disk (backing, zero, compressed...). */
int qcow2_read(struct qcow2 *q, uint64_t off, void *buf, size_t len);
/* Allocates as needed (copy-on-write of whole clusters); buf NULL writes zeroes. */
int qcow2_write(struct qcow2 *q, uint64_t off, const void *buf, size_t len);

#endif
