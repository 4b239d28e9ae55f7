/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UV_IOPART_NET_H
#define UV_IOPART_NET_H

#include <event2/event.h>
#include <stddef.h>

#include "export.h"
#include "ioq.h"

/*
 * virtio-net (5.1) over a tap device: queue 0 receives, queue 1 transmits.
 * Frames carry the 12-byte virtio_net_hdr_v1, which the tap speaks too
 * (IFF_VNET_HDR), so transmit is a writev of the chain as it stands.
 */
#define NET_RXQ		0
#define NET_TXQ		1
#define NET_HDR_LEN	12
#define NET_FRAME_MAX	(65536 + NET_HDR_LEN)
#define NET_KICK_BUDGET 256 /* frames per queue per turn of the loop */

struct net_dev;

/* Opens and configures the tap of e; base watches it. */
int net_open(struct net_dev **out, const struct iopart_export *e, struct event_base *base,
	     char *err, size_t errlen);
void net_close(struct net_dev *d);
uint64_t net_features(struct net_dev *d);
int net_get_config(struct net_dev *d, uint32_t off, void *buf, uint32_t len);
int net_queue_start(struct net_dev *d, unsigned idx, struct virtq *vq, const struct ioq_ops *ops,
		    void *ctx);
void net_queue_kick(struct net_dev *d, unsigned idx);
void net_queue_stop(struct net_dev *d, unsigned idx);

#endif
