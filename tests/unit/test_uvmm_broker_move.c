// SPDX-License-Identifier: GPL-2.0
/*
 * A device on an inherited channel (vhost-user-fd=) and ultravisord's moves
 * of it (vhost_dev_move), without KVM: in-process virtio-blk back ends
 * (iopart_thread_start) stand for iopartd a, b, c; the test drives the
 * virtio-pci transport through BAR 4 as a guest driver would, with fake KVM
 * host ops, and kicks and waits on the queue's eventfds itself.
 */
#include "vhost_dev_rig.h"

static int hook_calls, hook_channel = -2;
static ino_t hook_ino;

static void inflight_hook(void *ctx, int channel, int fd)
{
	struct stat st;

	(void)ctx;
	hook_calls++;
	hook_channel = channel;
	ck_assert_int_eq(fstat(fd, &st), 0);
	hook_ino = st.st_ino;
}

static void setup(void)
{
	vdev_rig_setup("test_uvmm_broker_move");
	hook_calls = 0;
}

static void teardown(void)
{
	vdev_rig_teardown();
}

static void req_submit(uint32_t type, uint64_t sector, uint8_t fill)
{
	slot_add(0, type, sector, fill, true);
}

/* Waits for the request's completion, running uvmm's loop meanwhile. */
static uint8_t req_wait(void)
{
	ck_assert_msg(slot_wait(10000) == 0, "the request did not complete");
	return *slot_status(0);
}

/* The device on channel 4, over the inherited end fd, its in-flight hook set. */
static void device_on(int fd)
{
	device_open(fd, 4);
	vhost_dev_set_inflight_hook(d, inflight_hook, NULL);
}

/* A back end, and the device open on it. */
static struct iopart_thread *device_up(void)
{
	int fd;
	struct iopart_thread *t = backend(&fd);

	device_on(fd);
	return t;
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
