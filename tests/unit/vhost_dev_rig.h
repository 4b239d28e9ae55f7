/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UV_TEST_VHOST_DEV_RIG_H
#define UV_TEST_VHOST_DEV_RIG_H

/*
 * A uvmm virtio-blk device (vhost_dev) on a channel of ultravisord's, without
 * KVM: fake KVM host ops, guest RAM, a PCI bus; the test drives the
 * virtio-pci transport through BAR 4 as a guest driver would, and kicks and
 * waits on the queue's eventfds itself. In-process virtio-blk back ends
 * (iopart_thread_start) on a raw image stand for iopartds. Requests use
 * slots: slot s has its header (and status byte) at HDR_GPA + s * 0x100 and
 * its 512 bytes of data at DATA_GPA + s * 512.
 */
#include <check.h>

#include "uvcheck.h"
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <linux/virtio_blk.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "inproc.h"
#include "memory.h"
#include "vhost_dev.h"
#include "virtq_driver.h"

#define RAM_SIZE  (4u << 20)
#define RING_GPA  0x10000
#define HDR_GPA	  0x80000
#define ST_GPA	  (HDR_GPA + 16) /* slot 0's status */
#define DATA_GPA  0x90000
#define QNUM	  64
#define SECTORS	  64
#define MAX_SLOTS 16

static struct event_base *base;
static struct gmem mem;
static struct bus pio, mmio;
static struct pci_bus pb;
static struct vhost_dev *d;
static struct virtq_driver drv;
static struct iopart_export disk_exp;
static char img[64];
static int img_fd, next_gsi = 24;

static inline int f_gsi_alloc(void *ctx)
{
	(void)ctx;
	return next_gsi++;
}

static inline int f_gsi_route(void *ctx, unsigned gsi, uint64_t addr, uint32_t data)
{
	(void)ctx, (void)gsi, (void)addr, (void)data;
	return 0;
}

static inline int f_irqfd(void *ctx, unsigned gsi, int fd, bool assign)
{
	(void)ctx, (void)gsi, (void)fd, (void)assign;
	return 0;
}

static inline int f_signal(void *ctx, uint64_t addr, uint32_t data)
{
	(void)ctx, (void)addr, (void)data;
	return 0;
}

static inline int f_ioeventfd(void *ctx, uint64_t addr, int fd, bool assign)
{
	(void)ctx, (void)addr, (void)fd, (void)assign;
	return 0;
}

static const struct vpci_host_ops host_ops = {f_gsi_alloc, f_gsi_route, f_irqfd, f_signal,
					      f_ioeventfd};

/* The image (a new /tmp/NAME.XXXXXX of SECTORS sectors), the RAM, the buses. */
static inline void vdev_rig_setup(const char *name)
{
	struct pci_windows w = {0xc0000000ULL, 0x10000000, 0x1000000000ULL,
				1ULL << 30,    0x1000,	   0xf000};
	char err[256];

	signal(SIGPIPE, SIG_IGN);
	ck_assert_int_eq(evthread_use_pthreads(), 0);
	base = event_base_new();
	snprintf(img, sizeof(img), "/tmp/%s.XXXXXX", name);
	img_fd = mkstemp(img);
	ck_assert_int_ge(img_fd, 0);
	ck_assert_int_eq(ftruncate(img_fd, SECTORS * 512), 0);
	ck_assert_int_eq(iopart_export_parse_disk(img, &disk_exp, err, sizeof(err)), 0);
	ck_assert_int_eq(gmem_create(&mem, RAM_SIZE, GMEM_SHARED, -1), 0);
	bus_init(&pio);
	bus_init(&mmio);
	ck_assert_int_eq(pci_bus_init(&pb, &w, &pio, &mmio), 0);
}

static inline void vdev_rig_teardown(void)
{
	vhost_dev_destroy(d);
	d = NULL;
	virtq_driver_free(&drv);
	pci_bus_exit(&pb);
	bus_exit(&pio);
	bus_exit(&mmio);
	gmem_destroy(&mem);
	event_base_free(base);
	close(img_fd);
	unlink(img);
}

/* A back end in a thread, like an iopartd: its end of the channel is *fd. */
static inline struct iopart_thread *backend(int *fd)
{
	struct iopart_thread *t;
	char err[256];

	ck_assert_msg(iopart_thread_start(&t, &disk_exp, fd, err, sizeof(err)) == 0, "%s", err);
	return t;
}

static inline void bar_wr(uint64_t off, unsigned len, uint64_t v)
{
	virtio_pci_bar_write(&d->vp, off, &v, len);
}

static inline uint8_t status(void)
{
	uint64_t v = 0;

	virtio_pci_bar_read(&d->vp, VPCI_STATUS, &v, 1);
	return (uint8_t)v;
}

static inline void *gpa(uint64_t a)
{
	return mem.host + a;
}

/* The device on channel `channel`, over the inherited end fd. */
static inline void device_open(int fd, int channel)
{
	struct vm_dev_link l = {.fd = fd, .channel = channel};
	struct iopart_export e = {.kind = IOPART_BLK};
	char err[256];

	ck_assert_msg(vhost_dev_open(&d, &e, &l, 0, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(vhost_dev_realize(d, &mem, base, &host_ops, NULL, &pb, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_int_eq(d->channel, channel);
}

/* What Linux's virtio_pci and virtio_blk do up to DRIVER_OK, on queue 0. */
static inline void driver_start(void)
{
	ck_assert_int_eq(virtq_driver_init(&drv, gpa(RING_GPA), RING_GPA, QNUM, 0, 0), 0);
	bar_wr(VPCI_STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	bar_wr(VPCI_GFSELECT, 4, 1);
	bar_wr(VPCI_GF, 4, 1); /* VERSION_1 */
	bar_wr(VPCI_STATUS, 1, status() | VIRTIO_STATUS_FEATURES_OK);
	ck_assert(status() & VIRTIO_STATUS_FEATURES_OK);
	bar_wr(VPCI_Q_SELECT, 2, 0);
	bar_wr(VPCI_Q_SIZE, 2, QNUM);
	bar_wr(VPCI_Q_DESC, 8, drv.desc_gpa);
	bar_wr(VPCI_Q_AVAIL, 8, drv.avail_gpa);
	bar_wr(VPCI_Q_USED, 8, drv.used_gpa);
	bar_wr(VPCI_Q_ENABLE, 2, 1);
	bar_wr(VPCI_STATUS, 1, status() | VIRTIO_STATUS_DRIVER_OK);
	ck_assert_uint_eq(status() & (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_NEEDS_RESET),
			  VIRTIO_STATUS_DRIVER_OK);
}

static inline uint8_t *slot_status(unsigned s)
{
	return gpa(HDR_GPA + s * 0x100 + 16);
}

static inline uint8_t *slot_data(unsigned s)
{
	return gpa(DATA_GPA + s * 512);
}

/* A request in slot s (its token: s + 1), data filled with fill; kicked when kick. */
static inline void slot_add(unsigned s, uint32_t type, uint64_t sector, uint8_t fill, bool kick)
{
	uint64_t h = HDR_GPA + s * 0x100, one = 1;
	struct virtio_blk_outhdr *hdr = gpa(h);
	struct virtq_buf b[3] = {
		{h, 16, false},
		{DATA_GPA + s * 512, 512, type == VIRTIO_BLK_T_IN},
		{h + 16, 1, true},
	};

	ck_assert_uint_lt(s, MAX_SLOTS);
	hdr->type = htole32(type);
	hdr->ioprio = 0;
	hdr->sector = htole64(sector);
	*slot_status(s) = 0xff;
	memset(slot_data(s), fill, 512);
	ck_assert_int_ge(virtq_driver_add(&drv, b, 3, false, (void *)(uintptr_t)(s + 1)), 0);
	if (kick)
		ck_assert_int_eq(write(d->vp.q[0].kick_fd, &one, 8), 8);
}

/* The next completion's slot, running uvmm's loop meanwhile; -1 if none within ms. */
static inline int slot_wait(int ms)
{
	struct pollfd p = {.fd = d->vp.q[0].call_fd, .events = POLLIN};
	uint64_t v;
	uint32_t used;
	void *tok;
	int got;

	for (int i = 0; (got = virtq_driver_get_used(&drv, &used, &tok)) == 0; i++) {
		if (i >= ms / 10)
			return -1;
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		if (poll(&p, 1, 10) > 0)
			(void)!read(p.fd, &v, 8);
	}
	ck_assert_int_eq(got, 1);
	return (int)(uintptr_t)tok - 1;
}

/* One request in slot 0, completed within 10 s: its status. */
static inline uint8_t req(uint32_t type, uint64_t sector, uint8_t fill)
{
	slot_add(0, type, sector, fill, true);
	ck_assert_msg(slot_wait(10000) == 0, "the request did not complete");
	return *slot_status(0);
}

static inline void run_ms(int ms)
{
	struct timespec end, now;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_nsec += ms * 1000000L;
	end.tv_sec += end.tv_nsec / 1000000000L;
	end.tv_nsec %= 1000000000L;
	do {
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		usleep(2000);
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec < end.tv_sec ||
		 (now.tv_sec == end.tv_sec && now.tv_nsec < end.tv_nsec));
}

/* Runs uvmm's loop until cond() holds; fails after ms. */
static inline void run_until(bool (*cond)(void), int ms, const char *what)
{
	for (int t = 0; !cond(); t += 5) {
		ck_assert_msg(t < ms, "timed out waiting for %s", what);
		run_ms(5);
	}
}

static inline void check_sector(uint64_t sector, uint8_t fill)
{
	uint8_t buf[512];

	ck_assert_int_eq(pread(img_fd, buf, 512, (off_t)sector * 512), 512);
	ck_assert_uint_eq(buf[0], fill);
	ck_assert_uint_eq(buf[511], fill);
}

/* A write through the device that lands in the image. */
static inline void write_ok(uint64_t sector, uint8_t fill)
{
	ck_assert_uint_eq(req(VIRTIO_BLK_T_OUT, sector, fill), VIRTIO_BLK_S_OK);
	check_sector(sector, fill);
}

/* A read through the device that finds fill. */
static inline void read_is(uint64_t sector, uint8_t fill)
{
	ck_assert_uint_eq(req(VIRTIO_BLK_T_IN, sector, 0), VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(*slot_data(0), fill);
	ck_assert_uint_eq(slot_data(0)[511], fill);
}

/* A new back end, the channel moved to it. */
static inline struct iopart_thread *move_to_new(void)
{
	int fd;
	struct iopart_thread *t = backend(&fd);

	ck_assert_int_eq(vhost_dev_move(d, fd), 0);
	return t;
}

/* The device closed, then its last back end. */
static inline void device_down(struct iopart_thread *last)
{
	vhost_dev_destroy(d);
	d = NULL;
	iopart_thread_stop(last);
}

#endif
