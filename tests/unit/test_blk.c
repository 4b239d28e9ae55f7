// SPDX-License-Identifier: GPL-2.0
/* The virtio-blk back end's request logic, driven over a bare virtq in host memory. */
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_blk.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blk.h"
#include "blkq_rig.h"
#include "chan_mem.h"
#include "uvcheck.h"
#include "virtq_driver.h"

#define RAM_GPA	    0x100000ull
#define RAM_SIZE    (4u << 20)
#define QNUM	    1024
#define DATA_OFF    (1u << 20) /* data buffers start here in "guest RAM" */
#define IMG_SECTORS 64

static uint8_t *ram;
static struct chan_mem mem;
static struct virtq_driver drv;
static struct virtq vq;
static struct blk_dev *dev;
static char img[64];
static int img_fd;

static void *gpa_ptr(uint64_t gpa)
{
	return ram + (gpa - RAM_GPA);
}

static void blk_setup_opts(bool readonly, bool direct)
{
	struct iopart_export e = {.kind = IOPART_BLK, .readonly = readonly, .direct = direct};
	char err[256];
	int ret;

	strcpy(img, "/tmp/test_blk.XXXXXX");
	img_fd = mkstemp(img);
	ck_assert_int_ge(img_fd, 0);
	ck_assert_int_eq(ftruncate(img_fd, IMG_SECTORS * 512), 0);
	for (unsigned s = 0; s < IMG_SECTORS; s++) {
		uint8_t b[512];

		memset(b, 0xa0 + (s & 0xf), sizeof(b));
		ck_assert_int_eq(pwrite(img_fd, b, 512, s * 512), 512);
	}
	strcpy(e.path, img);
	strcpy(e.serial, "serial-0123456789abcdef");
	e.serial[IOPART_SERIAL_LEN] = 0;
	ret = blk_open(&dev, &e, NULL, err, sizeof(err));
	ck_assert_msg(ret == 0, "blk_open: %s", err);

	ram = aligned_alloc(4096, RAM_SIZE);
	ck_assert_ptr_nonnull(ram);
	blkq_start(dev, ram, RAM_SIZE, RAM_GPA, QNUM, &mem, &drv, &vq);
}

static void blk_setup(void)
{
	blk_setup_opts(false, false);
}

static void blk_teardown(void)
{
	blk_close(dev);
	dev = NULL;
	virtq_driver_free(&drv);
	chan_mem_clear(&mem);
	free(ram);
	close(img_fd);
	unlink(img);
}

/* Per request slot: header, status and data at fixed places in "guest RAM". */
static uint64_t hdr_gpa(unsigned slot)
{
	return RAM_GPA + DATA_OFF - 0x10000 + slot * 32;
}

static uint64_t st_gpa(unsigned slot)
{
	return hdr_gpa(slot) + 16;
}

static uint64_t data_gpa(unsigned slot)
{
	return RAM_GPA + DATA_OFF + slot * 8192ull;
}

static int submit(unsigned slot, uint32_t type, uint64_t sector, uint32_t len)
{
	struct virtio_blk_outhdr *h = gpa_ptr(hdr_gpa(slot));
	struct virtq_buf b[3];
	unsigned n = 0;

	h->type = htole32(type);
	h->ioprio = 0;
	h->sector = htole64(sector);
	*(uint8_t *)gpa_ptr(st_gpa(slot)) = 0xff;
	b[n++] = (struct virtq_buf){hdr_gpa(slot), 16, false};
	if (len)
		b[n++] = (struct virtq_buf){data_gpa(slot), len,
					    type != VIRTIO_BLK_T_OUT &&
						    type != VIRTIO_BLK_T_DISCARD &&
						    type != VIRTIO_BLK_T_WRITE_ZEROES};
	b[n++] = (struct virtq_buf){st_gpa(slot), 1, true};
	return virtq_driver_add(&drv, b, n, false, (void *)(uintptr_t)(slot + 1));
}

/* Kicks, waits for one completion, returns the status byte of slot. */
static uint8_t run_one(unsigned slot, uint32_t *used_len)
{
	uint32_t len;
	void *tok;
	int got;

	blk_queue_kick(dev, 0);
	while ((got = virtq_driver_get_used(&drv, &len, &tok)) == 0)
		ck_assert_int_gt(blk_queue_reap(dev, 0, true), 0);
	ck_assert_int_eq(got, 1);
	ck_assert_ptr_eq(tok, (void *)(uintptr_t)(slot + 1));
	if (used_len)
		*used_len = len;
	return *(uint8_t *)gpa_ptr(st_gpa(slot));
}

static uint8_t do_req(uint32_t type, uint64_t sector, uint32_t len, uint32_t *used)
{
	ck_assert_int_ge(submit(0, type, sector, len), 0);
	return run_one(0, used);
}

START_TEST(test_blk_read_write)
{
	uint8_t buf[1024];
	uint32_t used;

	ck_assert_int_eq(do_req(VIRTIO_BLK_T_IN, 3, 1024, &used), VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(used, 1025);
	ck_assert_uint_eq(((uint8_t *)gpa_ptr(data_gpa(0)))[0], 0xa3);
	ck_assert_uint_eq(((uint8_t *)gpa_ptr(data_gpa(0)))[1023], 0xa4);

	memset(gpa_ptr(data_gpa(0)), 0x5a, 1024);
	ck_assert_int_eq(do_req(VIRTIO_BLK_T_OUT, 10, 1024, &used), VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(used, 1);
	ck_assert_int_eq(pread(img_fd, buf, 1024, 10 * 512), 1024);
	for (unsigned i = 0; i < 1024; i++)
		ck_assert_uint_eq(buf[i], 0x5a);

	memset(gpa_ptr(data_gpa(0)), 0, 1024);
	ck_assert_int_eq(do_req(VIRTIO_BLK_T_IN, 10, 1024, NULL), VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(((uint8_t *)gpa_ptr(data_gpa(0)))[700], 0x5a);
	ck_assert_int_eq(do_req(VIRTIO_BLK_T_FLUSH, 0, 0, &used), VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(used, 1);
}
END_TEST

START_TEST(test_blk_get_id)
{
	uint32_t used;

	ck_assert_int_eq(do_req(VIRTIO_BLK_T_GET_ID, 0, 20, &used), VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(used, 21);
	ck_assert_mem_eq(gpa_ptr(data_gpa(0)), "serial-0123456789abc", 20);
}
END_TEST

static void check_file(uint64_t off, size_t len, uint8_t v)
{
	uint8_t *b = malloc(len);

	ck_assert_int_eq(pread(img_fd, b, len, off), (ssize_t)len);
	for (size_t i = 0; i < len; i++)
		ck_assert_msg(b[i] == v, "byte %zu at %llu is %#x, not %#x", i,
			      (unsigned long long)off, b[i], v);
	free(b);
}

static uint8_t dwz(uint32_t type, uint64_t sector, uint32_t num, uint32_t flags)
{
	uint32_t *seg = gpa_ptr(data_gpa(0));

	*(uint64_t *)seg = htole64(sector);
	seg[2] = htole32(num);
	seg[3] = htole32(flags);
	return do_req(type, 0, 16, NULL);
}

START_TEST(test_blk_discard_write_zeroes)
{
	ck_assert_int_eq(dwz(VIRTIO_BLK_T_WRITE_ZEROES, 8, 8, 0), VIRTIO_BLK_S_OK);
	check_file(8 * 512, 8 * 512, 0);
	check_file(7 * 512, 512, 0xa7);
	check_file(16 * 512, 512, 0xa0);
	ck_assert_int_eq(dwz(VIRTIO_BLK_T_WRITE_ZEROES, 20, 4, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP),
			 VIRTIO_BLK_S_OK);
	check_file(20 * 512, 4 * 512, 0);
	check_file(24 * 512, 512, 0xa8);
	ck_assert_int_eq(dwz(VIRTIO_BLK_T_DISCARD, 32, 8, 0), VIRTIO_BLK_S_OK);
	check_file(40 * 512, 512, 0xa8);
	/* Unknown flags, out of range, and the size stays. */
	ck_assert_int_eq(dwz(VIRTIO_BLK_T_DISCARD, 32, 8, 1), VIRTIO_BLK_S_UNSUPP);
	ck_assert_int_eq(dwz(VIRTIO_BLK_T_WRITE_ZEROES, 0, 1, 2), VIRTIO_BLK_S_UNSUPP);
	ck_assert_int_eq(dwz(VIRTIO_BLK_T_WRITE_ZEROES, IMG_SECTORS - 1, 2, 0), VIRTIO_BLK_S_IOERR);
	struct stat st;
	ck_assert_int_eq(fstat(img_fd, &st), 0);
	ck_assert_int_eq(st.st_size, IMG_SECTORS * 512);
}
END_TEST

START_TEST(test_blk_bad_requests)
{
	uint32_t used;

	ck_assert_int_eq(do_req(VIRTIO_BLK_T_IN, IMG_SECTORS - 1, 1024, &used), VIRTIO_BLK_S_IOERR);
	ck_assert_uint_eq(used, 1);
	ck_assert_int_eq(do_req(VIRTIO_BLK_T_IN, IMG_SECTORS, 512, NULL), VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(do_req(VIRTIO_BLK_T_OUT, ~0ull, 512, NULL), VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(do_req(VIRTIO_BLK_T_OUT, 1ull << 60, 512, NULL), VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(do_req(VIRTIO_BLK_T_IN, 0, 100, NULL), VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(do_req(99, 0, 0, NULL), VIRTIO_BLK_S_UNSUPP);
	ck_assert_int_eq(do_req(VIRTIO_BLK_T_SCSI_CMD, 0, 0, NULL), VIRTIO_BLK_S_UNSUPP);
	check_file(0, 512, 0xa0);
}
END_TEST

START_TEST(test_blk_short_header_status)
{
	struct virtq_buf b[2];
	uint8_t *st = gpa_ptr(data_gpa(0)) + 511;
	uint32_t len;
	void *tok;

	/* A 8-byte header: IOERR in the status byte. */
	b[0] = (struct virtq_buf){hdr_gpa(0), 8, false};
	b[1] = (struct virtq_buf){st_gpa(0), 1, true};
	*(uint8_t *)gpa_ptr(st_gpa(0)) = 0xff;
	ck_assert_int_ge(virtq_driver_add(&drv, b, 2, false, (void *)1), 0);
	ck_assert_uint_eq(run_one(0, NULL), VIRTIO_BLK_S_IOERR);

	/* A read with no room for the status byte beside the data: IOERR in its last byte. */
	struct virtio_blk_outhdr *h = gpa_ptr(hdr_gpa(0));
	h->type = htole32(VIRTIO_BLK_T_IN);
	h->sector = 0;
	*st = 0xff;
	b[0] = (struct virtq_buf){hdr_gpa(0), 16, false};
	b[1] = (struct virtq_buf){data_gpa(0), 512, true};
	ck_assert_int_ge(virtq_driver_add(&drv, b, 2, false, (void *)1), 0);
	blk_queue_kick(dev, 0);
	ck_assert_int_eq(virtq_driver_get_used(&drv, &len, &tok), 1);
	ck_assert_uint_eq(*st, VIRTIO_BLK_S_IOERR);

	/* No writable buffer at all: nowhere to answer, the queue needs a reset. */
	ck_assert_int_ge(virtq_driver_add(&drv, b, 1, false, (void *)1), 0);
	blk_queue_kick(dev, 0);
	ck_assert_int_eq(virtq_driver_get_used(&drv, &len, &tok), 0);
	ck_assert(vq.broken);
}
END_TEST

START_TEST(test_blk_queue_depth)
{
	unsigned n = 200, done = 0;
	uint32_t len;
	void *tok;

	for (unsigned i = 0; i < n; i++)
		ck_assert_int_ge(submit(i, VIRTIO_BLK_T_IN, i % IMG_SECTORS, 512), 0);
	blk_queue_kick(dev, 0);
	ck_assert_uint_le(blk_queue_inflight(dev, 0), BLK_QUEUE_DEPTH);
	ck_assert_uint_eq(vq.last_avail, BLK_QUEUE_DEPTH);
	while (done < n) {
		while (virtq_driver_get_used(&drv, &len, &tok) == 1) {
			unsigned slot = (uintptr_t)tok - 1;

			ck_assert_uint_eq(*(uint8_t *)gpa_ptr(st_gpa(slot)), VIRTIO_BLK_S_OK);
			ck_assert_uint_eq(((uint8_t *)gpa_ptr(data_gpa(slot)))[0],
					  0xa0 + ((slot % IMG_SECTORS) & 0xf));
			done++;
		}
		if (done < n) {
			ck_assert_int_gt(blk_queue_reap(dev, 0, true), 0);
			blk_queue_kick(dev, 0);
			ck_assert_uint_le(blk_queue_inflight(dev, 0), BLK_QUEUE_DEPTH);
		}
	}
}
END_TEST

/* While requests are in flight the driver is told not to kick; after, it is again. */
START_TEST(test_blk_kick_suppression)
{
	unsigned done = 0;
	uint32_t len;
	void *tok;

	ck_assert_int_ge(submit(0, VIRTIO_BLK_T_IN, 0, 512), 0);
	ck_assert(virtq_driver_kick_needed(&drv));
	blk_queue_kick(dev, 0);
	ck_assert_uint_eq(blk_queue_inflight(dev, 0), 1);
	ck_assert_int_ge(submit(1, VIRTIO_BLK_T_IN, 1, 512), 0);
	ck_assert(!virtq_driver_kick_needed(&drv));
	while (done < 2) {
		if (virtq_driver_get_used(&drv, &len, &tok) == 1) {
			done++;
			continue;
		}
		ck_assert_int_gt(blk_queue_reap(dev, 0, true), 0);
		blk_queue_kick(dev, 0); /* as the completion event does */
	}
	ck_assert_uint_eq(blk_queue_inflight(dev, 0), 0);
	ck_assert_int_ge(submit(2, VIRTIO_BLK_T_IN, 2, 512), 0);
	ck_assert(virtq_driver_kick_needed(&drv));
	ck_assert_uint_eq(run_one(2, NULL), VIRTIO_BLK_S_OK);
}
END_TEST

START_TEST(test_blk_config)
{
	struct virtio_blk_config c;

	ck_assert_int_eq(blk_get_config(dev, 0, &c, sizeof(c)), 0);
	ck_assert_uint_eq(le64toh(c.capacity), IMG_SECTORS);
	ck_assert_uint_eq(le32toh(c.blk_size), 512);
	ck_assert_uint_eq(le16toh(c.num_queues), 1);
	ck_assert_uint_eq(le32toh(c.max_discard_seg), 1);
	ck_assert_int_eq(blk_get_config(dev, sizeof(c) - 4, &c, 8), -EINVAL);
	ck_assert(blk_features(dev) & 1ull << VIRTIO_BLK_F_FLUSH);
	ck_assert(!(blk_features(dev) & 1ull << VIRTIO_BLK_F_RO));
}
END_TEST

static void blk_setup_ro(void)
{
	blk_setup_opts(true, false);
}

START_TEST(test_blk_readonly)
{
	memset(gpa_ptr(data_gpa(0)), 0x11, 512);
	ck_assert_int_eq(do_req(VIRTIO_BLK_T_OUT, 0, 512, NULL), VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(dwz(VIRTIO_BLK_T_WRITE_ZEROES, 0, 4, 0), VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(dwz(VIRTIO_BLK_T_DISCARD, 0, 4, 0), VIRTIO_BLK_S_IOERR);
	check_file(0, 512, 0xa0);
	check_file(512, 512, 0xa1);
	ck_assert_int_eq(do_req(VIRTIO_BLK_T_IN, 1, 512, NULL), VIRTIO_BLK_S_OK);
	ck_assert(blk_features(dev) & 1ull << VIRTIO_BLK_F_RO);
}
END_TEST

static void blk_setup_direct(void)
{
	blk_setup_opts(false, true);
}

START_TEST(test_blk_direct_unaligned)
{
	struct virtq_buf b[3];
	uint8_t *p = gpa_ptr(data_gpa(0) + 3);

	/* A misaligned buffer goes through a bounce buffer. */
	memset(p, 0x77, 512);
	struct virtio_blk_outhdr *h = gpa_ptr(hdr_gpa(0));
	h->type = htole32(VIRTIO_BLK_T_OUT);
	h->sector = htole64(5);
	b[0] = (struct virtq_buf){hdr_gpa(0), 16, false};
	b[1] = (struct virtq_buf){data_gpa(0) + 3, 512, false};
	b[2] = (struct virtq_buf){st_gpa(0), 1, true};
	ck_assert_int_ge(virtq_driver_add(&drv, b, 3, false, (void *)1), 0);
	ck_assert_uint_eq(run_one(0, NULL), VIRTIO_BLK_S_OK);
	check_file(5 * 512, 512, 0x77);
	ck_assert_int_eq(do_req(VIRTIO_BLK_T_IN, 6, 1024, NULL), VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(((uint8_t *)gpa_ptr(data_gpa(0)))[0], 0xa6);
}
END_TEST

static int open_err(const char *path, bool readonly, char *err, size_t errlen)
{
	struct iopart_export e = {.kind = IOPART_BLK, .readonly = readonly};
	struct blk_dev *d = NULL;
	int ret;

	strcpy(e.path, path);
	ret = blk_open(&d, &e, NULL, err, errlen);
	if (!ret)
		blk_close(d);
	return ret;
}

START_TEST(test_blk_bad_images)
{
	char dir[] = "/tmp/test_blk_dir.XXXXXX", p[128], err[256];
	int fd;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(p, sizeof(p), "%s/missing", dir);
	ck_assert_int_eq(open_err(p, false, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "missing"));
	ck_assert_int_lt(open_err(dir, false, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "not a regular file"));
	ck_assert_int_lt(open_err(dir, true, err, sizeof(err)), 0);

	snprintf(p, sizeof(p), "%s/empty", dir);
	fd = open(p, O_CREAT | O_RDWR, 0644);
	ck_assert_int_lt(open_err(p, false, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "empty"));
	ck_assert_int_eq(ftruncate(fd, 1000), 0);
	ck_assert_int_lt(open_err(p, false, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "multiple of 512"));
	ck_assert_int_eq(ftruncate(fd, 1024), 0);
	ck_assert_int_eq(open_err(p, false, err, sizeof(err)), 0);
	if (geteuid() != 0) {
		/* root opens a 0444 file for writing anyway */
		ck_assert_int_eq(fchmod(fd, 0444), 0);
		ck_assert_int_lt(open_err(p, false, err, sizeof(err)), 0);
		ck_assert_ptr_nonnull(strstr(err, "readonly=on"));
		ck_assert_int_eq(open_err(p, true, err, sizeof(err)), 0);
		ck_assert_int_eq(fchmod(fd, 0), 0);
		ck_assert_int_lt(open_err(p, true, err, sizeof(err)), 0);
	}
	close(fd);
	unlink(p);
	rmdir(dir);
}
END_TEST

int main(void)
{
	Suite *s = uv_suite("blk", blk_setup, blk_teardown, 0,
			    UV_TESTS(test_blk_read_write, test_blk_get_id,
				     test_blk_discard_write_zeroes, test_blk_bad_requests,
				     test_blk_short_header_status, test_blk_queue_depth,
				     test_blk_kick_suppression, test_blk_config));

	uv_tcase(s, "readonly", blk_setup_ro, blk_teardown, 0, UV_TESTS(test_blk_readonly));
	uv_tcase(s, "direct", blk_setup_direct, blk_teardown, 0,
		 UV_TESTS(test_blk_direct_unaligned));
	uv_tcase(s, "images", NULL, NULL, 0, UV_TESTS(test_blk_bad_images));
	return uv_check_run(s);
}
