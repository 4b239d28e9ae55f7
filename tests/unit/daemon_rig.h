/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UV_TEST_DAEMON_RIG_H
#define UV_TEST_DAEMON_RIG_H

/*
 * The suite's daemons run from unit tests: a temporary directory holding
 * the private UV_RUNTIME_DIR (run/) and UV_STATE_DIR (state/), a
 * NOTIFY_SOCKET to hear READY=1 on, a daemon started with those three in its
 * environment, killed at teardown. UV_TEST_KEEP=1 keeps the directory.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "uvcheck.h"

#define DRIG_DIR_LEN 64
#define DRIG_SUB_LEN 128

/* dir: a new /tmp/NAME.XXXXXX; run and state: its run/ and state/ (made by the daemons). */
static inline void drig_dirs(const char *name, char dir[DRIG_DIR_LEN], char run[DRIG_SUB_LEN],
			     char state[DRIG_SUB_LEN])
{
	snprintf(dir, DRIG_DIR_LEN, "/tmp/%s.XXXXXX", name);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(run, DRIG_SUB_LEN, "%s/run", dir);
	snprintf(state, DRIG_SUB_LEN, "%s/state", dir);
	signal(SIGPIPE, SIG_IGN);
}

static inline void drig_remove(const char *dir)
{
	char cmd[DRIG_DIR_LEN + 16];

	if (!dir[0] || getenv("UV_TEST_KEEP"))
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* A datagram socket at dir/name for NOTIFY_SOCKET; its path in path. */
static inline int drig_notify_open(const char *dir, const char *name, char *path, size_t len)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	snprintf(path, len, "%s/%s", dir, name);
	unlink(path);
	ck_assert_uint_lt(strlen(path), sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* 1 when READY=1 arrives on nfd within ms, 0 when nothing does. */
static inline int drig_notified(int nfd, int ms)
{
	struct pollfd p = {.fd = nfd, .events = POLLIN};
	char buf[64];
	ssize_t n;

	if (poll(&p, 1, ms) != 1)
		return 0;
	n = recv(nfd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	ck_assert_int_gt(n, 0);
	buf[n] = 0;
	ck_assert_str_eq(buf, "READY=1");
	return 1;
}

/* Runs argv with UV_RUNTIME_DIR=run, UV_STATE_DIR=state, NOTIFY_SOCKET=notify (NULL: none), stderr
 * appended to log (NULL: ours). */
static inline pid_t drig_spawn(char *const argv[], const char *run, const char *state,
			       const char *notify, const char *log)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (!pid) {
		int fd = log ? open(log, O_WRONLY | O_CREAT | O_APPEND, 0644) : -1;

		if (fd >= 0)
			dup2(fd, 2);
		setenv("UV_RUNTIME_DIR", run, 1);
		setenv("UV_STATE_DIR", state, 1);
		if (notify)
			setenv("NOTIFY_SOCKET", notify, 1);
		else
			unsetenv("NOTIFY_SOCKET");
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* drig_spawn with a NOTIFY_SOCKET in dir; returns once it said READY=1 (10 s at most). */
static inline pid_t drig_start(char *const argv[], const char *dir, const char *run,
			       const char *state, const char *log)
{
	char notify[DRIG_SUB_LEN];
	int nfd = drig_notify_open(dir, "notify", notify, sizeof(notify));
	pid_t pid = drig_spawn(argv, run, state, notify, log);

	ck_assert_msg(drig_notified(nfd, 10000), "%s did not say READY=1", argv[0]);
	close(nfd);
	return pid;
}

static inline void drig_kill(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGKILL);
		waitpid(*pid, NULL, 0);
	}
	*pid = 0;
}

#endif
