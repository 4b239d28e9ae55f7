// SPDX-License-Identifier: GPL-2.0
#include <errno.h>

#include "ioq.h"

/* A bare virtq: what unit tests and the channel benchmark drive devices with. */
static int direct_pop(void *ctx, unsigned idx, struct virtq_elem *e)
{
	(void)idx;
	return virtq_pop(ctx, e);
}

static void direct_complete(void *ctx, unsigned idx, uint16_t head, uint32_t len)
{
	(void)idx;
	virtq_push(ctx, head, len);
}

static void direct_notify(void *ctx, unsigned idx)
{
	(void)ctx;
	(void)idx;
}

static void direct_needs_reset(void *ctx, unsigned idx)
{
	struct virtq *vq = ctx;

	(void)idx;
	vq->broken = true;
}

const struct ioq_ops ioq_direct_ops = {
	.pop = direct_pop,
	.complete = direct_complete,
	.notify = direct_notify,
	.needs_reset = direct_needs_reset,
};
