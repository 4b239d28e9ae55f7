/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UV_IOPART_IOV_H
#define UV_IOPART_IOV_H

#include <stddef.h>
#include <sys/uio.h>

/* Scatter-gather helpers over a request's buffers (guest memory, already checked). */
size_t iov_size(const struct iovec *iov, unsigned n);
/* Copies up to len bytes starting off bytes in; returns how many were copied. */
size_t iov_to_buf(const struct iovec *iov, unsigned n, size_t off, void *buf, size_t len);
size_t iov_from_buf(const struct iovec *iov, unsigned n, size_t off, const void *buf, size_t len);
/*
 * Describes [off, off + len) of iov in dst (at most max entries); returns the
 * number of entries, or -1 when they do not fit or iov is shorter.
 */
int iov_slice(const struct iovec *iov, unsigned n, size_t off, size_t len, struct iovec *dst,
	      unsigned max);

#endif
