// SPDX-License-Identifier: GPL-2.0
/*
 * uvmm's options for a partition commandd starts: --memory-fd, vhost-user-fd=,
 * --partition, --ultravisord, with real descriptors of every wrong kind.
 */
#include <check.h>

#include "uvcheck.h"
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "chan_mem.h"
#include "options.h"

static struct vm_options o;
static char err[OPT_ERR_LEN];

/* parse("--kernel", "/k", ..., NULL) as "uvmm run ...". */
static int parse(const char *first, ...)
{
	char *argv[32] = {"run"};
	int argc = 1;
	va_list ap;

	va_start(ap, first);
	for (const char *a = first; a && argc < 31; a = va_arg(ap, const char *))
		argv[argc++] = (char *)a;
	va_end(ap);
	err[0] = 0;
	return options_parse_run(argc, argv, &o, err);
}

static void expect_refused(const char *what, int ret)
{
	ck_assert_msg(ret == -1, "accepted: %s", what);
	ck_assert_msg(strstr(err, what), "error '%s' does not say '%s'", err, what);
	ck_assert_msg(!strchr(err, '\n'), "error of more than one line: %s", err);
}

static const char *num(int fd)
{
	static char buf[8][32];
	static unsigned n;
	char *b = buf[n++ % 8];

	snprintf(b, 32, "%d", fd);
	return b;
}

static const char *vu_fd(int fd, const char *extra)
{
	static char buf[8][64];
	static unsigned n;
	char *b = buf[n++ % 8];

	snprintf(b, 64, "vhost-user-fd=%d%s", fd, extra ? extra : "");
	return b;
}

/* An fd number that is certainly not open. */
static int closed_fd(void)
{
	int fd = dup(0);

	ck_assert_int_ge(fd, 3);
	close(fd);
	return fd;
}

static int sealed_memfd(uint64_t size)
{
	int fd = chan_memfd_create("test-ram", size, false);

	ck_assert_int_ge(fd, 3);
	return fd;
}

START_TEST(memory_fd_good)
{
	int fd = sealed_memfd(512ULL << 20), fd2 = sealed_memfd(1ULL << 30);

	ck_assert_int_eq(parse("--kernel", "/k", NULL), 0);
	ck_assert_int_eq(o.memory_fd, -1);
	ck_assert_int_eq(parse("--kernel", "/k", "--memory-fd", num(fd), NULL), 0);
	ck_assert_int_eq(o.memory_fd, fd);
	ck_assert(!o.hugepages);
	ck_assert_int_eq(parse("--memory-fd", num(fd2), "--kernel", "/k", "--memory", "1G", NULL),
			 0);
	ck_assert_int_eq(o.memory_fd, fd2);
	ck_assert_uint_eq(o.memory, 1ULL << 30);
	/* Parsing takes nothing: the fds are still open. */
	ck_assert_int_ge(fcntl(fd, F_GETFD), 0);
	close(fd);
	close(fd2);
}
END_TEST

START_TEST(memory_fd_refused)
{
	int mem = sealed_memfd(512ULL << 20), unsealed = memfd_create("x", MFD_CLOEXEC), sv[2],
	    pfd[2], ro;
	char path[64];

	ck_assert_int_eq(ftruncate(unsealed, 512 << 20), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(pipe2(pfd, O_CLOEXEC), 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", mem);
	ro = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(ro, 3);

	expect_refused("not a file descriptor number", parse("--kernel=/k", "--memory-fd=x", NULL));
	expect_refused("not a file descriptor number",
		       parse("--kernel=/k", "--memory-fd=-4", NULL));
	expect_refused("standard stream", parse("--kernel=/k", "--memory-fd=0", NULL));
	expect_refused("standard stream", parse("--kernel=/k", "--memory-fd", "2", NULL));
	expect_refused("needs a value", parse("--kernel=/k", "--memory-fd", NULL));
	expect_refused("not an open file descriptor",
		       parse("--kernel=/k", "--memory-fd", num(closed_fd()), NULL));
	expect_refused("a socket, not a memfd",
		       parse("--kernel=/k", "--memory-fd", num(sv[0]), NULL));
	expect_refused("a pipe, not a memfd",
		       parse("--kernel=/k", "--memory-fd", num(pfd[0]), NULL));
	expect_refused("not a memfd sealed against shrinking",
		       parse("--kernel=/k", "--memory-fd", num(unsealed), NULL));
	expect_refused("not open for reading and writing",
		       parse("--kernel=/k", "--memory-fd", num(ro), NULL));
	expect_refused("holds 536870912 bytes, but --memory is 1073741824",
		       parse("--kernel=/k", "--memory=1G", "--memory-fd", num(mem), NULL));
	expect_refused("not huge pages", parse("--kernel=/k", "--memory=512M,hugepages=on",
					       "--memory-fd", num(mem), NULL));
	close(mem);
	close(unsealed);
	close(ro);
	close(sv[0]);
	close(sv[1]);
	close(pfd[0]);
	close(pfd[1]);
}
END_TEST

START_TEST(vhost_user_fd_good)
{
	int a[2], b[2], c[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, a), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, b), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, c), 0);
	/* in-process, inherited, inherited with its channel, a path, inherited console */
	ck_assert_int_eq(parse("--kernel=/k", "--rng", "--disk", vu_fd(a[0], NULL), "--net",
			       vu_fd(b[0], ",channel=7"), "--disk", "vhost-user=/run/x.sock",
			       "--virtio-console", vu_fd(c[0], NULL), NULL),
			 0);
	ck_assert_uint_eq(o.nr_devices, 5);
	ck_assert_int_eq(o.links[0].fd, -1);
	ck_assert_int_eq(o.links[0].channel, -1);
	ck_assert_int_eq(o.devices[1].kind, IOPART_BLK);
	ck_assert_str_eq(o.devices[1].socket, "");
	ck_assert_int_eq(o.links[1].fd, a[0]);
	ck_assert_int_eq(o.links[1].channel, 0);
	ck_assert_int_eq(o.devices[2].kind, IOPART_NET);
	ck_assert_int_eq(o.links[2].fd, b[0]);
	ck_assert_int_eq(o.links[2].channel, 7);
	ck_assert_int_eq(o.links[3].fd, -1);
	ck_assert_int_eq(o.links[3].channel, 2);
	ck_assert_int_eq(o.devices[4].kind, IOPART_CONSOLE);
	ck_assert_int_eq(o.links[4].channel, 3);
	/* The firmware boots an inherited disk too. */
	ck_assert_int_eq(parse("--disk", vu_fd(a[0], ",channel=63"), NULL), 0);
	ck_assert_int_eq(o.links[0].channel, 63);
	for (int i = 0; i < 2; i++) {
		close(a[i]);
		close(b[i]);
		close(c[i]);
	}
}
END_TEST

START_TEST(vhost_user_fd_refused)
{
	int sp[2], dg[2], seq[2], pfd[2], lst, unconn, inet, mem = sealed_memfd(512ULL << 20);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, dg), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, seq), 0);
	ck_assert_int_eq(pipe2(pfd, O_CLOEXEC), 0);
	lst = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/tmp/test_parse_suite.%d", (int)getpid());
	unlink(sa.sun_path);
	ck_assert_int_eq(bind(lst, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(lst, 1), 0);
	unconn = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	inet = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(inet, 3);

	expect_refused("--disk vhost-user-fd=",
		       parse("--kernel=/k", "--disk", vu_fd(closed_fd(), NULL), NULL));
	expect_refused("not an open file descriptor",
		       parse("--kernel=/k", "--disk", vu_fd(closed_fd(), NULL), NULL));
	expect_refused("not a socket", parse("--kernel=/k", "--disk", vu_fd(pfd[0], NULL), NULL));
	expect_refused("not a socket", parse("--kernel=/k", "--net", vu_fd(mem, NULL), NULL));
	expect_refused("not a SOCK_STREAM socket",
		       parse("--kernel=/k", "--net", vu_fd(dg[0], NULL), NULL));
	expect_refused("not a SOCK_STREAM socket",
		       parse("--kernel=/k", "--disk", vu_fd(seq[0], NULL), NULL));
	expect_refused("a listening socket",
		       parse("--kernel=/k", "--disk", vu_fd(lst, NULL), NULL));
	expect_refused("not connected", parse("--kernel=/k", "--disk", vu_fd(unconn, NULL), NULL));
	expect_refused("not a unix socket",
		       parse("--kernel=/k", "--disk", vu_fd(inet, NULL), NULL));
	expect_refused("standard stream", parse("--kernel=/k", "--disk", "vhost-user-fd=1", NULL));
	expect_refused("not a file descriptor number",
		       parse("--kernel=/k", "--disk", "vhost-user-fd=", NULL));
	expect_refused("not a file descriptor number",
		       parse("--kernel=/k", "--net", "vhost-user-fd=3x", NULL));
	expect_refused("not a device number from 0 to 63",
		       parse("--kernel=/k", "--disk", vu_fd(sp[0], ",channel=64"), NULL));
	expect_refused("not a device number from 0 to 63",
		       parse("--kernel=/k", "--disk", vu_fd(sp[0], ",channel="), NULL));
	expect_refused("unknown key", parse("--kernel=/k", "--disk", vu_fd(sp[0], ",ro=on"), NULL));
	expect_refused("'1,x=y' is not a device number",
		       parse("--kernel=/k", "--disk", vu_fd(sp[0], ",channel=1,x=y"), NULL));
	/* The second device's default (its position, 1) is the first's explicit number. */
	expect_refused("channel 1 is already another device's",
		       parse("--kernel=/k", "--disk", vu_fd(sp[0], ",channel=1"), "--disk",
			     "vhost-user=/s", NULL));
	expect_refused("is given to two options", parse("--kernel=/k", "--disk", vu_fd(sp[0], NULL),
							"--net", vu_fd(sp[0], NULL), NULL));
	expect_refused("is given to two options", parse("--kernel=/k", "--memory-fd", num(mem),
							"--net", vu_fd(mem, NULL), NULL));
	close(lst);
	unlink(sa.sun_path);
	close(unconn);
	close(inet);
	close(mem);
	for (int i = 0; i < 2; i++) {
		close(sp[i]);
		close(dg[i]);
		close(seq[i]);
		close(pfd[i]);
	}
}
END_TEST

START_TEST(partition_options)
{
	char name63[64], name64[65];

	memset(name63, 'a', 63);
	name63[63] = 0;
	memset(name64, 'b', 64);
	name64[64] = 0;
	ck_assert_int_eq(parse("--kernel=/k", NULL), 0);
	ck_assert_ptr_null(o.partition);
	ck_assert_str_eq(o.ultravisord, "");
	ck_assert_int_eq(
		parse("--kernel=/k", "--partition", "web1", "--ultravisord", "/tmp/u.sock", NULL),
		0);
	ck_assert_str_eq(o.partition, "web1");
	ck_assert_str_eq(o.ultravisord, "/tmp/u.sock");
	ck_assert_int_eq(parse("--kernel=/k", "--partition", "0a_b.c-d", NULL), 0);
	setenv("UV_RUNTIME_DIR", "/tmp/uvrt/", 1);
	ck_assert_int_eq(parse("--kernel=/k", "--partition", name63, NULL), 0);
	ck_assert_str_eq(o.ultravisord, "/tmp/uvrt/ultravisord.sock");
	unsetenv("UV_RUNTIME_DIR");
	ck_assert_int_eq(parse("--kernel=/k", "--partition", "x", NULL), 0);
	ck_assert_str_eq(o.ultravisord, "/run/ultravisor/ultravisord.sock");

	expect_refused("is not a partition name", parse("--kernel=/k", "--partition=", NULL));
	expect_refused("is not a partition name", parse("--kernel=/k", "--partition=Web", NULL));
	expect_refused("is not a partition name", parse("--kernel=/k", "--partition=-w", NULL));
	expect_refused("is not a partition name", parse("--kernel=/k", "--partition=a/b", NULL));
	expect_refused("is not a partition name",
		       parse("--kernel=/k", "--partition", name64, NULL));
	expect_refused("--ultravisord needs --partition NAME",
		       parse("--kernel=/k", "--ultravisord", "/tmp/u.sock", NULL));
	expect_refused("not a usable socket path",
		       parse("--kernel=/k", "--partition=a", "--ultravisord=", NULL));
	setenv("UV_RUNTIME_DIR", "relative", 1);
	expect_refused("give --ultravisord PATH", parse("--kernel=/k", "--partition=a", NULL));
	unsetenv("UV_RUNTIME_DIR");
}
END_TEST

int main(void)
{
	return uv_check_run(uv_suite("parse_suite", NULL, NULL, 0,
				     UV_TESTS(memory_fd_good, memory_fd_refused, vhost_user_fd_good,
					      vhost_user_fd_refused, partition_options)));
}
