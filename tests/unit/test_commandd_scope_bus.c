// SPDX-License-Identifier: GPL-2.0
/*
 * commandd's scope thread (commandd/scope.c) against a fake systemd: an
 * sd-bus server on a unix socket that DBUS_SYSTEM_BUS_ADDRESS names, with
 * the bus driver's Hello and AddMatch and the manager's StartTransientUnit,
 * ResetFailedUnit, AttachProcessesToUnit, a unit's ActiveState and the
 * JobRemoved signal, each as systemd 252 answers them. It records what it
 * was asked. Checked: a new start's monitor goes on only once the start
 * job has ended (not at the reply), the properties and PIDs sent, a failed
 * job being a warning; an adoption moving both processes, a failed scope of
 * the name reset and made again, a running one asked to attach and the
 * refusal a warning after the retries. tests/systemd does the same against
 * the real systemd.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <systemd/sd-bus.h>

#include "scope.h"
#include "scope_rig.h"
#include "uvcheck.h"

#define UNIT	  "uvmm-web1.scope"
#define MGR	  "org.freedesktop.systemd1.Manager"
#define REFUSAL	  "Process migration not available on non-delegated units."
#define CALLS_MAX 256

struct fake {
	char dir[64], sock[80], unit_path[128];
	int lfd;
	pthread_t thread;
	pthread_mutex_t lock;
	volatile bool stop;
	/* The script. */
	bool loaded;	   /* a unit of the name exists (UnitExists) */
	char state[16];	   /* and its ActiveState */
	unsigned delay_ms; /* JobRemoved this long after the reply */
	const char *result;
	/* What it was asked: S started, E exists, P ActiveState, R reset, A attach. */
	char calls[CALLS_MAX];
	unsigned ncalls;
	char name[64], slice[64], after[4][64];
	unsigned nafter;
	uint32_t pids[4];
	unsigned npids;
	int32_t kill_signal;
	int send_sigkill;
	uint64_t timeout;
	bool emitted; /* the JobRemoved was sent */
	/* The server's own. */
	char job[64];
	uint64_t due_us;
};

static struct fake fk;

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000;
}

static void call(char c)
{
	pthread_mutex_lock(&fk.lock);
	if (fk.ncalls < CALLS_MAX - 1)
		fk.calls[fk.ncalls++] = c;
	pthread_mutex_unlock(&fk.lock);
}

static int m_hello(sd_bus_message *m, void *u, sd_bus_error *e)
{
	(void)u;
	(void)e;
	return sd_bus_reply_method_return(m, "s", ":1.42");
}

static int m_nop(sd_bus_message *m, void *u, sd_bus_error *e)
{
	(void)u;
	(void)e;
	return sd_bus_reply_method_return(m, NULL);
}

/* One (sv) of StartTransientUnit's properties into the record. */
static int read_prop(sd_bus_message *m)
{
	const char *k, *v;
	int r;

	if ((r = sd_bus_message_read(m, "s", &k)) < 0)
		return r;
	if (!strcmp(k, "PIDs")) {
		const uint32_t *p;
		size_t n;

		if ((r = sd_bus_message_enter_container(m, 'v', "au")) < 0 ||
		    (r = sd_bus_message_read_array(m, 'u', (const void **)&p, &n)) < 0)
			return r;
		fk.npids = (unsigned)(n / sizeof(*p));
		memcpy(fk.pids, p, n < sizeof(fk.pids) ? n : sizeof(fk.pids));
		return sd_bus_message_exit_container(m);
	}
	if (!strcmp(k, "After")) {
		if ((r = sd_bus_message_enter_container(m, 'v', "as")) < 0 ||
		    (r = sd_bus_message_enter_container(m, 'a', "s")) < 0)
			return r;
		while ((r = sd_bus_message_read(m, "s", &v)) > 0)
			if (fk.nafter < 4)
				snprintf(fk.after[fk.nafter++], sizeof(fk.after[0]), "%s", v);
		if (r < 0 || (r = sd_bus_message_exit_container(m)) < 0)
			return r;
		return sd_bus_message_exit_container(m);
	}
	if (!strcmp(k, "Slice")) {
		if ((r = sd_bus_message_read(m, "v", "s", &v)) >= 0)
			snprintf(fk.slice, sizeof(fk.slice), "%s", v);
		return r;
	}
	if (!strcmp(k, "KillSignal"))
		return sd_bus_message_read(m, "v", "i", &fk.kill_signal);
	if (!strcmp(k, "SendSIGKILL"))
		return sd_bus_message_read(m, "v", "b", &fk.send_sigkill);
	if (!strcmp(k, "TimeoutStopUSec"))
		return sd_bus_message_read(m, "v", "t", &fk.timeout);
	return sd_bus_message_skip(m, "v");
}

static int m_start(sd_bus_message *m, void *u, sd_bus_error *e)
{
	const char *name, *mode;
	int r;

	(void)u;
	if ((r = sd_bus_message_read(m, "ss", &name, &mode)) < 0 ||
	    (r = sd_bus_message_enter_container(m, 'a', "(sv)")) < 0)
		return r;
	pthread_mutex_lock(&fk.lock);
	fk.npids = fk.nafter = 0;
	while ((r = sd_bus_message_enter_container(m, 'r', "sv")) > 0) {
		if ((r = read_prop(m)) < 0 || (r = sd_bus_message_exit_container(m)) < 0)
			break;
	}
	snprintf(fk.name, sizeof(fk.name), "%s", name);
	pthread_mutex_unlock(&fk.lock);
	if (r < 0)
		return r;
	if (fk.loaded) {
		call('E');
		return sd_bus_error_setf(e, "org.freedesktop.systemd1.UnitExists",
					 "Unit %s was already loaded or has a fragment file.",
					 name);
	}
	call('S');
	fk.loaded = true;
	snprintf(fk.state, sizeof(fk.state), "active");
	snprintf(fk.job, sizeof(fk.job), "/org/freedesktop/systemd1/job/%u", 100 + fk.ncalls);
	fk.due_us = mono_us() + fk.delay_ms * 1000ULL;
	return sd_bus_reply_method_return(m, "o", fk.job);
}

static int m_reset(sd_bus_message *m, void *u, sd_bus_error *e)
{
	(void)u;
	(void)e;
	call('R');
	if (fk.loaded && !strcmp(fk.state, "failed"))
		fk.loaded = false; /* gone once reset: nothing refers to it */
	return sd_bus_reply_method_return(m, NULL);
}

static int m_attach(sd_bus_message *m, void *u, sd_bus_error *e)
{
	(void)m;
	(void)u;
	call('A');
	/* systemd 252, bus_unit_method_attach_processes(): our scopes are not delegated. */
	return sd_bus_error_set(e, SD_BUS_ERROR_INVALID_ARGS, REFUSAL);
}

static int p_state(sd_bus *b, const char *path, const char *iface, const char *prop,
		   sd_bus_message *reply, void *u, sd_bus_error *e)
{
	(void)b;
	(void)path;
	(void)iface;
	(void)prop;
	(void)u;
	(void)e;
	call('P');
	return sd_bus_message_append(reply, "s", fk.loaded ? fk.state : "inactive");
}

static const sd_bus_vtable dbus_vt[] = {
	SD_BUS_VTABLE_START(0), SD_BUS_METHOD("Hello", "", "s", m_hello, 0),
	SD_BUS_METHOD("AddMatch", "s", "", m_nop, 0),
	SD_BUS_METHOD("RemoveMatch", "s", "", m_nop, 0), SD_BUS_VTABLE_END};
static const sd_bus_vtable mgr_vt[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_METHOD("StartTransientUnit", "ssa(sv)a(sa(sv))", "o", m_start, 0),
	SD_BUS_METHOD("ResetFailedUnit", "s", "", m_reset, 0),
	SD_BUS_METHOD("AttachProcessesToUnit", "ssau", "", m_attach, 0), SD_BUS_VTABLE_END};
static const sd_bus_vtable unit_vt[] = {SD_BUS_VTABLE_START(0),
					SD_BUS_PROPERTY("ActiveState", "s", p_state, 0, 0),
					SD_BUS_VTABLE_END};

/* The start job ends when due: JobRemoved(id, job, unit, result). */
static void job_end(sd_bus *b)
{
	sd_bus_message *m = NULL;

	if (!fk.due_us || mono_us() < fk.due_us)
		return;
	fk.due_us = 0;
	if (strcmp(fk.result, "done"))
		snprintf(fk.state, sizeof(fk.state), "failed");
	pthread_mutex_lock(&fk.lock);
	fk.emitted = true;
	pthread_mutex_unlock(&fk.lock);
	/*
	 * From a unique name, as the bus daemon would say: sd-bus matches a
	 * well-known sender (the client's match names org.freedesktop.systemd1)
	 * only against a unique one.
	 */
	if (sd_bus_message_new_signal(b, &m, "/org/freedesktop/systemd1", MGR, "JobRemoved") >= 0 &&
	    sd_bus_message_set_sender(m, ":1.1") >= 0 &&
	    sd_bus_message_append(m, "uoss", 7, fk.job, fk.name, fk.result) >= 0)
		sd_bus_send(b, m, NULL);
	sd_bus_message_unref(m);
}

/* One client connection (the scope thread's), until it goes. */
static void fake_serve(int fd)
{
	sd_bus *b = NULL;
	sd_id128_t id;

	if (sd_id128_randomize(&id) < 0 || sd_bus_new(&b) < 0 || sd_bus_set_fd(b, fd, fd) < 0 ||
	    sd_bus_set_server(b, 1, id) < 0 ||
	    sd_bus_add_object_vtable(b, NULL, "/org/freedesktop/DBus", "org.freedesktop.DBus",
				     dbus_vt, NULL) < 0 ||
	    sd_bus_add_object_vtable(b, NULL, "/org/freedesktop/systemd1", MGR, mgr_vt, NULL) < 0 ||
	    sd_bus_add_object_vtable(b, NULL, fk.unit_path, "org.freedesktop.systemd1.Unit",
				     unit_vt, NULL) < 0 ||
	    sd_bus_start(b) < 0) {
		sd_bus_unref(b);
		close(fd);
		return;
	}
	while (!fk.stop) {
		int r = sd_bus_process(b, NULL);

		if (r < 0)
			break; /* the client went */
		job_end(b);
		if (r == 0)
			sd_bus_wait(b, 10000);
	}
	sd_bus_flush_close_unref(b);
}

static void *fake_main(void *arg)
{
	(void)arg;
	while (!fk.stop) {
		struct pollfd p = {.fd = fk.lfd, .events = POLLIN};
		int fd;

		if (poll(&p, 1, 20) != 1)
			continue;
		if ((fd = accept4(fk.lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
			fake_serve(fd);
	}
	return NULL;
}

static void fake_start(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char *path = NULL, addr[160];

	memset(&fk, 0, sizeof(fk));
	pthread_mutex_init(&fk.lock, NULL);
	fk.result = "done";
	snprintf(fk.dir, sizeof(fk.dir), "/tmp/uv-scope-bus-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(fk.dir));
	snprintf(fk.sock, sizeof(fk.sock), "%s/bus", fk.dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fk.sock);
	ck_assert_int_eq(sd_bus_path_encode("/org/freedesktop/systemd1/unit", UNIT, &path), 0);
	snprintf(fk.unit_path, sizeof(fk.unit_path), "%s", path);
	free(path);
	fk.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fk.lfd, 0);
	ck_assert_int_eq(bind(fk.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fk.lfd, 4), 0);
	snprintf(addr, sizeof(addr), "unix:path=%s", fk.sock);
	setenv("DBUS_SYSTEM_BUS_ADDRESS", addr, 1);
	ck_assert_int_eq(pthread_create(&fk.thread, NULL, fake_main, NULL), 0);
}

static void fake_stop(void)
{
	fk.stop = true;
	pthread_join(fk.thread, NULL);
	close(fk.lfd);
	unlink(fk.sock);
	rmdir(fk.dir);
}

/* stderr into a file of its own (O_APPEND), read through another descriptor. */
static char logpath[64];
static int err_saved = -1;

static void log_capture(void)
{
	int fd;

	snprintf(logpath, sizeof(logpath), "/tmp/uv-scope-bus-log-XXXXXX");
	fd = mkstemp(logpath);
	ck_assert_int_ge(fd, 0);
	close(fd);
	fd = open(logpath, O_WRONLY | O_APPEND | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	err_saved = dup(2);
	ck_assert_int_eq(dup2(fd, 2), 2);
	close(fd);
}

static void log_release(void)
{
	dup2(err_saved, 2);
	close(err_saved);
	unlink(logpath);
}

/* The log so far, in buf. */
static void log_text(char *buf, size_t len)
{
	int fd = open(logpath, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? 0 : read(fd, buf, len - 1);

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = 0;
}

/* Until the log holds needle (30 s at most: the 2 s of retries, slow under load); its text in buf.
 */
static bool log_wait(const char *needle, char *buf, size_t len)
{
	for (int i = 0; i < 3000; i++) {
		log_text(buf, len);
		if (strstr(buf, needle))
			return true;
		usleep(10000);
	}
	return false;
}

/*
 * A new start: the monitor waits until the start job has ended, not only
 * until StartTransientUnit answered; what systemd was given.
 */
START_TEST(test_bus_new_start)
{
	struct cmd_scoper *s;
	struct cmd_opts o;
	char buf[8192];
	bool emitted;
	int g[2];

	fake_start();
	fk.delay_ms = 400;
	opts_init(&o);
	log_capture();
	s = cmd_scoper_new(&o);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(pipe2(g, O_CLOEXEC), 0);
	cmd_scoper_add(s, "web1", 4242, g[1]);
	ck_assert_int_eq(gate_wait(g[0], 10000), 1);
	pthread_mutex_lock(&fk.lock);
	emitted = fk.emitted;
	pthread_mutex_unlock(&fk.lock);
	ck_assert_msg(emitted, "the gate opened before the start job ended");
	ck_assert_str_eq(fk.calls, "S");
	ck_assert_str_eq(fk.name, UNIT);
	ck_assert_uint_eq(fk.npids, 1);
	ck_assert_uint_eq(fk.pids[0], 4242);
	ck_assert_str_eq(fk.slice, "ultravisor.slice");
	ck_assert_int_eq(fk.kill_signal, SIGPWR);
	ck_assert_int_eq(fk.send_sigkill, 1);
	ck_assert_uint_eq(fk.timeout, 60000000ULL);
	ck_assert_uint_eq(fk.nafter, 3);
	ck_assert_str_eq(fk.after[0], "ultravisord.service");
	ck_assert_str_eq(fk.after[2], "iopartd@b.service");
	/* And it was the job's end that let it go, not a time-out. */
	log_text(buf, sizeof(buf));
	ck_assert_msg(!strstr(buf, "warning"), "%s", buf);
	close(g[0]);
	cmd_scoper_free(s);
	log_release();
	fake_stop();
}
END_TEST

/* A start job that fails: a warning, and the monitor goes on. */
START_TEST(test_bus_job_failed)
{
	struct cmd_scoper *s;
	struct cmd_opts o;
	char buf[8192];
	int g[2];

	fake_start();
	fk.result = "failed";
	opts_init(&o);
	log_capture();
	s = cmd_scoper_new(&o);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(pipe2(g, O_CLOEXEC), 0);
	cmd_scoper_add(s, "web1", 4242, g[1]);
	ck_assert_int_eq(gate_wait(g[0], 10000), 1);
	ck_assert_msg(log_wait("partition web1: no scope " UNIT ": its start job: failed: its uvmm "
			       "stays in commandd's cgroup",
			       buf, sizeof(buf)),
		      "%s", buf);
	close(g[0]);
	cmd_scoper_free(s);
	log_release();
	fake_stop();
}
END_TEST

/* An adopted uvmm and monitor outside their scope: one StartTransientUnit, both pids. */
START_TEST(test_bus_adopt)
{
	struct cmd_scoper *s;
	struct cmd_opts o;
	char buf[8192], want[200];
	int ufd, mfd;
	pid_t uv, mon;

	fake_start();
	opts_init(&o);
	uv = child_start(true, &ufd);
	mon = child_start(true, &mfd);
	log_capture();
	s = cmd_scoper_new(&o);
	ck_assert_ptr_nonnull(s);
	cmd_scoper_adopt(s, "web1", uv, ufd, mon, mfd);
	snprintf(want, sizeof(want), "partition web1: uvmm %d and its monitor %d moved from /",
		 (int)uv, (int)mon);
	ck_assert_msg(log_wait(want, buf, sizeof(buf)), "no '%s' in: %s", want, buf);
	ck_assert_msg(strstr(buf, " into " UNIT " ("), "%s", buf);
	ck_assert_msg(!strstr(buf, "warning"), "%s", buf);
	ck_assert_str_eq(fk.calls, "S");
	ck_assert_str_eq(fk.name, UNIT);
	ck_assert_uint_eq(fk.npids, 2);
	ck_assert_uint_eq(fk.pids[0], (uint32_t)mon);
	ck_assert_uint_eq(fk.pids[1], (uint32_t)uv);
	ck_assert_int_eq(fk.kill_signal, SIGPWR);
	ck_assert_uint_eq(fk.nafter, 3);
	cmd_scoper_free(s);
	log_release();
	child_end(uv, ufd);
	child_end(mon, mfd);
	fake_stop();
}
END_TEST

/* A failed scope of the name (stopped by SIGKILL): reset, then made with them. */
START_TEST(test_bus_adopt_failed_scope)
{
	struct cmd_scoper *s;
	struct cmd_opts o;
	char buf[8192], want[200];
	int ufd;
	pid_t uv;

	fake_start();
	fk.loaded = true;
	snprintf(fk.state, sizeof(fk.state), "failed");
	opts_init(&o);
	uv = child_start(true, &ufd);
	log_capture();
	s = cmd_scoper_new(&o);
	ck_assert_ptr_nonnull(s);
	cmd_scoper_adopt(s, "web1", uv, ufd, 0, -1);
	snprintf(want, sizeof(want), "partition web1: uvmm %d moved from /", (int)uv);
	ck_assert_msg(log_wait(want, buf, sizeof(buf)), "no '%s' in: %s", want, buf);
	/* UnitExists, its state (not running), reset, started. */
	ck_assert_str_eq(fk.calls, "EPRS");
	ck_assert_uint_eq(fk.npids, 1);
	ck_assert_uint_eq(fk.pids[0], (uint32_t)uv);
	cmd_scoper_free(s);
	log_release();
	child_end(uv, ufd);
	fake_stop();
}
END_TEST

/*
 * A running scope of the name, someone else's: AttachProcessesToUnit is
 * refused (no delegation), tried until the scope might have gone (2 s), then
 * a warning with systemd's words; the processes stay where they are.
 */
START_TEST(test_bus_adopt_running_scope)
{
	struct cmd_scoper *s;
	struct cmd_opts o;
	char buf[8192], want[300];
	unsigned na = 0, ne = 0;
	int ufd, mfd;
	pid_t uv, mon;

	fake_start();
	fk.loaded = true;
	snprintf(fk.state, sizeof(fk.state), "active");
	opts_init(&o);
	uv = child_start(true, &ufd);
	mon = child_start(true, &mfd);
	log_capture();
	s = cmd_scoper_new(&o);
	ck_assert_ptr_nonnull(s);
	cmd_scoper_adopt(s, "web1", uv, ufd, mon, mfd);
	snprintf(want, sizeof(want),
		 "partition web1: uvmm %d and its monitor %d not moved into " UNIT
		 ": it exists and runs, and AttachProcessesToUnit: " REFUSAL ": it stays in /",
		 (int)uv, (int)mon);
	ck_assert_msg(log_wait(want, buf, sizeof(buf)), "no '%s' in: %s", want, buf);
	for (unsigned i = 0; i < fk.ncalls; i++) {
		na += fk.calls[i] == 'A';
		ne += fk.calls[i] == 'E';
	}
	ck_assert_msg(!strncmp(fk.calls, "EPAREPAR", 8), "calls %s", fk.calls);
	ck_assert_uint_eq(ne, 21);
	ck_assert_uint_eq(na, 20);
	ck_assert_int_eq(kill(uv, 0), 0);
	cmd_scoper_free(s);
	log_release();
	child_end(uv, ufd);
	child_end(mon, mfd);
	fake_stop();
}
END_TEST

int main(void)
{
	return uv_check_run(
		uv_suite("commandd_scope_bus", NULL, NULL, 60,
			 UV_TESTS(test_bus_new_start, test_bus_job_failed, test_bus_adopt,
				  test_bus_adopt_failed_scope, test_bus_adopt_running_scope)));
}
