// SPDX-License-Identifier: GPL-2.0
/*
 * Interrupt coalescing in vu_back: completions push at once and the call
 * eventfd is written once per batch (at the device's vu_back_notify(), or at
 * the end of the loop iteration). The driver here is a model of Linux's: it
 * consumes the used ring, re-arms (used_event, or the NO_INTERRUPT flag),
 * and must hear of every completion it armed for; the device completes in
 * random patterns. With and without VIRTIO_F_EVENT_IDX.
 */
#include <check.h>
#include <event2/thread.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "chan_mem.h"
#include "loop_thread.h"
#include "uvcheck.h"
#include "virtq_driver.h"
#include "vu_back.h"
#include "vu_front.h"
#include "vu_guest.h"

#define RAM_SIZE (1 << 20)
#define RING_GPA 0x10000
#define DATA_GPA 0x40000
#define QSIZE	 64

/* ---- the device: holds what it pops until the test completes it ---- */

struct hold {
	struct vu_back *b;
	struct virtq *vq;
	uint16_t heads[QSIZE];
	unsigned n; /* held */
	int popped;
	int gone; /* the connection ended, the vu_back is freed */
};

static void hold_kick(void *dev, struct vu_back *b, unsigned idx, struct virtq *vq)
{
	static struct virtq_elem el;
	struct hold *h = dev;
	int r;

	h->vq = vq;
	while ((r = vu_back_pop(b, idx, &el)) == 1) {
		ck_assert_uint_lt(h->n, QSIZE);
		h->heads[h->n++] = el.head;
		__atomic_add_fetch(&h->popped, 1, __ATOMIC_SEQ_CST);
	}
	ck_assert_int_eq(r, 0);
}

static uint16_t hold_num_queues(void *dev)
{
	(void)dev;
	return 1;
}

static void hold_disconnected(void *dev, struct vu_back *b)
{
	(void)b;
	__atomic_store_n(&((struct hold *)dev)->gone, 1, __ATOMIC_SEQ_CST);
}

static const struct vu_dev_ops hold_ops = {
	.num_queues = hold_num_queues,
	.queue_kick = hold_kick,
	.disconnected = hold_disconnected,
};

/* ---- the loop thread, where the vu_back lives ---- */

static struct event_base *base;
static struct loop_thread loop;

/* Runs fn on the loop thread, where every vu_back lives. */
static void in_loop(void (*fn)(void *), void *arg)
{
	loop_thread_call(&loop, fn, arg);
}

static void nothing(void *arg)
{
	(void)arg;
}

struct new_back {
	int fd;
	struct hold *dev;
};

static void new_back_fn(void *arg)
{
	struct new_back *nb = arg;

	nb->dev->b = vu_back_new(base, nb->fd, &hold_ops, nb->dev, "notify");
}

/* One step of the device, in one loop callback: complete k held requests. */
struct step {
	struct hold *h;
	unsigned k;
	int notify_at; /* vu_back_notify() after this many, or -1 */
	int quiet_fd;  /* >= 0: the call eventfd, which must stay quiet until the end */
	bool direct;   /* virtq_push() itself, then vu_back_notify() */
};

static void step_fn(void *arg)
{
	struct step *s = arg;
	struct hold *h = s->h;

	for (unsigned i = 0; i < s->k; i++) {
		/* Oldest first is not required: complete from the middle too. */
		unsigned j = h->n > 2 ? (i * 7) % h->n : 0;

		if (s->direct)
			virtq_push(h->vq, h->heads[j], 1);
		else
			vu_back_complete(h->b, 0, h->heads[j], 1);
		h->heads[j] = h->heads[--h->n];
		if ((int)i + 1 == s->notify_at)
			vu_back_notify(h->b, 0);
		if (s->quiet_fd >= 0) {
			struct pollfd p = {.fd = s->quiet_fd, .events = POLLIN};

			ck_assert_int_eq(poll(&p, 1, 0), 0);
		}
	}
	if (s->direct)
		vu_back_notify(h->b, 0);
}

/* ---- the driver ---- */

struct drv {
	struct vu_guest g;
	struct hold h;
	bool event_idx;
	bool armed;	   /* interrupts enabled and nothing was pending then */
	uint16_t arm_used; /* used idx when armed */
	uint16_t event;	   /* used_event written when armed (EVENT_IDX) */
	unsigned outstanding;
};

static void drv_start(struct drv *d, bool event_idx)
{
	uint64_t f = event_idx ? 1ull << VIRTIO_F_EVENT_IDX : 0;
	struct new_back nb = {.dev = &d->h};
	int sv[2];

	memset(d, 0, sizeof(*d));
	d->event_idx = event_idx;
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	loop_thread_start(&loop, base);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	nb.fd = sv[1];
	in_loop(new_back_fn, &nb);
	ck_assert_ptr_nonnull(d->h.b);
	vu_guest_init(&d->g, chan_memfd_create("guest-ram", RAM_SIZE, false), RAM_SIZE, RING_GPA,
		      QSIZE, f);
	vu_front_attach(&d->g.f, sv[0]);
	ck_vu_guest(&d->g, vu_front_handshake(&d->g.f));
	ck_vu_guest(&d->g, vu_front_set_features(&d->g.f, (1ull << VIRTIO_F_VERSION_1) | f));
	vu_guest_setup(&d->g, QSIZE, 0, true);
}

static void drv_stop(struct drv *d)
{
	vu_guest_free(&d->g);
	/* The back end sees the end of the connection and frees itself. */
	for (int t = 0; t < 300 && !__atomic_load_n(&d->h.gone, __ATOMIC_SEQ_CST); t++)
		usleep(1000);
	ck_assert(__atomic_load_n(&d->h.gone, __ATOMIC_SEQ_CST));
	loop_thread_stop(&loop);
	event_base_free(base);
}

static uint16_t used_idx(struct drv *d)
{
	return __atomic_load_n(&d->g.drv.used->idx, __ATOMIC_ACQUIRE);
}

static unsigned drv_consume(struct drv *d, unsigned max)
{
	unsigned n = 0;
	uint32_t len;
	void *tok;

	while (n < max && virtq_driver_get_used(&d->g.drv, &len, &tok) == 1)
		n++;
	d->outstanding -= n;
	return n;
}

/*
 * Re-arms as Linux does after its interrupt handler: enable, and poll again
 * while the device added entries meanwhile. delayed: used_event further on,
 * as virtqueue_enable_cb_delayed() (EVENT_IDX only).
 */
static void drv_arm(struct drv *d, unsigned delay)
{
	for (;;) {
		bool pending = virtq_driver_enable_cb(&d->g.drv);

		if (!pending && d->event_idx && delay) {
			uint16_t ev = (uint16_t)(d->g.drv.last_used + delay);

			__atomic_store_n(&d->g.drv.avail->ring[QSIZE], ev, __ATOMIC_SEQ_CST);
			pending = (uint16_t)(used_idx(d) - ev - 1) <
				  (uint16_t)(used_idx(d) - d->g.drv.last_used);
		}
		if (!pending)
			break;
		drv_consume(d, QSIZE);
	}
	d->armed = true;
	d->arm_used = d->g.drv.last_used;
	d->event = d->event_idx ? d->g.drv.avail->ring[QSIZE] : 0;
}

static void drv_submit(struct drv *d, unsigned m)
{
	int want = __atomic_load_n(&d->h.popped, __ATOMIC_SEQ_CST) + (int)m;

	for (unsigned i = 0; i < m; i++) {
		struct virtq_buf b = {DATA_GPA + (d->outstanding + i) % QSIZE * 64, 64, true};

		ck_assert_int_ge(virtq_driver_add(&d->g.drv, &b, 1, false, d), 0);
	}
	d->outstanding += m;
	if (virtq_driver_kick_needed(&d->g.drv))
		ck_assert_int_eq(eventfd_write(d->g.kick, 1), 0);
	for (int t = 0; t < 300 && __atomic_load_n(&d->h.popped, __ATOMIC_SEQ_CST) < want; t++)
		usleep(1000);
	ck_assert_int_eq(__atomic_load_n(&d->h.popped, __ATOMIC_SEQ_CST), want);
	in_loop(nothing, NULL);
}

/* Interrupts signalled since the last read (eventfd writes add up). */
static uint64_t drv_calls(struct drv *d)
{
	uint64_t v;

	return eventfd_read(d->g.call, &v) == 0 ? v : 0;
}

/* Whether the driver, as armed, asked to hear of used index moving to now. */
static bool drv_wanted(struct drv *d, uint16_t now)
{
	if (!d->armed || now == d->arm_used)
		return false;
	if (!d->event_idx)
		return true;
	return (uint16_t)(now - d->event - 1) < (uint16_t)(now - d->arm_used);
}

/* n random steps: submit, complete in patterns, consume, re-arm or not. */
static void run_patterns(bool event_idx, unsigned seed, unsigned n)
{
	struct drv d;
	unsigned lost = 0, extra = 0, batches = 0, interrupts = 0;

	srand(seed);
	drv_start(&d, event_idx);
	drv_arm(&d, 0);
	for (unsigned i = 0; i < n; i++) {
		unsigned room = QSIZE - d.outstanding;
		struct step s = {.h = &d.h, .notify_at = -1, .quiet_fd = -1};
		uint16_t before = used_idx(&d);
		uint64_t calls;

		if (room && rand() % 2)
			drv_submit(&d, 1 + rand() % (room < 8 ? room : 8));
		s.k = d.h.n ? (unsigned)rand() % (d.h.n + 1) : 0;
		if (s.k > 1 && rand() % 4 == 0)
			s.notify_at = 1 + rand() % (int)s.k;
		in_loop(step_fn, &s);
		in_loop(nothing, NULL); /* the iteration that completed them is over */
		calls = drv_calls(&d);
		if (drv_wanted(&d, used_idx(&d)) && !calls)
			lost++;
		/* One interrupt per batch: two only around an explicit notify. */
		if (calls > (s.notify_at >= 0 ? 2u : 1u))
			extra++;
		batches += s.k > 0;
		interrupts += (unsigned)calls;
		ck_assert_uint_eq((uint16_t)(used_idx(&d) - before), s.k);
		if (calls || rand() % 3 == 0) {
			/* The interrupt handler: disable, consume (some), re-arm or not. */
			virtq_driver_disable_cb(&d.g.drv);
			d.armed = false;
			drv_consume(&d, rand() % 4 ? QSIZE : (unsigned)rand() % 4);
			if (rand() % 5)
				drv_arm(&d, d.outstanding && rand() % 3 == 0
						    ? 1 + (unsigned)rand() % d.outstanding
						    : 0);
		}
	}
	drv_stop(&d);
	ck_assert_msg(!lost,
		      "%u times, completions the driver asked to hear of came without an "
		      "interrupt",
		      lost);
	ck_assert_msg(!extra, "%u batches raised more than one interrupt", extra);
	ck_assert_uint_le(interrupts, batches + n);
}

START_TEST(test_notify_event_idx)
{
	run_patterns(true, 1000 + _i, 400);
}
END_TEST

START_TEST(test_notify_flags)
{
	run_patterns(false, 2000 + _i, 400);
}
END_TEST

/*
 * A burst completed one by one without the device notifying: one interrupt,
 * after all of them are in the used ring (the driver sees the whole batch,
 * and a guest woken by it does not preempt the rest of the batch).
 */
START_TEST(test_notify_burst)
{
	struct step s;
	struct drv d;

	drv_start(&d, _i);
	drv_arm(&d, 0);
	drv_submit(&d, 32);
	s = (struct step){.h = &d.h, .k = 32, .notify_at = -1, .quiet_fd = d.g.call};
	in_loop(step_fn, &s);
	in_loop(nothing, NULL);
	ck_assert_uint_eq(drv_calls(&d), 1);
	ck_assert_uint_eq(drv_consume(&d, QSIZE), 32);
	/* Nothing new: vu_back_notify() says nothing, with or without EVENT_IDX. */
	drv_arm(&d, 0);
	s = (struct step){.h = &d.h, .k = 0, .notify_at = -1, .quiet_fd = -1};
	in_loop(step_fn, &s);
	in_loop(nothing, NULL);
	ck_assert_uint_eq(drv_calls(&d), 0);
	drv_stop(&d);
}
END_TEST

/* A device that pushes with virtq_push() and notifies once (docs/channel.md). */
START_TEST(test_notify_direct_push)
{
	struct step s;
	struct drv d;

	drv_start(&d, _i);
	drv_arm(&d, 0);
	drv_submit(&d, 8);
	s = (struct step){.h = &d.h, .k = 8, .notify_at = -1, .quiet_fd = d.g.call, .direct = true};
	in_loop(step_fn, &s);
	ck_assert_uint_eq(drv_calls(&d), 1);
	ck_assert_uint_eq(drv_consume(&d, QSIZE), 8);
	drv_stop(&d);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vu_notify");
	TCase *tc;

	evthread_use_pthreads();
	tc = tcase_create("vu_notify");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_notify_burst, 0, 2); /* _i: EVENT_IDX */
	tcase_add_loop_test(tc, test_notify_direct_push, 0, 2);
	tcase_add_loop_test(tc, test_notify_event_idx, 0, 4);
	tcase_add_loop_test(tc, test_notify_flags, 0, 4);
	suite_add_tcase(s, tc);
	return uv_check_run(s);
}
