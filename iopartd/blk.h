/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UV_IOPART_BLK_H
#define UV_IOPART_BLK_H

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "export.h"
#include "ioq.h"

/* The virtio-blk back end (virtio 1.x, 5.2) on a raw image file, I/O through io_uring. */
#define BLK_QUEUE_DEPTH 128	   /* requests in flight per queue */
#define BLK_SEG_MAX	126	   /* data segments per request, as advertised */
#define BLK_BOUNCE_MAX	(4u << 20) /* largest unaligned O_DIRECT request */
#define BLK_DISCARD_MAX (1u << 22) /* sectors per discard / write-zeroes */
#define BLK_ZERO_CHUNK	(1u << 20) /* zeroes written per I/O where fallocate cannot */

struct blk_dev;

/*
 * Opens and checks the image of e. With base, completions are signalled
 * through an eventfd on that loop, and whenever a queue is served (a kick,
 * a completion) what has finished is completed in the same pass; without
 * (tests), only blk_queue_reap() completes anything.
 */
int blk_open(struct blk_dev **out, const struct iopart_export *e, struct event_base *base,
	     char *err, size_t errlen);
void blk_close(struct blk_dev *d);

uint64_t blk_features(struct blk_dev *d);
uint16_t blk_num_queues(struct blk_dev *d);
int blk_get_config(struct blk_dev *d, uint32_t off, void *buf, uint32_t len);
uint64_t blk_capacity(struct blk_dev *d); /* in 512-byte sectors */

/* The queue core: vq is served through ops/ctx (see ioq.h). */
int blk_queue_start(struct blk_dev *d, unsigned idx, struct virtq *vq, const struct ioq_ops *ops,
		    void *ctx);
void blk_queue_kick(struct blk_dev *d, unsigned idx);
/* Waits for outstanding I/O, completes it, and forgets the queue. */
void blk_queue_stop(struct blk_dev *d, unsigned idx);
/* Handles finished I/O (waiting for at least one when wait); returns how many. */
int blk_queue_reap(struct blk_dev *d, unsigned idx, bool wait);
unsigned blk_queue_inflight(struct blk_dev *d, unsigned idx);

#endif
