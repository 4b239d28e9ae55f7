// SPDX-License-Identifier: GPL-2.0
#include <check.h>

#include "uvcheck.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chan_mem.h"
#include "virtq.h"
#include "virtq_driver.h"

/* "Guest RAM": 1 MiB at 1 MiB, rings at its start, buffers from DATA_OFF. */
#define RAM_GPA	 0x100000ULL
#define RAM_SIZE 0x100000ULL
#define DATA_OFF 0x80000ULL
#define DATA_GPA (RAM_GPA + DATA_OFF)
#define NUM	 16

#define FEAT_ALL ((1ULL << VIRTIO_F_EVENT_IDX) | (1ULL << VIRTIO_F_INDIRECT_DESC))

static uint8_t *ram;
static struct chan_mem mem;
static struct virtq_driver drv;
static struct virtq vq;
static struct virtq_elem elem;

static void open_queue(unsigned num, uint64_t features, uint16_t base)
{
	virtq_driver_free(&drv);
	ck_assert_int_eq(virtq_driver_init(&drv, ram, RAM_GPA, num, 8, features), 0);
	drv.avail_idx = drv.kicked_avail = drv.last_used = base;
	ck_assert_int_eq(virtq_setup(&vq, &mem, num, drv.desc_gpa, drv.avail_gpa, drv.used_gpa,
				     features, base),
			 0);
}

static void setup(void)
{
	ram = aligned_alloc(4096, RAM_SIZE);
	ck_assert_ptr_nonnull(ram);
	memset(ram, 0, RAM_SIZE);
	chan_mem_init(&mem);
	ck_assert_int_eq(chan_mem_add_host(&mem, RAM_GPA, RAM_SIZE, 0x7f0000000000ULL, ram), 0);
	open_queue(NUM, FEAT_ALL, 0);
}

static void teardown(void)
{
	virtq_driver_free(&drv);
	chan_mem_clear(&mem);
	free(ram);
}

/* A virtio-blk-like request: header out, data, status in. */
static int add_blk(bool indirect, void *token)
{
	struct virtq_buf b[3] = {
		{.gpa = DATA_GPA, .len = 16},
		{.gpa = DATA_GPA + 4096, .len = 4096, .write = true},
		{.gpa = DATA_GPA + 16, .len = 1, .write = true},
	};

	return virtq_driver_add(&drv, b, 3, indirect, token);
}

static void set_desc(unsigned i, uint64_t gpa, uint32_t len, uint16_t flags, uint16_t next)
{
	drv.desc[i] = (struct virtq_desc){.addr = gpa, .len = len, .flags = flags, .next = next};
}

/* An indirect table in guest memory at ITABLE_GPA: its entry i. */
#define ITABLE_GPA (DATA_GPA + 0x1000)
static void set_idesc(unsigned i, uint64_t gpa, uint32_t len, uint16_t flags, uint16_t next)
{
	struct virtq_desc *t = (struct virtq_desc *)(ram + DATA_OFF + 0x1000);

	t[i] = (struct virtq_desc){.addr = gpa, .len = len, .flags = flags, .next = next};
}

/* The indirect table full: VIRTQ_MAX_IOV one-byte buffers, chained. */
static void set_itable_full(void)
{
	for (unsigned i = 0; i < VIRTQ_MAX_IOV; i++)
		set_idesc(i, DATA_GPA, 1, i + 1 < VIRTQ_MAX_IOV ? VIRTQ_DESC_F_NEXT : 0,
			  (uint16_t)(i + 1));
}

/* Publishes head as it stands and expects pop to break the queue with err. */
static void expect_broken(uint16_t head, enum virtq_error err)
{
	virtq_driver_add_raw(&drv, head);
	ck_assert_int_eq(virtq_pop(&vq, &elem), -EIO);
	ck_assert(vq.broken);
	ck_assert_msg(vq.error == err, "error %d (%s), expected %d (%s)", vq.error,
		      virtq_strerror(vq.error), err, virtq_strerror(err));
}

START_TEST(test_direct_chain)
{
	uint32_t len;
	void *tok;
	int head = add_blk(false, (void *)0x1234);

	ck_assert_int_ge(head, 0);
	ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
	ck_assert_uint_eq(elem.head, head);
	ck_assert_uint_eq(elem.out_num, 1);
	ck_assert_uint_eq(elem.in_num, 2);
	ck_assert_ptr_eq(elem.iov[0].iov_base, ram + DATA_OFF);
	ck_assert_uint_eq(elem.iov[0].iov_len, 16);
	ck_assert_ptr_eq(elem.iov[1].iov_base, ram + DATA_OFF + 4096);
	ck_assert_uint_eq(elem.iov[2].iov_len, 1);
	ck_assert_int_eq(virtq_pop(&vq, &elem), 0);
	ck_assert_int_eq(virtq_driver_get_used(&drv, &len, &tok), 0);
	virtq_push(&vq, elem.head, 4097);
	ck_assert(virtq_need_notify(&vq));
	ck_assert_int_eq(virtq_driver_get_used(&drv, &len, &tok), 1);
	ck_assert_uint_eq(len, 4097);
	ck_assert_ptr_eq(tok, (void *)0x1234);
	ck_assert_uint_eq(drv.num_free, NUM);
}
END_TEST

START_TEST(test_indirect_chain)
{
	int head = add_blk(true, NULL);

	ck_assert_int_ge(head, 0);
	ck_assert_uint_eq(drv.num_free, NUM - 1);
	ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
	ck_assert_uint_eq(elem.head, head);
	ck_assert_uint_eq(elem.out_num, 1);
	ck_assert_uint_eq(elem.in_num, 2);
	ck_assert_ptr_eq(elem.iov[2].iov_base, ram + DATA_OFF + 16);
}
END_TEST

START_TEST(test_indirect_not_negotiated)
{
	open_queue(NUM, 0, 0);
	ck_assert_int_ge(add_blk(true, NULL), 0);
	ck_assert_int_eq(virtq_pop(&vq, &elem), -EIO);
	ck_assert_int_eq(vq.error, VIRTQ_ERR_INDIRECT);
}
END_TEST

START_TEST(test_zero_length_buffer_ok)
{
	struct virtq_buf b[2] = {{.gpa = DATA_GPA, .len = 0},
				 {.gpa = DATA_GPA, .len = 0, .write = true}};

	ck_assert_int_ge(virtq_driver_add(&drv, b, 2, false, NULL), 0);
	ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
	ck_assert_uint_eq(elem.out_num + elem.in_num, 2);
}
END_TEST

/* One round of the wraparound test; false on any mismatch (no ck_assert: too slow here). */
static bool wrap_round(unsigned i)
{
	uint32_t len;
	void *tok;

	if (add_blk(i & 1, (void *)(uintptr_t)(i + 1)) < 0)
		return false;
	if (i % 3 == 0 && add_blk(false, (void *)(uintptr_t)(i + 1000000)) < 0)
		return false;
	while (virtq_pop(&vq, &elem) == 1)
		virtq_push(&vq, elem.head, i);
	if (virtq_driver_get_used(&drv, &len, &tok) != 1 || tok != (void *)(uintptr_t)(i + 1) ||
	    len != i)
		return false;
	if (i % 3 == 0 && (virtq_driver_get_used(&drv, &len, &tok) != 1 ||
			   tok != (void *)(uintptr_t)(i + 1000000)))
		return false;
	return virtq_driver_get_used(&drv, &len, &tok) == 0;
}

START_TEST(test_wraparound)
{
	/* Start near the top so that 16-bit indexes wrap (about 133000 entries: twice). */
	open_queue(8, FEAT_ALL, 0xfff0);
	for (unsigned i = 0; i < 100000; i++) {
		if (!wrap_round(i))
			ck_abort_msg("round %u: last_avail %u used_idx %u broken %d", i,
				     vq.last_avail, vq.used_idx, vq.broken);
	}
	ck_assert(!vq.broken);
	ck_assert_uint_eq(drv.num_free, 8);
}
END_TEST

/* Malformed chains: one test per class. */
START_TEST(test_loop_direct)
{
	set_desc(0, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
	set_desc(1, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, 0);
	expect_broken(0, VIRTQ_ERR_LOOP);
}
END_TEST

START_TEST(test_loop_self)
{
	set_desc(3, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, 3);
	expect_broken(3, VIRTQ_ERR_LOOP);
}
END_TEST

START_TEST(test_loop_indirect)
{
	set_idesc(0, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
	set_idesc(1, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, 0);
	set_desc(0, ITABLE_GPA, 2 * sizeof(struct virtq_desc), VIRTQ_DESC_F_INDIRECT, 0);
	expect_broken(0, VIRTQ_ERR_LOOP);
}
END_TEST

START_TEST(test_addr_out_of_range)
{
	set_desc(0, 0x1000, 8, 0, 0);
	expect_broken(0, VIRTQ_ERR_ADDR);
}
END_TEST

START_TEST(test_addr_crosses_region_end)
{
	set_desc(0, RAM_GPA + RAM_SIZE - 8, 9, 0, 0);
	expect_broken(0, VIRTQ_ERR_ADDR);
}
END_TEST

START_TEST(test_addr_exact_region_end_ok)
{
	set_desc(0, RAM_GPA + RAM_SIZE - 8, 8, 0, 0);
	virtq_driver_add_raw(&drv, 0);
	ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
	ck_assert_ptr_eq(elem.iov[0].iov_base, ram + RAM_SIZE - 8);
}
END_TEST

START_TEST(test_addr_wraps)
{
	set_desc(0, UINT64_MAX - 4, 16, 0, 0);
	expect_broken(0, VIRTQ_ERR_ADDR);
}
END_TEST

START_TEST(test_huge_length)
{
	set_desc(0, DATA_GPA, UINT32_MAX, 0, 0);
	expect_broken(0, VIRTQ_ERR_ADDR);
}
END_TEST

START_TEST(test_total_length_overflow)
{
	/* Each buffer is in RAM, the chain's total overflows 32 bits. */
	struct virtq_desc *t = (struct virtq_desc *)(ram + DATA_OFF);
	/* A 3 GiB region: never touched, the walk only translates addresses. */
	ck_assert_int_eq(chan_mem_add_host(&mem, 0x100000000ULL, 0xc0000000ULL, 0x1000000000ULL,
					   (void *)0x10000),
			 0);
	t[0] = (struct virtq_desc){
		.addr = 0x100000000ULL, .len = 0xc0000000U, .flags = VIRTQ_DESC_F_NEXT, .next = 1};
	t[1] = (struct virtq_desc){.addr = 0x100000000ULL, .len = 0xc0000000U};
	set_desc(0, DATA_GPA, 2 * sizeof(*t), VIRTQ_DESC_F_INDIRECT, 0);
	expect_broken(0, VIRTQ_ERR_LEN);
}
END_TEST

START_TEST(test_zero_length_indirect)
{
	set_desc(0, DATA_GPA, 0, VIRTQ_DESC_F_INDIRECT, 0);
	expect_broken(0, VIRTQ_ERR_INDIRECT);
}
END_TEST

START_TEST(test_indirect_bad_size)
{
	set_desc(0, DATA_GPA, 24, VIRTQ_DESC_F_INDIRECT, 0);
	expect_broken(0, VIRTQ_ERR_INDIRECT);
}
END_TEST

START_TEST(test_indirect_too_big)
{
	set_desc(0, DATA_GPA, (VIRTQ_MAX_IOV + 1) * 16, VIRTQ_DESC_F_INDIRECT, 0);
	expect_broken(0, VIRTQ_ERR_INDIRECT);
}
END_TEST

START_TEST(test_indirect_table_outside)
{
	set_desc(0, RAM_GPA + RAM_SIZE - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
	expect_broken(0, VIRTQ_ERR_ADDR);
}
END_TEST

START_TEST(test_bad_head)
{
	expect_broken(NUM, VIRTQ_ERR_HEAD);
}
END_TEST

START_TEST(test_bad_next)
{
	set_desc(0, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, NUM);
	expect_broken(0, VIRTQ_ERR_NEXT);
}
END_TEST

START_TEST(test_bad_next_indirect)
{
	/* next 2 is inside the direct table but outside this 2-entry table. */
	set_idesc(0, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, 2);
	set_desc(0, ITABLE_GPA, 2 * sizeof(struct virtq_desc), VIRTQ_DESC_F_INDIRECT, 0);
	expect_broken(0, VIRTQ_ERR_NEXT);
}
END_TEST

START_TEST(test_avail_idx_jump)
{
	__atomic_store_n(&drv.avail->idx, NUM + 1, __ATOMIC_RELEASE);
	ck_assert_int_eq(virtq_pop(&vq, &elem), -EIO);
	ck_assert_int_eq(vq.error, VIRTQ_ERR_AVAIL_IDX);
}
END_TEST

START_TEST(test_avail_idx_full_ok)
{
	/* Exactly num ahead is a full ring, not an error. */
	for (unsigned i = 0; i < NUM; i++)
		set_desc(i, DATA_GPA, 8, 0, 0);
	for (unsigned i = 0; i < NUM; i++)
		virtq_driver_add_raw(&drv, i);
	for (unsigned i = 0; i < NUM; i++)
		ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
	ck_assert_int_eq(virtq_pop(&vq, &elem), 0);
}
END_TEST

START_TEST(test_nested_indirect)
{
	set_idesc(0, ITABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
	set_desc(0, ITABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
	expect_broken(0, VIRTQ_ERR_INDIRECT);
}
END_TEST

START_TEST(test_indirect_with_next)
{
	set_idesc(0, DATA_GPA, 8, 0, 0);
	set_desc(0, ITABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
	set_desc(1, DATA_GPA, 8, 0, 0);
	expect_broken(0, VIRTQ_ERR_INDIRECT);
}
END_TEST

START_TEST(test_write_then_read)
{
	set_desc(0, DATA_GPA, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	set_desc(1, DATA_GPA, 8, 0, 0);
	expect_broken(0, VIRTQ_ERR_ORDER);
}
END_TEST

START_TEST(test_too_long)
{
	/* A full indirect table plus one direct buffer in front: VIRTQ_MAX_IOV + 1. */
	set_itable_full();
	set_desc(0, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
	set_desc(1, ITABLE_GPA, VIRTQ_MAX_IOV * 16, VIRTQ_DESC_F_INDIRECT, 0);
	expect_broken(0, VIRTQ_ERR_TOO_LONG);
}
END_TEST

START_TEST(test_max_iov_ok)
{
	set_itable_full();
	set_desc(0, ITABLE_GPA, VIRTQ_MAX_IOV * 16, VIRTQ_DESC_F_INDIRECT, 0);
	virtq_driver_add_raw(&drv, 0);
	ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
	ck_assert_uint_eq(elem.out_num, VIRTQ_MAX_IOV);
}
END_TEST

START_TEST(test_broken_stays_broken)
{
	uint32_t len;
	void *tok;

	expect_broken(NUM + 3, VIRTQ_ERR_HEAD);
	/* A good request afterwards is not served; nothing is pushed or signalled. */
	ck_assert_int_ge(add_blk(false, NULL), 0);
	ck_assert_int_eq(virtq_pop(&vq, &elem), -EIO);
	ck_assert_int_eq(virtq_pop_head(&vq, 0, &elem), -EIO);
	virtq_push(&vq, 0, 1);
	ck_assert(!virtq_need_notify(&vq));
	ck_assert(!virtq_enable_notify(&vq));
	ck_assert_int_eq(__atomic_load_n(&drv.used->idx, __ATOMIC_ACQUIRE), 0);
	ck_assert_int_eq(virtq_driver_get_used(&drv, &len, &tok), 0);
	ck_assert_int_eq(vq.error, VIRTQ_ERR_HEAD);
	/* Setting it up again clears it. */
	open_queue(NUM, FEAT_ALL, 0);
	ck_assert_int_ge(add_blk(false, NULL), 0);
	ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
}
END_TEST

START_TEST(test_setup_rejects)
{
	struct virtq q;

	ck_assert_int_eq(virtq_setup(&q, &mem, 12, drv.desc_gpa, drv.avail_gpa, drv.used_gpa, 0, 0),
			 -EINVAL);
	ck_assert_int_eq(
		virtq_setup(&q, &mem, 65536, drv.desc_gpa, drv.avail_gpa, drv.used_gpa, 0, 0),
		-EINVAL);
	ck_assert_int_eq(virtq_setup(&q, &mem, 0, drv.desc_gpa, drv.avail_gpa, drv.used_gpa, 0, 0),
			 -EINVAL);
	ck_assert_int_eq(
		virtq_setup(&q, &mem, NUM, drv.desc_gpa + 8, drv.avail_gpa, drv.used_gpa, 0, 0),
		-EINVAL);
	ck_assert_int_eq(
		virtq_setup(&q, &mem, NUM, drv.desc_gpa, drv.avail_gpa + 1, drv.used_gpa, 0, 0),
		-EINVAL);
	ck_assert_int_eq(
		virtq_setup(&q, &mem, NUM, drv.desc_gpa, drv.avail_gpa, drv.used_gpa + 2, 0, 0),
		-EINVAL);
	/* A used ring running past the end of RAM. */
	ck_assert_int_eq(virtq_setup(&q, &mem, NUM, drv.desc_gpa, drv.avail_gpa,
				     RAM_GPA + RAM_SIZE - 64, 0, 0),
			 -EINVAL);
	ck_assert_int_eq(virtq_setup_host(&q, &mem, NUM, NULL, ram, ram, 0, 0), -EINVAL);
	ck_assert_int_eq(
		virtq_setup(&q, &mem, 32768, RAM_GPA, RAM_GPA + 0x80000, RAM_GPA + 0xa0000, 0, 0),
		0);
}
END_TEST

/* Notification decisions, both directions. */
START_TEST(test_event_idx_interrupts)
{
	uint32_t len;
	void *tok;

	ck_assert(!virtq_driver_enable_cb(&drv)); /* used_event = 0 */
	for (unsigned i = 0; i < 3; i++)
		ck_assert_int_ge(add_blk(false, NULL), 0);
	for (unsigned i = 0; i < 3; i++)
		ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
	virtq_push(&vq, 0, 0);
	ck_assert(virtq_need_notify(&vq)); /* the first always */
	virtq_push(&vq, 3, 0);
	ck_assert(!virtq_need_notify(&vq)); /* used_event 0 already passed */
	ck_assert_int_eq(virtq_driver_get_used(&drv, &len, &tok), 1);
	ck_assert_int_eq(virtq_driver_get_used(&drv, &len, &tok), 1);
	ck_assert(!virtq_driver_enable_cb(&drv)); /* used_event = 2 */
	ck_assert(!virtq_need_notify(&vq));	  /* nothing new */
	virtq_push(&vq, 6, 0);
	ck_assert(virtq_need_notify(&vq));
}
END_TEST

START_TEST(test_event_idx_wrap)
{
	/* used_event just below the 16-bit wrap, the push crossing it. */
	open_queue(NUM, FEAT_ALL, 0xfffe);
	for (unsigned i = 0; i < 4; i++)
		ck_assert_int_ge(add_blk(false, NULL), 0);
	for (unsigned i = 0; i < 4; i++)
		ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
	virtq_push(&vq, 0, 0); /* used idx 0xffff */
	ck_assert(virtq_need_notify(&vq));
	__atomic_store_n(&drv.avail->ring[NUM], 0x0000, __ATOMIC_RELEASE);
	virtq_push(&vq, 3, 0); /* used idx 0x0000: entry 0xffff not yet the event */
	ck_assert(!virtq_need_notify(&vq));
	virtq_push(&vq, 6, 0); /* used idx 0x0001: passed entry 0x0000 */
	ck_assert(virtq_need_notify(&vq));
}
END_TEST

START_TEST(test_event_idx_kicks)
{
	ck_assert(!virtq_driver_kick_needed(&drv)); /* nothing added */
	ck_assert_int_ge(add_blk(false, NULL), 0);
	ck_assert(virtq_driver_kick_needed(&drv));
	/* A polling device: disable, drain. */
	virtq_disable_notify(&vq);
	ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
	ck_assert_int_eq(virtq_pop(&vq, &elem), 0);
	/* The driver adds after the drain: no kick, since the device polls... */
	ck_assert_int_ge(add_blk(false, NULL), 0);
	ck_assert(!virtq_driver_kick_needed(&drv));
	/* ...and enabling sees it: the race a device must not lose. */
	ck_assert(virtq_enable_notify(&vq));
	ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
	ck_assert(!virtq_enable_notify(&vq));
	ck_assert_int_ge(add_blk(false, NULL), 0);
	ck_assert(virtq_driver_kick_needed(&drv));
	/* Without disable, every pop asks for the next kick. */
	ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
	ck_assert_int_ge(add_blk(false, NULL), 0);
	ck_assert(virtq_driver_kick_needed(&drv));
}
END_TEST

START_TEST(test_flags_notify)
{
	open_queue(NUM, 0, 0);
	ck_assert_int_ge(add_blk(false, NULL), 0);
	ck_assert(virtq_driver_kick_needed(&drv));
	virtq_disable_notify(&vq);
	ck_assert_int_ge(add_blk(false, NULL), 0);
	ck_assert(!virtq_driver_kick_needed(&drv));
	ck_assert(virtq_enable_notify(&vq));
	ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
	ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
	ck_assert(!virtq_enable_notify(&vq));
	ck_assert_int_ge(add_blk(false, NULL), 0);
	ck_assert(virtq_driver_kick_needed(&drv));

	virtq_push(&vq, 0, 0);
	ck_assert(virtq_need_notify(&vq));
	virtq_driver_disable_cb(&drv);
	virtq_push(&vq, 3, 0);
	ck_assert(!virtq_need_notify(&vq));
	ck_assert(virtq_driver_enable_cb(&drv)); /* two used are pending */
	ck_assert(virtq_need_notify(&vq));
}
END_TEST

/* In-flight tracking across a simulated back-end crash. */
static struct virtq_inflight *area;

static void inflight_setup(void)
{
	setup();
	area = aligned_alloc(64, virtq_inflight_size(NUM));
	ck_assert_ptr_nonnull(area);
	memset(area, 0xa5, virtq_inflight_size(NUM));
	ck_assert_int_eq(virtq_inflight_attach(&vq, area, true), 0);
	ck_assert_uint_eq(area->version, 1);
	ck_assert_uint_eq(area->desc_num, NUM);
	for (unsigned i = 0; i < NUM; i++)
		ck_assert(!area->desc[i].inflight);
}

static void inflight_teardown(void)
{
	free(area);
	teardown();
}

/* A new back end on the same rings, told base = used->idx as QEMU does after a crash. */
static void restart(void)
{
	uint16_t used = __atomic_load_n(&drv.used->idx, __ATOMIC_ACQUIRE);

	ck_assert_int_eq(virtq_setup(&vq, &mem, NUM, drv.desc_gpa, drv.avail_gpa, drv.used_gpa,
				     FEAT_ALL, used),
			 0);
	ck_assert_int_eq(virtq_inflight_attach(&vq, area, false), 0);
}

START_TEST(test_inflight_resubmit_order)
{
	uint16_t popped[6], heads[NUM];
	uint32_t len;
	void *tok;

	/* Make head numbers disagree with age: complete and reuse some. */
	for (unsigned i = 0; i < 4; i++)
		ck_assert_int_ge(add_blk(false, NULL), 0);
	for (unsigned i = 0; i < 4; i++) {
		ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
		if (i < 2) {
			virtq_push(&vq, elem.head, 0);
			ck_assert_int_eq(virtq_driver_get_used(&drv, &len, &tok), 1);
		} else {
			popped[i - 2] = elem.head;
		}
	}
	for (unsigned i = 2; i < 6; i++) {
		ck_assert_int_ge(add_blk(i & 1, NULL), 0);
		ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
		popped[i] = elem.head;
	}
	ck_assert_uint_lt(popped[3], popped[0]); /* a reused, lower head, younger */
	virtq_push(&vq, popped[1], 0);
	virtq_push(&vq, popped[4], 0);
	ck_assert_int_ge(add_blk(true, NULL), 0); /* available, never popped */

	restart();
	ck_assert_uint_eq(virtq_inflight_resubmit(&vq, heads, NUM), 4);
	ck_assert_uint_eq(heads[0], popped[0]);
	ck_assert_uint_eq(heads[1], popped[2]);
	ck_assert_uint_eq(heads[2], popped[3]);
	ck_assert_uint_eq(heads[3], popped[5]);
	ck_assert_uint_eq(virtq_inflight_resubmit(&vq, heads, 2), 2);
	ck_assert_uint_eq(heads[1], popped[2]);
	for (unsigned i = 0; i < 4; i++) {
		uint64_t age = area->desc[heads[i]].counter;

		ck_assert_int_eq(virtq_pop_head(&vq, heads[i], &elem), 1);
		ck_assert_uint_eq(elem.in_num, 2);
		ck_assert_uint_eq(area->desc[heads[i]].counter, age);
	}
	/* The avail ring resumes after what was in flight: only the new one. */
	ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
	ck_assert_uint_gt(area->desc[elem.head].counter, area->desc[popped[5]].counter);
	ck_assert_int_eq(virtq_pop(&vq, &elem), 0);
	ck_assert(!vq.broken);
}
END_TEST

START_TEST(test_inflight_torn_push)
{
	uint16_t a, b, heads[NUM];

	ck_assert_int_ge(add_blk(false, NULL), 0);
	ck_assert_int_ge(add_blk(false, NULL), 0);
	ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
	a = elem.head;
	ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
	b = elem.head;
	virtq_push(&vq, a, 0);
	/* Died after publishing used->idx, before clearing the batch. */
	area->desc[a].inflight = 1;
	area->used_idx = 0;
	restart();
	ck_assert_uint_eq(area->used_idx, 1);
	ck_assert_uint_eq(virtq_inflight_resubmit(&vq, heads, NUM), 1);
	ck_assert_uint_eq(heads[0], b);
}
END_TEST

START_TEST(test_inflight_hostile_area)
{
	uint16_t heads[NUM];

	area->desc_num = NUM * 2;
	ck_assert_int_eq(virtq_inflight_attach(&vq, area, false), -EINVAL);
	area->desc_num = NUM;
	area->version = 7;
	ck_assert_int_eq(virtq_inflight_attach(&vq, area, false), -EINVAL);
	/* Garbage everywhere else: bounded, no crash, nothing out of range. */
	memset(area, 0xff, virtq_inflight_size(NUM));
	area->version = 1;
	area->desc_num = NUM;
	area->last_batch_head = 3;
	ck_assert_int_eq(virtq_inflight_attach(&vq, area, false), 0);
	ck_assert_uint_eq(virtq_inflight_resubmit(&vq, heads, NUM), 0);
	for (unsigned i = 0; i < NUM; i++) {
		area->desc[i].inflight = 1;
		area->desc[i].next = (uint16_t)i;
	}
	area->used_idx = 0x8000;
	ck_assert_int_eq(virtq_inflight_attach(&vq, area, false), 0);
	ck_assert_uint_le(virtq_inflight_resubmit(&vq, heads, NUM), NUM);
}
END_TEST

int main(void)
{
	Suite *s = uv_suite("virtq", setup, teardown, 30,
			    UV_TESTS(test_direct_chain, test_indirect_chain,
				     test_zero_length_buffer_ok, test_wraparound,
				     test_addr_exact_region_end_ok, test_avail_idx_full_ok,
				     test_max_iov_ok, test_setup_rejects));

	uv_tcase(s, "malformed", setup, teardown, 0,
		 UV_TESTS(test_indirect_not_negotiated, test_loop_direct, test_loop_self,
			  test_loop_indirect, test_addr_out_of_range, test_addr_crosses_region_end,
			  test_addr_wraps, test_huge_length, test_total_length_overflow,
			  test_zero_length_indirect, test_indirect_bad_size, test_indirect_too_big,
			  test_indirect_table_outside, test_bad_head, test_bad_next,
			  test_bad_next_indirect, test_avail_idx_jump, test_nested_indirect,
			  test_indirect_with_next, test_write_then_read, test_too_long,
			  test_broken_stays_broken));
	uv_tcase(s, "notify", setup, teardown, 0,
		 UV_TESTS(test_event_idx_interrupts, test_event_idx_wrap, test_event_idx_kicks,
			  test_flags_notify));
	uv_tcase(s, "inflight", inflight_setup, inflight_teardown, 0,
		 UV_TESTS(test_inflight_resubmit_order, test_inflight_torn_push,
			  test_inflight_hostile_area));
	return uv_check_run(s);
}
