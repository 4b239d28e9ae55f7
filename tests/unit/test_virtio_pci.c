// SPDX-License-Identifier: GPL-2.0
/* The virtio-pci transport and MSI-X, driven through config space and BAR 4, with fakes. */
#include <check.h>

#include "uvcheck.h"
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "options.h"
#include "vhost_dev.h"
#include "virtio_pci.h"

#define NQ	  2
#define RAM_SIZE  (1u << 20)
#define BAR_ADDR  0xc0000000ULL
#define BAR_ADDR2 0xd0000000ULL
#define DEV_FEATS                                                                                  \
	(VIRTIO_F_BIT(1) | VIRTIO_F_BIT(28) | VIRTIO_F_BIT(29) | VIRTIO_F_BIT(32) |                \
	 VIRTIO_F_BIT(VIRTIO_F_ACCESS_PLATFORM) | VIRTIO_F_BIT(VIRTIO_F_RING_PACKED))

struct fake {
	/* host */
	int next_gsi;
	uint64_t route_addr[64];
	uint32_t route_data[64];
	int irqfd_gsi[16]; /* by fd, -1 = unbound */
	int signals;
	uint64_t last_msi_addr;
	uint32_t last_msi_data;
	uint64_t ioev_addr[NQ];
	int ioev_fd[NQ];
	int ioev_assigned;
	/* back end */
	int starts, stops, start_ret;
	uint64_t features;
	struct vpci_queue q[NQ];
	uint8_t config[8];
};

static struct fake fk;
static struct virtio_pci vp;
static struct pci_bus pb;
static struct bus pio, mmio;
static struct gmem mem;
static unsigned slot;

static int f_gsi_alloc(void *ctx)
{
	(void)ctx;
	return fk.next_gsi++;
}

static int f_gsi_route(void *ctx, unsigned gsi, uint64_t addr, uint32_t data)
{
	(void)ctx;
	fk.route_addr[gsi - 24] = addr;
	fk.route_data[gsi - 24] = data;
	return 0;
}

static int fd_slot(int fd)
{
	for (int i = 0; i < NQ; i++)
		if (vp.q[i].call_fd == fd)
			return i;
	return 15;
}

static int f_irqfd(void *ctx, unsigned gsi, int fd, bool assign)
{
	(void)ctx;
	fk.irqfd_gsi[fd_slot(fd)] = assign ? (int)gsi : -1;
	return 0;
}

static int f_signal(void *ctx, uint64_t addr, uint32_t data)
{
	(void)ctx;
	fk.signals++;
	fk.last_msi_addr = addr;
	fk.last_msi_data = data;
	return 0;
}

static int f_ioeventfd(void *ctx, uint64_t addr, int fd, bool assign)
{
	unsigned q = (unsigned)((addr & 0xfff) / 4);

	(void)ctx;
	ck_assert_uint_lt(q, NQ);
	ck_assert_int_eq(fd, vp.q[q].kick_fd);
	fk.ioev_addr[q] = assign ? addr : 0;
	fk.ioev_assigned += assign ? 1 : -1;
	return 0;
}

static const struct vpci_host_ops host_ops = {f_gsi_alloc, f_gsi_route, f_irqfd, f_signal,
					      f_ioeventfd};

static int f_get_config(void *be, uint32_t off, void *buf, uint32_t len)
{
	(void)be;
	memcpy(buf, fk.config + off, len);
	return 0;
}

static int f_set_config(void *be, uint32_t off, const void *buf, uint32_t len)
{
	(void)be;
	memcpy(fk.config + off, buf, len);
	return 0;
}

static int f_start(void *be, uint64_t features, struct vpci_queue *q, unsigned nq)
{
	(void)be;
	ck_assert_uint_eq(nq, NQ);
	fk.starts++;
	fk.features = features;
	memcpy(fk.q, q, sizeof(fk.q));
	return fk.start_ret;
}

static void f_stop(void *be, struct vpci_queue *q, unsigned nq)
{
	(void)be;
	(void)q;
	(void)nq;
	fk.stops++;
}

static const struct vpci_backend_ops be_ops = {f_get_config, f_set_config, f_start, f_stop};

static void setup(void)
{
	struct pci_windows w = {BAR_ADDR, 0x10000000, 0x1000000000ULL, 1ULL << 30, 0x1000, 0xf000};
	struct virtio_pci_cfg c = {
		.device_type = 2,
		.class_code = 0x018000,
		.features = DEV_FEATS,
		.num_queues = NQ,
		.queue_size = 256,
		.config_size = 8,
		.mem = &mem,
		.host = &host_ops,
		.be = &be_ops,
	};

	memset(&fk, 0, sizeof(fk));
	memset(fk.irqfd_gsi, 0xff, sizeof(fk.irqfd_gsi));
	fk.next_gsi = 24;
	memcpy(fk.config, "\x10\x20\x30\x40\x50\x60\x70\x80", 8);
	mem = (struct gmem){
		.fd = -1, .host = calloc(1, RAM_SIZE), .size = RAM_SIZE, .nr_regions = 1};
	mem.regions[0] = (struct gmem_region){0, RAM_SIZE, 0};
	bus_init(&pio);
	bus_init(&mmio);
	ck_assert_int_eq(pci_bus_init(&pb, &w, &pio, &mmio), 0);
	ck_assert_int_eq(virtio_pci_init(&vp, &c), 0);
	slot = (unsigned)pci_bus_add(&pb, &vp.pci);
	ck_assert_uint_eq(slot, 1);
}

static void teardown(void)
{
	virtio_pci_exit(&vp);
	pci_bus_exit(&pb);
	bus_exit(&pio);
	bus_exit(&mmio);
	free(mem.host);
}

static uint32_t cfg_rd(unsigned off, unsigned len)
{
	return pci_cfg_read(&pb, slot, 0, off, len);
}

static void cfg_wr(unsigned off, unsigned len, uint32_t v)
{
	pci_cfg_write(&pb, slot, 0, off, len, v);
}

static uint64_t bar_rd(uint64_t off, unsigned len)
{
	uint64_t v = 0;

	virtio_pci_bar_read(&vp, off, &v, len);
	return v;
}

static void bar_wr(uint64_t off, unsigned len, uint64_t v)
{
	virtio_pci_bar_write(&vp, off, &v, len);
}

static uint8_t status(void)
{
	return (uint8_t)bar_rd(VPCI_STATUS, 1);
}

/* Finds the vendor capability of a type; returns its offset or 0. */
static unsigned find_cap(unsigned id, int type)
{
	unsigned n = 0;

	for (unsigned at = cfg_rd(PCI_CAPABILITY_LIST, 1); at && n < 48; at = cfg_rd(at + 1, 1)) {
		n++;
		ck_assert_uint_ge(at, 0x40);
		if (cfg_rd(at, 1) == id && (type < 0 || cfg_rd(at + 3, 1) == (unsigned)type))
			return at;
	}
	return 0;
}

static void negotiate(uint64_t features)
{
	bar_wr(VPCI_STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	bar_wr(VPCI_GFSELECT, 4, 0);
	bar_wr(VPCI_GF, 4, (uint32_t)features);
	bar_wr(VPCI_GFSELECT, 4, 1);
	bar_wr(VPCI_GF, 4, (uint32_t)(features >> 32));
	bar_wr(VPCI_STATUS, 1, status() | VIRTIO_STATUS_FEATURES_OK);
}

static void setup_queue(unsigned q, uint16_t size, uint64_t desc, uint64_t avail, uint64_t used)
{
	bar_wr(VPCI_Q_SELECT, 2, q);
	bar_wr(VPCI_Q_SIZE, 2, size);
	bar_wr(VPCI_Q_DESC, 4, (uint32_t)desc);
	bar_wr(VPCI_Q_DESC + 4, 4, (uint32_t)(desc >> 32));
	bar_wr(VPCI_Q_AVAIL, 8, avail);
	bar_wr(VPCI_Q_USED, 8, used);
	bar_wr(VPCI_Q_ENABLE, 2, 1);
}

START_TEST(ids_and_caps)
{
	unsigned c;

	ck_assert_uint_eq(cfg_rd(PCI_VENDOR_ID, 2), 0x1af4);
	ck_assert_uint_eq(cfg_rd(PCI_DEVICE_ID, 2), 0x1042);
	ck_assert_uint_eq(cfg_rd(PCI_CLASS_REVISION, 4), 0x01800001);
	ck_assert_uint_eq(cfg_rd(PCI_SUBSYSTEM_VENDOR_ID, 2), 0x1af4);
	ck_assert_uint_ge(cfg_rd(PCI_SUBSYSTEM_VENDOR_ID + 2, 2), 0x40);
	ck_assert(cfg_rd(PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	/* BAR 4: 64-bit prefetchable memory, sized like a BAR */
	ck_assert_uint_eq(cfg_rd(0x20, 4) & 0xf, 0xc);
	cfg_wr(0x20, 4, 0xffffffff);
	ck_assert_uint_eq(cfg_rd(0x20, 4) & ~0xfu, (uint32_t) ~(VIRTIO_PCI_BAR_SIZE - 1));

	for (int t = 1; t <= 5; t++) {
		c = find_cap(0x09, t);
		ck_assert_msg(c, "no virtio cap of type %d", t);
		ck_assert_uint_eq(cfg_rd(c + 4, 1), t == 5 ? 0 : VIRTIO_PCI_BAR);
		ck_assert_uint_ge(cfg_rd(c + 2, 1), 16);
	}
	c = find_cap(0x09, VIRTIO_PCI_CAP_NOTIFY_CFG);
	ck_assert_uint_eq(cfg_rd(c + 8, 4), VPCI_NOTIFY_OFF);
	ck_assert_uint_eq(cfg_rd(c + 12, 4), 4 * NQ);
	ck_assert_uint_eq(cfg_rd(c + 16, 4), 4);
	ck_assert_uint_eq(cfg_rd(find_cap(0x09, VIRTIO_PCI_CAP_COMMON_CFG) + 12, 4),
			  VPCI_COMMON_LEN);
	c = find_cap(PCI_CAP_ID_MSIX, -1);
	ck_assert(c);
	ck_assert_uint_eq(cfg_rd(c + 2, 2), NQ); /* table size - 1 */
	ck_assert_uint_eq(cfg_rd(c + 4, 4), VPCI_MSIX_TABLE_OFF | VIRTIO_PCI_BAR);
	ck_assert_uint_eq(cfg_rd(c + 8, 4), VPCI_MSIX_PBA_OFF | VIRTIO_PCI_BAR);
	/* read-only parts stay put */
	cfg_wr(c + 2, 2, 0x3fff);
	ck_assert_uint_eq(cfg_rd(c + 2, 2), NQ);
	cfg_wr(c + 4, 4, 0);
	ck_assert_uint_eq(cfg_rd(c + 4, 4), VPCI_MSIX_TABLE_OFF | VIRTIO_PCI_BAR);
}
END_TEST

START_TEST(features)
{
	uint64_t offered;

	ck_assert_uint_eq(bar_rd(VPCI_NUM_QUEUES, 2), NQ);
	bar_wr(VPCI_DFSELECT, 4, 0);
	offered = bar_rd(VPCI_DF, 4);
	bar_wr(VPCI_DFSELECT, 4, 1);
	offered |= bar_rd(VPCI_DF, 4) << 32;
	ck_assert_uint_eq(offered,
			  VIRTIO_F_BIT(1) | VIRTIO_F_BIT(28) | VIRTIO_F_BIT(29) | VIRTIO_F_BIT(32));
	bar_wr(VPCI_DFSELECT, 4, 7);
	ck_assert_uint_eq(bar_rd(VPCI_DF, 4), 0);
	/* not a subset: FEATURES_OK does not stick */
	negotiate(VIRTIO_F_BIT(32) | VIRTIO_F_BIT(VIRTIO_F_ACCESS_PLATFORM));
	ck_assert(!(status() & VIRTIO_STATUS_FEATURES_OK));
	bar_wr(VPCI_STATUS, 1, 0);
	ck_assert_uint_eq(status(), 0);
	/* no VERSION_1: refused too */
	negotiate(VIRTIO_F_BIT(1));
	ck_assert(!(status() & VIRTIO_STATUS_FEATURES_OK));
	bar_wr(VPCI_STATUS, 1, 0);
	negotiate(VIRTIO_F_BIT(1) | VIRTIO_F_BIT(32));
	ck_assert(status() & VIRTIO_STATUS_FEATURES_OK);
	/* after FEATURES_OK the driver features are frozen */
	bar_wr(VPCI_GFSELECT, 4, 0);
	bar_wr(VPCI_GF, 4, 0xffffffff);
	ck_assert_uint_eq(bar_rd(VPCI_GF, 4), 2);
}
END_TEST

START_TEST(start_and_reset)
{
	ck_assert_uint_eq(bar_rd(VPCI_Q_SIZE, 2), 256);
	negotiate(VIRTIO_F_BIT(32) | VIRTIO_F_BIT(29));
	setup_queue(0, 128, 0x10000, 0x20000, 0x30000);
	setup_queue(1, 64, 0x40000, 0x41000, 0x42000);
	ck_assert_uint_eq(bar_rd(VPCI_Q_NOFF, 2), 1);
	ck_assert_uint_eq(bar_rd(VPCI_Q_AVAIL + 4, 4), 0);
	ck_assert_uint_eq(bar_rd(VPCI_Q_AVAIL, 4), 0x41000);
	bar_wr(VPCI_STATUS, 1, status() | VIRTIO_STATUS_DRIVER_OK);
	ck_assert_uint_eq(fk.starts, 1);
	ck_assert_uint_eq(status() & VIRTIO_STATUS_NEEDS_RESET, 0);
	ck_assert_uint_eq(fk.features, VIRTIO_F_BIT(32) | VIRTIO_F_BIT(29));
	ck_assert(fk.q[0].enabled && fk.q[1].enabled);
	ck_assert_uint_eq(fk.q[0].size, 128);
	ck_assert_ptr_eq(fk.q[0].desc_hva, mem.host + 0x10000);
	ck_assert_ptr_eq(fk.q[0].avail_hva, mem.host + 0x20000);
	ck_assert_ptr_eq(fk.q[1].used_hva, mem.host + 0x42000);
	ck_assert_int_eq(fk.q[1].kick_fd, vp.q[1].kick_fd);
	/* a running queue cannot be changed */
	bar_wr(VPCI_Q_SELECT, 2, 0);
	bar_wr(VPCI_Q_SIZE, 2, 2);
	bar_wr(VPCI_Q_DESC, 8, 0x50000);
	ck_assert_uint_eq(bar_rd(VPCI_Q_SIZE, 2), 128);
	ck_assert_uint_eq(bar_rd(VPCI_Q_DESC, 8), 0x10000);
	/* reset stops the back end and forgets everything */
	bar_wr(VPCI_STATUS, 1, 0);
	ck_assert_uint_eq(fk.stops, 1);
	ck_assert_uint_eq(status(), 0);
	ck_assert_uint_eq(bar_rd(VPCI_Q_SIZE, 2), 256);
	ck_assert_uint_eq(bar_rd(VPCI_Q_ENABLE, 2), 0);
	ck_assert_uint_eq(bar_rd(VPCI_Q_DESC, 8), 0);
	ck_assert_uint_eq(bar_rd(VPCI_MSIX_CONFIG, 2), MSIX_NO_VECTOR);
}
END_TEST

START_TEST(bad_rings)
{
	static const struct {
		uint16_t size;
		uint64_t desc, avail, used;
	} bad[] = {
		{128, RAM_SIZE - 16, 0x20000, 0x30000}, /* desc runs out of RAM */
		{128, 0x10000, 0x20000, RAM_SIZE},	/* used outside RAM */
		{100, 0x10000, 0x20000, 0x30000},	/* not a power of two */
		{512, 0x10000, 0x20000, 0x30000},	/* above the maximum */
		{0, 0x10000, 0x20000, 0x30000},		/* empty */
		{128, 0x10008, 0x20000, 0x30000},	/* misaligned desc */
		{128, ~0ULL - 100, 0x20000, 0x30000},	/* wraps */
	};

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		negotiate(VIRTIO_F_BIT(32));
		setup_queue(0, bad[i].size, bad[i].desc, bad[i].avail, bad[i].used);
		bar_wr(VPCI_STATUS, 1, status() | VIRTIO_STATUS_DRIVER_OK);
		ck_assert_msg(status() & VIRTIO_STATUS_NEEDS_RESET, "case %u accepted", i);
		ck_assert_uint_eq(fk.starts, 0);
		bar_wr(VPCI_STATUS, 1, 0);
		ck_assert_uint_eq(status(), 0);
	}
	/* a back end that fails to start also means NEEDS_RESET */
	fk.start_ret = -EIO;
	negotiate(VIRTIO_F_BIT(32));
	setup_queue(0, 128, 0x10000, 0x20000, 0x30000);
	bar_wr(VPCI_STATUS, 1, status() | VIRTIO_STATUS_DRIVER_OK);
	ck_assert(status() & VIRTIO_STATUS_NEEDS_RESET);
	/* DRIVER_OK without FEATURES_OK */
	bar_wr(VPCI_STATUS, 1, 0);
	bar_wr(VPCI_STATUS, 1, VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK);
	ck_assert(status() & VIRTIO_STATUS_NEEDS_RESET);
}
END_TEST

static void msix_entry(unsigned v, uint64_t addr, uint32_t data, bool masked)
{
	uint64_t base = VPCI_MSIX_TABLE_OFF + 16 * v;

	bar_wr(base + 12, 4, 1);
	bar_wr(base, 4, (uint32_t)addr);
	bar_wr(base + 4, 4, (uint32_t)(addr >> 32));
	bar_wr(base + 8, 4, data);
	bar_wr(base + 12, 4, masked);
}

static bool fd_readable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, 0) == 1;
}

START_TEST(msix)
{
	unsigned cap = VPCI_CAP_MSIX;
	uint64_t one = 1;

	/* power-on: every vector masked */
	ck_assert_uint_eq(bar_rd(VPCI_MSIX_TABLE_OFF + 12, 4), 1);
	cfg_wr(cap + 2, 2, MSIX_CTRL_ENABLE);
	msix_entry(1, 0xfee00000, 0x41, false);
	msix_entry(0, 0xfee01000, 0x42, true);
	bar_wr(VPCI_MSIX_CONFIG, 2, 0);
	ck_assert_uint_eq(bar_rd(VPCI_MSIX_CONFIG, 2), 0);
	bar_wr(VPCI_MSIX_CONFIG, 2, 99);
	ck_assert_uint_eq(bar_rd(VPCI_MSIX_CONFIG, 2), MSIX_NO_VECTOR);
	bar_wr(VPCI_MSIX_CONFIG, 2, 0);
	bar_wr(VPCI_Q_SELECT, 2, 0);
	bar_wr(VPCI_Q_MSIX, 2, 1);
	ck_assert_uint_eq(bar_rd(VPCI_Q_MSIX, 2), 1);
	/* the queue's call eventfd is bound to a GSI routed to the message */
	ck_assert_int_eq(fk.irqfd_gsi[0], 24);
	ck_assert_uint_eq(fk.route_addr[0], 0xfee00000);
	ck_assert_uint_eq(fk.route_data[0], 0x41);
	bar_wr(VPCI_Q_SELECT, 2, 1);
	bar_wr(VPCI_Q_MSIX, 2, 1000);
	ck_assert_uint_eq(bar_rd(VPCI_Q_MSIX, 2), MSIX_NO_VECTOR);

	/* the guest retargets the vector: same GSI, new route */
	msix_entry(1, 0xfee02000, 0x51, false);
	ck_assert_int_eq(fk.irqfd_gsi[0], 24);
	ck_assert_uint_eq(fk.route_addr[0], 0xfee02000);
	/* masked: unbound, and the eventfd shows in the PBA */
	bar_wr(VPCI_MSIX_TABLE_OFF + 16 + 12, 4, 1);
	ck_assert_int_eq(fk.irqfd_gsi[0], -1);
	ck_assert_uint_eq(bar_rd(VPCI_MSIX_PBA_OFF, 8), 0);
	ck_assert_int_eq(write(vp.q[0].call_fd, &one, 8), 8);
	ck_assert_uint_eq(bar_rd(VPCI_MSIX_PBA_OFF, 8), 2);
	ck_assert(fd_readable(vp.q[0].call_fd)); /* the PBA read consumed nothing */
	bar_wr(VPCI_MSIX_TABLE_OFF + 16 + 12, 4, 0);
	ck_assert_int_eq(fk.irqfd_gsi[0], 24);
	/* function mask works the same way */
	cfg_wr(cap + 2, 2, MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL);
	ck_assert_int_eq(fk.irqfd_gsi[0], -1);
	cfg_wr(cap + 2, 2, MSIX_CTRL_ENABLE);
	ck_assert_int_eq(fk.irqfd_gsi[0], 24);

	/* config change on a masked vector: pending, delivered on unmask */
	negotiate(VIRTIO_F_BIT(32));
	setup_queue(0, 128, 0x10000, 0x20000, 0x30000);
	bar_wr(VPCI_STATUS, 1, status() | VIRTIO_STATUS_DRIVER_OK);
	fk.config[0] = 0x99;
	virtio_pci_config_changed(&vp);
	ck_assert_uint_eq(bar_rd(VPCI_DEVICE_OFF, 1), 0x99);
	ck_assert_uint_eq(bar_rd(VPCI_CFG_GENERATION, 1), 1);
	ck_assert_int_eq(fk.signals, 0);
	ck_assert_uint_eq(bar_rd(VPCI_MSIX_PBA_OFF, 4) & 1, 1);
	bar_wr(VPCI_MSIX_TABLE_OFF + 12, 4, 0);
	ck_assert_int_eq(fk.signals, 1);
	ck_assert_uint_eq(fk.last_msi_addr, 0xfee01000);
	ck_assert_uint_eq(fk.last_msi_data, 0x42);
	ck_assert_uint_eq(bar_rd(VPCI_MSIX_PBA_OFF, 4) & 1, 0);
	virtio_pci_needs_reset(&vp);
	ck_assert_int_eq(fk.signals, 2);
	ck_assert(status() & VIRTIO_STATUS_NEEDS_RESET);
	ck_assert_uint_eq(bar_rd(VPCI_ISR_OFF, 1), 2);
	ck_assert_uint_eq(bar_rd(VPCI_ISR_OFF, 1), 0); /* read clears */
	/* MSI-X off: nothing bound */
	cfg_wr(cap + 2, 2, 0);
	ck_assert_int_eq(fk.irqfd_gsi[0], -1);
}
END_TEST

START_TEST(ioeventfds)
{
	uint64_t v;

	cfg_wr(0x20, 4, (uint32_t)BAR_ADDR);
	cfg_wr(0x24, 4, 0);
	ck_assert_int_eq(fk.ioev_assigned, 0); /* memory decode still off */
	/* a notify write that traps reaches the kick eventfd */
	bar_wr(VPCI_NOTIFY_OFF + 4, 2, 1);
	ck_assert_int_eq(read(vp.q[1].kick_fd, &v, 8), 8);
	bar_wr(VPCI_NOTIFY_OFF + 4 * NQ, 2, 1); /* no such queue */
	ck_assert(!fd_readable(vp.q[0].kick_fd));
	cfg_wr(PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	ck_assert_int_eq(fk.ioev_assigned, NQ);
	ck_assert_uint_eq(fk.ioev_addr[1], BAR_ADDR + VPCI_NOTIFY_OFF + 4);
	/* the guest moves the BAR: the ioeventfds follow */
	cfg_wr(PCI_COMMAND, 2, 0);
	ck_assert_int_eq(fk.ioev_assigned, 0);
	cfg_wr(0x20, 4, (uint32_t)BAR_ADDR2);
	cfg_wr(PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	ck_assert_int_eq(fk.ioev_assigned, NQ);
	ck_assert_uint_eq(fk.ioev_addr[0], BAR_ADDR2 + VPCI_NOTIFY_OFF);
	/* moved while decoding, as a careless guest might */
	cfg_wr(0x20, 4, (uint32_t)BAR_ADDR);
	ck_assert_int_eq(fk.ioev_assigned, NQ);
	ck_assert_uint_eq(fk.ioev_addr[0], BAR_ADDR + VPCI_NOTIFY_OFF);
}
END_TEST

START_TEST(pci_cfg_window)
{
	unsigned c = VPCI_CAP_PCI_CFG;

	cfg_wr(c + 4, 1, VIRTIO_PCI_BAR);
	cfg_wr(c + 8, 4, VPCI_NUM_QUEUES);
	cfg_wr(c + 12, 4, 2);
	ck_assert_uint_eq(cfg_rd(c + 16, 4), NQ);
	ck_assert_uint_eq(cfg_rd(c + 16, 2), NQ);
	/* a write through the window */
	cfg_wr(c + 8, 4, VPCI_Q_SELECT);
	cfg_wr(c + 16, 2, 1);
	ck_assert_uint_eq(bar_rd(VPCI_Q_SELECT, 2), 1);
	/* device config through the window */
	cfg_wr(c + 8, 4, VPCI_DEVICE_OFF + 4);
	cfg_wr(c + 12, 4, 4);
	ck_assert_uint_eq(cfg_rd(c + 16, 4), 0x80706050);
	/* nonsense: other BAR, odd length, misaligned, out of the BAR */
	cfg_wr(c + 4, 1, 2);
	(void)cfg_rd(c + 16, 4);
	cfg_wr(c + 4, 1, VIRTIO_PCI_BAR);
	cfg_wr(c + 12, 4, 3);
	(void)cfg_rd(c + 16, 4);
	cfg_wr(c + 12, 4, 4);
	cfg_wr(c + 8, 4, 2);
	cfg_wr(c + 16, 4, 0xdead);
	cfg_wr(c + 8, 4, 0xfffffffc);
	cfg_wr(c + 16, 4, 0xdead);
	(void)cfg_rd(c + 16, 4);
	ck_assert_uint_eq(bar_rd(VPCI_Q_SELECT, 2), 1);
}
END_TEST

START_TEST(hostile)
{
	uint64_t v = ~0ULL;

	/* wrong sizes and alignments: read 0, write nothing */
	bar_wr(VPCI_STATUS, 4, 0xff);
	bar_wr(VPCI_Q_SELECT + 1, 2, 0x55);
	bar_wr(VPCI_Q_SIZE, 4, 0x55);
	ck_assert_uint_eq(status(), 0);
	ck_assert_uint_eq(bar_rd(VPCI_Q_SELECT, 2), 0);
	ck_assert_uint_eq(bar_rd(VPCI_Q_SIZE, 2), 256);
	virtio_pci_bar_read(&vp, VPCI_COMMON_OFF + 0x3f, &v, 8);
	ck_assert_uint_eq(v, 0);
	virtio_pci_bar_read(&vp, 0x10, &v, 3);
	ck_assert_uint_eq(v, 0);
	ck_assert_uint_eq(bar_rd(VIRTIO_PCI_BAR_SIZE - 8, 8), 0);
	ck_assert_uint_eq(bar_rd(0x7000, 4), 0);
	bar_wr(0x7000, 4, 1);
	/* out-of-range queue: reads say "no queue", writes vanish */
	bar_wr(VPCI_Q_SELECT, 2, 999);
	ck_assert_uint_eq(bar_rd(VPCI_Q_SELECT, 2), 999);
	ck_assert_uint_eq(bar_rd(VPCI_Q_SIZE, 2), 0);
	ck_assert_uint_eq(bar_rd(VPCI_Q_MSIX, 2), MSIX_NO_VECTOR);
	bar_wr(VPCI_Q_SIZE, 2, 4);
	bar_wr(VPCI_Q_ENABLE, 2, 1);
	bar_wr(VPCI_Q_DESC, 8, 0x1000);
	bar_wr(VPCI_Q_MSIX, 2, 0);
	ck_assert_uint_eq(bar_rd(VPCI_Q_SIZE, 2), 0);
	/* device config: inside is served, beyond is 0 and dropped */
	ck_assert_uint_eq(bar_rd(VPCI_DEVICE_OFF, 4), 0x40302010);
	ck_assert_uint_eq(bar_rd(VPCI_DEVICE_OFF + 6, 4), 0);
	bar_wr(VPCI_DEVICE_OFF + 7, 2, 0xffff);
	ck_assert_uint_eq(fk.config[7], 0x80);
	bar_wr(VPCI_DEVICE_OFF + 1, 1, 0xee);
	ck_assert_uint_eq(fk.config[1], 0xee);
	/* MSI-X table: misaligned, byte-sized and beyond the table */
	bar_wr(VPCI_MSIX_TABLE_OFF + 2, 4, 0);
	bar_wr(VPCI_MSIX_TABLE_OFF + 12, 1, 0);
	bar_wr(VPCI_MSIX_TABLE_OFF + 16 * (NQ + 1), 4, 0);
	ck_assert_uint_eq(bar_rd(VPCI_MSIX_TABLE_OFF + 12, 4), 1);
	ck_assert_uint_eq(bar_rd(VPCI_MSIX_TABLE_OFF + 16 * (NQ + 1), 4), 0);
	ck_assert_uint_eq(bar_rd(VPCI_MSIX_PBA_OFF + 8, 4), 0);
	/* config space beyond 256 and a second function */
	ck_assert_uint_eq(pci_cfg_read(&pb, slot, 1, 0, 4), 0xffffffff);
	ck_assert_uint_eq(pci_cfg_read(&pb, slot, 0, 254, 4), 0xffffffff);
	/* feature select beyond 64 bits */
	bar_wr(VPCI_GFSELECT, 4, 5);
	bar_wr(VPCI_GF, 4, 0xffffffff);
	ck_assert_uint_eq(bar_rd(VPCI_GF, 4), 0);
}
END_TEST

static int parse(struct vm_options *o, char *err, int n, ...)
{
	char *argv[16] = {"run", "--kernel", "k"};
	va_list ap;

	va_start(ap, n);
	for (int i = 0; i < n; i++)
		argv[3 + i] = va_arg(ap, char *);
	va_end(ap);
	return options_parse_run(3 + n, argv, o, err);
}

START_TEST(options)
{
	static struct vm_options o;
	char err[OPT_ERR_LEN];

	ck_assert_int_eq(parse(&o, err, 5, "--disk", "vhost-user=/run/a.sock", "--rng", "--disk",
			       "img,readonly=on,serial=S1,num-queues=2"),
			 0);
	ck_assert_uint_eq(o.nr_devices, 3);
	ck_assert_int_eq(o.devices[0].kind, IOPART_BLK);
	ck_assert_str_eq(o.devices[0].socket, "/run/a.sock");
	ck_assert_int_eq(o.devices[1].kind, IOPART_RNG);
	ck_assert_str_eq(o.devices[1].socket, "");
	ck_assert_str_eq(o.devices[2].path, "img");
	ck_assert(o.devices[2].readonly);
	ck_assert_uint_eq(o.devices[2].num_queues, 2);
	ck_assert_str_eq(o.devices[2].serial, "S1");
	ck_assert_int_eq(parse(&o, err, 2, "--net", "vhost-user=/s"), 0);
	ck_assert_int_eq(o.devices[0].kind, IOPART_NET);

	ck_assert_int_eq(parse(&o, err, 2, "--disk", "img,bogus=1"), -1);
	ck_assert_ptr_nonnull(strstr(err, "bogus"));
	ck_assert_int_eq(parse(&o, err, 2, "--disk", "vhost-user="), -1);
	ck_assert_int_eq(parse(&o, err, 2, "--net", "eth0"), -1);
	ck_assert_ptr_nonnull(strstr(err, "--net"));
	ck_assert_int_eq(parse(&o, err, 1, "--disk"), -1);
	for (int i = 0; i <= OPT_MAX_DEVICES; i++) {
		char *argv[3 + 2 * (OPT_MAX_DEVICES + 1)];
		int n = 3;

		argv[0] = "run", argv[1] = "--kernel", argv[2] = "k";
		for (int j = 0; j <= i; j++)
			argv[n++] = "--rng";
		ck_assert_int_eq(options_parse_run(n, argv, &o, err), i < OPT_MAX_DEVICES ? 0 : -1);
	}
}
END_TEST

START_TEST(queue_counts)
{
	uint8_t cfg[64] = {0};
	const struct virtio_dev_info *blk = virtio_dev_info(IOPART_BLK);

	ck_assert_ptr_nonnull(blk);
	ck_assert_ptr_null(virtio_dev_info((enum iopart_kind)42));
	ck_assert_uint_eq(virtio_dev_queues(blk, 0, cfg, 8), 1);
	cfg[34] = 4;
	ck_assert_uint_eq(virtio_dev_queues(blk, 1ULL << 12, cfg, 8), 4);
	ck_assert_uint_eq(virtio_dev_queues(blk, 1ULL << 12, cfg, 2), 2);
	cfg[34] = 0;
	cfg[35] = 1; /* 256 queues: more than MSI-X vectors */
	ck_assert_uint_eq(virtio_dev_queues(blk, 1ULL << 12, cfg, 0), VPCI_MAX_QUEUES);
	ck_assert_uint_eq(virtio_dev_queues(virtio_dev_info(IOPART_NET), 0, cfg, 1), 2);
	ck_assert_uint_eq(virtio_dev_queues(virtio_dev_info(IOPART_RNG), 0, cfg, 1), 1);
	/* never offered: transport features the back ends lack */
	ck_assert_uint_eq(virtio_pci_filter_features(~0ULL),
			  0xffffffULL | VIRTIO_F_BIT(28) | VIRTIO_F_BIT(29) | VIRTIO_F_BIT(32));
}
END_TEST

int main(void)
{
	Suite *s = uv_suite("virtio_pci", setup, teardown, 0,
			    UV_TESTS(ids_and_caps, features, start_and_reset, bad_rings, msix,
				     ioeventfds, pci_cfg_window, hostile));

	uv_tcase(s, "options", NULL, NULL, 0, UV_TESTS(options, queue_counts));
	return uv_check_run(s);
}
