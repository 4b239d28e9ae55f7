/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UV_IOPART_DEV_H
#define UV_IOPART_DEV_H

#include <event2/event.h>
#include <stddef.h>

#include "export.h"
#include "vu_back.h"

struct iopart_kind_ops;

/*
 * One exported device and the vhost-user connection serving it, if any:
 * what both iopartd and the in-process thread run.
 */
struct iopart_dev {
	struct iopart_export e;
	/* The hooks of e.kind (kind.h), which take priv as their device. */
	const struct iopart_kind_ops *kind;
	void *priv; /* struct blk_dev, net_dev, rng_dev or vcon_dev */
	struct vu_back *back;
	struct vu_dev_ops ops; /* dev.c's, less what this kind lacks */
	/* What logs call the connection (set after iopart_dev_open); else socket or path. */
	const char *label;
	/* Told when the front end goes away (after back is freed). */
	void (*on_disconnect)(struct iopart_dev *d);
	void *owner;
	struct event_base *base;
	/* A standby: the device is opened again when its first queue starts. */
	bool standby;
};

/* Opens the device of e on base; errors name the cause in err. */
int iopart_dev_open(struct iopart_dev *d, const struct iopart_export *e, struct event_base *base,
		    char *err, size_t errlen);
/* Serves a connected socket (takes fd); -EBUSY while another is served. */
int iopart_dev_serve(struct iopart_dev *d, struct event_base *base, int fd);
/*
 * Makes d a standby (before iopart_dev_serve): the front end may handshake
 * and map memory at once, but another back end serves the device until the
 * front end starts a queue here; the device is then opened again, so that
 * what the other wrote (an image's metadata) is what this one sees.
 * -EOPNOTSUPP for a device only one process can hold (a tap).
 */
int iopart_dev_standby(struct iopart_dev *d);
/*
 * Whether devices of kind may have a standby (see above): asked before
 * opening one, which for a tap the active back end holds fails as busy.
 */
bool iopart_kind_shared(enum iopart_kind kind);
/* Drops the connection, if any, and closes the device. */
void iopart_dev_close(struct iopart_dev *d);

#endif
