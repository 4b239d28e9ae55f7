// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-blk over the modern virtio-pci transport, one split queue, polled:
 * a request at a time is all a boot loader needs. No interrupts are set up
 * (no MSI-X vector), so the device only ever writes the used ring.
 */
#include "rt.h"

#define VIRTIO_VENDOR	   0x1af4
#define VIRTIO_BLK_MODERN  0x1042
#define PCI_STATUS	   0x06
#define PCI_COMMAND	   0x04
#define PCI_CAP_PTR	   0x34
#define PCI_CAP_VNDR	   0x09
#define VCAP_COMMON	   1
#define VCAP_NOTIFY	   2
#define VCAP_DEVICE	   4
#define ST_ACK		   1
#define ST_DRIVER	   2
#define ST_DRIVER_OK	   4
#define ST_FEATURES_OK	   8
#define ST_FAILED	   128
#define F_VERSION_1_HI	   (1u << 0) /* feature bit 32 */
#define F_BLK_RO	   (1u << 5)
#define QSIZE		   16
#define VRING_DESC_F_NEXT  1
#define VRING_DESC_F_WRITE 2
#define VBLK_T_IN	   0
#define VBLK_T_OUT	   1
#define VBLK_MAX_SECTORS   256 /* 128 KiB per request */
#define VBLK_TIMEOUT_S	   60

struct vcommon {
	uint32_t dfselect, dfeature, gfselect, gfeature;
	uint16_t msix_config, num_queues;
	uint8_t status, generation;
	uint16_t q_select, q_size, q_msix, q_enable, q_notify_off;
	uint64_t q_desc, q_driver, q_device;
} __attribute__((packed));

struct vdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

struct vblk_hdr {
	uint32_t type, reserved;
	uint64_t sector;
};

struct rt_vblk {
	volatile struct vcommon *common;
	volatile uint16_t *notify;
	volatile uint8_t *devcfg;
	bool readonly;
	uint64_t sectors;
	uint16_t last_used;
	struct vdesc desc[QSIZE] __attribute__((aligned(16)));
	struct {
		uint16_t flags, idx, ring[QSIZE], used_event;
	} avail __attribute__((aligned(2)));
	struct {
		uint16_t flags, idx;
		struct {
			uint32_t id, len;
		} ring[QSIZE];
		uint16_t avail_event;
	} used __attribute__((aligned(4)));
	struct vblk_hdr hdr;
	uint8_t status;
};

static struct rt_vblk vblk_dev;

/* Finds the virtio capabilities; every BAR window is mapped before use. */
static int vblk_caps(struct rt_vblk *b, unsigned dev)
{
	unsigned p, guard = 0;
	uint32_t mult = 0;

	if (!(rt_pci_read16(dev, PCI_STATUS) & 0x10))
		return -1;
	for (p = rt_pci_read8(dev, PCI_CAP_PTR) & 0xfc; p && guard < 48; guard++) {
		unsigned type = rt_pci_read8(dev, p + 3), bar = rt_pci_read8(dev, p + 4);
		uint32_t off = rt_pci_read32(dev, p + 8), len = rt_pci_read32(dev, p + 12);
		uint64_t base = rt_pci_bar(dev, bar);

		if (rt_pci_read8(dev, p) == PCI_CAP_VNDR && base && len &&
		    !rt_map_mmio(base + off, len)) {
			volatile void *at = (volatile void *)(uintptr_t)(base + off);

			if (type == VCAP_COMMON && len >= sizeof(struct vcommon))
				b->common = at;
			else if (type == VCAP_NOTIFY) {
				b->notify = at;
				mult = rt_pci_read32(dev, p + 16);
			} else if (type == VCAP_DEVICE && len >= 8)
				b->devcfg = at;
		}
		p = rt_pci_read8(dev, p + 1) & 0xfc;
	}
	if (!b->common || !b->notify || !b->devcfg)
		return -1;
	rt_write(&b->common->q_select, 0);
	b->notify = (volatile uint16_t *)((volatile uint8_t *)b->notify +
					  rt_read(&b->common->q_notify_off) * mult);
	return 0;
}

static int vblk_negotiate(struct rt_vblk *b)
{
	volatile struct vcommon *c = b->common;
	uint32_t lo, hi;

	rt_write(&c->status, 0);
	while (rt_read(&c->status))
		;
	rt_write(&c->status, ST_ACK | ST_DRIVER);
	rt_write(&c->dfselect, 0);
	lo = rt_read(&c->dfeature);
	rt_write(&c->dfselect, 1);
	hi = rt_read(&c->dfeature);
	if (!(hi & F_VERSION_1_HI))
		return -1;
	b->readonly = lo & F_BLK_RO;
	rt_write(&c->gfselect, 0);
	rt_write(&c->gfeature, lo & F_BLK_RO);
	rt_write(&c->gfselect, 1);
	rt_write(&c->gfeature, F_VERSION_1_HI);
	rt_write(&c->status, ST_ACK | ST_DRIVER | ST_FEATURES_OK);
	if (!(rt_read(&c->status) & ST_FEATURES_OK))
		return -1;
	return 0;
}

static int vblk_setup_queue(struct rt_vblk *b, uint16_t msix)
{
	volatile struct vcommon *c = b->common;
	uint16_t max;

	rt_write(&c->q_select, 0);
	max = rt_read(&c->q_size);
	if (max < 4)
		return -1;
	rt_write(&c->q_size, max < QSIZE ? max : QSIZE);
	rt_write(&c->q_msix, msix);
	if (rt_read(&c->q_msix) != msix)
		return -1;
	rt_write(&c->q_desc, (uint64_t)(uintptr_t)b->desc);
	rt_write(&c->q_driver, (uint64_t)(uintptr_t)&b->avail);
	rt_write(&c->q_device, (uint64_t)(uintptr_t)&b->used);
	rt_write(&c->q_enable, 1);
	rt_write(&c->status, ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
	return 0;
}

int rt_vblk_open(struct rt_vblk **out, struct rt_mem *m, unsigned *pci_dev, uint16_t msix)
{
	struct rt_vblk *b = &vblk_dev;

	(void)m;
	memset(b, 0, sizeof(*b));
	if (rt_pci_find(pci_dev, VIRTIO_VENDOR, VIRTIO_BLK_MODERN))
		return FW_E_NOPART;
	/* Memory space and bus mastering, in case nobody enabled them. */
	rt_pci_write16(*pci_dev, PCI_COMMAND, rt_pci_read16(*pci_dev, PCI_COMMAND) | 0x6);
	if (vblk_caps(b, *pci_dev) || vblk_negotiate(b) || vblk_setup_queue(b, msix)) {
		if (b->common)
			rt_write(&b->common->status, ST_FAILED);
		return FW_E_IO;
	}
	b->sectors = rt_read((volatile uint32_t *)b->devcfg) |
		     (uint64_t)rt_read((volatile uint32_t *)(b->devcfg + 4)) << 32;
	*out = b;
	return 0;
}

uint64_t rt_vblk_sectors(const struct rt_vblk *b)
{
	return b->sectors;
}

/* Waits for the device to use the request; gives up after VBLK_TIMEOUT_S. */
static int vblk_wait(struct rt_vblk *b)
{
	uint8_t sec = rt_rtc_seconds();
	unsigned ticks = 0;

	for (unsigned long spin = 0;; spin++) {
		if (rt_read(&b->used.idx) != b->last_used)
			break;
		__asm__ volatile("pause");
		if (spin % 4096)
			continue;
		if (rt_rtc_seconds() != sec) {
			sec = rt_rtc_seconds();
			if (++ticks > VBLK_TIMEOUT_S)
				return FW_E_IO;
		}
	}
	b->last_used++;
	rt_barrier();
	return b->status == 0 ? 0 : FW_E_IO;
}

static int vblk_request(struct rt_vblk *b, bool write, uint64_t sector, uint32_t n, void *buf)
{
	uint16_t idx = b->avail.idx;

	b->hdr = (struct vblk_hdr){.type = write ? VBLK_T_OUT : VBLK_T_IN, .sector = sector};
	b->status = 0xff;
	b->desc[0] = (struct vdesc){(uintptr_t)&b->hdr, sizeof(b->hdr), VRING_DESC_F_NEXT, 1};
	b->desc[1] = (struct vdesc){(uintptr_t)buf, n * 512,
				    VRING_DESC_F_NEXT | (write ? 0 : VRING_DESC_F_WRITE), 2};
	b->desc[2] = (struct vdesc){(uintptr_t)&b->status, 1, VRING_DESC_F_WRITE, 0};
	b->avail.ring[idx % QSIZE] = 0;
	rt_barrier();
	rt_write(&b->avail.idx, (uint16_t)(idx + 1));
	rt_barrier();
	rt_write(b->notify, 0);
	return vblk_wait(b);
}

int rt_vblk_io(struct rt_vblk *b, bool write, uint64_t sector, uint32_t count, void *buf)
{
	if (write && b->readonly)
		return FW_E_INVAL;
	return rt_vblk_io_raw(b, write, sector, count, buf);
}

int rt_vblk_io_raw(struct rt_vblk *b, bool write, uint64_t sector, uint32_t count, void *buf)
{
	uint8_t *p = buf;

	if (sector > b->sectors || count > b->sectors - sector)
		return FW_E_IO;
	while (count) {
		uint32_t n = count < VBLK_MAX_SECTORS ? count : VBLK_MAX_SECTORS;
		int ret = vblk_request(b, write, sector, n, p);

		if (ret)
			return ret;
		sector += n;
		count -= n;
		p += (uint64_t)n * 512;
	}
	return 0;
}

static int vblk_disk_read(void *ctx, uint64_t lba, uint32_t count, void *buf)
{
	return rt_vblk_io(ctx, false, lba, count, buf);
}

void rt_vblk_disk(struct rt_vblk *b, struct fw_disk *d)
{
	*d = (struct fw_disk){vblk_disk_read, b, 512, b->sectors};
}
