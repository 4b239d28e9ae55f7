// SPDX-License-Identifier: GPL-2.0
/*
 * qcow2 in the virtio-blk back end, driven over a bare virtq as test_blk.c
 * does, against images made by qemu-img and checked by qemu-img check and
 * compare (a raw image gets the same writes).
 */
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
#include "chan_mem.h"
#include "inproc.h"
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

static int sh(const char *fmt, ...)
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

static const char *p(const char *name)
{
	static char buf[4][256];
	static unsigned n;
	char *b = buf[n++ % 4];

	snprintf(b, 256, "%s/%s", dir, name);
	return b;
}

static void setup(void)
{
	/* tmpfs where there is one: allocating writes fdatasync a lot. */
	strcpy(dir,
	       access("/dev/shm", W_OK) ? "/tmp/test_qcow2.XXXXXX" : "/dev/shm/test_qcow2.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ram = aligned_alloc(4096, RAM_SIZE);
	ck_assert_ptr_nonnull(ram);
}

static void close_dev(void)
{
	if (!dev)
		return;
	blk_close(dev);
	dev = NULL;
	virtq_driver_free(&drv);
	chan_mem_clear(&mem);
}

static void teardown(void)
{
	close_dev();
	free(ram);
	sh("rm -rf %s", dir);
}

/* Opens name with the option string opts ("format=qcow2,readonly=on"...). */
static int try_open(const char *name, const char *opts)
{
	struct iopart_export e;
	char spec[512];
	int ret;

	snprintf(spec, sizeof(spec), "%s%s%s", p(name), *opts ? "," : "", opts);
	ret = iopart_export_parse_disk(spec, &e, err, sizeof(err));
	ck_assert_msg(ret == 0, "parse: %s", err);
	return blk_open(&dev, &e, NULL, err, sizeof(err));
}

static void open_dev(const char *name, const char *opts)
{
	int ret = try_open(name, opts);

	ck_assert_msg(ret == 0, "blk_open: %s", err);
	memset(ram, 0, RAM_SIZE);
	chan_mem_init(&mem);
	ck_assert_int_eq(chan_mem_add_host(&mem, RAM_GPA, RAM_SIZE, RAM_GPA, ram), 0);
	ck_assert_int_eq(virtq_driver_init(&drv, ram, RAM_GPA, QNUM, 0, 0), 0);
	ck_assert_int_eq(
		virtq_setup(&vq, &mem, QNUM, drv.desc_gpa, drv.avail_gpa, drv.used_gpa, 0, 0), 0);
	ck_assert_int_eq(blk_queue_start(dev, 0, &vq, &ioq_direct_ops, &vq), 0);
}

static void refused(const char *name, const char *opts, const char *words)
{
	ck_assert_int_lt(try_open(name, opts), 0);
	ck_assert_msg(strstr(err, words), "error '%s' lacks '%s'", err, words);
	ck_assert_ptr_null(strchr(err, '\n'));
}

static void opens(const char *name, const char *opts)
{
	int ret = try_open(name, opts);

	ck_assert_msg(ret == 0, "open: %s", err);
	blk_close(dev);
	dev = NULL;
}

static uint8_t *data(void)
{
	return ram + DATA_OFF;
}

/* One request of len bytes at data(); returns its status. */
static uint8_t req(uint32_t type, uint64_t off, uint32_t len)
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

static void pattern(uint8_t *b, size_t len, uint64_t off, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)((off + i) * 7 / 512 + seed * 31 + ((off + i) & 0xff));
}

/* Writes the pattern through the device and into the raw reference file. */
static void write_both(int raw, uint64_t off, uint32_t len, unsigned seed)
{
	pattern(data(), len, off, seed);
	ck_assert_int_eq(req(VIRTIO_BLK_T_OUT, off, len), VIRTIO_BLK_S_OK);
	ck_assert_int_eq(pwrite(raw, data(), len, off), (ssize_t)len);
}

/* Reads back through the device and compares with the raw reference file. */
static void read_check(int raw, uint64_t off, uint32_t len)
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

static void qemu_ok(const char *img, const char *ref)
{
	ck_assert_int_eq(sh("qemu-img check -q %s", p(img)), 0);
	ck_assert_int_eq(sh("qemu-img compare -q %s %s", p(img), p(ref)), 0);
}

static int open_raw(const char *name, uint64_t size)
{
	int fd = open(p(name), O_RDWR | O_CREAT, 0644);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, size), 0);
	return fd;
}

/* The writes of the round-trip tests: partial, unaligned to clusters, across them. */
static void write_mix(int raw, uint64_t size)
{
	static const struct {
		uint64_t off;
		uint32_t len;
	} w[] = {
		{0, 512},
		{4096, 8192},
		{65536 - 1024, 4096},
		{300 * 1024, 1 << 20},
		{3 << 20, 512 * 3},
		{(5 << 20) + 512, 70000 / 512 * 512},
	};

	for (unsigned i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		if (w[i].off + w[i].len <= size)
			write_both(raw, w[i].off, w[i].len, i);
	write_both(raw, 4096, 512, 99); /* over an allocated cluster */
	write_both(raw, size - 4096, 4096, 7);
	for (uint64_t off = 0; off < size; off += MAX_LEN)
		read_check(raw, off, size - off < MAX_LEN ? size - off : MAX_LEN);
	ck_assert_int_eq(req(VIRTIO_BLK_T_FLUSH, 0, 0), VIRTIO_BLK_S_OK);
}

static void roundtrip(const char *opts)
{
	uint64_t size = 8 << 20;
	int raw = open_raw("ref.raw", size);

	ck_assert_int_eq(sh("qemu-img create -q -f qcow2 %s %s 8M", opts, p("a.qcow2")), 0);
	open_dev("a.qcow2", "");
	ck_assert_uint_eq(blk_capacity(dev), size / 512);
	write_mix(raw, size);
	close_dev();
	qemu_ok("a.qcow2", "ref.raw");
	close(raw);
}

START_TEST(test_v3_64k)
{
	roundtrip("-o compat=1.1");
}
END_TEST

START_TEST(test_v2_4k)
{
	roundtrip("-o compat=0.10,cluster_size=4096");
}
END_TEST

START_TEST(test_v3_512)
{
	roundtrip("-o cluster_size=512");
}
END_TEST

/* 4k clusters: one refcount block covers 8 MiB, so 12 MiB of writes need more. */
START_TEST(test_refblock_alloc)
{
	uint64_t size = 16 << 20;
	int raw = open_raw("ref.raw", size);

	ck_assert_int_eq(
		sh("qemu-img create -q -f qcow2 -o cluster_size=4096 %s 16M", p("a.qcow2")), 0);
	open_dev("a.qcow2", "format=qcow2");
	for (uint64_t off = 0; off < (12 << 20); off += MAX_LEN)
		write_both(raw, off, MAX_LEN, off >> 20);
	read_check(raw, 0, MAX_LEN);
	close_dev();
	qemu_ok("a.qcow2", "ref.raw");
	close(raw);
}
END_TEST

/* 512-byte clusters: the refcount table QEMU makes covers 8 MiB; it grows. */
START_TEST(test_refcount_table_grow)
{
	uint64_t size = 16 << 20, rt_off;
	int raw = open_raw("ref.raw", size), fd;

	ck_assert_int_eq(sh("qemu-img create -q -f qcow2 -o cluster_size=512 %s 16M", p("a.qcow2")),
			 0);
	open_dev("a.qcow2", "");
	for (uint64_t off = 0; off < (12 << 20); off += MAX_LEN)
		write_both(raw, off, MAX_LEN, off >> 20);
	read_check(raw, 0, MAX_LEN);
	close_dev();
	fd = open(p("a.qcow2"), O_RDONLY);
	ck_assert_int_eq(pread(fd, &rt_off, 8, 48), 8);
	close(fd);
	ck_assert_uint_ne(be64toh(rt_off), 512);
	qemu_ok("a.qcow2", "ref.raw");
	close(raw);
}
END_TEST

/* Clusters allocated in reverse order: a 1 MiB read is 256 I/Os; six at once overflow the ring. */
START_TEST(test_fragmented)
{
	int raw = open_raw("ref.raw", 2 << 20);
	struct virtq_buf b[3];
	uint8_t *want = malloc(1 << 20);
	unsigned done = 0;

	ck_assert_int_eq(sh("qemu-img create -q -f qcow2 -o cluster_size=4096 %s 2M", p("a.qcow2")),
			 0);
	open_dev("a.qcow2", "");
	for (int c = 255; c >= 0; c--)
		write_both(raw, c * 4096ull, 4096, c);
	ck_assert_int_eq(pread(raw, want, 1 << 20, 0), 1 << 20);
	for (unsigned i = 0; i < 6; i++) {
		uint64_t *h = (uint64_t *)(ram + HDR_OFF + i * 32);

		memset(h, 0, 16);
		((uint32_t *)h)[0] = htole32(VIRTIO_BLK_T_IN);
		b[0] = (struct virtq_buf){RAM_GPA + HDR_OFF + i * 32, 16, false};
		b[1] = (struct virtq_buf){RAM_GPA + DATA_OFF + i * (1ull << 20), 1 << 20, true};
		b[2] = (struct virtq_buf){RAM_GPA + HDR_OFF + i * 32 + 16, 1, true};
		ck_assert_int_ge(virtq_driver_add(&drv, b, 3, false, (void *)1), 0);
	}
	blk_queue_kick(dev, 0);
	while (done < 6) {
		uint32_t used;
		void *tok;
		int got = virtq_driver_get_used(&drv, &used, &tok);

		if (got)
			done++;
		else
			ck_assert_int_gt(blk_queue_reap(dev, 0, true), 0);
	}
	for (unsigned i = 0; i < 6; i++) {
		ck_assert_uint_eq(ram[HDR_OFF + i * 32 + 16], VIRTIO_BLK_S_OK);
		ck_assert(!memcmp(ram + DATA_OFF + i * (1ull << 20), want, 1 << 20));
	}
	free(want);
	close_dev();
	qemu_ok("a.qcow2", "ref.raw");
	close(raw);
}
END_TEST

/* Data written by qemu-io reads back; so do zero clusters and holes. */
START_TEST(test_qemu_written)
{
	int raw;

	ck_assert_int_eq(sh("qemu-img create -q -f qcow2 %s 4M && qemu-io -f qcow2 "
			    "-c 'write -P 0xab 0 256k' -c 'write -z 64k 64k' "
			    "-c 'write -P 0xcd 1M 4k' %s >/dev/null",
			    p("a.qcow2"), p("a.qcow2")),
			 0);
	ck_assert_int_eq(sh("qemu-img convert -O raw %s %s", p("a.qcow2"), p("ref.raw")), 0);
	raw = open(p("ref.raw"), O_RDWR);
	open_dev("a.qcow2", "");
	read_check(raw, 0, 4 << 20);
	ck_assert_uint_eq(data()[70000], 0);
	ck_assert_uint_eq(data()[1 << 20], 0xcd);
	/* Into the zero cluster, partially. */
	write_both(raw, 64 * 1024 + 512, 1024, 3);
	read_check(raw, 0, 4 << 20);
	close_dev();
	qemu_ok("a.qcow2", "ref.raw");
	close(raw);
}
END_TEST

static void backing(const char *basefmt, const char *topopts)
{
	int raw;

	ck_assert_int_eq(sh("qemu-img create -q -f %s %s 4M && qemu-io -f %s -c 'write -P 0x5a "
			    "0 1M' -c 'write -P 0x77 3M 4k' %s >/dev/null",
			    basefmt, p("base"), basefmt, p("base")),
			 0);
	ck_assert_int_eq(sh("cd %s && qemu-img create -q -f qcow2 -o %s -b base -F %s "
			    "top.qcow2 4M",
			    dir, topopts, basefmt),
			 0);
	ck_assert_int_eq(sh("qemu-img convert -O raw %s %s", p("top.qcow2"), p("ref.raw")), 0);
	raw = open(p("ref.raw"), O_RDWR);
	refused("top.qcow2", "", "format=qcow2");
	open_dev("top.qcow2", "format=qcow2");
	read_check(raw, 0, 4 << 20);
	write_both(raw, 1000 * 512, 1024, 1); /* copy-on-write of partial clusters */
	write_both(raw, (3 << 20) + 512, 512, 2);
	read_check(raw, 0, 4 << 20);
	close_dev();
	qemu_ok("top.qcow2", "ref.raw");
	close(raw);
}

START_TEST(test_backing_raw)
{
	backing("raw", "cluster_size=4096");
}
END_TEST

START_TEST(test_backing_v2_64k)
{
	backing("raw", "compat=0.10");
}
END_TEST

START_TEST(test_backing_qcow2)
{
	backing("qcow2", "cluster_size=4096");
}
END_TEST

/* Renames the backing format extension to an unknown one, which is skipped. */
static void drop_backing_fmt(const char *name)
{
	static const uint8_t magic[4] = {0xe2, 0x79, 0x2a, 0xca};
	uint8_t b[4096];
	int fd = open(p(name), O_RDWR);

	ck_assert_int_eq(pread(fd, b, sizeof(b), 0), sizeof(b));
	for (unsigned i = 0; i < sizeof(b) - 4; i += 4)
		if (!memcmp(b + i, magic, 4)) {
			ck_assert_int_eq(pwrite(fd, "\x12\x34\x56\x78", 4, i), 4);
			close(fd);
			return;
		}
	ck_abort_msg("no backing format extension");
}

/* A chain of three, the backing format probed (no extension), and a loop. */
START_TEST(test_chain)
{
	int raw;

	ck_assert_int_eq(
		sh("cd %s && qemu-img create -q -f raw base 2M && qemu-io -f raw -c "
		   "'write -P 1 0 512k' base >/dev/null && qemu-img create -q -f qcow2 "
		   "-b base -F raw mid 2M && qemu-io -f qcow2 -c 'write -P 2 256k 512k' "
		   "mid >/dev/null && qemu-img create -q -f qcow2 -b mid -F qcow2 top 2M && "
		   "qemu-io -f qcow2 -c 'write -P 3 640k 64k' top >/dev/null && "
		   "qemu-img convert -O raw top ref.raw",
		   dir),
		0);
	drop_backing_fmt("top");
	raw = open(p("ref.raw"), O_RDONLY);
	open_dev("top", "format=qcow2,readonly=on");
	read_check(raw, 0, 2 << 20);
	close_dev();
	close(raw);
	ck_assert_int_eq(sh("cd %s && qemu-img rebase -q -u -b top -F qcow2 mid", dir), 0);
	refused("top", "format=qcow2", "loop");
}
END_TEST

static void compressed(const char *opts)
{
	uint64_t size = 4 << 20;
	int raw;

	ck_assert_int_eq(sh("cd %s && qemu-img create -q -f raw ref.raw 4M && qemu-io -f raw "
			    "-c 'write -P 0x31 0 1M' -c 'write -P 0x32 2M 100k' ref.raw "
			    ">/dev/null && qemu-img convert -c -O qcow2 -o %s ref.raw a.qcow2",
			    dir, opts),
			 0);
	raw = open(p("ref.raw"), O_RDWR);
	open_dev("a.qcow2", "");
	read_check(raw, 0, size);
	write_both(raw, 8192 + 512, 512, 5); /* into a compressed cluster */
	write_both(raw, (2 << 20) + 16384 - 1024, 4096, 6);
	write_both(raw, (2 << 20) + 65536, 65536 * 2, 7);
	read_check(raw, 0, size);
	close_dev();
	qemu_ok("a.qcow2", "ref.raw");
	close(raw);
}

/* 16 images open (15 qcow2 and a raw base), 17 do not; nor a backing format we lack. */
START_TEST(test_chain_limits)
{
	ck_assert_int_eq(
		sh("cd %s && qemu-img create -q -f raw i0 1M && for i in $(seq 1 16); do "
		   "qemu-img create -q -f qcow2 -b i$((i-1)) -F $([ $i = 1 ] && echo raw "
		   "|| echo qcow2) i$i 1M || exit 1; done && qemu-img create -q -f qcow2 -u "
		   "-b i0 -F vmdk v 1M",
		   dir),
		0);
	opens("i15", "format=qcow2");
	refused("i16", "format=qcow2", "too long");
	refused("v", "format=qcow2", "'vmdk' is not supported");
}
END_TEST

START_TEST(test_compressed)
{
	compressed("cluster_size=4096");
}
END_TEST

START_TEST(test_compressed_v2_64k)
{
	compressed("compat=0.10");
}
END_TEST

START_TEST(test_write_zeroes_discard)
{
	int raw;
	uint64_t *seg = (uint64_t *)data();

	ck_assert_int_eq(sh("qemu-img create -q -f qcow2 %s 2M && qemu-io -f qcow2 -c 'write -P "
			    "9 0 1M' %s >/dev/null",
			    p("a.qcow2"), p("a.qcow2")),
			 0);
	raw = open_raw("ref.raw", 2 << 20);
	memset(data(), 9, 1 << 20);
	ck_assert_int_eq(pwrite(raw, data(), 1 << 20, 0), 1 << 20);
	open_dev("a.qcow2", "");
	seg[0] = htole64(8);
	seg[1] = htole64(100); /* num_sectors 100, flags 0 */
	ck_assert_int_eq(req(VIRTIO_BLK_T_WRITE_ZEROES, 0, 16), VIRTIO_BLK_S_OK);
	memset(data(), 0, 100 * 512);
	ck_assert_int_eq(pwrite(raw, data(), 100 * 512, 8 * 512), 100 * 512);
	seg[0] = htole64(128);
	seg[1] = htole64(256); /* whole clusters: the zero flag */
	ck_assert_int_eq(req(VIRTIO_BLK_T_WRITE_ZEROES, 0, 16), VIRTIO_BLK_S_OK);
	memset(data(), 0, 256 * 512);
	ck_assert_int_eq(pwrite(raw, data(), 256 * 512, 128 * 512), 256 * 512);
	seg[0] = htole64(2000);
	seg[1] = htole64(8);
	ck_assert_int_eq(req(VIRTIO_BLK_T_DISCARD, 0, 16), VIRTIO_BLK_S_OK);
	read_check(raw, 0, 2 << 20);
	close_dev();
	qemu_ok("a.qcow2", "ref.raw");
	close(raw);
}
END_TEST

START_TEST(test_format_override)
{
	ck_assert_int_eq(sh("qemu-img create -q -f qcow2 %s 1G", p("a.qcow2")), 0);
	ck_assert_int_eq(truncate(p("a.qcow2"), 256 * 1024), 0);
	open_dev("a.qcow2", "format=raw");
	ck_assert_uint_eq(blk_capacity(dev), 512); /* the file, not the 1 GiB disk */
	close_dev();
	open_dev("a.qcow2", "readonly=on");
	ck_assert_uint_eq(blk_capacity(dev), (1u << 30) / 512);
	close_dev();
	refused("a.qcow2", "direct=on", "direct=on");
	ck_assert_int_lt(iopart_export_parse_disk("x,format=vmdk", &(struct iopart_export){0}, err,
						  sizeof(err)),
			 0);
	ck_assert_ptr_nonnull(strstr(err, "not raw or qcow2"));
}
END_TEST

static void poke(const char *name, uint64_t off, const void *v, size_t len)
{
	int fd = open(p(name), O_RDWR);

	ck_assert_int_eq(pwrite(fd, v, len, off), (ssize_t)len);
	close(fd);
}

static void poke32(const char *name, uint64_t off, uint32_t v)
{
	v = htobe32(v);
	poke(name, off, &v, 4);
}

static void poke64(const char *name, uint64_t off, uint64_t v)
{
	v = htobe64(v);
	poke(name, off, &v, 8);
}

static void truncate_to(const char *name, off_t len)
{
	ck_assert_int_eq(truncate(p(name), len), 0);
}

static void fresh(void)
{
	ck_assert_int_eq(sh("qemu-img create -q -f qcow2 %s 16M && qemu-io -f qcow2 -c 'write "
			    "-P 1 0 128k' %s >/dev/null",
			    p("a.qcow2"), p("a.qcow2")),
			 0);
}

START_TEST(test_refusals)
{
	fresh(), poke32("a.qcow2", 4, 4), refused("a.qcow2", "", "version");
	fresh(), poke32("a.qcow2", 32, 1), refused("a.qcow2", "", "encrypted");
	fresh(), poke64("a.qcow2", 72, 1ull << 5), refused("a.qcow2", "", "unknown incompat");
	fresh(), poke64("a.qcow2", 72, 1ull << 2), refused("a.qcow2", "", "external data");
	fresh(), poke64("a.qcow2", 72, 1ull << 4), refused("a.qcow2", "", "extended L2");
	fresh(), poke64("a.qcow2", 72, 1ull << 3), poke("a.qcow2", 104, "\1", 1);
	refused("a.qcow2", "", "zstd");
	fresh(), poke32("a.qcow2", 20, 8), refused("a.qcow2", "", "cluster_bits");
	fresh(), poke32("a.qcow2", 20, 22), refused("a.qcow2", "", "cluster_bits");
	fresh(), poke32("a.qcow2", 96, 5), refused("a.qcow2", "", "refcount_order");
	opens("a.qcow2", "readonly=on");
	fresh(), poke64("a.qcow2", 72, 2), refused("a.qcow2", "", "corrupt");
	opens("a.qcow2", "readonly=on");
	fresh(), poke64("a.qcow2", 72, 1), refused("a.qcow2", "readonly=on", "qemu-img check");
	fresh(), poke32("a.qcow2", 36, 0), refused("a.qcow2", "", "L1 table is too small");
	fresh(), poke64("a.qcow2", 40, 1ull << 40), refused("a.qcow2", "", "outside the file");
	fresh(), poke64("a.qcow2", 48, 1ull << 40), refused("a.qcow2", "", "outside the file");
	fresh(), poke64("a.qcow2", 24, 1ull << 60), refused("a.qcow2", "", "too large");
	fresh(), poke32("a.qcow2", 100, 4096 * 1024), refused("a.qcow2", "", "header length");
	fresh(), truncate_to("a.qcow2", 60);
	refused("a.qcow2", "format=qcow2", "truncated");
	/* A raw disk the guest wrote a qcow2 header with a backing path into. */
	fresh(), poke64("a.qcow2", 8, 512), poke32("a.qcow2", 16, 11);
	poke("a.qcow2", 512, "/etc/passwd", 11), refused("a.qcow2", "", "format=qcow2");
	ck_assert_int_eq(sh("qemu-img snapshot -c s1 %s", p("a.qcow2")), 0);
	refused("a.qcow2", "format=qcow2", "snapshots");
	opens("a.qcow2", "format=qcow2,readonly=on");
}
END_TEST

/* Corrupt tables met during I/O fail the request, nothing else. */
START_TEST(test_corrupt_entries)
{
	uint64_t l1, l2;
	struct stat st;
	int fd;

	fresh();
	fd = open(p("a.qcow2"), O_RDONLY);
	ck_assert_int_eq(pread(fd, &l1, 8, 40), 8);
	ck_assert_int_eq(pread(fd, &l2, 8, be64toh(l1)), 8);
	close(fd);
	l2 = be64toh(l2) & 0x00fffffffffffe00ull;
	poke64("a.qcow2", l2, (1ull << 63) | (1ull << 50)); /* past the end of the file */
	poke64("a.qcow2", l2 + 8, (1ull << 63) | 4096);	    /* misaligned */
	poke64("a.qcow2", l2 + 16, (1ull << 63));	    /* the header */
	open_dev("a.qcow2", "");
	ck_assert_int_eq(req(VIRTIO_BLK_T_IN, 65536, 512), VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(req(VIRTIO_BLK_T_OUT, 65536, 512), VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(req(VIRTIO_BLK_T_OUT, 2 * 65536, 512), VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(req(VIRTIO_BLK_T_IN, 0, 4096), VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(req(VIRTIO_BLK_T_OUT, 0, 4096), VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(req(VIRTIO_BLK_T_IN, 3 * 65536, 4096), VIRTIO_BLK_S_OK);
	close_dev();
	poke64("a.qcow2", be64toh(l1), 1ull << 50); /* an L2 table past the end */
	open_dev("a.qcow2", "");
	ck_assert_int_eq(req(VIRTIO_BLK_T_IN, 0, 512), VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(req(VIRTIO_BLK_T_OUT, 0, 512), VIRTIO_BLK_S_IOERR);
	close_dev();
	ck_assert_int_eq(stat(p("a.qcow2"), &st), 0);
	ck_assert_int_lt(st.st_size, 1 << 20);
}
END_TEST

/* uvmm's --disk path: the in-process thread opens qcow2 the same way. */
START_TEST(test_inproc)
{
	struct iopart_thread *t;
	struct iopart_export e;
	char spec[256];
	int fd;

	ck_assert_int_eq(sh("cd %s && qemu-img create -q -f raw base 1M && qemu-img create -q -f "
			    "qcow2 -b base -F raw top 1M",
			    dir),
			 0);
	ck_assert_int_eq(iopart_export_parse_disk(p("top"), &e, err, sizeof(err)), 0);
	ck_assert_int_lt(iopart_thread_start(&t, &e, &fd, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "format=qcow2"));
	snprintf(spec, sizeof(spec), "%s,format=qcow2,readonly=on", p("top"));
	ck_assert_int_eq(iopart_export_parse_disk(spec, &e, err, sizeof(err)), 0);
	ck_assert_msg(iopart_thread_start(&t, &e, &fd, err, sizeof(err)) == 0, "%s", err);
	close(fd);
	iopart_thread_stop(t);
}
END_TEST

static Suite *qcow2_suite(void)
{
	Suite *s = suite_create("qcow2");
	TCase *tc = tcase_create("qcow2");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_v3_64k);
	tcase_add_test(tc, test_v2_4k);
	tcase_add_test(tc, test_v3_512);
	tcase_add_test(tc, test_refblock_alloc);
	tcase_add_test(tc, test_refcount_table_grow);
	tcase_add_test(tc, test_fragmented);
	tcase_add_test(tc, test_qemu_written);
	tcase_add_test(tc, test_backing_raw);
	tcase_add_test(tc, test_backing_qcow2);
	tcase_add_test(tc, test_backing_v2_64k);
	tcase_add_test(tc, test_chain);
	tcase_add_test(tc, test_chain_limits);
	tcase_add_test(tc, test_compressed);
	tcase_add_test(tc, test_compressed_v2_64k);
	tcase_add_test(tc, test_write_zeroes_discard);
	tcase_add_test(tc, test_format_override);
	tcase_add_test(tc, test_refusals);
	tcase_add_test(tc, test_corrupt_entries);
	tcase_add_test(tc, test_inproc);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return uv_check_run(qcow2_suite());
}
