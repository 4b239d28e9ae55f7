/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UV_IOPART_IOQ_H
#define UV_IOPART_IOQ_H

#include <stdint.h>

#include "virtq.h"

/*
 * How a device's queue code reaches its queue. In service that is the
 * vu_back (ctx is the struct vu_back *), which also resubmits what a previous
 * back end left in flight; in unit tests and benchmarks it is a bare virtq
 * (ctx is the struct virtq *), so device logic runs without a connection.
 */
struct ioq_ops {
	int (*pop)(void *ctx, unsigned idx, struct virtq_elem *e);
	void (*complete)(void *ctx, unsigned idx, uint16_t head, uint32_t len);
	void (*notify)(void *ctx, unsigned idx);
	void (*needs_reset)(void *ctx, unsigned idx);
};

extern const struct ioq_ops ioq_vu_ops;
extern const struct ioq_ops ioq_direct_ops;

#endif
