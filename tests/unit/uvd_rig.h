/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UV_TEST_UVD_RIG_H
#define UV_TEST_UVD_RIG_H

/*
 * For test_ultravisord_*.c that run the daemon (UVD_BIN): its private
 * directories, start and stop, control calls from JSON text, and the fake
 * peers (iopartds, a uvmm) a test plays itself on ultravisord's socket.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl_msg.h"
#include "daemon.h"
#include "daemon_rig.h"
#include "uvcheck.h"

static char dir[DRIG_DIR_LEN], run_dir[DRIG_SUB_LEN], state_dir[DRIG_SUB_LEN], sock[192],
	pidfile[192], state_file[256];
static char err[512];
static pid_t uvd_pid;
/* ultravisord's stderr goes there when set (dir/NAME), else to ours. */
static char uvd_log[256];

static inline void uvd_rig_setup(const char *name)
{
	drig_dirs(name, dir, run_dir, state_dir);
	snprintf(sock, sizeof(sock), "%s/ultravisord.sock", run_dir);
	snprintf(pidfile, sizeof(pidfile), "%s/ultravisord.pid", run_dir);
	snprintf(state_file, sizeof(state_file), "%s/ultravisord/state.json", state_dir);
	uvd_pid = 0;
	uvd_log[0] = 0;
}

static inline void uvd_rig_teardown(void)
{
	drig_kill(&uvd_pid);
	uv_rmtree(dir);
}

/* Starts ultravisord; returns its pid once it said READY=1, or fails the test. */
static inline pid_t uvd_spawn(const char *pool, int *status_if_exited)
{
	char *argv[] = {UVD_BIN, "--memory-pool", (char *)pool, "--log-level", "debug", NULL};
	const char *log = uvd_log[0] ? uvd_log : NULL;
	char notify[DRIG_SUB_LEN];
	int nfd;
	pid_t pid;

	if (!status_if_exited)
		return drig_start(argv, dir, run_dir, state_dir, log);
	/* Expected to fail: it must exit, without READY. */
	nfd = drig_notify_open(dir, "notify", notify, sizeof(notify));
	pid = drig_spawn(argv, run_dir, state_dir, notify, log);
	ck_assert_int_eq(waitpid(pid, status_if_exited, 0), pid);
	ck_assert(!drig_notified(nfd, 0));
	close(nfd);
	return 0;
}

/* SIGTERM to ultravisord: it must exit 0. */
static inline void uvd_stop(void)
{
	int st;

	ck_assert_int_eq(kill(uvd_pid, SIGTERM), 0);
	ck_assert_int_eq(waitpid(uvd_pid, &st, 0), uvd_pid);
	uvd_pid = 0;
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
}

static inline int conn(void)
{
	return drig_connect(sock, 5);
}

/* A request from JSON text (an id added) with fds[0..*nfds); the reply, with its fds. */
static inline int call_fds(int fd, const char *json, json_object **rep, int *fds, int *nfds)
{
	json_object *req = json_tokener_parse(json);
	int ret;

	ck_assert_msg(req, "bad test JSON %s", json);
	ret = ctl_call(fd, req, rep, fds, nfds, 5000, err, sizeof(err));
	json_object_put(req);
	return ret;
}

/* The same, sending no fds. */
static inline int call(int fd, const char *json, json_object **rep, int *fds, int *nfds)
{
	if (nfds)
		*nfds = 0;
	return call_fds(fd, json, rep, fds, nfds);
}

static inline void call_ok(int fd, const char *json)
{
	json_object *rep;

	ck_assert_msg(call(fd, json, &rep, NULL, NULL) == 0, "%s: %s", json, err);
	json_object_put(rep);
}

static inline void call_refused(int fd, const char *json, const char *why)
{
	json_object *rep;

	ck_assert_int_eq(call(fd, json, &rep, NULL, NULL), -EREMOTEIO);
	ck_assert_msg(strstr(err, why), "%s: '%s' does not say '%s'", json, err, why);
	json_object_put(rep);
}

/* A request whose reply comes later (it waits for an iopartd): read it with recv_ok. */
static inline void send_only(int fd, const char *json)
{
	json_object *req = json_tokener_parse(json);

	ck_assert_msg(req, "bad test JSON %s", json);
	ck_assert_int_eq(ctl_send(fd, req, NULL, 0), 0);
	json_object_put(req);
}

static inline json_object *recv_ok(int fd, int *fds, int *nfds)
{
	json_object *rep = drig_recv(fd, fds, nfds);

	ck_assert_msg(json_object_get_boolean(json_object_object_get(rep, "ok")), "%s",
		      json_object_to_json_string(rep));
	return rep;
}

/* Nothing arrives on fd within ms. */
static inline void quiet(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	ck_assert_msg(poll(&p, 1, ms) == 0, "something came on fd %d", fd);
}

/* partition_reserve of name (mib MiB, one CPU): its memfd, the reply's only fd. */
static inline int reserve(int fd, const char *name, int mib)
{
	int fds[CTL_MAX_FDS], n;
	json_object *rep;
	char req[160];

	snprintf(req, sizeof(req),
		 "{\"op\":\"partition_reserve\",\"name\":\"%s\",\"memory_mib\":%d,\"cpus\":1}",
		 name, mib);
	ck_assert_int_eq(call(fd, req, &rep, fds, &n), 0);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(drig_int(rep, "size"), (int64_t)mib << 20);
	json_object_put(rep);
	return fds[0];
}

/* A fake iopartd: registers, and its connection gets the channels. */
static inline int fake_iopartd(const char *name)
{
	char hello[128];
	int fd = conn();

	snprintf(hello, sizeof(hello), "{\"op\":\"hello\",\"role\":\"iopartd\",\"name\":\"%s\"}",
		 name);
	call_ok(fd, hello);
	return fd;
}

/* A fake uvmm of partition name (this process): hello, partition_attach. */
static inline int fake_uvmm(const char *name)
{
	int fd = conn(), fds[CTL_MAX_FDS], n;
	json_object *rep;
	char req[128];

	snprintf(req, sizeof(req), "{\"op\":\"hello\",\"role\":\"uvmm\",\"name\":\"%s\"}", name);
	call_ok(fd, req);
	snprintf(req, sizeof(req), "{\"op\":\"partition_attach\",\"name\":\"%s\"}", name);
	ck_assert_msg(call(fd, req, &rep, fds, &n) == 0, "%s", err);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	json_object_put(rep);
	return fd;
}

/* Bytes go through the channel's two ends. */
static inline void check_pair(int a, int b)
{
	char buf[8];

	ck_assert_int_eq(write(a, "ping", 4), 4);
	ck_assert_int_eq(read(b, buf, sizeof(buf)), 4);
	ck_assert_int_eq(memcmp(buf, "ping", 4), 0);
}

#endif
