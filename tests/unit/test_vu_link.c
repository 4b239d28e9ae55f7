// SPDX-License-Identifier: GPL-2.0
/*
 * Both ends of vhost-user over a socketpair: the back end on an event loop
 * in a thread with an echo device, the front end in the test thread driving
 * rings in memfd "guest RAM" as a guest driver would.
 */
#include <check.h>

#include "chan_mem.h"
#include "loop_thread.h"
#include "uvcheck.h"
#include <errno.h>
#include <fcntl.h>
#include <event2/thread.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vhost_user.h"
#include "virtq_driver.h"
#include "vu_back.h"
#include "vu_front.h"
#include "vu_guest.h"

#define RAM_SIZE (1 << 20)
#define RING_GPA 0x10000
#define DATA_GPA 0x40000
#define QSIZE	 64
#define NQ	 2

/* ---- the echo device: copies what it reads into what it writes ---- */

struct echo {
	int hold; /* pop but never complete: requests stay in flight */
	int popped, completed, stops, disconnected;
};

static void echo_kick(void *dev, struct vu_back *b, unsigned idx, struct virtq *vq)
{
	static struct virtq_elem el;
	struct echo *e = dev;
	uint8_t tmp[4096];
	size_t n = 0, off = 0;
	int r;

	(void)vq;
	while ((r = vu_back_pop(b, idx, &el)) == 1) {
		__atomic_add_fetch(&e->popped, 1, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&e->hold, __ATOMIC_SEQ_CST))
			continue;
		n = off = 0;
		for (unsigned i = 0; i < el.out_num; i++) {
			size_t l = el.iov[i].iov_len;

			if (l > sizeof(tmp) - n)
				l = sizeof(tmp) - n;
			memcpy(tmp + n, el.iov[i].iov_base, l);
			n += l;
		}
		for (unsigned i = el.out_num; i < el.out_num + el.in_num && off < n; i++) {
			size_t l = el.iov[i].iov_len < n - off ? el.iov[i].iov_len : n - off;

			memcpy(el.iov[i].iov_base, tmp + off, l);
			off += l;
		}
		vu_back_complete(b, idx, el.head, (uint32_t)off);
		__atomic_add_fetch(&e->completed, 1, __ATOMIC_SEQ_CST);
	}
	if (r < 0)
		vu_back_needs_reset(b, idx);
}

static uint64_t echo_features(void *dev)
{
	(void)dev;
	return 0;
}

static uint16_t echo_num_queues(void *dev)
{
	(void)dev;
	return NQ;
}

static int echo_get_config(void *dev, uint32_t off, void *buf, uint32_t len)
{
	static const char cfg[16] = "echo-config";

	(void)dev;
	if (off + len > sizeof(cfg))
		return -EINVAL;
	memcpy(buf, cfg + off, len);
	return 0;
}

static void echo_stop(void *dev, struct vu_back *b, unsigned idx, struct virtq *vq)
{
	(void)b;
	(void)idx;
	(void)vq;
	__atomic_add_fetch(&((struct echo *)dev)->stops, 1, __ATOMIC_SEQ_CST);
}

static void echo_disconnected(void *dev, struct vu_back *b)
{
	(void)b;
	__atomic_store_n(&((struct echo *)dev)->disconnected, 1, __ATOMIC_SEQ_CST);
}

static const struct vu_dev_ops echo_ops = {
	.features = echo_features,
	.num_queues = echo_num_queues,
	.get_config = echo_get_config,
	.queue_kick = echo_kick,
	.queue_stop = echo_stop,
	.disconnected = echo_disconnected,
};

/* ---- the loop thread ---- */

static struct event_base *base;
static struct loop_thread loop;

/* Runs fn on the loop thread, where every vu_back lives. */
static void in_loop(void (*fn)(void *), void *arg)
{
	loop_thread_call(&loop, fn, arg);
}

struct new_back {
	int fd;
	struct echo *dev;
	const char *name;
	struct vu_back *b;
};

static void new_back_fn(void *arg)
{
	struct new_back *nb = arg;

	nb->b = vu_back_new(base, nb->fd, &echo_ops, nb->dev, nb->name);
}

static void loop_setup(void)
{
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	loop_thread_start(&loop, base);
}

static void loop_teardown(void)
{
	loop_thread_stop(&loop);
	event_base_free(base);
}

/* A back end serving one end of a fresh socketpair; returns the other end. */
static int start_back(struct echo *dev, const char *name)
{
	struct new_back nb = {.dev = dev, .name = name};
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	nb.fd = sv[1];
	in_loop(new_back_fn, &nb);
	ck_assert_ptr_nonnull(nb.b);
	return sv[0];
}

/* ---- the guest and its front end ---- */

/* The guest side (vu_guest.h) with the event index, its RAM a fresh memfd. */
static void guest_init(struct vu_guest *g)
{
	vu_guest_init(g, chan_memfd_create("guest-ram", RAM_SIZE, false), RAM_SIZE, RING_GPA, QSIZE,
		      1ull << VIRTIO_F_EVENT_IDX);
}

#define ck_front ck_vu_guest

/* What uvmm does on connect; get_inflight false: reuse g->area (reconnect). */
static void guest_connect(struct vu_guest *g, int sock, bool get_inflight, uint16_t base)
{
	vu_front_attach(&g->f, sock);
	ck_front(g, vu_front_handshake(&g->f));
	ck_assert(g->f.features & (1ull << VIRTIO_F_VERSION_1));
	ck_assert(g->f.features & (1ull << VHOST_USER_F_PROTOCOL_FEATURES));
	ck_assert(g->f.protocol_features & (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK));
	ck_assert_uint_eq(g->f.max_queues, NQ);
	ck_front(g, vu_front_set_features(&g->f, (1ull << VIRTIO_F_VERSION_1) |
							 (1ull << VIRTIO_F_EVENT_IDX)));
	vu_guest_setup(g, QSIZE, base, get_inflight);
}

static char out_buf[QSIZE][32];

/* Adds request i: 32 bytes out ("req i"), 32 bytes in. */
static void guest_submit(struct vu_guest *g, unsigned i)
{
	uint64_t gpa = DATA_GPA + i * 64;
	struct virtq_buf bufs[2] = {{gpa, 32, false}, {gpa + 32, 32, true}};

	snprintf(out_buf[i], sizeof(out_buf[i]), "request %u", i);
	memcpy(g->ram + gpa, out_buf[i], 32);
	memset(g->ram + gpa + 32, 0, 32);
	ck_assert_int_ge(virtq_driver_add(&g->drv, bufs, 2, false, (void *)(uintptr_t)(i + 1)), 0);
	if (virtq_driver_kick_needed(&g->drv))
		ck_assert_int_eq(eventfd_write(g->kick, 1), 0);
}

/* Waits for the next used request (3 s at most); checks the echo; returns its number. */
static int guest_wait(struct vu_guest *g)
{
	for (int t = 0; t < 300; t++) {
		struct pollfd p = {.fd = g->call, .events = POLLIN};
		uint32_t len;
		void *tok;
		int r = virtq_driver_get_used(&g->drv, &len, &tok);
		unsigned i;

		ck_assert_int_ge(r, 0);
		if (r) {
			virtq_driver_enable_cb(&g->drv);
			i = (unsigned)(uintptr_t)tok - 1;
			ck_assert_uint_eq(len, 32);
			ck_assert_str_eq((char *)g->ram + DATA_GPA + i * 64 + 32, out_buf[i]);
			return (int)i;
		}
		if (poll(&p, 1, 10) == 1) {
			uint64_t v;

			ck_assert_int_eq(eventfd_read(g->call, &v), 0);
			g->calls++;
		}
	}
	return -1;
}

static int count_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < 1024; fd++)
		n += fcntl(fd, F_GETFD) != -1;
	return n;
}

static void nothing(void *arg)
{
	(void)arg;
}

/* Waits for a device counter; then for the loop callback that moved it to end. */
static void wait_for(int *flag, int value)
{
	for (int t = 0; t < 300 && __atomic_load_n(flag, __ATOMIC_SEQ_CST) < value; t++)
		usleep(10000);
	ck_assert_int_ge(__atomic_load_n(flag, __ATOMIC_SEQ_CST), value);
	in_loop(nothing, NULL);
}

START_TEST(test_echo)
{
	struct echo dev = {0};
	struct vu_guest g;
	char cfg[8];
	uint8_t status;
	uint16_t base;
	int fds;

	loop_setup();
	fds = count_fds();
	guest_init(&g);
	guest_connect(&g, start_back(&dev, "echo"), true, 0);
	ck_assert_int_gt(g.area.fd, 0);
	ck_assert_uint_ge(g.area.mmap_size, virtq_inflight_size(QSIZE));
	for (unsigned i = 0; i < 8; i++) {
		guest_submit(&g, i);
		ck_assert_int_eq(guest_wait(&g), (int)i);
	}
	{
		/* Interrupts came, whether or not guest_wait had to wait for them. */
		uint64_t v;

		if (eventfd_read(g.call, &v) == 0)
			g.calls++;
		ck_assert_int_ge(g.calls, 1);
	}
	ck_front(&g, vu_front_get_config(&g.f, 0, cfg, 5));
	ck_assert_int_eq(memcmp(cfg, "echo-", 5), 0);
	ck_assert_int_eq(vu_front_get_config(&g.f, 200, cfg, 8), -EIO);
	ck_front(&g, vu_front_get_status(&g.f, &status));
	ck_assert_uint_eq(status, 0);
	ck_front(&g, vu_front_set_status(&g.f, 0x0f));
	ck_front(&g, vu_front_get_status(&g.f, &status));
	ck_assert_uint_eq(status, 0x0f);
	/* While a ring runs, the same table again is fine, another one is refused. */
	{
		struct vu_mem_region r = {
			.gpa = 0, .size = RAM_SIZE, .uaddr = (uintptr_t)g.ram, .fd = g.memfd};

		ck_front(&g, vu_front_set_mem_table(&g.f, &r, 1));
		r.size = RAM_SIZE / 2;
		ck_assert_int_eq(vu_front_set_mem_table(&g.f, &r, 1), -EIO);
		guest_submit(&g, 8);
		ck_assert_int_eq(guest_wait(&g), 8);
	}
	/* Stopping the ring tells where it got to; the device hears it. */
	ck_front(&g, vu_front_vring_stop(&g.f, 0, &base));
	ck_assert_uint_eq(base, 9);
	ck_assert_int_eq(dev.stops, 1);
	/* Refused requests get a clear error, the connection lives on. */
	{
		struct vu_vring v = {.num = QSIZE, .kick_fd = -1, .call_fd = -1};

		ck_assert_int_eq(vu_front_vring_setup(&g.f, 5, &v), -EIO);
		ck_assert_ptr_nonnull(strstr(g.f.err, "refused"));
	}
	/* Memory the front end could shrink under the back end is refused. */
	{
		int fd = memfd_create("unsealed", MFD_CLOEXEC);
		struct vu_mem_region r = {
			.gpa = 0, .size = RAM_SIZE, .uaddr = (uintptr_t)g.ram, .fd = fd};

		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(ftruncate(fd, RAM_SIZE), 0);
		ck_assert_int_eq(vu_front_set_mem_table(&g.f, &r, 1), -EIO);
		close(fd);
	}
	ck_front(&g, vu_front_get_status(&g.f, &status));
	vu_guest_free(&g);
	wait_for(&dev.disconnected, 1);
	/* Every descriptor the back end received was consumed or closed. */
	ck_assert_int_eq(count_fds(), fds);
	loop_teardown();
}
END_TEST

START_TEST(test_reconnect_resubmits)
{
	struct echo dev1 = {0}, dev2 = {0};
	struct vu_guest g;

	loop_setup();
	guest_init(&g);
	guest_connect(&g, start_back(&dev1, "first"), true, 0);
	guest_submit(&g, 0);
	ck_assert_int_eq(guest_wait(&g), 0); /* dev1 still echoes this one */
	__atomic_store_n(&dev1.hold, 1, __ATOMIC_SEQ_CST);
	guest_submit(&g, 1);
	guest_submit(&g, 2);
	wait_for(&dev1.popped, 3);
	/* The back end goes away with requests 1 and 2 in flight. */
	vu_front_close(&g.f);
	wait_for(&dev1.disconnected, 1);

	/* A fresh back end gets the saved area; the guest's ring base is a guess. */
	guest_connect(&g, start_back(&dev2, "second"), false, 1);
	ck_assert_int_eq(guest_wait(&g), 1);
	ck_assert_int_eq(guest_wait(&g), 2);
	/* New requests continue from the right place: no request served twice. */
	guest_submit(&g, 3);
	ck_assert_int_eq(guest_wait(&g), 3);
	ck_assert_int_eq(dev2.popped, 3);
	vu_guest_free(&g);
	wait_for(&dev2.disconnected, 1);
	loop_teardown();
}
END_TEST

START_TEST(test_hostile_ring_needs_reset)
{
	struct echo dev_bad = {0}, dev_good = {0};
	struct vu_guest bad, good;
	struct vhost_user_msg m;
	uint8_t status = 0;
	int fds, bk[2];

	loop_setup();
	fds = count_fds();
	guest_init(&bad);
	guest_init(&good);
	guest_connect(&bad, start_back(&dev_bad, "hostile"), true, 0);
	guest_connect(&good, start_back(&dev_good, "good"), true, 0);
	/* A back-end channel, set up by hand: our front end does not speak it. */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, bk), 0);
	vu_msg_init(&m, VHOST_USER_SET_PROTOCOL_FEATURES, 8);
	m.payload.u64 = bad.f.protocol_features | (1ull << VHOST_USER_PROTOCOL_F_BACKEND_REQ);
	ck_assert_int_eq(vu_msg_send(bad.f.fd, &m, 1000), 0);
	vu_msg_init(&m, VHOST_USER_SET_BACKEND_REQ_FD, 0);
	m.nfds = 1;
	m.fds[0] = bk[1];
	ck_assert_int_eq(vu_msg_send(bad.f.fd, &m, 1000), 0);
	close(bk[1]);
	/* A descriptor loop: 0 -> 1 -> 0. */
	bad.drv.desc[0] = (struct virtq_desc){DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 1};
	bad.drv.desc[1] = (struct virtq_desc){DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 0};
	virtq_driver_add_raw(&bad.drv, 0);
	ck_assert_int_eq(eventfd_write(bad.kick, 1), 0);
	for (int t = 0; t < 300 && !(status & 0x40); t++) {
		usleep(10000);
		ck_front(&bad, vu_front_get_status(&bad.f, &status));
	}
	ck_assert_uint_eq(status & 0x40, 0x40);
	/* The front end was told on the back-end channel. */
	{
		struct pollfd p = {.fd = bk[0], .events = POLLIN};
		struct vhost_user_hdr h;

		ck_assert_int_eq(poll(&p, 1, 3000), 1);
		ck_assert_int_eq(read(bk[0], &h, sizeof(h)), (ssize_t)sizeof(h));
		ck_assert_uint_eq(h.request, VHOST_USER_BACKEND_CONFIG_CHANGE_MSG);
		ck_assert_uint_eq(h.flags, VHOST_USER_VERSION);
		ck_assert_uint_eq(h.size, 0);
		close(bk[0]);
	}
	/* The other connection on the same loop is served all along. */
	for (unsigned i = 0; i < 4; i++) {
		guest_submit(&good, i);
		ck_assert_int_eq(guest_wait(&good), (int)i);
	}
	ck_front(&good, vu_front_get_status(&good.f, &status));
	ck_assert_uint_eq(status & 0x40, 0);
	/* A reset clears it. */
	ck_front(&bad, vu_front_reset_device(&bad.f));
	ck_front(&bad, vu_front_get_status(&bad.f, &status));
	ck_assert_uint_eq(status, 0);
	vu_guest_free(&bad);
	vu_guest_free(&good);
	wait_for(&dev_bad.disconnected, 1);
	wait_for(&dev_good.disconnected, 1);
	ck_assert_int_eq(count_fds(), fds);
	loop_teardown();
}
END_TEST

START_TEST(test_garbage_drops_only_that_connection)
{
	struct echo dev_bad = {0}, dev_good = {0};
	struct vu_guest good;
	struct vhost_user_hdr h = {.request = VHOST_USER_GET_FEATURES, .flags = 0, .size = 0};
	char buf[64];
	int s;

	loop_setup();
	s = start_back(&dev_bad, "garbage");
	guest_init(&good);
	ck_assert_int_eq(write(s, &h, sizeof(h)), (ssize_t)sizeof(h));
	wait_for(&dev_bad.disconnected, 1);
	/* An empty reply to what wanted one, then the connection is closed on us. */
	ck_assert_int_eq(read(s, buf, sizeof(buf)), (ssize_t)sizeof(h));
	ck_assert_int_eq(read(s, buf, sizeof(buf)), 0);
	close(s);
	guest_connect(&good, start_back(&dev_good, "good"), true, 0);
	guest_submit(&good, 0);
	ck_assert_int_eq(guest_wait(&good), 0);
	vu_guest_free(&good);
	wait_for(&dev_good.disconnected, 1);
	loop_teardown();
}
END_TEST

START_TEST(test_front_timeout)
{
	struct vu_front f;
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	vu_front_init(&f);
	f.timeout_ms = 200;
	vu_front_attach(&f, sv[0]);
	ck_assert_int_eq(vu_front_handshake(&f), -ETIMEDOUT);
	ck_assert_ptr_nonnull(strstr(f.err, "GET_FEATURES"));
	vu_front_close(&f);
	ck_assert_int_eq(vu_front_handshake(&f), -ENOTCONN);
	close(sv[1]);
}
END_TEST

static void listen_accept(void *ctx, int fd)
{
	struct new_back nb = {.fd = fd, .dev = ctx, .name = "listened"};

	new_back_fn(&nb);
}

struct listen_args {
	const char *path;
	struct echo *dev;
	struct vu_listener *l;
	char err[160];
};

static void listen_fn(void *arg)
{
	struct listen_args *a = arg;

	a->l = vu_listener_new(base, a->path, listen_accept, a->dev, a->err, sizeof(a->err));
}

static void unlisten_fn(void *arg)
{
	vu_listener_free(arg);
}

START_TEST(test_listener)
{
	struct echo dev = {0};
	struct listen_args a = {.dev = &dev};
	char path[64];
	struct vu_guest g;
	int fd;

	snprintf(path, sizeof(path), "/tmp/test_vu_link.%d.sock", (int)getpid());
	a.path = path;
	/* A stale socket file from a dead server is replaced. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	{
		struct sockaddr_un sa = {.sun_family = AF_UNIX};

		strcpy(sa.sun_path, path);
		unlink(path);
		ck_assert_int_eq(bind(fd, (void *)&sa, sizeof(sa)), 0);
	}
	close(fd);
	loop_setup();
	in_loop(listen_fn, &a);
	ck_assert_msg(a.l, "%s", a.err);
	guest_init(&g);
	ck_front(&g, vu_front_connect(&g.f, path));
	fd = g.f.fd;
	g.f.fd = -1; /* guest_connect attaches it again */
	guest_connect(&g, fd, true, 0);
	guest_submit(&g, 0);
	ck_assert_int_eq(guest_wait(&g), 0);
	/* A second listener on a live socket is refused. */
	{
		struct listen_args b = {.path = path, .dev = &dev};

		in_loop(listen_fn, &b);
		ck_assert_ptr_null(b.l);
		ck_assert_ptr_nonnull(strstr(b.err, "another server"));
	}
	in_loop(unlisten_fn, a.l);
	ck_assert_int_ne(access(path, F_OK), 0);
	vu_guest_free(&g);
	wait_for(&dev.disconnected, 1);
	loop_teardown();
}
END_TEST

int main(void)
{
	evthread_use_pthreads();
	return uv_check_run(uv_suite("vu_link", NULL, NULL, 30,
				     UV_TESTS(test_echo, test_reconnect_resubmits,
					      test_hostile_ring_needs_reset,
					      test_garbage_drops_only_that_connection,
					      test_front_timeout, test_listener)));
}
