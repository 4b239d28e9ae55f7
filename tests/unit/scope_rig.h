/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UV_TEST_SCOPE_RIG_H
#define UV_TEST_SCOPE_RIG_H

/*
 * What the scope tests (test_commandd_scope, test_commandd_scope_bus) share:
 * commandd's options, a monitor's gate, and stand-ins for a uvmm or its
 * monitor (live processes whose /proc a test reads).
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commandd.h"
#include "uvcheck.h"

static inline void opts_init(struct cmd_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->shutdown_timeout_s = 60;
	o->niop_names = 2;
	strcpy(o->iop_names[0], "a");
	strcpy(o->iop_names[1], "b");
}

/* 1 when the gate got its byte, 0 on end of file, -1 when nothing came within ms. */
static inline int gate_wait(int fd, int ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	char b = 0;
	ssize_t n;

	if (poll(&pfd, 1, ms) != 1)
		return -1;
	n = read(fd, &b, 1);
	return n == 1 && b == 's' ? 1 : n == 0 ? 0 : -2;
}

static inline void child_on_sigpwr(int sig)
{
	(void)sig;
}

/* A child that catches SIGPWR (as monitors do) when told, and waits to be killed. */
static inline pid_t child_start(bool monitor, int *pidfd)
{
	int ready[2];
	pid_t pid;
	char b;

	ck_assert_int_eq(pipe2(ready, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (monitor)
			signal(SIGPWR, child_on_sigpwr);
		/* Its dispositions are set: /proc shows them from now on. */
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(ready[1]);
	ck_assert_int_eq(read(ready[0], &b, 1), 1);
	close(ready[0]);
	*pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	ck_assert_int_ge(*pidfd, 0);
	return pid;
}

/* pidfd may be -1 (already closed by the test). */
static inline void child_end(pid_t pid, int pidfd)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	if (pidfd >= 0)
		close(pidfd);
}

#endif
