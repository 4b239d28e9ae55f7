// SPDX-License-Identifier: GPL-2.0
/*
 * uvmm's broker client against the real ultravisord (the binary built beside
 * this test, in private directories): commandd's reservation and channel, a
 * fake iopartd a and b, the broker attaching and handing over the in-flight
 * area, commandd's move pushed to the broker as channel_moved with the area
 * going to b, and an ultravisord restart the broker rides out.
 */
#include <check.h>

#include "daemon_rig.h"
#include "uvcheck.h"
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
#include "chan_mem.h"
#include "ctl_msg.h"

static char uvd_bin[PATH_MAX], dir[DRIG_DIR_LEN], run_dir[DRIG_SUB_LEN], state_dir[DRIG_SUB_LEN],
	sock[192];
static char err[512];
static pid_t uvd_pid;
static struct event_base *base;
static struct broker *br;
static int moved_calls = 0, moved_fd = -1;
static unsigned moved_dev;

/* ultravisord is built in ../ultravisor-daemon of this test's directory. */
static void find_uvd(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	ck_assert_int_gt(n, 0);
	exe[n] = 0;
	snprintf(uvd_bin, sizeof(uvd_bin), "%s/../ultravisor-daemon/ultravisord", dirname(exe));
	ck_assert_msg(access(uvd_bin, X_OK) == 0, "%s is not built (build ultravisord first)",
		      uvd_bin);
}

static void setup(void)
{
	find_uvd();
	drig_dirs("test_uvmm_uvd", dir, run_dir, state_dir);
	snprintf(sock, sizeof(sock), "%s/ultravisord.sock", run_dir);
	ck_assert_int_eq(evthread_use_pthreads(), 0);
	base = event_base_new();
}

static void teardown(void)
{
	broker_free(br);
	br = NULL;
	event_base_free(base);
	drig_kill(&uvd_pid);
	if (moved_fd >= 0)
		close(moved_fd);
	uv_rmtree(dir);
}

/* Starts ultravisord and waits for READY=1. */
static void uvd_spawn(void)
{
	char *argv[] = {uvd_bin, "--memory-pool", "1G", NULL};

	uvd_pid = drig_start(argv, dir, run_dir, state_dir, NULL);
}

static void uvd_stop(void)
{
	ck_assert_int_eq(kill(uvd_pid, SIGTERM), 0);
	ck_assert_int_eq(waitpid(uvd_pid, NULL, 0), uvd_pid);
	uvd_pid = 0;
}

static int conn(void)
{
	return drig_connect(sock, 5);
}

static json_object *call(int fd, const char *json, int *fds, int *nfds)
{
	json_object *req = json_tokener_parse(json), *rep = NULL;

	if (nfds)
		*nfds = 0; /* nothing sent along */
	ck_assert_msg(ctl_call(fd, req, &rep, fds, nfds, 5000, err, sizeof(err)) == 0, "%s: %s",
		      json, err);
	json_object_put(req);
	return rep;
}

static int fake_iopartd(const char *name)
{
	char hello[128];
	int fd = conn();

	snprintf(hello, sizeof(hello), "{\"op\":\"hello\",\"role\":\"iopartd\",\"name\":\"%s\"}",
		 name);
	json_object_put(call(fd, hello, NULL, NULL));
	return fd;
}

static void run_ms(int ms)
{
	for (int i = 0; i < ms; i += 2) {
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		usleep(2000);
	}
}

/* Runs the broker's loop until cond(); ms at most. */
static void run_until(bool (*cond)(void), int ms, const char *what)
{
	for (int i = 0; !cond(); i += 2) {
		ck_assert_msg(i < ms, "timed out waiting for %s", what);
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		usleep(2000);
	}
}

static bool attached(void)
{
	return broker_attached(br);
}

static bool got_moved(void)
{
	return moved_calls > 0;
}

/* What status says of partition web1 and of its channel: "state pid inflight". */
static void status_of(int cl, char *out, size_t len)
{
	json_object *rep = call(cl, "{\"op\":\"status\"}", NULL, NULL), *parts, *chans, *p, *c;

	parts = json_object_object_get(rep, "partitions");
	chans = json_object_object_get(rep, "channels");
	ck_assert_int_eq(json_object_array_length(parts), 1);
	ck_assert_int_eq(json_object_array_length(chans), 1);
	p = json_object_array_get_idx(parts, 0);
	c = json_object_array_get_idx(chans, 0);
	snprintf(out, len, "%s %d %s", drig_str(p, "state"),
		 json_object_get_int(json_object_object_get(p, "pid")),
		 json_object_get_boolean(json_object_object_get(c, "inflight")) ? "inflight"
										: "none");
	json_object_put(rep);
}

static void on_moved(void *ctx, unsigned device, int fd)
{
	(void)ctx;
	moved_calls++;
	moved_dev = device;
	moved_fd = fd;
}

static const struct broker_ops ops = {.channel_moved = on_moved};

static void check_pair(int a, int b)
{
	char buf[8];

	ck_assert_int_eq(write(a, "ping", 4), 4);
	ck_assert_int_eq(read(b, buf, sizeof(buf)), 4);
	ck_assert_int_eq(memcmp(buf, "ping", 4), 0);
}

/* Waits, running the broker, until status says want (ultravisord answers at once). */
static void status_until(int cl, const char *want)
{
	char got[128] = "";

	for (int i = 0; i < 200; i++) {
		run_ms(10);
		status_of(cl, got, sizeof(got));
		if (!strcmp(got, want))
			return;
	}
	ck_abort_msg("status says '%s', not '%s'", got, want);
}

START_TEST(attach_inflight_move_restart)
{
	struct broker_cfg cfg = {.path = sock, .partition = "web1", .pid = getpid()};
	int cl, ia, ib, fds[CTL_MAX_FDS], n, fe, be, area;
	char want[64];
	json_object *req, *rep;

	uvd_spawn();
	cl = conn();
	json_object_put(call(cl, "{\"op\":\"hello\",\"role\":\"commandd\"}", NULL, NULL));
	rep = call(cl,
		   "{\"op\":\"partition_reserve\",\"name\":\"web1\",\"memory_mib\":64,\"cpus\":1}",
		   fds, &n);
	ck_assert_int_eq(n, 1);
	close(fds[0]);
	json_object_put(rep);
	ia = fake_iopartd("a");
	ib = fake_iopartd("b");
	req = json_tokener_parse("{\"op\":\"channel_create\",\"id\":7,\"partition\":\"web1\","
				 "\"device\":3,\"iopartd\":\"a\"}");
	ck_assert_int_eq(ctl_send(cl, req, NULL, 0), 0);
	json_object_put(req);
	be = drig_adopt(ia, NULL, &n);
	rep = drig_recv(cl, fds, &n);
	ck_assert_int_eq(n, 1);
	fe = fds[0];
	check_pair(fe, be);
	json_object_put(rep);
	close(be);

	/* The uvmm starts with fe (not used here) and attaches. */
	br = broker_new(base, &cfg, &ops, NULL);
	run_until(attached, 3000, "partition_attach");
	snprintf(want, sizeof(want), "running %d none", (int)getpid());
	status_until(cl, want);
	area = chan_memfd_create("inflight", 4096, false);
	broker_set_inflight(br, 3, area);
	close(area);
	snprintf(want, sizeof(want), "running %d inflight", (int)getpid());
	status_until(cl, want);

	/* commandd fails the channel over to b: the area goes to b, the front end to us. */
	req = json_tokener_parse("{\"op\":\"channel_move\",\"id\":8,\"partition\":\"web1\","
				 "\"device\":3,\"iopartd\":\"b\"}");
	ck_assert_int_eq(ctl_send(cl, req, NULL, 0), 0);
	json_object_put(req);
	be = drig_adopt(ib, NULL, &n);
	ck_assert_int_eq(n, 2); /* the back end and our in-flight area */
	rep = drig_recv(cl, fds, &n);
	ck_assert_int_eq(n, 0);
	ck_assert_str_eq(drig_str(rep, "frontend"), "uvmm");
	json_object_put(rep);
	run_until(got_moved, 3000, "channel_moved");
	ck_assert_int_eq(moved_calls, 1);
	ck_assert_uint_eq(moved_dev, 3);
	check_pair(moved_fd, be);
	check_pair(be, moved_fd);
	close(be);

	/* ultravisord restarts: it forgot the area; the broker attaches again and resends it. */
	close(cl);
	close(ia);
	close(ib);
	uvd_stop();
	run_ms(300);
	ck_assert(!broker_attached(br));
	uvd_spawn();
	run_until(attached, 3000, "partition_attach after the restart");
	cl = conn();
	status_until(cl, want);
	close(cl);
	close(fe);
}
END_TEST

int main(void)
{
	return uv_check_run(uv_suite("uvmm_broker_uvd", setup, teardown, 40,
				     UV_TESTS(attach_inflight_move_restart)));
}
