/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UVMM_VHOST_DEV_H
#define UVMM_VHOST_DEV_H

#include <event2/event.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "export.h"
#include "options.h"
#include "virtio_pci.h"
#include "vu_front.h"

/* What uvmm knows of each device type (virtio_devs.c). */
struct virtio_dev_info {
	const char *name;
	uint16_t type;	     /* virtio device ID */
	uint32_t class_code; /* PCI class, subclass, prog-if */
	unsigned num_queues; /* when the back end does not say */
	uint16_t queue_size;
	uint32_t config_size;
	uint64_t hidden; /* features that need a front end's help we do not give */
};

const struct virtio_dev_info *virtio_dev_info(enum iopart_kind kind);
/* How many queues to expose, given the back end's features, config and queue count. */
unsigned virtio_dev_queues(const struct virtio_dev_info *info, uint64_t features,
			   const uint8_t *config, unsigned backend_max);

struct vhost_dev {
	pthread_mutex_t lock;
	struct vu_front f;
	const struct virtio_dev_info *info;
	struct virtio_pci vp;
	const struct gmem *mem;
	char socket[sizeof(((struct iopart_export *)0)->socket)];
	char name[48];
	struct iopart_thread *thread;
	struct event *sock_ev, *retry_ev;
	bool realized, connected, running, gone;
	bool adopted; /* a channel ultravisord made: lost, it waits for a move */
	/*
	 * A standby back end (ultravisord's channel_standby), handshaken and
	 * with the memory table, that takes over when the active one goes away
	 * (vhost_standby.c); standby_epoch: the channel's epoch once it has.
	 */
	struct vu_front sf;
	bool has_standby, sf_mem, mem_sent;
	unsigned standby_epoch;
	struct event *standby_ev;
	void (*on_promoted)(void *ctx, int channel, unsigned epoch);
	void *promoted_ctx;
	int channel;  /* ultravisord's device number, or -1 */
	void (*on_inflight)(void *ctx, int channel, int fd);
	void *inflight_ctx;
	uint64_t features; /* acked by the driver */
	struct vpci_queue *q;
	unsigned nq;
	struct vu_inflight_area inflight;
	bool have_inflight, inflight_stale; /* stale: from before the driver's last start */
	time_t last_retry_log;
	unsigned retries;
	uint8_t config[VPCI_CONFIG_MAX];
};

/*
 * Starts or connects to the back end and handshakes, before the VM exists,
 * so that a missing image or socket is a usage error. err says why. On
 * failure *out may still need vhost_dev_destroy().
 */
/*
 * l->fd >= 0: a connected socket to a back end (inherited; taken, even on
 * failure); else e->socket set: a back end listening there; empty: one in a
 * thread of ours. l->channel is the number ultravisord knows the channel by.
 */
int vhost_dev_open(struct vhost_dev **out, const struct iopart_export *e,
		   const struct vm_dev_link *l, unsigned index, char *err, size_t errlen);
/* Builds the transport and plugs it into the PCI bus; watches the back end on base. */
int vhost_dev_realize(struct vhost_dev *d, const struct gmem *mem, struct event_base *base,
		      const struct vpci_host_ops *host, void *host_ctx, struct pci_bus *pb,
		      char *err, size_t errlen);
void vhost_dev_destroy(struct vhost_dev *d);
/*
 * ultravisord moved the channel to another back end (failover): fd is the
 * new connection (taken). The old one is dropped (its rings stopped first if
 * it still answers) and the new one gets what a reconnection gets: memory
 * table, in-flight area, running rings from the used index the guest saw.
 * On failure the device waits for another move. From the event loop's thread,
 * after vhost_dev_realize.
 */
int vhost_dev_move(struct vhost_dev *d, int fd);
/*
 * fn(ctx, channel, fd) is called (any thread, under the device's lock: it
 * must only copy fd) with every new in-flight area the back end hands out,
 * and now with the current one.
 */
void vhost_dev_set_inflight_hook(struct vhost_dev *d, void (*fn)(void *ctx, int channel, int fd),
				 void *ctx);

/* vhost_standby.c */
/*
 * fd (taken) is a standby back end for the channel, which takes the epoch
 * `epoch` if it takes over. It is handshaken and given the memory table now;
 * the last standby, if any, is dropped. From the event loop's thread.
 */
int vhost_dev_standby(struct vhost_dev *d, int fd, unsigned epoch);
/* fn(ctx, channel, epoch) after each switch to a standby (under the device's lock). */
void vhost_dev_set_promote_hook(struct vhost_dev *d,
				void (*fn)(void *ctx, int channel, unsigned epoch), void *ctx);
/* Internal to vhost_*.c, with d->lock held. */
/* The active back end is gone: switch to the standby. Whether it now serves. */
bool vhost_standby_promote(struct vhost_dev *d);
/* Closes the standby, if any; why (if not NULL) is logged. */
void vhost_standby_drop(struct vhost_dev *d, const char *why);
/*
 * fd, on which a back end never speaks first, woke its event: 0 nothing
 * (spurious), 1 a message (a broken peer), -1 the connection's end.
 */
int vhost_sock_peek(int fd);
/* The guest's memory table, sent on f (d->f, or the standby's). */
int vhost_dev_set_mem(struct vhost_dev *d, struct vu_front *f);
/* d->f handshaken: the driver's state replayed on it, and watched. 0 or -errno. */
int vhost_dev_take(struct vhost_dev *d);

#endif
