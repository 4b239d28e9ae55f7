/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UVMM_VIRTIO_PCI_H
#define UVMM_VIRTIO_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "memory.h"
#include "msix.h"
#include "pci.h"

/*
 * The virtio 1.x PCI transport (virtio spec 4.1), modern only. It owns the
 * registers the driver sees; the queues themselves are served elsewhere (a
 * vhost-user back end): the transport hands each queue a kick eventfd that
 * KVM signals on the notify address (ioeventfd) and a call eventfd that KVM
 * turns into the queue's MSI-X message (irqfd). uvmm's threads only see
 * configuration accesses.
 *
 * BAR 4 (64-bit memory) holds every region: common config, ISR, device
 * config, notify addresses (4 bytes apart), the MSI-X table and the PBA.
 */
#define VIRTIO_PCI_VENDOR      0x1af4
#define VIRTIO_PCI_DEVICE_BASE 0x1040
#define VIRTIO_PCI_BAR	       4
#define VIRTIO_PCI_BAR_SIZE    0x8000
#define VPCI_COMMON_OFF	       0x0000
#define VPCI_ISR_OFF	       0x1000
#define VPCI_DEVICE_OFF	       0x2000
#define VPCI_NOTIFY_OFF	       0x3000
#define VPCI_MSIX_TABLE_OFF    0x4000
#define VPCI_MSIX_PBA_OFF      0x5000
#define VPCI_REGION_SIZE       0x1000
#define VPCI_NOTIFY_MULT       4
#define VPCI_MAX_QUEUES	       (MSIX_MAX_VECTORS - 1)
#define VPCI_CONFIG_MAX	       256

/* Capability chain in config space. */
#define VPCI_CAP_COMMON	 0x40
#define VPCI_CAP_ISR	 0x50
#define VPCI_CAP_DEVICE	 0x60
#define VPCI_CAP_NOTIFY	 0x70
#define VPCI_CAP_PCI_CFG 0x84
#define VPCI_CAP_MSIX	 0x98

#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG	  3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4
#define VIRTIO_PCI_CAP_PCI_CFG	  5

#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER	  2
#define VIRTIO_STATUS_DRIVER_OK	  4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED	  0x80

#define VIRTIO_F_BIT(n)		 (1ULL << (n))
#define VIRTIO_F_ACCESS_PLATFORM 33
#define VIRTIO_F_RING_PACKED	 34

/* Common configuration registers (struct virtio_pci_common_cfg). */
#define VPCI_DFSELECT	    0x00
#define VPCI_DF		    0x04
#define VPCI_GFSELECT	    0x08
#define VPCI_GF		    0x0c
#define VPCI_MSIX_CONFIG    0x10
#define VPCI_NUM_QUEUES	    0x12
#define VPCI_STATUS	    0x14
#define VPCI_CFG_GENERATION 0x15
#define VPCI_Q_SELECT	    0x16
#define VPCI_Q_SIZE	    0x18
#define VPCI_Q_MSIX	    0x1a
#define VPCI_Q_ENABLE	    0x1c
#define VPCI_Q_NOFF	    0x1e
#define VPCI_Q_DESC	    0x20
#define VPCI_Q_AVAIL	    0x28
#define VPCI_Q_USED	    0x30
#define VPCI_COMMON_LEN	    0x38

/* One queue as the driver set it up. */
struct vpci_queue {
	uint16_t size, max_size;
	uint16_t vector;
	bool enabled;
	uint64_t desc, avail, used; /* guest-physical */
	void *desc_hva, *avail_hva, *used_hva;
	int kick_fd, call_fd; /* eventfds, owned by the transport */
	int bound_gsi;	      /* irqfd of call_fd, or -1 */
};

/* What the transport needs from the VM: KVM in uvmm, fakes in unit tests. */
struct vpci_host_ops {
	int (*gsi_alloc)(void *ctx);
	int (*gsi_route)(void *ctx, unsigned gsi, uint64_t addr, uint32_t data);
	int (*irqfd)(void *ctx, unsigned gsi, int fd, bool assign);
	int (*signal_msi)(void *ctx, uint64_t addr, uint32_t data);
	int (*ioeventfd)(void *ctx, uint64_t addr, int fd, bool assign);
};

/* What the transport needs from the device's back end (vhost_dev.c). */
struct vpci_backend_ops {
	int (*get_config)(void *be, uint32_t off, void *buf, uint32_t len);
	int (*set_config)(void *be, uint32_t off, const void *buf, uint32_t len);
	/* DRIVER_OK: start serving the enabled queues with the negotiated features. */
	int (*start)(void *be, uint64_t features, struct vpci_queue *q, unsigned nq);
	/* Reset: stop every queue. */
	void (*stop)(void *be, struct vpci_queue *q, unsigned nq);
};

struct virtio_pci_cfg {
	uint16_t device_type; /* virtio device ID: 1 net, 2 blk, 3 console, 4 rng */
	uint32_t class_code;
	uint64_t features; /* what the back end offers, before filtering */
	unsigned num_queues;
	uint16_t queue_size;
	uint32_t config_size;
	const struct gmem *mem;
	const struct vpci_host_ops *host;
	void *host_ctx;
	const struct vpci_backend_ops *be;
	void *be_ctx;
};

struct virtio_pci {
	pthread_mutex_t lock;
	struct pci_dev pci;
	struct virtio_pci_cfg c;
	struct msix msix;
	int gsi[MSIX_MAX_VECTORS]; /* -1 until the vector is first used */
	uint64_t routed_addr[MSIX_MAX_VECTORS];
	uint32_t routed_data[MSIX_MAX_VECTORS];
	uint64_t offered;
	uint32_t dfselect, gfselect;
	uint64_t driver_features;
	uint16_t config_vector;
	uint8_t status, generation, isr;
	uint16_t queue_select;
	bool started;
	uint64_t ioeventfd_base; /* BAR address the ioeventfds sit on; 0 = none */
	uint64_t trapped_kicks;
	uint8_t config[VPCI_CONFIG_MAX];
	struct vpci_queue q[VPCI_MAX_QUEUES];
};

/* Features the transport lets through from a back end to the driver. */
uint64_t virtio_pci_filter_features(uint64_t backend);
int virtio_pci_init(struct virtio_pci *vp, const struct virtio_pci_cfg *c);
void virtio_pci_exit(struct virtio_pci *vp);
/* The BAR handlers, exposed for tests (offset within BAR 4). */
void virtio_pci_bar_read(struct virtio_pci *vp, uint64_t off, void *data, unsigned len);
void virtio_pci_bar_write(struct virtio_pci *vp, uint64_t off, const void *data, unsigned len);
/* The back end's config changed: re-read it and tell the driver. Any thread. */
void virtio_pci_config_changed(struct virtio_pci *vp);
/* The back end broke: NEEDS_RESET, and tell the driver. Any thread. */
void virtio_pci_needs_reset(struct virtio_pci *vp);

#endif
