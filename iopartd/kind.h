/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UV_IOPART_KIND_H
#define UV_IOPART_KIND_H

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "export.h"
#include "ioq.h"

/*
 * One kind of device as dev.c serves it, so that dev.c has no knowledge of
 * any: each device file fills one of these with small adapters around its
 * typed functions (priv is its struct blk_dev, net_dev, ...). Hooks marked
 * optional may be NULL; the vhost-user ops of a connection follow from that.
 */
struct iopart_kind_ops {
	/* Opens the device of e into *priv, untouched on failure; err names the cause. */
	int (*open)(void **priv, const struct iopart_export *e, struct event_base *base, char *err,
		    size_t errlen);
	void (*close)(void *priv);	    /* also with priv NULL */
	uint64_t (*features)(void *priv);   /* optional: no device features */
	uint16_t (*num_queues)(void *priv); /* optional: one queue */
	/* Optional: without, the device has no config space and CONFIG is not offered. */
	int (*get_config)(void *priv, uint32_t off, void *buf, uint32_t len);
	/* Optional: without, writes to the config space fail with -EINVAL. */
	int (*set_config)(void *priv, uint32_t off, const void *buf, uint32_t len);
	int (*queue_start)(void *priv, unsigned idx, struct virtq *vq, const struct ioq_ops *ops,
			   void *ctx);
	void (*queue_kick)(void *priv, unsigned idx);
	/* Also for queues the device does not have (teardown stops them all). */
	void (*queue_stop)(void *priv, unsigned idx);
	/* Optional: what logs call an in-process channel; without, e->path. */
	const char *(*label)(const struct iopart_export *e);
	/*
	 * Another process may hold the same device open meanwhile (an image
	 * file; not a tap): a standby connection can be served (dev.c).
	 */
	bool shared_open;
};

extern const struct iopart_kind_ops blk_kind_ops;
extern const struct iopart_kind_ops net_kind_ops;
extern const struct iopart_kind_ops rng_kind_ops;
extern const struct iopart_kind_ops vcon_kind_ops;

#endif
