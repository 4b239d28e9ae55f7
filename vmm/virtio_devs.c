// SPDX-License-Identifier: GPL-2.0
#include <string.h>

#include "vhost_dev.h"

#define VIRTIO_BLK_F_MQ		 12
#define VIRTIO_BLK_CFG_NUM_QUEUE 34
#define VIRTIO_NET_F_CTRL_VQ	 17
#define VIRTIO_NET_F_MQ		 22

#define VIRTIO_CONSOLE_F_MULTIPORT 1

/*
 * Network control-queue features need the front end to serve the control
 * queue (QEMU does it itself for vhost-user-net); uvmm does not, so they are
 * never offered.
 */
#define NET_HIDDEN (0xffULL << VIRTIO_NET_F_CTRL_VQ) /* CTRL_VQ .. CTRL_MAC_ADDR */

static const struct virtio_dev_info devs[] = {
	[IOPART_BLK] = {"virtio-blk", 2, 0x018000, 1, 256, 60, 0},
	[IOPART_NET] = {"virtio-net", 1, 0x020000, 2, 256, 20, NET_HIDDEN},
	[IOPART_RNG] = {"virtio-rng", 4, 0x00ff00, 1, 64, 0, 0},
	/* One port: MULTIPORT's control queues are not exposed, whatever the back end offers. */
	[IOPART_CONSOLE] = {"virtio-console", 3, 0x078000, 2, 128, 12,
			    1ULL << VIRTIO_CONSOLE_F_MULTIPORT},
};

const struct virtio_dev_info *virtio_dev_info(enum iopart_kind kind)
{
	if ((unsigned)kind >= sizeof(devs) / sizeof(devs[0]) || !devs[kind].name)
		return NULL;
	return &devs[kind];
}

unsigned virtio_dev_queues(const struct virtio_dev_info *info, uint64_t features,
			   const uint8_t *config, unsigned backend_max)
{
	unsigned n = info->num_queues;
	uint16_t cfgq;

	if (info->type == 2 && (features & (1ULL << VIRTIO_BLK_F_MQ))) {
		memcpy(&cfgq, config + VIRTIO_BLK_CFG_NUM_QUEUE, 2);
		n = cfgq ? cfgq : 1;
	}
	/* vhost-user counts queues for a disk, queue pairs for a network device. */
	if (info->type == 2 && backend_max && n > backend_max)
		n = backend_max;
	if (n > VPCI_MAX_QUEUES)
		n = VPCI_MAX_QUEUES;
	return n;
}
