// SPDX-License-Identifier: GPL-2.0
/*
 * The in-process mode end to end: iopart_thread_start() serves a device over
 * a socketpair, vu_front speaks vhost-user to it, and a virtq driver in a
 * memfd "guest RAM" writes and reads sectors through it.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_blk.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "chan_mem.h"
#include "inproc.h"
#include "uvcheck.h"
#include "virtq_driver.h"
#include "vu_front.h"

#define RAM_GPA	 0x100000ull
#define RAM_SIZE (1u << 20)
#define QNUM	 64

START_TEST(test_inproc_missing_image)
{
	struct iopart_export e;
	struct iopart_thread *t = NULL;
	char err[256];
	int fd = -1;

	ck_assert_int_eq(iopart_export_parse_disk("/nonexistent/disk.img", &e, err, sizeof(err)),
			 0);
	ck_assert_int_eq(iopart_thread_start(&t, &e, &fd, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/disk.img"));
	ck_assert_ptr_null(t);
	ck_assert_int_eq(fd, -1);
}
END_TEST

START_TEST(test_inproc_start_stop)
{
	struct iopart_export e;
	struct iopart_thread *t;
	char err[256];
	int fd;

	iopart_export_init_rng(&e);
	ck_assert_int_eq(iopart_thread_start(&t, &e, &fd, err, sizeof(err)), 0);
	iopart_thread_stop(t);
	close(fd);
	/* The front end may also go first. */
	ck_assert_int_eq(iopart_thread_start(&t, &e, &fd, err, sizeof(err)), 0);
	close(fd);
	usleep(10000);
	iopart_thread_stop(t);
}
END_TEST

struct rig {
	struct vu_front f;
	struct virtq_driver drv;
	uint8_t *ram;
	int memfd, kick, call;
};

static void *gpa_ptr(struct rig *r, uint64_t gpa)
{
	return r->ram + (gpa - RAM_GPA);
}

static void rig_connect(struct rig *r, int fd)
{
	struct vu_mem_region mr;
	struct vu_vring v = {.num = QNUM};

	vu_front_init(&r->f);
	vu_front_attach(&r->f, fd);
	ck_assert_msg(vu_front_handshake(&r->f) == 0, "%s", r->f.err);
	ck_assert(r->f.features & 1ull << VIRTIO_F_VERSION_1);
	ck_assert(r->f.features & 1ull << VIRTIO_BLK_F_FLUSH);
	ck_assert_msg(vu_front_set_features(&r->f, 1ull << VIRTIO_F_VERSION_1) == 0, "%s",
		      r->f.err);
	r->memfd = chan_memfd_create("ram", RAM_SIZE, false);
	ck_assert_int_ge(r->memfd, 0);
	r->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, r->memfd, 0);
	ck_assert(r->ram != MAP_FAILED);
	mr = (struct vu_mem_region){RAM_GPA, RAM_SIZE, (uintptr_t)r->ram, 0, r->memfd};
	ck_assert_msg(vu_front_set_mem_table(&r->f, &mr, 1) == 0, "%s", r->f.err);
	ck_assert_int_eq(virtq_driver_init(&r->drv, r->ram, RAM_GPA, QNUM, 0, 0), 0);
	r->kick = eventfd(0, EFD_CLOEXEC);
	r->call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	v.desc_uaddr = (uintptr_t)gpa_ptr(r, r->drv.desc_gpa);
	v.avail_uaddr = (uintptr_t)gpa_ptr(r, r->drv.avail_gpa);
	v.used_uaddr = (uintptr_t)gpa_ptr(r, r->drv.used_gpa);
	v.kick_fd = r->kick;
	v.call_fd = r->call;
	ck_assert_msg(vu_front_vring_setup(&r->f, 0, &v) == 0, "%s", r->f.err);
	ck_assert_msg(vu_front_vring_enable(&r->f, 0, true) == 0, "%s", r->f.err);
}

static uint8_t rig_req(struct rig *r, uint32_t type, uint64_t sector, uint32_t len)
{
	uint64_t hdr = RAM_GPA + 0x80000, st = hdr + 16, data = RAM_GPA + 0x90000, one = 1;
	struct virtio_blk_outhdr *h = gpa_ptr(r, hdr);
	struct virtq_buf b[3];
	struct pollfd p = {.fd = r->call, .events = POLLIN};
	uint32_t used;
	void *tok;
	int got;

	h->type = htole32(type);
	h->ioprio = 0;
	h->sector = htole64(sector);
	*(uint8_t *)gpa_ptr(r, st) = 0xff;
	b[0] = (struct virtq_buf){hdr, 16, false};
	b[1] = (struct virtq_buf){data, len, type == VIRTIO_BLK_T_IN};
	b[2] = (struct virtq_buf){st, 1, true};
	ck_assert_int_ge(virtq_driver_add(&r->drv, b, 3, false, (void *)1), 0);
	ck_assert_int_eq(write(r->kick, &one, 8), 8);
	for (int i = 0; (got = virtq_driver_get_used(&r->drv, &used, &tok)) == 0; i++) {
		ck_assert_int_lt(i, 50);
		poll(&p, 1, 100);
		(void)!read(r->call, &one, 8);
	}
	ck_assert_int_eq(got, 1);
	return *(uint8_t *)gpa_ptr(r, st);
}

START_TEST(test_inproc_blk_rw)
{
	char img[] = "/tmp/test_inproc.XXXXXX", err[256], spec[64];
	struct iopart_export e;
	struct iopart_thread *t;
	struct rig r;
	uint8_t buf[512];
	int ifd = mkstemp(img), fd;

	ck_assert_int_ge(ifd, 0);
	ck_assert_int_eq(ftruncate(ifd, 64 * 512), 0);
	snprintf(spec, sizeof(spec), "%s,serial=inproc", img);
	ck_assert_int_eq(iopart_export_parse_disk(spec, &e, err, sizeof(err)), 0);
	ck_assert_msg(iopart_thread_start(&t, &e, &fd, err, sizeof(err)) == 0, "%s", err);
	rig_connect(&r, fd);

	memset(gpa_ptr(&r, RAM_GPA + 0x90000), 0xc3, 512);
	ck_assert_uint_eq(rig_req(&r, VIRTIO_BLK_T_OUT, 7, 512), VIRTIO_BLK_S_OK);
	ck_assert_int_eq(pread(ifd, buf, 512, 7 * 512), 512);
	ck_assert_uint_eq(buf[0], 0xc3);
	ck_assert_uint_eq(buf[511], 0xc3);
	memset(gpa_ptr(&r, RAM_GPA + 0x90000), 0, 512);
	ck_assert_uint_eq(rig_req(&r, VIRTIO_BLK_T_IN, 7, 512), VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(((uint8_t *)gpa_ptr(&r, RAM_GPA + 0x90000))[100], 0xc3);
	ck_assert_uint_eq(rig_req(&r, VIRTIO_BLK_T_IN, 64, 512), VIRTIO_BLK_S_IOERR);

	vu_front_close(&r.f);
	iopart_thread_stop(t);
	virtq_driver_free(&r.drv);
	munmap(r.ram, RAM_SIZE);
	close(r.memfd);
	close(r.kick);
	close(r.call);
	close(ifd);
	unlink(img);
}
END_TEST

int main(void)
{
	return uv_check_run(uv_suite(
		"iopartd_inproc", NULL, NULL, 20,
		UV_TESTS(test_inproc_missing_image, test_inproc_start_stop, test_inproc_blk_rw)));
}
