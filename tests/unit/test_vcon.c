// SPDX-License-Identifier: GPL-2.0
/*
 * The virtio-console back end (iopartd/vcon.c) over bare virtqs in host
 * memory, with real endpoints: a file for output, a unix socket for both
 * directions; and the --export / --virtio-console specs that name them.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "chan_mem.h"
#include "inproc.h"
#include "uvcheck.h"
#include "vcon.h"
#include "virtq_driver.h"
#include "vu_front.h"

#define RAM_GPA	 0x100000ull
#define RAM_SIZE (1u << 20)
#define QNUM	 16
#define BUF_OFF	 0x80000 /* data buffers from here on in "guest RAM" */

static uint8_t *ram;
static struct chan_mem mem;
static struct virtq_driver drv[2];
static struct virtq vq[2];
static struct event_base *base;
static struct vcon_dev *dev;
static char dir[64], path[128];

static void *gpa_ptr(uint64_t gpa)
{
	return ram + (gpa - RAM_GPA);
}

/* Both queues in "guest RAM", and a device on the endpoint spec. */
static void vcon_setup_spec(const char *kind)
{
	struct iopart_export e;
	char spec[160], err[256];
	size_t qsize = virtq_driver_size(QNUM, 0);

	strcpy(dir, "/tmp/test_vcon.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/endpoint", dir);
	snprintf(spec, sizeof(spec), "%s%s", kind, strcmp(kind, "pty") ? path : "");
	ck_assert_msg(iopart_export_parse_console(spec, &e, err, sizeof(err)) == 0, "%s", err);
	ram = aligned_alloc(4096, RAM_SIZE);
	ck_assert_ptr_nonnull(ram);
	memset(ram, 0, RAM_SIZE);
	chan_mem_init(&mem);
	ck_assert_int_eq(chan_mem_add_host(&mem, RAM_GPA, RAM_SIZE, RAM_GPA, ram), 0);
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	ck_assert_msg(vcon_open(&dev, &e, base, err, sizeof(err)) == 0, "%s", err);
	for (unsigned i = 0; i < 2; i++) {
		uint64_t off = i * ((qsize + 4095) & ~4095ull);

		ck_assert_int_eq(virtq_driver_init(&drv[i], ram + off, RAM_GPA + off, QNUM, 0, 0),
				 0);
		ck_assert_int_eq(virtq_setup(&vq[i], &mem, QNUM, drv[i].desc_gpa, drv[i].avail_gpa,
					     drv[i].used_gpa, 0, 0),
				 0);
		ck_assert_int_eq(vcon_queue_start(dev, i, &vq[i], &ioq_direct_ops, &vq[i]), 0);
	}
}

static void vcon_setup_file(void)
{
	vcon_setup_spec("file:");
}

static void vcon_setup_unix(void)
{
	vcon_setup_spec("unix:");
}

static void vcon_teardown(void)
{
	vcon_close(dev);
	event_base_free(base);
	for (unsigned i = 0; i < 2; i++)
		virtq_driver_free(&drv[i]);
	chan_mem_clear(&mem);
	free(ram);
	unlink(path);
	rmdir(dir);
}

static void loop_once(void)
{
	event_base_loop(base, EVLOOP_NONBLOCK);
}

/* The guest sends the pieces of one chain; the device takes it at once. */
static void guest_send(const char *const *parts, unsigned n)
{
	struct virtq_buf b[4];
	uint64_t gpa = RAM_GPA + BUF_OFF;
	uint32_t len;
	void *tok;

	for (unsigned i = 0; i < n; i++) {
		b[i] = (struct virtq_buf){gpa, strlen(parts[i]), false};
		memcpy(gpa_ptr(gpa), parts[i], strlen(parts[i]));
		gpa += 4096;
	}
	ck_assert_int_ge(virtq_driver_add(&drv[VCON_TXQ], b, n, false, (void *)1), 0);
	vcon_queue_kick(dev, VCON_TXQ);
	ck_assert_int_eq(virtq_driver_get_used(&drv[VCON_TXQ], &len, &tok), 1);
	ck_assert_uint_eq(len, 0);
}

/* Posts one receive buffer of len bytes at slot. */
static void guest_post(unsigned slot, uint32_t len)
{
	struct virtq_buf b = {RAM_GPA + BUF_OFF + 0x40000 + slot * 4096ull, len, true};

	ck_assert_int_ge(virtq_driver_add(&drv[VCON_RXQ], &b, 1, false, gpa_ptr(b.gpa)), 0);
	vcon_queue_kick(dev, VCON_RXQ);
}

/* Runs the loop until a receive buffer comes back; copies it out (NUL-ended). */
static uint32_t guest_recv(char *out)
{
	uint32_t len;
	void *tok;
	int got;

	for (int i = 0; (got = virtq_driver_get_used(&drv[VCON_RXQ], &len, &tok)) == 0; i++) {
		ck_assert_int_lt(i, 200);
		loop_once();
		usleep(5000);
	}
	ck_assert_int_eq(got, 1);
	memcpy(out, tok, len);
	out[len] = 0;
	return len;
}

static size_t file_read(char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	n = read(fd, buf, size - 1);
	close(fd);
	ck_assert_int_ge(n, 0);
	buf[n] = 0;
	return n;
}

START_TEST(test_vcon_tx_file)
{
	static const char *const parts[] = {"hello ", "virtio ", "console\n"};
	char buf[256];

	guest_send(parts, 3);
	guest_send(parts + 2, 1);
	loop_once();
	file_read(buf, sizeof(buf));
	ck_assert_str_eq(buf, "hello virtio console\nconsole\n");
}
END_TEST

START_TEST(test_vcon_config)
{
	uint8_t c[VCON_CFG_SIZE];
	uint32_t ports, ch = 'Z';
	char buf[16];

	ck_assert_uint_eq(vcon_features(dev), 1ull << VIRTIO_CONSOLE_F_EMERG_WRITE);
	ck_assert_int_eq(vcon_get_config(dev, 0, c, sizeof(c)), 0);
	memcpy(&ports, c + VCON_CFG_MAX_NR_PORTS, 4);
	ck_assert_uint_eq(le32toh(ports), 1);
	ck_assert_uint_eq(c[VCON_CFG_COLS], 0);
	ck_assert_int_eq(vcon_get_config(dev, 8, c, 8), -EINVAL);
	ck_assert_int_eq(vcon_get_config(dev, 13, c, 0), -EINVAL);
	/* emerg_wr is the one writable field; its character joins the output. */
	ch = htole32(ch);
	ck_assert_int_eq(vcon_set_config(dev, VCON_CFG_EMERG_WR, &ch, 4), 0);
	ck_assert_int_eq(vcon_set_config(dev, VCON_CFG_COLS, &ch, 2), -EINVAL);
	ck_assert_int_eq(vcon_set_config(dev, VCON_CFG_EMERG_WR, &ch, 8), -EINVAL);
	loop_once();
	file_read(buf, sizeof(buf));
	ck_assert_str_eq(buf, "Z");
}
END_TEST

/* A writable buffer on transmitq0 breaks it; receiveq0 is not affected. */
START_TEST(test_vcon_tx_hostile)
{
	struct virtq_buf b[2] = {{RAM_GPA + BUF_OFF, 4, false}, {RAM_GPA + BUF_OFF + 64, 4, true}};
	ck_assert_int_ge(virtq_driver_add(&drv[VCON_TXQ], b, 2, false, (void *)1), 0);
	vcon_queue_kick(dev, VCON_TXQ);
	ck_assert(vq[VCON_TXQ].broken);
	ck_assert(!vq[VCON_RXQ].broken);
	/* Nothing more is served on it. */
	ck_assert_int_ge(virtq_driver_add(&drv[VCON_TXQ], b, 1, false, (void *)2), 0);
	vcon_queue_kick(dev, VCON_TXQ);
	ck_assert_uint_eq(vq[VCON_TXQ].used_idx, 0);
}
END_TEST

/* A chain over VCON_TX_MAX bytes is a bad length. */
START_TEST(test_vcon_tx_too_long)
{
	struct virtq_buf b[2] = {{RAM_GPA, RAM_SIZE / 2 + 1, false},
				 {RAM_GPA, RAM_SIZE / 2, false}};

	ck_assert_int_ge(virtq_driver_add(&drv[VCON_TXQ], b, 2, false, (void *)1), 0);
	vcon_queue_kick(dev, VCON_TXQ);
	ck_assert(vq[VCON_TXQ].broken);
}
END_TEST

static int client_connect(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	strcpy(sa.sun_path, path);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	for (int i = 0; i < 5; i++)
		loop_once(); /* the console accepts and sends the backlog */
	return fd;
}

static void client_expect(int fd, const char *want)
{
	char buf[256];
	size_t got = 0, n = strlen(want);
	struct pollfd p = {.fd = fd, .events = POLLIN};

	while (got < n) {
		ssize_t r;

		loop_once();
		ck_assert_int_eq(poll(&p, 1, 1000), 1);
		r = read(fd, buf + got, n - got);
		ck_assert_int_gt(r, 0);
		got += r;
	}
	buf[got] = 0;
	ck_assert_str_eq(buf, want);
}

/* Output before the client came is its backlog; input fills posted buffers only. */
START_TEST(test_vcon_unix)
{
	static const char *const early[] = {"boot log\n"}, *const late[] = {"ready\n"};
	char got[64];
	int fd;

	guest_send(early, 1);
	loop_once();
	fd = client_connect();
	client_expect(fd, "boot log\n");
	guest_send(late, 1);
	client_expect(fd, "ready\n");

	/* No buffer posted: the input waits in the endpoint, none is lost. */
	ck_assert_int_eq(write(fd, "abcdef\n", 7), 7);
	for (int i = 0; i < 5; i++)
		loop_once();
	ck_assert_int_eq(virtq_driver_get_used(&drv[VCON_RXQ], &(uint32_t){0}, &(void *){0}), 0);
	guest_post(0, 4);
	ck_assert_uint_eq(guest_recv(got), 4);
	ck_assert_str_eq(got, "abcd");
	guest_post(1, 64);
	ck_assert_uint_eq(guest_recv(got), 3);
	ck_assert_str_eq(got, "ef\n");
	close(fd);
}
END_TEST

/* A device-readable buffer on receiveq0 breaks it; transmitq0 goes on. */
START_TEST(test_vcon_rx_hostile)
{
	struct virtq_buf b = {RAM_GPA + BUF_OFF, 16, false};
	static const char *const parts[] = {"still here\n"};
	int fd = client_connect();

	ck_assert_int_ge(virtq_driver_add(&drv[VCON_RXQ], &b, 1, false, (void *)1), 0);
	vcon_queue_kick(dev, VCON_RXQ);
	ck_assert_int_eq(write(fd, "x", 1), 1);
	for (int i = 0; i < 10 && !vq[VCON_RXQ].broken; i++) {
		loop_once();
		usleep(5000);
	}
	ck_assert(vq[VCON_RXQ].broken);
	guest_send(parts, 1);
	client_expect(fd, "still here\n");
	ck_assert(!vq[VCON_TXQ].broken);
	close(fd);
}
END_TEST

START_TEST(test_vcon_specs)
{
	struct iopart_export e;
	char err[256], longp[300];

	ck_assert_int_eq(iopart_export_parse("vhost-user-console,socket=/s,console=pty", &e, err,
					     sizeof(err)),
			 0);
	ck_assert_int_eq(e.kind, IOPART_CONSOLE);
	ck_assert(e.has_console);
	ck_assert_int_eq(e.console, CONSOLE_PTY);
	ck_assert_str_eq(e.socket, "/s");
	ck_assert_int_eq(iopart_export_parse("vhost-user-console,console=unix:/c,socket=/s", &e,
					     err, sizeof(err)),
			 0);
	ck_assert_int_eq(e.console, CONSOLE_UNIX);
	ck_assert_str_eq(e.path, "/c");
	ck_assert_int_eq(iopart_export_parse_console("file:log.txt", &e, err, sizeof(err)), 0);
	ck_assert_int_eq(e.console, CONSOLE_FILE);
	ck_assert_str_eq(e.path, "log.txt");
	ck_assert_str_eq(iopart_kind_name(IOPART_CONSOLE), "vhost-user-console");

	static const char *const bad[][2] = {
		{"vhost-user-console,socket=/s", "missing key 'console'"},
		{"vhost-user-console,console=pty", "socket"},
		{"vhost-user-console,socket=/s,console=stdio", "'stdio' is not pty"},
		{"vhost-user-console,socket=/s,console=tcp:1", "'tcp:1' is not pty"},
		{"vhost-user-console,socket=/s,console=unix:", "'unix:' is not pty"},
		{"vhost-user-console,socket=/s,console=file:", "'file:' is not pty"},
		{"vhost-user-console,socket=/s,console=unix:/s", "is the vhost-user socket"},
		{"vhost-user-console,socket=/s,console=pty,path=/x", "unknown key 'path'"},
		{"vhost-user-rng,socket=/s,console=pty", "unknown key 'console'"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(iopart_export_parse(bad[i][0], &e, err, sizeof(err)), -EINVAL);
		ck_assert_msg(strstr(err, bad[i][1]), "'%s': '%s'", bad[i][0], err);
	}
	snprintf(longp, sizeof(longp), "unix:/%0200d", 0);
	ck_assert_int_eq(iopart_export_parse_console(longp, &e, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "too long"));
	ck_assert_int_eq(iopart_export_parse_console("", &e, err, sizeof(err)), -EINVAL);
}
END_TEST

/*
 * The whole channel in-process, as uvmm runs it: vhost-user handshake and
 * config through dev.c, output on transmitq0 and emerg_wr into a file.
 */
START_TEST(test_vcon_inproc)
{
	struct iopart_export e;
	struct iopart_thread *t;
	struct vu_front f;
	struct vu_mem_region mr;
	struct vu_vring v = {.num = QNUM};
	struct virtq_driver d;
	struct pollfd p = {.events = POLLIN};
	struct virtq_buf b = {RAM_GPA + BUF_OFF, 13, false};
	char err[256], spec[160], buf[64];
	uint8_t cfg[VCON_CFG_SIZE];
	uint32_t ports, ch = htole32('Q'), len;
	uint64_t one = 1;
	void *tok;
	int fd, memfd, kick, got;

	strcpy(dir, "/tmp/test_vcon.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/out", dir);
	snprintf(spec, sizeof(spec), "file:%s", path);
	ck_assert_int_eq(iopart_export_parse_console(spec, &e, err, sizeof(err)), 0);
	ck_assert_msg(iopart_thread_start(&t, &e, &fd, err, sizeof(err)) == 0, "%s", err);
	vu_front_init(&f);
	vu_front_attach(&f, fd);
	ck_assert_msg(vu_front_handshake(&f) == 0, "%s", f.err);
	ck_assert(f.features & 1ull << VIRTIO_CONSOLE_F_EMERG_WRITE);
	ck_assert(!(f.features & 1ull << VIRTIO_CONSOLE_F_MULTIPORT));
	ck_assert_uint_eq(f.max_queues, 2);
	ck_assert_msg(vu_front_get_config(&f, 0, cfg, sizeof(cfg)) == 0, "%s", f.err);
	memcpy(&ports, cfg + VCON_CFG_MAX_NR_PORTS, 4);
	ck_assert_uint_eq(le32toh(ports), 1);
	ck_assert_int_eq(vu_front_set_features(&f, 1ull << VIRTIO_F_VERSION_1), 0);

	memfd = chan_memfd_create("ram", RAM_SIZE, false);
	ck_assert_int_ge(memfd, 0);
	ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	ck_assert(ram != MAP_FAILED);
	mr = (struct vu_mem_region){RAM_GPA, RAM_SIZE, (uintptr_t)ram, 0, memfd};
	ck_assert_msg(vu_front_set_mem_table(&f, &mr, 1) == 0, "%s", f.err);
	ck_assert_int_eq(virtq_driver_init(&d, ram, RAM_GPA, QNUM, 0, 0), 0);
	kick = eventfd(0, EFD_CLOEXEC);
	p.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	v.desc_uaddr = (uintptr_t)gpa_ptr(d.desc_gpa);
	v.avail_uaddr = (uintptr_t)gpa_ptr(d.avail_gpa);
	v.used_uaddr = (uintptr_t)gpa_ptr(d.used_gpa);
	v.kick_fd = kick;
	v.call_fd = p.fd;
	ck_assert_msg(vu_front_vring_setup(&f, VCON_TXQ, &v) == 0, "%s", f.err);
	ck_assert_msg(vu_front_vring_enable(&f, VCON_TXQ, true) == 0, "%s", f.err);

	memcpy(gpa_ptr(b.gpa), "hello inproc\n", 13);
	ck_assert_int_ge(virtq_driver_add(&d, &b, 1, false, (void *)1), 0);
	ck_assert_int_eq(write(kick, &one, 8), 8);
	for (int i = 0; (got = virtq_driver_get_used(&d, &len, &tok)) == 0; i++) {
		ck_assert_int_lt(i, 50);
		poll(&p, 1, 100);
		(void)!read(p.fd, &one, 8);
	}
	ck_assert_int_eq(got, 1);
	ck_assert_msg(vu_front_set_config(&f, VCON_CFG_EMERG_WR, &ch, 4) == 0, "%s", f.err);
	ck_assert_int_ne(vu_front_set_config(&f, VCON_CFG_COLS, &ch, 2), 0);

	vu_front_close(&f);
	iopart_thread_stop(t); /* drains the output into the file */
	file_read(buf, sizeof(buf));
	ck_assert_str_eq(buf, "hello inproc\nQ");
	virtq_driver_free(&d);
	munmap(ram, RAM_SIZE);
	close(memfd);
	close(kick);
	close(p.fd);
	unlink(path);
	rmdir(dir);
}
END_TEST

int main(void)
{
	Suite *s = uv_suite("vcon", vcon_setup_file, vcon_teardown, 0,
			    UV_TESTS(test_vcon_tx_file, test_vcon_config, test_vcon_tx_hostile,
				     test_vcon_tx_too_long));

	uv_tcase(s, "unix", vcon_setup_unix, vcon_teardown, 0,
		 UV_TESTS(test_vcon_unix, test_vcon_rx_hostile));
	uv_tcase(s, "spec_inproc", NULL, NULL, 0, UV_TESTS(test_vcon_specs, test_vcon_inproc));
	return uv_check_run(s);
}
