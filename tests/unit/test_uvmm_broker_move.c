// SPDX-License-Identifier: GPL-2.0
/*
 * A device on an inherited channel (vhost-user-fd=) and ultravisord's moves
 * of it (vhost_dev_move), without KVM: in-process virtio-blk back ends
 * (iopart_thread_start) stand for iopartd a, b, c; the test drives the
 * virtio-pci transport through BAR 4 as a guest driver would, with fake KVM
 * host ops, and kicks and waits on the queue's eventfds itself.
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

#define RAM_SIZE (4u << 20)
#define RING_GPA 0x10000
#define HDR_GPA	 0x80000
#define ST_GPA	 (HDR_GPA + 16)
#define DATA_GPA 0x90000
#define QNUM	 64
#define SECTORS	 64

struct blk_hdr {
	uint32_t type;
	uint32_t ioprio;
	uint64_t sector;
};

static struct event_base *base;
static struct gmem mem;
static struct bus pio, mmio;
static struct pci_bus pb;
static struct vhost_dev *d;
static struct virtq_driver drv;
static struct iopart_export disk_exp;
static char img[] = "/tmp/test_uvmm_broker_move.XXXXXX";
static int img_fd, next_gsi = 24;
static int hook_calls, hook_channel = -2;
static ino_t hook_ino;

static int f_gsi_alloc(void *ctx)
{
	(void)ctx;
	return next_gsi++;
}

static int f_gsi_route(void *ctx, unsigned gsi, uint64_t addr, uint32_t data)
{
	(void)ctx, (void)gsi, (void)addr, (void)data;
	return 0;
}

static int f_irqfd(void *ctx, unsigned gsi, int fd, bool assign)
{
	(void)ctx, (void)gsi, (void)fd, (void)assign;
	return 0;
}

static int f_signal(void *ctx, uint64_t addr, uint32_t data)
{
	(void)ctx, (void)addr, (void)data;
	return 0;
}

static int f_ioeventfd(void *ctx, uint64_t addr, int fd, bool assign)
{
	(void)ctx, (void)addr, (void)fd, (void)assign;
	return 0;
}

static const struct vpci_host_ops host_ops = {f_gsi_alloc, f_gsi_route, f_irqfd, f_signal,
					      f_ioeventfd};

static void inflight_hook(void *ctx, int channel, int fd)
{
	struct stat st;

	(void)ctx;
	hook_calls++;
	hook_channel = channel;
	ck_assert_int_eq(fstat(fd, &st), 0);
	hook_ino = st.st_ino;
}

/* A back end in a thread, like an iopartd: its end of the channel is *fd. */
static struct iopart_thread *backend(int *fd)
{
	struct iopart_thread *t;
	char err[256];

	ck_assert_msg(iopart_thread_start(&t, &disk_exp, fd, err, sizeof(err)) == 0, "%s", err);
	return t;
}

static void bar_wr(uint64_t off, unsigned len, uint64_t v)
{
	virtio_pci_bar_write(&d->vp, off, &v, len);
}

static uint8_t status(void)
{
	uint64_t v = 0;

	virtio_pci_bar_read(&d->vp, VPCI_STATUS, &v, 1);
	return (uint8_t)v;
}

static void *gpa(uint64_t a)
{
	return mem.host + a;
}

/* What Linux's virtio_pci and virtio_blk do up to DRIVER_OK, on queue 0. */
static void driver_start(void)
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

static void req_submit(uint32_t type, uint64_t sector, uint8_t fill)
{
	struct blk_hdr *h = gpa(HDR_GPA);
	struct virtq_buf b[3] = {
		{HDR_GPA, 16, false},
		{DATA_GPA, 512, type == VIRTIO_BLK_T_IN},
		{ST_GPA, 1, true},
	};
	uint64_t one = 1;

	h->type = htole32(type);
	h->ioprio = 0;
	h->sector = htole64(sector);
	*(uint8_t *)gpa(ST_GPA) = 0xff;
	memset(gpa(DATA_GPA), fill, 512);
	ck_assert_int_ge(virtq_driver_add(&drv, b, 3, false, (void *)1), 0);
	ck_assert_int_eq(write(d->vp.q[0].kick_fd, &one, 8), 8);
}

/* Waits for the request's completion, running uvmm's loop meanwhile. */
static uint8_t req_wait(void)
{
	struct pollfd p = {.fd = d->vp.q[0].call_fd, .events = POLLIN};
	uint64_t v;
	uint32_t used;
	void *tok;
	int got;

	for (int i = 0; (got = virtq_driver_get_used(&drv, &used, &tok)) == 0; i++) {
		ck_assert_msg(i < 300, "the request did not complete");
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		if (poll(&p, 1, 10) > 0)
			(void)!read(p.fd, &v, 8);
	}
	ck_assert_int_eq(got, 1);
	return *(uint8_t *)gpa(ST_GPA);
}

static uint8_t req(uint32_t type, uint64_t sector, uint8_t fill)
{
	req_submit(type, sector, fill);
	return req_wait();
}

static void run_ms(int ms)
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

static void setup(void)
{
	struct pci_windows w = {0xc0000000ULL, 0x10000000, 0x1000000000ULL,
				1ULL << 30,    0x1000,	   0xf000};
	char err[256];

	signal(SIGPIPE, SIG_IGN);
	ck_assert_int_eq(evthread_use_pthreads(), 0);
	base = event_base_new();
	img_fd = mkstemp(img);
	ck_assert_int_ge(img_fd, 0);
	ck_assert_int_eq(ftruncate(img_fd, SECTORS * 512), 0);
	ck_assert_int_eq(iopart_export_parse_disk(img, &disk_exp, err, sizeof(err)), 0);
	ck_assert_int_eq(gmem_create(&mem, RAM_SIZE, false, -1), 0);
	bus_init(&pio);
	bus_init(&mmio);
	ck_assert_int_eq(pci_bus_init(&pb, &w, &pio, &mmio), 0);
	hook_calls = 0;
}

static void teardown(void)
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

/* The device on channel 4, over the inherited end fd. */
static void device_open(int fd)
{
	struct vm_dev_link l = {.fd = fd, .channel = 4};
	struct iopart_export e = {.kind = IOPART_BLK};
	char err[256];

	ck_assert_msg(vhost_dev_open(&d, &e, &l, 0, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(vhost_dev_realize(d, &mem, base, &host_ops, NULL, &pb, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_int_eq(d->channel, 4);
	vhost_dev_set_inflight_hook(d, inflight_hook, NULL);
}

static void check_sector(uint64_t sector, uint8_t fill)
{
	uint8_t buf[512];

	ck_assert_int_eq(pread(img_fd, buf, 512, (off_t)sector * 512), 512);
	ck_assert_uint_eq(buf[0], fill);
	ck_assert_uint_eq(buf[511], fill);
}

/* A back end, and the device open on it. */
static struct iopart_thread *device_up(void)
{
	int fd;
	struct iopart_thread *t = backend(&fd);

	device_open(fd);
	return t;
}

/* A new back end, the channel moved to it. */
static struct iopart_thread *move_to_new(void)
{
	int fd;
	struct iopart_thread *t = backend(&fd);

	ck_assert_int_eq(vhost_dev_move(d, fd), 0);
	return t;
}

/* A write through the device that lands in the image. */
static void write_ok(uint64_t sector, uint8_t fill)
{
	ck_assert_uint_eq(req(VIRTIO_BLK_T_OUT, sector, fill), VIRTIO_BLK_S_OK);
	check_sector(sector, fill);
}

/* The device closed, then its last back end. */
static void device_down(struct iopart_thread *last)
{
	vhost_dev_destroy(d);
	d = NULL;
	iopart_thread_stop(last);
}

START_TEST(adopt_then_move)
{
	struct iopart_thread *a, *b;
	ino_t area;

	a = device_up();
	ck_assert_int_eq(hook_calls, 0); /* no area before the driver starts the device */
	driver_start();
	/* GET_INFLIGHT_FD's area went to the hook, for ultravisord. */
	ck_assert_int_eq(hook_calls, 1);
	ck_assert_int_eq(hook_channel, 4);
	area = hook_ino;
	write_ok(3, 0xa1);

	/* A planned move: a still answers, b takes over. */
	b = move_to_new();
	ck_assert(d->connected);
	write_ok(5, 0xb2);
	ck_assert_uint_eq(req(VIRTIO_BLK_T_IN, 3, 0), VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(*(uint8_t *)gpa(DATA_GPA + 17), 0xa1);
	/* The same in-flight area went on to b: no new one for ultravisord. */
	ck_assert_int_eq(hook_calls, 1);
	ck_assert_uint_eq(hook_ino, area);
	ck_assert_uint_eq(status() & VIRTIO_STATUS_NEEDS_RESET, 0);
	iopart_thread_stop(a);
	run_ms(50);
	ck_assert(d->connected); /* a's end is no business of ours any more */
	device_down(b);
}
END_TEST

START_TEST(backend_dies_then_move)
{
	struct iopart_thread *a, *c;

	a = device_up();
	driver_start();
	ck_assert_uint_eq(req(VIRTIO_BLK_T_OUT, 1, 0x11), VIRTIO_BLK_S_OK);

	/* a dies: the device waits, with no path to reconnect to and no error for the guest. */
	iopart_thread_stop(a);
	run_ms(300);
	ck_assert(!d->connected);
	ck_assert_uint_eq(status() & VIRTIO_STATUS_NEEDS_RESET, 0);
	ck_assert(status() & VIRTIO_STATUS_DRIVER_OK);
	/* The guest goes on submitting: the request waits in the ring. */
	req_submit(VIRTIO_BLK_T_OUT, 2, 0x22);
	run_ms(50);
	ck_assert_uint_eq(*(uint8_t *)gpa(ST_GPA), 0xff);

	/* ultravisord moves the channel to c, which serves what waited. */
	c = move_to_new();
	ck_assert_uint_eq(req_wait(), VIRTIO_BLK_S_OK);
	check_sector(2, 0x22);
	ck_assert_uint_eq(req(VIRTIO_BLK_T_IN, 1, 0), VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(*(uint8_t *)gpa(DATA_GPA), 0x11);
	ck_assert_uint_eq(status() & VIRTIO_STATUS_NEEDS_RESET, 0);
	ck_assert_int_eq(hook_calls, 1);
	device_down(c);
}
END_TEST

/*
 * The driver resets and restarts the device while its back end is away: the
 * next back end gets a fresh in-flight area (nothing from before the reset is
 * resubmitted), and ultravisord hears of it.
 */
START_TEST(reset_while_waiting)
{
	struct iopart_thread *a, *c;

	a = device_up();
	driver_start();
	ck_assert_int_eq(hook_calls, 1);
	iopart_thread_stop(a);
	run_ms(100);
	ck_assert(!d->connected);
	bar_wr(VPCI_STATUS, 1, 0);
	ck_assert_uint_eq(status(), 0);
	virtq_driver_free(&drv);
	memset(gpa(RING_GPA), 0, 0x10000);
	driver_start();
	ck_assert_int_eq(hook_calls, 1);
	c = move_to_new();
	ck_assert_int_eq(hook_calls, 2);
	write_ok(4, 0x44);
	device_down(c);
}
END_TEST

/* A move to a back end that fails the handshake: the device waits for the next one. */
START_TEST(bad_move_then_good)
{
	struct iopart_thread *a, *b;
	int sv[2];

	a = device_up();
	driver_start();
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	close(sv[1]); /* nobody at the other end */
	ck_assert_int_lt(vhost_dev_move(d, sv[0]), 0);
	ck_assert(!d->connected);
	ck_assert_uint_eq(status() & VIRTIO_STATUS_NEEDS_RESET, 0);
	iopart_thread_stop(a);
	b = move_to_new();
	write_ok(9, 0x99);
	device_down(b);
}
END_TEST

/* Moved before the driver started the device: the start goes to the new back end. */
START_TEST(move_before_driver_ok)
{
	struct iopart_thread *a, *b;

	a = device_up();
	b = move_to_new();
	iopart_thread_stop(a);
	run_ms(50);
	ck_assert(d->connected);
	driver_start();
	ck_assert_int_eq(hook_calls, 1);
	write_ok(7, 0x77);
	device_down(b);
}
END_TEST

/* An in-process back end is no channel of ultravisord's: a move is refused, the fd closed. */
START_TEST(inproc_not_moved)
{
	struct vm_dev_link l = {.fd = -1, .channel = -1};
	char err[256];
	int sv[2];
	char c;

	ck_assert_int_eq(vhost_dev_open(&d, &disk_exp, &l, 0, err, sizeof(err)), 0);
	ck_assert_int_eq(vhost_dev_realize(d, &mem, base, &host_ops, NULL, &pb, err, sizeof(err)),
			 0);
	ck_assert_int_eq(d->channel, -1);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(vhost_dev_move(d, sv[0]), -EINVAL);
	ck_assert_int_eq(read(sv[1], &c, 1), 0); /* closed */
	close(sv[1]);
	ck_assert(d->connected);
}
END_TEST

/* An inherited socket whose peer is gone fails the handshake: a usage error, fd taken. */
START_TEST(dead_inherited_socket)
{
	struct vm_dev_link l = {.channel = 0};
	struct iopart_export e = {.kind = IOPART_NET};
	char err[256];
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	close(sv[1]);
	l.fd = sv[0];
	ck_assert_int_lt(vhost_dev_open(&d, &e, &l, 2, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "virtio-net2: vhost-user handshake failed"), "%s", err);
}
END_TEST

int main(void)
{
	return uv_check_run(
		uv_suite("uvmm_broker_move", setup, teardown, 30,
			 UV_TESTS(adopt_then_move, backend_dies_then_move, reset_while_waiting,
				  bad_move_then_good, move_before_driver_ok, inproc_not_moved,
				  dead_inherited_socket)));
}
