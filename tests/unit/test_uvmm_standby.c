// SPDX-License-Identifier: GPL-2.0
/*
 * A channel's standby back end (vmm/vhost_standby.c) with real back ends
 * (vhost_dev_rig.h): the device switches to it by itself when its active back
 * end's connection ends, with requests in flight resubmitted, from the used
 * index the guest saw, no NEEDS_RESET, the promote hook told the epoch; a
 * standby that goes away idle, fails its handshake or is dropped by a move
 * leaves the device waiting for a move as before.
 */
#include <stdatomic.h>

#include "kind.h"
#include "vhost_dev_rig.h"
#include "vu_back.h"

#define CHANNEL 4

static int promote_calls, promote_channel;
static unsigned promote_epoch;

static void promote_hook(void *ctx, int channel, unsigned epoch)
{
	(void)ctx;
	promote_calls++;
	promote_channel = channel;
	promote_epoch = epoch;
}

static void setup(void)
{
	vdev_rig_setup("test_uvmm_standby");
	promote_calls = 0;
	promote_channel = -2;
	promote_epoch = 0;
}

static void teardown(void)
{
	vdev_rig_teardown();
}

/* The device on channel 4 with back end fd, the promote hook set. */
static void device_up_on(int fd)
{
	device_open(fd, CHANNEL);
	vhost_dev_set_promote_hook(d, promote_hook, NULL);
}

/* A real back end becomes the device's standby, at epoch. */
static struct iopart_thread *standby_new(unsigned epoch)
{
	int fd;
	struct iopart_thread *t = backend(&fd);

	ck_assert_int_eq(vhost_dev_standby(d, fd, epoch), 0);
	ck_assert(d->has_standby);
	return t;
}

static bool switched(void)
{
	return promote_calls > 0;
}

static bool standby_gone(void)
{
	return !d->has_standby;
}

static bool disconnected(void)
{
	return !d->connected;
}

/* The device waits for a move: no back end, no error for the guest, no switch. */
static void waits_for_move(int calls)
{
	run_until(disconnected, 5000, "the back end's end to be seen");
	run_ms(200);
	ck_assert(!d->connected);
	ck_assert_int_eq(promote_calls, calls);
	ck_assert_uint_eq(status() & VIRTIO_STATUS_NEEDS_RESET, 0);
	ck_assert(status() & VIRTIO_STATUS_DRIVER_OK);
}

/*
 * A back end that takes requests and never completes them: the device's
 * config and features from a real blk device, queue kicks popped and held.
 * Its own loop in a thread, like an iopartd busy on slow I/O.
 */
struct holder {
	struct event_base *base;
	pthread_t tid;
	void *blk;
	struct vu_dev_ops ops;
	int fd; /* its end of the socket */
	atomic_int popped;
	atomic_bool gone;
};

static uint64_t h_features(void *dev)
{
	return blk_kind_ops.features(((struct holder *)dev)->blk);
}

static uint16_t h_num_queues(void *dev)
{
	return blk_kind_ops.num_queues(((struct holder *)dev)->blk);
}

static int h_get_config(void *dev, uint32_t off, void *buf, uint32_t len)
{
	return blk_kind_ops.get_config(((struct holder *)dev)->blk, off, buf, len);
}

static void h_queue_start(void *dev, struct vu_back *b, unsigned idx, struct virtq *vq)
{
	(void)dev, (void)b, (void)idx, (void)vq;
}

static void h_queue_kick(void *dev, struct vu_back *b, unsigned idx, struct virtq *vq)
{
	struct holder *h = dev;
	struct virtq_elem e;

	(void)vq;
	while (vu_back_pop(b, idx, &e) == 1)
		atomic_fetch_add(&h->popped, 1);
}

static void h_disconnected(void *dev, struct vu_back *b)
{
	(void)b;
	atomic_store(&((struct holder *)dev)->gone, true);
}

static void *holder_main(void *arg)
{
	struct holder *h = arg;

	event_base_loop(h->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

/* The holder serving one end of a new channel; the other end in *front. */
static struct holder *holder_start(int *front)
{
	struct holder *h = calloc(1, sizeof(*h));
	char err[256];
	int sv[2];

	ck_assert_ptr_nonnull(h);
	h->base = event_base_new();
	ck_assert_msg(blk_kind_ops.open(&h->blk, &disk_exp, h->base, err, sizeof(err)) == 0, "%s",
		      err);
	h->ops = (struct vu_dev_ops){.features = h_features,
				     .num_queues = h_num_queues,
				     .get_config = h_get_config,
				     .queue_start = h_queue_start,
				     .queue_kick = h_queue_kick,
				     .disconnected = h_disconnected};
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	h->fd = sv[0];
	ck_assert_ptr_nonnull(vu_back_new(h->base, sv[0], &h->ops, h, "holder"));
	ck_assert_int_eq(pthread_create(&h->tid, NULL, holder_main, h), 0);
	*front = sv[1];
	return h;
}

/* Its connection ends (the process died): what it held is left in flight. */
static void holder_kill(struct holder *h)
{
	ck_assert_int_eq(shutdown(h->fd, SHUT_RDWR), 0);
	for (int t = 0; !atomic_load(&h->gone); t++) {
		ck_assert_msg(t < 1000, "the holder did not see its end");
		run_ms(5);
	}
}

static void holder_stop(struct holder *h)
{
	event_base_loopbreak(h->base);
	pthread_join(h->tid, NULL);
	blk_kind_ops.close(h->blk);
	event_base_free(h->base);
	free(h);
}

START_TEST(switch_resubmits_in_flight)
{
	struct iopart_thread *s;
	struct holder *h;
	int fd, seen[MAX_SLOTS] = {0}, slot;

	h = holder_start(&fd);
	device_up_on(fd);
	s = standby_new(7);
	driver_start();
	/* Four writes the active back end takes and never completes. */
	for (unsigned i = 0; i < 4; i++)
		slot_add(i, VIRTIO_BLK_T_OUT, 10 + i, 0xa0 + i, i == 3);
	for (int t = 0; atomic_load(&h->popped) < 4; t++) {
		ck_assert_msg(t < 2000, "the active back end took %d requests, not 4",
			      atomic_load(&h->popped));
		run_ms(5);
	}
	ck_assert_int_eq(slot_wait(100), -1);
	ck_assert_int_eq(promote_calls, 0);

	/* It dies: the standby takes over and serves them, each once. */
	holder_kill(h);
	run_until(switched, 10000, "the switch to the standby");
	ck_assert_int_eq(promote_calls, 1);
	ck_assert_int_eq(promote_channel, CHANNEL);
	ck_assert_uint_eq(promote_epoch, 7);
	ck_assert(d->connected);
	ck_assert(!d->has_standby);
	for (int n = 0; n < 4; n++) {
		slot = slot_wait(10000);
		ck_assert_msg(slot >= 0 && slot < 4, "completion %d: slot %d", n, slot);
		ck_assert_int_eq(seen[slot]++, 0);
		ck_assert_uint_eq(*slot_status(slot), VIRTIO_BLK_S_OK);
	}
	ck_assert_int_eq(slot_wait(200), -1);
	for (unsigned i = 0; i < 4; i++)
		check_sector(10 + i, 0xa0 + i);
	ck_assert_uint_eq(status() & VIRTIO_STATUS_NEEDS_RESET, 0);
	/* The guest goes on, on the standby. */
	read_is(12, 0xa2);
	write_ok(20, 0x20);
	holder_stop(h);
	device_down(s);
}
END_TEST

/* Both real: what the first wrote, the second reads; then the second dies with no standby. */
START_TEST(switch_then_no_standby)
{
	struct iopart_thread *a, *s, *c;
	int fd;

	a = backend(&fd);
	device_up_on(fd);
	s = standby_new(3);
	driver_start();
	write_ok(1, 0x11);
	write_ok(2, 0x12);
	iopart_thread_stop(a);
	run_until(switched, 10000, "the switch to the standby");
	ck_assert_uint_eq(promote_epoch, 3);
	read_is(1, 0x11);
	write_ok(3, 0x13);
	ck_assert_uint_eq(status() & VIRTIO_STATUS_NEEDS_RESET, 0);

	/* No standby left: the next loss waits for a move, requests wait in the ring. */
	iopart_thread_stop(s);
	waits_for_move(1);
	slot_add(0, VIRTIO_BLK_T_OUT, 4, 0x14, true);
	ck_assert_int_eq(slot_wait(100), -1);
	c = move_to_new();
	ck_assert_int_eq(slot_wait(10000), 0);
	ck_assert_uint_eq(*slot_status(0), VIRTIO_BLK_S_OK);
	check_sector(4, 0x14);
	read_is(2, 0x12);
	ck_assert_int_eq(promote_calls, 1);
	device_down(c);
}
END_TEST

/* A standby that comes while the device waits for a move takes over at once. */
START_TEST(late_standby_switches_at_once)
{
	struct iopart_thread *a, *s;
	int fd;

	a = backend(&fd);
	device_up_on(fd);
	driver_start();
	write_ok(1, 0x21);
	iopart_thread_stop(a);
	waits_for_move(0);
	slot_add(0, VIRTIO_BLK_T_OUT, 2, 0x22, true);
	ck_assert_int_eq(slot_wait(100), -1);
	s = backend(&fd);
	ck_assert_int_eq(vhost_dev_standby(d, fd, 5), 0);
	ck_assert_int_eq(promote_calls, 1);
	ck_assert_uint_eq(promote_epoch, 5);
	ck_assert(!d->has_standby);
	ck_assert(d->connected);
	ck_assert_int_eq(slot_wait(10000), 0);
	ck_assert_uint_eq(*slot_status(0), VIRTIO_BLK_S_OK);
	check_sector(2, 0x22);
	read_is(1, 0x21);
	device_down(s);
}
END_TEST

/* A standby whose connection ends while idle is dropped: no switch to it later. */
START_TEST(idle_standby_goes_away)
{
	struct iopart_thread *a, *s, *c;
	int fd;

	a = backend(&fd);
	device_up_on(fd);
	s = standby_new(2);
	driver_start();
	iopart_thread_stop(s);
	run_until(standby_gone, 5000, "the standby to be dropped");
	ck_assert(d->connected);
	write_ok(5, 0x55);
	iopart_thread_stop(a);
	waits_for_move(0);
	c = move_to_new();
	read_is(5, 0x55);
	device_down(c);
}
END_TEST

/* A second standby replaces the first, which is closed. */
START_TEST(second_standby_replaces_first)
{
	struct iopart_thread *a, *s1, *s2;
	int fd;

	a = backend(&fd);
	device_up_on(fd);
	driver_start();
	s1 = standby_new(1);
	s2 = standby_new(2);
	iopart_thread_stop(s1);
	run_ms(100);
	ck_assert(d->has_standby); /* the first one's end is no business of ours */
	write_ok(10, 0x10);
	iopart_thread_stop(a);
	run_until(switched, 10000, "the switch to the second standby");
	ck_assert_uint_eq(promote_epoch, 2);
	read_is(10, 0x10);
	device_down(s2);
}
END_TEST

/* A standby that fails its handshake is not kept; the active one serves on. */
START_TEST(standby_fails_handshake)
{
	struct iopart_thread *a, *c;
	int fd, sv[2];

	a = backend(&fd);
	device_up_on(fd);
	driver_start();
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	close(sv[1]); /* nobody at the other end */
	ck_assert_int_lt(vhost_dev_standby(d, sv[0], 9), 0);
	ck_assert(!d->has_standby);
	/* One that sends garbage instead of answering, then nothing more. */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(write(sv[1], "garbage, not vhost-user, long enough for a header", 49), 49);
	ck_assert_int_eq(shutdown(sv[1], SHUT_WR), 0);
	ck_assert_int_lt(vhost_dev_standby(d, sv[0], 9), 0);
	ck_assert(!d->has_standby);
	close(sv[1]);
	write_ok(6, 0x66);
	ck_assert_uint_eq(status() & VIRTIO_STATUS_NEEDS_RESET, 0);
	iopart_thread_stop(a);
	waits_for_move(0);
	c = move_to_new();
	read_is(6, 0x66);
	device_down(c);
}
END_TEST

/* An in-process device is no channel of ultravisord's: no standby, the fd closed. */
START_TEST(inproc_no_standby)
{
	struct vm_dev_link l = {.fd = -1, .channel = -1};
	char err[256], c;
	int sv[2];

	ck_assert_int_eq(vhost_dev_open(&d, &disk_exp, &l, 0, err, sizeof(err)), 0);
	ck_assert_int_eq(vhost_dev_realize(d, &mem, base, &host_ops, NULL, &pb, err, sizeof(err)),
			 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(vhost_dev_standby(d, sv[0], 1), -EINVAL);
	ck_assert_int_eq(read(sv[1], &c, 1), 0); /* closed */
	close(sv[1]);
	ck_assert(!d->has_standby);
}
END_TEST

/* A move drops the standby (ultravisord forgot it): the next loss waits for a move. */
START_TEST(move_drops_standby)
{
	struct iopart_thread *a, *s, *b, *c;
	int fd;

	a = backend(&fd);
	device_up_on(fd);
	s = standby_new(1);
	driver_start();
	write_ok(7, 0x77);
	b = move_to_new();
	ck_assert(!d->has_standby);
	iopart_thread_stop(a);
	iopart_thread_stop(s);
	read_is(7, 0x77);
	iopart_thread_stop(b);
	waits_for_move(0);
	c = move_to_new();
	read_is(7, 0x77);
	/* A standby handed after a move is the device's again. */
	s = standby_new(2);
	iopart_thread_stop(c);
	run_until(switched, 10000, "the switch to the new standby");
	ck_assert_uint_eq(promote_epoch, 2);
	read_is(7, 0x77);
	device_down(s);
}
END_TEST

/* The switch before the driver starts the device: the start goes to the standby. */
START_TEST(switch_before_driver_ok)
{
	struct iopart_thread *a, *s;
	int fd;

	a = backend(&fd);
	device_up_on(fd);
	s = standby_new(5);
	iopart_thread_stop(a);
	run_until(switched, 10000, "the switch to the standby");
	ck_assert(d->connected);
	driver_start();
	write_ok(8, 0x88);
	device_down(s);
}
END_TEST

/*
 * The same, and the standby dies too before the driver starts: the back end
 * the channel is moved to then gets the memory table, which the standby had
 * had since it came.
 */
START_TEST(switch_before_driver_ok_then_move)
{
	struct iopart_thread *a, *s, *c;
	int fd;

	a = backend(&fd);
	device_up_on(fd);
	s = standby_new(6);
	iopart_thread_stop(a);
	run_until(switched, 10000, "the switch to the standby");
	iopart_thread_stop(s);
	run_until(disconnected, 5000, "the standby's end to be seen");
	c = move_to_new();
	driver_start();
	write_ok(9, 0x99);
	device_down(c);
}
END_TEST

int main(void)
{
	return uv_check_run(uv_suite(
		"uvmm_standby", setup, teardown, 60,
		UV_TESTS(switch_resubmits_in_flight, switch_then_no_standby, idle_standby_goes_away,
			 second_standby_replaces_first, standby_fails_handshake, inproc_no_standby,
			 move_drops_standby, switch_before_driver_ok,
			 switch_before_driver_ok_then_move, late_standby_switches_at_once)));
}
