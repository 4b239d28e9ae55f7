// SPDX-License-Identifier: GPL-2.0
/*
 * The virtio-blk queue as iopartd runs it, on an event loop: completions
 * that are ready when the queue is served (often during their own
 * submission) are pushed in the same pass, the driver is notified once per
 * pass and never left with a push it was not told of, and kicks are off
 * exactly while requests are in flight.
 */
#include <endian.h>
#include <event2/event.h>
#include <linux/virtio_blk.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blk.h"
#include "chan_mem.h"
#include "uvcheck.h"
#include "virtq_driver.h"

#define RAM_GPA	    0x100000ull
#define RAM_SIZE    (8u << 20)
#define QNUM	    4096
#define DATA_OFF    (1u << 20)
#define IMG_SECTORS 256

static uint8_t *ram;
static struct chan_mem mem;
static struct virtq_driver drv;
static struct virtq vq;
static struct blk_dev *dev;
static struct event_base *base;
static char img[64];
static int img_fd;

/* What the queue did through its ops: the counting stand-in for the vu_back. */
static struct {
	unsigned pushes, unnotified, notifies, notifies_with_news;
} ops_seen;

static int count_pop(void *ctx, unsigned idx, struct virtq_elem *e)
{
	(void)idx;
	return virtq_pop(ctx, e);
}

static void count_complete(void *ctx, unsigned idx, uint16_t head, uint32_t len)
{
	(void)idx;
	virtq_push(ctx, head, len);
	ops_seen.pushes++;
	ops_seen.unnotified++;
}

static void count_notify(void *ctx, unsigned idx)
{
	(void)ctx;
	(void)idx;
	ops_seen.notifies++;
	ops_seen.notifies_with_news += ops_seen.unnotified > 0;
	ops_seen.unnotified = 0;
}

static void count_needs_reset(void *ctx, unsigned idx)
{
	(void)idx;
	((struct virtq *)ctx)->broken = true;
}

static const struct ioq_ops count_ops = {
	.pop = count_pop,
	.complete = count_complete,
	.notify = count_notify,
	.needs_reset = count_needs_reset,
};

static void *gpa_ptr(uint64_t gpa)
{
	return ram + (gpa - RAM_GPA);
}

static void serve_setup(void)
{
	struct iopart_export e = {.kind = IOPART_BLK};
	uint8_t b[512];
	char err[256];

	strcpy(img, "/tmp/test_blk_serve.XXXXXX");
	img_fd = mkstemp(img);
	ck_assert_int_ge(img_fd, 0);
	for (unsigned s = 0; s < IMG_SECTORS; s++) {
		memset(b, s & 0xff, sizeof(b));
		ck_assert_int_eq(pwrite(img_fd, b, 512, s * 512), 512);
	}
	strcpy(e.path, img);
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	ck_assert_msg(blk_open(&dev, &e, base, err, sizeof(err)) == 0, "blk_open: %s", err);
	ram = aligned_alloc(4096, RAM_SIZE);
	ck_assert_ptr_nonnull(ram);
	memset(ram, 0, RAM_SIZE);
	chan_mem_init(&mem);
	ck_assert_int_eq(chan_mem_add_host(&mem, RAM_GPA, RAM_SIZE, RAM_GPA, ram), 0);
	ck_assert_int_eq(virtq_driver_init(&drv, ram, RAM_GPA, QNUM, 0, 1ull << VIRTIO_F_EVENT_IDX),
			 0);
	ck_assert_int_eq(virtq_setup(&vq, &mem, QNUM, drv.desc_gpa, drv.avail_gpa, drv.used_gpa,
				     1ull << VIRTIO_F_EVENT_IDX, 0),
			 0);
	ck_assert_int_eq(blk_queue_start(dev, 0, &vq, &count_ops, &vq), 0);
	memset(&ops_seen, 0, sizeof(ops_seen));
}

static void serve_teardown(void)
{
	blk_close(dev);
	event_base_free(base);
	virtq_driver_free(&drv);
	chan_mem_clear(&mem);
	free(ram);
	close(img_fd);
	unlink(img);
}

/* Request slot i reads sector i % IMG_SECTORS: 16-byte header, 512 bytes, status. */
static void submit_read(unsigned i)
{
	uint64_t hdr = RAM_GPA + DATA_OFF - 0x20000 + (uint64_t)i * 32;
	struct virtio_blk_outhdr *h = gpa_ptr(hdr);
	struct virtq_buf b[3] = {
		{hdr, 16, false},
		{RAM_GPA + DATA_OFF + (uint64_t)i * 4096, 512, true},
		{hdr + 16, 1, true},
	};

	h->type = htole32(VIRTIO_BLK_T_IN);
	h->ioprio = 0;
	h->sector = htole64(i % IMG_SECTORS);
	*(uint8_t *)gpa_ptr(hdr + 16) = 0xff;
	ck_assert_int_ge(virtq_driver_add(&drv, b, 3, false, (void *)(uintptr_t)(i + 1)), 0);
}

/* Takes what is used; checks each request's status and data. */
static unsigned collect(void)
{
	unsigned n = 0;
	uint32_t len;
	void *tok;

	while (virtq_driver_get_used(&drv, &len, &tok) == 1) {
		unsigned i = (unsigned)(uintptr_t)tok - 1;
		uint64_t hdr = RAM_GPA + DATA_OFF - 0x20000 + (uint64_t)i * 32;

		ck_assert_uint_eq(*(uint8_t *)gpa_ptr(hdr + 16), VIRTIO_BLK_S_OK);
		ck_assert_uint_eq(len, 513);
		ck_assert_uint_eq(*(uint8_t *)gpa_ptr(RAM_GPA + DATA_OFF + (uint64_t)i * 4096),
				  i % IMG_SECTORS & 0xff);
		n++;
	}
	return n;
}

/*
 * After the kick, the loop runs until everything is back. After every pass
 * (a loop iteration), every push has been notified, and kicks are wanted
 * exactly when nothing is in flight.
 */
static unsigned run_to_end(unsigned n)
{
	unsigned done = 0, iterations = 0;

	blk_queue_kick(dev, 0);
	for (;;) {
		ck_assert_uint_eq(ops_seen.unnotified, 0);
		ck_assert(!vq.broken);
		ck_assert(vq.notify_off == (blk_queue_inflight(dev, 0) > 0));
		done += collect();
		if (done == n)
			break;
		ck_assert_uint_lt(++iterations, 100000);
		ck_assert_int_ge(event_base_loop(base, EVLOOP_ONCE), 0);
	}
	ck_assert_uint_eq(blk_queue_inflight(dev, 0), 0);
	return iterations;
}

START_TEST(test_serve_burst)
{
	unsigned n = 32;

	for (unsigned i = 0; i < n; i++)
		submit_read(i);
	run_to_end(n);
	ck_assert_uint_eq(ops_seen.pushes, n);
	/* One notify per pass that completed something: fewer than requests. */
	ck_assert_uint_lt(ops_seen.notifies_with_news, n);
	/* Nothing in flight: the next request is kicked for. */
	submit_read(n);
	ck_assert(virtq_driver_kick_needed(&drv));
	run_to_end(1);
}
END_TEST

/* More than the queue depth, more than the rounds of one pass: all served. */
START_TEST(test_serve_many)
{
	unsigned n = 1200; /* 3 descriptors each */

	for (unsigned i = 0; i < n; i++)
		submit_read(i);
	run_to_end(n);
	ck_assert_uint_eq(ops_seen.pushes, n);
	ck_assert_uint_le(ops_seen.notifies_with_news, n);
}
END_TEST

/* Requests added while others are in flight: found by the completions' pass. */
START_TEST(test_serve_trickle)
{
	unsigned submitted = 0, done = 0;

	while (done < 300) {
		if (submitted < 300 && submitted - done < 40) {
			submit_read(submitted++);
			if (virtq_driver_kick_needed(&drv))
				blk_queue_kick(dev, 0);
		}
		ck_assert_uint_eq(ops_seen.unnotified, 0);
		done += collect();
		if (blk_queue_inflight(dev, 0))
			ck_assert_int_ge(event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK), 0);
		/* Nothing in flight, nothing missed: whatever is available was kicked for. */
		if (!blk_queue_inflight(dev, 0) && submitted - done)
			ck_assert_uint_eq(vq.last_avail, drv.avail_idx);
	}
	ck_assert_uint_eq(ops_seen.pushes, 300);
}
END_TEST

int main(void)
{
	return uv_check_run(
		uv_suite("blk_serve", serve_setup, serve_teardown, 60,
			 UV_TESTS(test_serve_burst, test_serve_many, test_serve_trickle)));
}
