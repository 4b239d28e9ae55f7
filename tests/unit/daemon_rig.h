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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl_msg.h"
#include "uvcheck.h"

#define DRIG_DIR_LEN 64
#define DRIG_SUB_LEN 128

/* dir: a new /tmp/NAME.XXXXXX; run and state: its run/ and state/ (made by the daemons). */
static inline void drig_dirs(const char *name, char dir[DRIG_DIR_LEN], char run[DRIG_SUB_LEN],
			     char state[DRIG_SUB_LEN])
{
	uv_tmpdir(dir, DRIG_DIR_LEN, name);
	snprintf(run, DRIG_SUB_LEN, "%s/run", dir);
	snprintf(state, DRIG_SUB_LEN, "%s/state", dir);
	signal(SIGPIPE, SIG_IGN);
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

/* A control connection to sock whose reads give up after timeout_s. */
static inline int drig_connect(const char *sock, int timeout_s)
{
	struct timeval tv = {timeout_s, 0};
	char err[256];
	int fd = ctl_connect(sock, err, sizeof(err));

	ck_assert_msg(fd >= 0, "%s", err);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Members a test insists on: a missing one fails it, naming the message. */
static inline json_object *drig_get(json_object *o, const char *key)
{
	json_object *v;

	ck_assert_msg(json_object_object_get_ex(o, key, &v), "no '%s' in %s", key,
		      json_object_to_json_string(o));
	return v;
}

static inline const char *drig_str(json_object *o, const char *key)
{
	return json_object_get_string(drig_get(o, key));
}

static inline int64_t drig_int(json_object *o, const char *key)
{
	return json_object_get_int64(drig_get(o, key));
}

/* The next message on fd, with its fds (fds NULL: they are closed). */
static inline json_object *drig_recv(int fd, int *fds, int *nfds)
{
	int tmp[CTL_MAX_FDS], tn;
	json_object *m;
	char err[256];

	ck_assert_msg(ctl_recv(fd, &m, fds ? fds : tmp, nfds ? nfds : &tn, err, sizeof(err)) == 0,
		      "%s", err);
	if (!fds)
		for (int i = 0; i < tn; i++)
			close(tmp[i]);
	return m;
}

/*
 * A fake iopartd's side of ultravisord's adopt_channel (for want, or any
 * when NULL): answers ok; returns the back end, *nfds the fds that came.
 */
static inline int drig_adopt(int iop, const char *want, int *nfds)
{
	int fds[CTL_MAX_FDS];
	json_object *m = drig_recv(iop, fds, nfds), *r;

	ck_assert_str_eq(drig_str(m, "op"), "adopt_channel");
	if (want)
		ck_assert_str_eq(drig_str(m, "iopartd"), want);
	ck_assert_int_ge(*nfds, 1);
	for (int i = 1; i < *nfds; i++)
		close(fds[i]);
	r = ctl_reply_ok(m);
	ck_assert_int_eq(ctl_send(iop, r, NULL, 0), 0);
	json_object_put(r);
	json_object_put(m);
	return fds[0];
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
