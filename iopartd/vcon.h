/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UV_IOPART_VCON_H
#define UV_IOPART_VCON_H

#include <event2/event.h>
#include <stddef.h>

#include "export.h"
#include "ioq.h"

/*
 * virtio-console (device type 3, virtio 1.x 5.3) with one port and no
 * MULTIPORT: queue 0 (receiveq0) takes what the host end types, queue 1
 * (transmitq0) carries the guest's output. The host end is a console
 * endpoint of common/console.c (pty, unix socket, file). Named vcon, not
 * console, so that its header cannot shadow common/console.h.
 */
#define VCON_RXQ	 0
#define VCON_TXQ	 1
#define VCON_KICK_BUDGET 256	    /* transmit chains per turn of the loop */
#define VCON_TX_MAX	 (1u << 20) /* bytes in one transmit chain; more breaks the queue */

/* The device configuration (5.3.4), little-endian. */
#define VCON_CFG_COLS	      0
#define VCON_CFG_ROWS	      2
#define VCON_CFG_MAX_NR_PORTS 4
#define VCON_CFG_EMERG_WR     8
#define VCON_CFG_SIZE	      12

#define VIRTIO_CONSOLE_F_SIZE	     0
#define VIRTIO_CONSOLE_F_MULTIPORT   1
#define VIRTIO_CONSOLE_F_EMERG_WRITE 2

struct vcon_dev;

/* Opens the endpoint of e (pty, unix socket, file) on base, which it needs. */
int vcon_open(struct vcon_dev **out, const struct iopart_export *e, struct event_base *base,
	      char *err, size_t errlen);
void vcon_close(struct vcon_dev *d);
uint64_t vcon_features(struct vcon_dev *d);
int vcon_get_config(struct vcon_dev *d, uint32_t off, void *buf, uint32_t len);
/* Only emerg_wr is writable: the character goes out with the guest's output. */
int vcon_set_config(struct vcon_dev *d, uint32_t off, const void *buf, uint32_t len);
int vcon_queue_start(struct vcon_dev *d, unsigned idx, struct virtq *vq, const struct ioq_ops *ops,
		     void *ctx);
void vcon_queue_kick(struct vcon_dev *d, unsigned idx);
void vcon_queue_stop(struct vcon_dev *d, unsigned idx);

#endif
