/* SPDX-License-Identifier: GPL-2.0 */
/* The harness of test_qcow2*.c: a blk device over a bare virtq, qemu-img, images in a temp dir. */
#ifndef UV_TEST_QCOW2_UTIL_H
#define UV_TEST_QCOW2_UTIL_H

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_blk.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blk.h"
#include "blkq_rig.h"
#include "chan_mem.h"
#include "uvcheck.h"
#include "virtq_driver.h"

#define RAM_GPA	 0x100000ull
#define RAM_SIZE (8u << 20)
#define QNUM	 256
#define HDR_OFF	 0x10000u
#define DATA_OFF (1u << 20)
#define MAX_LEN	 (4u << 20)

static uint8_t *ram;
static struct chan_mem mem;
static struct virtq_driver drv;
static struct virtq vq;
static struct blk_dev *dev;
static char dir[96];
static char err[512];

static inline int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static inline const char *p(const char *name)
{
	static char buf[4][256];
	static unsigned n;
	char *b = buf[n++ % 4];

	snprintf(b, 256, "%s/%s", dir, name);
	return b;
}

static inline void setup(void)
{
	/* tmpfs where there is one: allocating writes fdatasync a lot. */
	strcpy(dir,
	       access("/dev/shm", W_OK) ? "/tmp/test_qcow2.XXXXXX" : "/dev/shm/test_qcow2.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ram = aligned_alloc(4096, RAM_SIZE);
	ck_assert_ptr_nonnull(ram);
}

static inline void close_dev(void)
{
	if (!dev)
		return;
	blk_close(dev);
	dev = NULL;
	virtq_driver_free(&drv);
	chan_mem_clear(&mem);
}

static inline void teardown(void)
{
	close_dev();
	free(ram);
	sh("rm -rf %s", dir);
}

/* Opens name with the option string opts ("format=qcow2,readonly=on"...). */
static inline int try_open(const char *name, const char *opts)
{
	struct iopart_export e;
	char spec[512];
	int ret;

	snprintf(spec, sizeof(spec), "%s%s%s", p(name), *opts ? "," : "", opts);
	ret = iopart_export_parse_disk(spec, &e, err, sizeof(err));
	ck_assert_msg(ret == 0, "parse: %s", err);
	return blk_open(&dev, &e, NULL, err, sizeof(err));
}

static inline void open_dev(const char *name, const char *opts)
{
	int ret = try_open(name, opts);

	ck_assert_msg(ret == 0, "blk_open: %s", err);
	blkq_start(dev, ram, RAM_SIZE, RAM_GPA, QNUM, &mem, &drv, &vq);
}

static inline void refused(const char *name, const char *opts, const char *words)
{
	ck_assert_int_lt(try_open(name, opts), 0);
	ck_assert_msg(strstr(err, words), "error '%s' lacks '%s'", err, words);
	ck_assert_ptr_null(strchr(err, '\n'));
}

static inline void opens(const char *name, const char *opts)
{
	int ret = try_open(name, opts);

	ck_assert_msg(ret == 0, "open: %s", err);
	blk_close(dev);
	dev = NULL;
}

static inline uint8_t *data(void)
{
	return ram + DATA_OFF;
}

/* One request of len bytes at data(); returns its status. */
static inline uint8_t req(uint32_t type, uint64_t off, uint32_t len)
{
	uint64_t *h = (uint64_t *)(ram + HDR_OFF);
	uint8_t *st = ram + HDR_OFF + 16;
	struct virtq_buf b[3];
	unsigned n = 0;
	uint32_t used;
	void *tok;
	int got;

	ck_assert_uint_le(len, MAX_LEN);
	((uint32_t *)h)[0] = htole32(type);
	((uint32_t *)h)[1] = 0;
	h[1] = htole64(off / 512);
	*st = 0xff;
	b[n++] = (struct virtq_buf){RAM_GPA + HDR_OFF, 16, false};
	if (len)
		b[n++] = (struct virtq_buf){RAM_GPA + DATA_OFF, len, type == VIRTIO_BLK_T_IN};
	b[n++] = (struct virtq_buf){RAM_GPA + HDR_OFF + 16, 1, true};
	ck_assert_int_ge(virtq_driver_add(&drv, b, n, false, (void *)1), 0);
	blk_queue_kick(dev, 0);
	while ((got = virtq_driver_get_used(&drv, &used, &tok)) == 0)
		ck_assert_int_gt(blk_queue_reap(dev, 0, true), 0);
	return *st;
}

static inline void pattern(uint8_t *b, size_t len, uint64_t off, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)((off + i) * 7 / 512 + seed * 31 + ((off + i) & 0xff));
}

/* Writes the pattern through the device and into the raw reference file. */
static inline void write_both(int raw, uint64_t off, uint32_t len, unsigned seed)
{
	pattern(data(), len, off, seed);
	ck_assert_int_eq(req(VIRTIO_BLK_T_OUT, off, len), VIRTIO_BLK_S_OK);
	ck_assert_int_eq(pwrite(raw, data(), len, off), (ssize_t)len);
}

/* Reads back through the device and compares with the raw reference file. */
static inline void read_check(int raw, uint64_t off, uint32_t len)
{
	uint8_t *want = malloc(len);

	memset(data(), 0xee, len);
	ck_assert_int_eq(req(VIRTIO_BLK_T_IN, off, len), VIRTIO_BLK_S_OK);
	ck_assert_int_eq(pread(raw, want, len, off), (ssize_t)len);
	for (uint32_t i = 0; i < len && memcmp(data(), want, len); i++) /* which byte */
		ck_assert_msg(data()[i] == want[i], "byte %llu: %#x, want %#x",
			      (unsigned long long)off + i, data()[i], want[i]);
	free(want);
}

static inline void qemu_ok(const char *img, const char *ref)
{
	ck_assert_int_eq(sh("qemu-img check -q %s", p(img)), 0);
	ck_assert_int_eq(sh("qemu-img compare -q %s %s", p(img), p(ref)), 0);
}

static inline int open_raw(const char *name, uint64_t size)
{
	int fd = open(p(name), O_RDWR | O_CREAT, 0644);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, size), 0);
	return fd;
}

static inline void poke(const char *name, uint64_t off, const void *v, size_t len)
{
	int fd = open(p(name), O_RDWR);

	ck_assert_int_eq(pwrite(fd, v, len, off), (ssize_t)len);
	close(fd);
}

static inline void poke32(const char *name, uint64_t off, uint32_t v)
{
	v = htobe32(v);
	poke(name, off, &v, 4);
}

static inline void poke64(const char *name, uint64_t off, uint64_t v)
{
	v = htobe64(v);
	poke(name, off, &v, 8);
}

static inline void truncate_to(const char *name, off_t len)
{
	ck_assert_int_eq(truncate(p(name), len), 0);
}

static inline void fresh(void)
{
	ck_assert_int_eq(sh("qemu-img create -q -f qcow2 %s 16M && qemu-io -f qcow2 -c 'write "
			    "-P 1 0 128k' %s >/dev/null",
			    p("a.qcow2"), p("a.qcow2")),
			 0);
}

#endif
