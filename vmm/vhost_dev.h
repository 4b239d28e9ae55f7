/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UVMM_VHOST_DEV_H
#define UVMM_VHOST_DEV_H

#include <event2/event.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "export.h"
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
	uint64_t features; /* acked by the driver */
	struct vpci_queue *q;
	unsigned nq;
	struct vu_inflight_area inflight;
	bool have_inflight;
	time_t last_retry_log;
	unsigned retries;
	uint8_t config[VPCI_CONFIG_MAX];
};

/*
 * Starts or connects to the back end and handshakes, before the VM exists,
 * so that a missing image or socket is a usage error. err says why. On
 * failure *out may still need vhost_dev_destroy().
 */
/* e->socket set: a back end in another process; empty: one in a thread of ours. */
int vhost_dev_open(struct vhost_dev **out, const struct iopart_export *e, unsigned index, char *err,
		   size_t errlen);
/* Builds the transport and plugs it into the PCI bus; watches the back end on base. */
int vhost_dev_realize(struct vhost_dev *d, const struct gmem *mem, struct event_base *base,
		      const struct vpci_host_ops *host, void *host_ctx, struct pci_bus *pb,
		      char *err, size_t errlen);
void vhost_dev_destroy(struct vhost_dev *d);

#endif
