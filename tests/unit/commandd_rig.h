/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COMMANDD_RIG_H
#define COMMANDD_RIG_H

/*
 * commandd as a process, against a real ultravisord and a real opsd, in a
 * private UV_RUNTIME_DIR and UV_STATE_DIR. The test program is its own
 * fake uvmm (commandd runs it as "PROG run --partition ...") and its own
 * fake iopartd ("PROG --name X"): see commandd_fakes.h. What the fakes see
 * goes to files under $UV_RUNTIME_DIR, which the tests read.
 */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctl_msg.h"
#include "daemon.h"
#include "uvcheck.h"
#include "uvhttp.h"

struct rig {
	char dir[64], run[128], state[128], self[PATH_MAX];
	pid_t uvd, opsd, cmdd;
	pid_t iop[4];
	char iop_name[4][8];
};
static struct rig R;
static char rig_err[1024];

static inline int64_t rig_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static inline void rig_sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static inline void rig_setup(void)
{
	ssize_t n;

	memset(&R, 0, sizeof(R));
	strcpy(R.dir, "/tmp/test_commandd.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(R.dir));
	snprintf(R.run, sizeof(R.run), "%s/run", R.dir);
	snprintf(R.state, sizeof(R.state), "%s/state", R.dir);
	ck_assert_int_eq(mkdir(R.run, 0750), 0);
	setenv("UV_RUNTIME_DIR", R.run, 1);
	setenv("UV_STATE_DIR", R.state, 1);
	unsetenv("NOTIFY_SOCKET");
	n = readlink("/proc/self/exe", R.self, sizeof(R.self) - 1);
	ck_assert_int_gt(n, 0);
	R.self[n] = 0;
	signal(SIGPIPE, SIG_IGN);
	ck_assert_int_eq(curl_global_init(CURL_GLOBAL_NOTHING), 0);
}

static inline void rig_kill(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGKILL);
		waitpid(*pid, NULL, 0);
	}
	*pid = 0;
}

/*
 * Fake uvmms leave "fake-uvmm-PID" in the runtime directory, iopartds (the
 * ones commandd started too) their pid files: they all go.
 */
static inline void rig_kill_children(void)
{
	DIR *d = opendir(R.run);
	struct dirent *e;
	pid_t pid;

	while (d && (e = readdir(d))) {
		if (!strncmp(e->d_name, "fake-uvmm-", 10))
			kill(atoi(e->d_name + 10), SIGKILL);
		if (!strncmp(e->d_name, "iopartd-", 8)) {
			char path[512];

			snprintf(path, sizeof(path), "%s/%s", R.run, e->d_name);
			if (uv_pidfile_running(path, &pid) == 1)
				kill(pid, SIGKILL);
		}
	}
	if (d)
		closedir(d);
}

static inline void rig_teardown(void)
{
	char cmd[128];

	rig_kill(&R.cmdd);
	rig_kill(&R.opsd);
	for (int i = 0; i < 4; i++)
		rig_kill(&R.iop[i]);
	rig_kill_children();
	/* An iopartd commandd had just started takes its pid file only now. */
	rig_sleep_ms(300);
	rig_kill_children();
	rig_kill(&R.uvd);
	if (getenv("UV_TEST_KEEP")) {
		fprintf(stderr, "kept %s\n", R.dir);
		return;
	}
	/* A killed uvmm's monitor may still be writing its exit record: try again. */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' 2>/dev/null", R.dir);
	for (int i = 0; i < 50 && system(cmd); i++)
		rig_sleep_ms(100);
	ck_assert_int_eq(access(R.dir, F_OK), -1);
}

/* Runs argv with stderr to DIR/log; with notify, returns once it said READY=1. */
static inline pid_t rig_spawn(char *const argv[], const char *log, bool notify)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {20, 0};
	char path[160], buf[64];
	int nfd = -1, fd;
	ssize_t n;
	pid_t pid;

	if (notify) {
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify", R.dir);
		unlink(sa.sun_path);
		nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		ck_assert_int_eq(bind(nfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		setsockopt(nfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	snprintf(path, sizeof(path), "%s/%s", R.dir, log);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (!pid) {
		fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
		dup2(fd, 2);
		if (notify)
			setenv("NOTIFY_SOCKET", sa.sun_path, 1);
		execv(argv[0], argv);
		_exit(127);
	}
	if (!notify)
		return pid;
	n = recv(nfd, buf, sizeof(buf) - 1, 0);
	close(nfd);
	ck_assert_msg(n > 0, "%s did not say READY=1 (see %s)", argv[0], path);
	return pid;
}

static inline void rig_start_uvd(const char *pool)
{
	char *argv[] = {UVD_BIN, "--memory-pool", (char *)pool, "--log-level", "debug", NULL};

	R.uvd = rig_spawn(argv, "ultravisord.log", true);
}

static inline void rig_start_opsd(void)
{
	char *argv[] = {OPSD_BIN, "--log-level", "debug", NULL};

	R.opsd = rig_spawn(argv, "opsd.log", true);
}

/* commandd with this program as uvmm and iopartd, and extra options (NULL-terminated). */
static inline pid_t rig_start_cmdd(const char *extra, ...)
{
	char *argv[32] = {
		CMDD_BIN, "--uvmm",	 R.self, "--iopartd-bin", R.self, "--shutdown-timeout",
		"2",	  "--log-level", "debug"};
	int n = 9;
	va_list ap;

	va_start(ap, extra);
	for (const char *s = extra; s && n < 31; s = va_arg(ap, const char *))
		argv[n++] = (char *)s;
	va_end(ap);
	argv[n] = NULL;
	R.cmdd = rig_spawn(argv, "commandd.log", true);
	return R.cmdd;
}

static inline int rig_stop(pid_t *pid)
{
	int st;

	ck_assert_int_eq(kill(*pid, SIGTERM), 0);
	ck_assert_int_eq(waitpid(*pid, &st, 0), *pid);
	*pid = 0;
	return st;
}

/* opsd's API: the reply's JSON (NULL for an empty body), its status checked. */
static inline json_object *api(long want, const char *method, const char *path, const char *fmt,
			       ...)
{
	char sock[192], body[4096];
	struct uvhttp_reply r;
	json_object *o = NULL;
	va_list ap;

	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(body, sizeof(body), fmt, ap);
		va_end(ap);
	}
	snprintf(sock, sizeof(sock), "%s/opsd.sock", R.run);
	ck_assert_msg(uvhttp_request(sock, "opsd", method, path, fmt ? body : NULL, NULL, &r,
				     rig_err, sizeof(rig_err)) == 0,
		      "%s", rig_err);
	ck_assert_msg(r.status == want, "%s %s: HTTP %ld, wanted %ld: %s", method, path, r.status,
		      want, r.body);
	if (r.len)
		o = json_tokener_parse(r.body);
	uvhttp_reply_fini(&r);
	return o;
}

static inline const char *jstr(json_object *o, const char *key)
{
	json_object *v;

	ck_assert_msg(json_object_object_get_ex(o, key, &v), "no '%s' in %s", key,
		      json_object_to_json_string(o));
	return json_object_get_string(v);
}

static inline int64_t jint(json_object *o, const char *key)
{
	json_object *v;

	ck_assert_msg(json_object_object_get_ex(o, key, &v), "no '%s' in %s", key,
		      json_object_to_json_string(o));
	return json_object_get_int64(v);
}

static inline json_object *jget(json_object *o, const char *key)
{
	json_object *v = NULL;

	ck_assert_msg(json_object_object_get_ex(o, key, &v), "no '%s' in %s", key,
		      json_object_to_json_string(o));
	return v;
}

static inline json_object *rig_partition(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "/v1/partitions/%s", name);
	return api(200, "GET", path, NULL);
}

/* opsd's "actual" of name once its state is state (within ms); the caller puts it. */
static inline json_object *rig_wait_actual(const char *name, const char *state, unsigned ms)
{
	int64_t end = rig_now_us() + (int64_t)ms * 1000;
	json_object *p, *a;

	for (;;) {
		p = rig_partition(name);
		a = jget(p, "actual");
		if (!strcmp(jstr(a, "state"), state)) {
			json_object_get(a);
			json_object_put(p);
			return a;
		}
		if (rig_now_us() > end)
			ck_abort_msg("partition %s: actual %s, wanted %s (see %s/commandd.log)",
				     name, json_object_to_json_string(a), state, R.dir);
		json_object_put(p);
		rig_sleep_ms(20);
	}
}

static inline void rig_action(const char *name, const char *verb)
{
	char path[128];

	snprintf(path, sizeof(path), "/v1/partitions/%s/%s", name, verb);
	json_object_put(api(202, "POST", path, NULL));
}

/* {"op": op} to a control socket; the reply. */
static inline json_object *rig_ctl(const char *sockname, const char *op)
{
	json_object *req = ctl_request(op), *rep = NULL;
	char sock[192];
	int fd;

	snprintf(sock, sizeof(sock), "%s/%s", R.run, sockname);
	fd = ctl_connect(sock, rig_err, sizeof(rig_err));
	ck_assert_msg(fd >= 0, "%s", rig_err);
	ck_assert_msg(ctl_call(fd, req, &rep, NULL, NULL, 5000, rig_err, sizeof(rig_err)) == 0,
		      "%s: %s", op, rig_err);
	json_object_put(req);
	close(fd);
	return rep;
}

/* One item of an array member whose "name" is name; NULL when none. */
static inline json_object *rig_find(json_object *o, const char *array, const char *name)
{
	json_object *a = jget(o, array);

	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *e = json_object_array_get_idx(a, i), *n;

		if (json_object_object_get_ex(e, "name", &n) &&
		    !strcmp(json_object_get_string(n), name))
			return e;
	}
	return NULL;
}

/* Waits until ultravisord says iopartd name is healthy (want) or not. */
static inline void rig_wait_iop(const char *name, bool want)
{
	for (int i = 0; i < 500; i++) {
		json_object *st = rig_ctl("ultravisord.sock", "status");
		json_object *e = rig_find(st, "iopartds", name);
		bool h = e && !strcmp(jstr(e, "health"), "healthy");

		json_object_put(st);
		if (h == want)
			return;
		rig_sleep_ms(20);
	}
	ck_abort_msg("iopartd %s never became %s", name, want ? "healthy" : "dead");
}

/* A fake iopartd (this program, "--name X") in slot i, registered once this returns. */
static inline void rig_iopartd(int i, const char *name)
{
	char *argv[] = {R.self, "--name", (char *)name, NULL};
	char log[32];

	snprintf(R.iop_name[i], sizeof(R.iop_name[i]), "%s", name);
	snprintf(log, sizeof(log), "iopartd-%s.log", name);
	R.iop[i] = rig_spawn(argv, log, false);
	rig_wait_iop(name, true);
}

/* The fake uvmm's record of pid (its command line, its fds...); the caller puts it. */
static inline json_object *rig_uvmm_record(const char *name, pid_t pid)
{
	char path[256];
	json_object *o;

	snprintf(path, sizeof(path), "%s/partitions/%s/fake-%d.json", R.run, name, (int)pid);
	for (int i = 0; i < 250; i++) {
		o = json_object_from_file(path);
		if (o)
			return o;
		rig_sleep_ms(20);
	}
	ck_abort_msg("no record %s", path);
	return NULL;
}

/* How many fake uvmms ever started for name. */
static inline int rig_uvmm_count(const char *name)
{
	char path[256];
	struct dirent *e;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/partitions/%s", R.run, name);
	d = opendir(path);
	while (d && (e = readdir(d)))
		n += !strncmp(e->d_name, "fake-", 5) && strstr(e->d_name, ".json") &&
		     !strstr(e->d_name, ".tmp");
	if (d)
		closedir(d);
	return n;
}

/* Lines of a file under the test's directory that contain word (NULL: every line). */
static inline int rig_count_lines(const char *file, const char *word)
{
	char path[256], line[8192];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", R.dir, file);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		n += !word || strstr(line, word);
	if (f)
		fclose(f);
	return n;
}

/* ultravisord (pool), opsd, with iopartds the fakes a and b, then commandd. */
static inline void rig_start_suite(const char *pool, bool iopartds)
{
	rig_start_uvd(pool);
	rig_start_opsd();
	if (iopartds) {
		rig_iopartd(0, "a");
		rig_iopartd(1, "b");
	}
	rig_start_cmdd(NULL);
}

/*
 * Polls a control socket's status every 10 ms until ok(st, arg), for ms at
 * most; that status, which the caller puts.
 */
static inline json_object *rig_wait_ctl(const char *sockname,
					bool (*ok)(json_object *st, const void *arg),
					const void *arg, unsigned ms)
{
	for (unsigned i = 0; i < ms / 10; i++) {
		json_object *st = rig_ctl(sockname, "status");

		if (ok(st, arg))
			return st;
		json_object_put(st);
		rig_sleep_ms(10);
	}
	ck_abort_msg("%s: the status never became what was waited for", sockname);
	return NULL;
}

#include "commandd_fakes.h"

#endif
