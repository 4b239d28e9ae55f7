// SPDX-License-Identifier: GPL-2.0
/*
 * qcow2 in the virtio-blk back end, driven over a bare virtq as test_blk.c
 * does, against images made by qemu-img and checked by qemu-img check and
 * compare (a raw image gets the same writes).
 */
#include "qcow2_util.h"

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

/* 9 MiB written through the open device and to raw, read back, the device closed. */
static void write_9m(int raw)
{
	for (uint64_t off = 0; off < (8 << 20); off += MAX_LEN)
		write_both(raw, off, MAX_LEN, off >> 20);
	write_both(raw, 8 << 20, 1 << 20, 8);
	read_check(raw, 0, MAX_LEN);
	close_dev();
}

/* 4k clusters: one refcount block covers 8 MiB, so 9 MiB of writes need more. */
START_TEST(test_refblock_alloc)
{
	uint64_t size = 16 << 20;
	int raw = open_raw("ref.raw", size);

	ck_assert_int_eq(
		sh("qemu-img create -q -f qcow2 -o cluster_size=4096 %s 16M", p("a.qcow2")), 0);
	open_dev("a.qcow2", "format=qcow2");
	write_9m(raw);
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
	write_9m(raw);
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

int main(void)
{
	return uv_check_run(uv_suite(
		"qcow2", setup, teardown, 60,
		UV_TESTS(test_v3_64k, test_v2_4k, test_v3_512, test_refblock_alloc,
			 test_refcount_table_grow, test_fragmented, test_qemu_written,
			 test_backing_raw, test_backing_qcow2, test_backing_v2_64k, test_chain,
			 test_compressed, test_compressed_v2_64k, test_write_zeroes_discard)));
}
