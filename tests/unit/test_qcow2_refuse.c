// SPDX-License-Identifier: GPL-2.0
/*
 * qcow2 images the back end refuses (hand-corrupted headers, chains too long,
 * format= misuse), corrupt tables met during I/O, the in-process path, and
 * a writer killed at random points.
 */
#include <signal.h>

#include "inproc.h"
#include "qcow2.h"
#include "qcow2_util.h"

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
	fresh(), poke32("a.qcow2", 0, 0x12345678);
	refused("a.qcow2", "format=qcow2", "not a qcow2 image");
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

/* Writes until killed: allocations of data, L2 tables and refcount blocks. */
static void crash_child(const char *img, unsigned seed)
{
	static uint8_t buf[4096];
	struct qcow2 *q;
	int fd = open(img, O_RDWR);

	srand(seed);
	if (fd < 0 || qcow2_open(&q, fd, img, false, false, err, sizeof(err)))
		_exit(2);
	for (;;) {
		uint64_t off = (uint64_t)(rand() % (64 << 20 >> 9)) << 9;

		memset(buf, rand(), sizeof(buf));
		if (off + sizeof(buf) <= (64 << 20) && qcow2_write(q, off, buf, sizeof(buf)))
			_exit(3);
	}
}

/* A process killed at any point leaves leaks at worst: qemu-img check exits 0 or 3. */
START_TEST(test_kill_anywhere)
{
	ck_assert_int_eq(
		sh("qemu-img create -q -f qcow2 -o cluster_size=4096 %s 64M", p("a.qcow2")), 0);
	for (unsigned i = 0; i < 12; i++) {
		pid_t pid = fork();
		int st, ret;

		ck_assert_int_ge(pid, 0);
		if (!pid)
			crash_child(p("a.qcow2"), i);
		usleep(20000 + i * 7000);
		kill(pid, SIGKILL);
		ck_assert_int_eq(waitpid(pid, &st, 0), pid);
		ck_assert_msg(WIFSIGNALED(st), "writer exited with %d", WEXITSTATUS(st));
		ret = sh("qemu-img check -q %s >/dev/null 2>&1", p("a.qcow2"));
		ck_assert_msg(ret == 0 || ret == 3, "qemu-img check: %d after kill %u", ret, i);
	}
}
END_TEST

int main(void)
{
	return uv_check_run(
		uv_suite("qcow2_refuse", setup, teardown, 60,
			 UV_TESTS(test_chain_limits, test_format_override, test_refusals,
				  test_corrupt_entries, test_inproc, test_kill_anywhere)));
}
