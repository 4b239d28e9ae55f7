/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UV_IOPART_RNG_H
#define UV_IOPART_RNG_H

#include <event2/event.h>

#include "ioq.h"

/* virtio-rng (device type 4): one queue of writable buffers, filled from getrandom(). */
#define RNG_REQ_MAX	(64u << 10) /* bytes given per request */
#define RNG_KICK_BUDGET 256	    /* requests served per kick */

struct rng_dev;

/* With base, a kick that exhausts its budget resumes from the loop; without, it drains. */
int rng_open(struct rng_dev **out, struct event_base *base);
void rng_close(struct rng_dev *d);
int rng_queue_start(struct rng_dev *d, unsigned idx, struct virtq *vq, const struct ioq_ops *ops,
		    void *ctx);
void rng_queue_kick(struct rng_dev *d, unsigned idx);
void rng_queue_stop(struct rng_dev *d, unsigned idx);

#endif
