// SPDX-License-Identifier: GPL-2.0
/*
 * ultravisord as a process: a private UV_RUNTIME_DIR and UV_STATE_DIR,
 * readiness through NOTIFY_SOCKET, then the control messages over its socket,
 * fake iopartds and uvmms included, and a clean SIGTERM.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl_msg.h"
#include "daemon.h"
#include "uvd_rig.h"

static void setup(void)
{
	uvd_rig_setup("test_uvd_run");
}

static void teardown(void)
{
	uvd_rig_teardown();
}

START_TEST(test_reserve_and_refusals)
{
	int fd, fds[CTL_MAX_FDS], n;
	json_object *rep, *h;
	struct stat sb;

	uvd_pid = uvd_spawn("256M", NULL);
	ck_assert_int_eq(access(pidfile, F_OK), 0);
	fd = conn();
	call_ok(fd, "{\"op\":\"hello\",\"role\":\"client\"}");
	fds[0] = reserve(fd, "g1", 128);
	ck_assert_int_eq(fstat(fds[0], &sb), 0);
	ck_assert_int_eq(sb.st_size, 128 << 20);
	close(fds[0]);

	call_refused(fd,
		     "{\"op\":\"partition_reserve\",\"name\":\"g2\",\"memory_mib\":129,\"cpus\":1}",
		     "admission refused: memory pool: 129 MiB asked, 128 MiB free of 256 MiB");
	call_refused(fd,
		     "{\"op\":\"partition_reserve\",\"name\":\"g1\",\"memory_mib\":16,\"cpus\":1}",
		     "partition 'g1' exists (reserved)");
	call_refused(fd,
		     "{\"op\":\"partition_reserve\",\"name\":\"g2\",\"memory_mib\":16,"
		     "\"cpus\":1000}",
		     "'cpus' must be in [1, 255]");
	call_refused(fd,
		     "{\"op\":\"partition_reserve\",\"name\":\"G/2\",\"memory_mib\":16,\"cpus\":1}",
		     "bad name");
	call_refused(fd,
		     "{\"op\":\"partition_reserve\",\"name\":\"g2\",\"memory_mib\":\"16\","
		     "\"cpus\":1}",
		     "'memory_mib' must be an integer");
	call_refused(fd, "{\"op\":\"partition_reserve\",\"memory_mib\":16,\"cpus\":1}",
		     "missing 'name'");
	call_refused(fd, "{\"op\":\"partition_release\",\"name\":\"nope\"}", "no partition 'nope'");
	call_refused(fd, "{\"op\":\"frobnicate\"}", "unknown op 'frobnicate'");
	call_refused(fd, "{\"op\":\"hello\",\"role\":\"king\"}", "unknown role 'king'");
	/* An fd where none belongs: refused, and closed. */
	fds[0] = 0;
	n = 1;
	ck_assert_int_eq(call_fds(fd, "{\"op\":\"status\"}", &rep, fds, &n), -EREMOTEIO);
	ck_assert_str_eq(err, "'status' takes no file descriptors");
	json_object_put(rep);
	/* Malformed messages: an error reply each, the daemon goes on. */
	ck_assert_int_eq(send(fd, "{nope", 5, 0), 5);
	rep = drig_recv(fd, NULL, NULL);
	ck_assert_ptr_nonnull(strstr(drig_str(rep, "error"), "not JSON"));
	json_object_put(rep);
	ck_assert_int_eq(send(fd, "[]", 2, 0), 2);
	rep = drig_recv(fd, NULL, NULL);
	ck_assert_str_eq(drig_str(rep, "error"), "message is not a JSON object");
	json_object_put(rep);
	{
		static char big[CTL_MSG_MAX + 10];

		memset(big, ' ', sizeof(big));
		big[0] = '{';
		big[sizeof(big) - 1] = '}';
		ck_assert_int_eq(send(fd, big, sizeof(big), 0), (ssize_t)sizeof(big));
		rep = drig_recv(fd, NULL, NULL);
		ck_assert_str_eq(drig_str(rep, "error"), "message over 65536 bytes");
		json_object_put(rep);
	}

	/* Release, then the pool is whole again. */
	call_ok(fd, "{\"op\":\"partition_release\",\"name\":\"g1\"}");
	ck_assert_int_eq(call(fd, "{\"op\":\"status\"}", &rep, NULL, NULL), 0);
	h = json_object_object_get(rep, "host");
	ck_assert_int_eq(drig_int(h, "pool_mib"), 256);
	ck_assert_int_eq(drig_int(h, "used_mib"), 0);
	ck_assert_int_eq(drig_int(h, "free_mib"), 256);
	ck_assert_int_eq(json_object_array_length(json_object_object_get(rep, "partitions")), 0);
	json_object_put(rep);
	close(fd);

	uvd_stop();
	ck_assert_int_eq(access(sock, F_OK), -1);
	ck_assert_int_eq(access(pidfile, F_OK), -1);
}
END_TEST

START_TEST(test_channels)
{
	int cl, sub, ia, ib, fe, be, fds[CTL_MAX_FDS], n, mfd, uvmm;
	json_object *rep, *ev;

	uvd_pid = uvd_spawn("1G", NULL);
	cl = conn();
	sub = conn();
	ck_assert_int_eq(call(sub, "{\"op\":\"subscribe\"}", &rep, NULL, NULL), 0);
	ck_assert_int_eq(json_object_array_length(json_object_object_get(rep, "events")), 5);
	json_object_put(rep);
	ia = fake_iopartd("a");
	ev = drig_recv(sub, NULL, NULL);
	ck_assert_str_eq(drig_str(ev, "event"), "iopartd_up");
	ck_assert_str_eq(drig_str(ev, "name"), "a");
	json_object_put(ev);
	call_refused(conn(), "{\"op\":\"hello\",\"role\":\"iopartd\",\"name\":\"a\"}",
		     "iopartd 'a' is already registered");

	close(reserve(cl, "p", 64));
	call_refused(cl,
		     "{\"op\":\"channel_create\",\"partition\":\"p\",\"device\":0,"
		     "\"iopartd\":\"zz\"}",
		     "iopartd 'zz' never registered");
	call_refused(cl,
		     "{\"op\":\"channel_create\",\"partition\":\"q\",\"device\":0,"
		     "\"iopartd\":\"a\"}",
		     "no partition 'q'");

	/* channel_create: the reply waits for the iopartd's answer. */
	send_only(cl, "{\"op\":\"channel_create\",\"id\":100,\"partition\":\"p\","
		      "\"device\":0,\"iopartd\":\"a\",\"spec\":{\"kind\":\"blk\"}}");
	be = drig_adopt(ia, "a", &n);
	ck_assert_int_eq(n, 1);
	rep = recv_ok(cl, fds, &n);
	ck_assert_int_eq(drig_int(rep, "id"), 100);
	ck_assert_int_eq(drig_int(rep, "channel"), 1);
	ck_assert_int_eq(n, 1);
	fe = fds[0];
	check_pair(fe, be);
	check_pair(be, fe);
	json_object_put(rep);
	call_refused(cl,
		     "{\"op\":\"channel_create\",\"partition\":\"p\",\"device\":0,"
		     "\"iopartd\":\"a\"}",
		     "use channel_move");

	/* The front end's in-flight area, kept by ultravisord. */
	mfd = memfd_create("inflight", MFD_CLOEXEC);
	ck_assert_int_eq(ftruncate(mfd, 4096), 0);
	n = 1;
	fds[0] = mfd;
	ck_assert_int_eq(call_fds(cl,
				  "{\"op\":\"channel_inflight\",\"partition\":\"p\",\"device\":0}",
				  &rep, fds, &n),
			 0);
	json_object_put(rep);
	close(mfd);

	/* The iopartd dies: subscribers hear it, with the channels it served. */
	ib = fake_iopartd("b");
	json_object_put(drig_recv(sub, NULL, NULL)); /* iopartd_up b */
	close(ia);
	close(be);
	ev = drig_recv(sub, NULL, NULL);
	ck_assert_str_eq(drig_str(ev, "event"), "iopartd_down");
	ck_assert_str_eq(drig_str(ev, "name"), "a");
	ck_assert_int_eq(json_object_get_int(json_object_array_get_idx(
				 json_object_object_get(ev, "channels"), 0)),
			 1);
	json_object_put(ev);
	call_refused(cl,
		     "{\"op\":\"channel_move\",\"partition\":\"p\",\"device\":0,"
		     "\"iopartd\":\"a\"}",
		     "iopartd 'a' is down");

	/* channel_move to b: a new pair, the in-flight area goes along. */
	send_only(cl, "{\"op\":\"channel_move\",\"id\":101,\"partition\":\"p\","
		      "\"device\":0,\"iopartd\":\"b\"}");
	be = drig_adopt(ib, "b", &n);
	ck_assert_int_eq(n, 2); /* the socket and the in-flight area */
	rep = recv_ok(cl, fds, &n);
	ck_assert_int_eq(drig_int(rep, "epoch"), 1);
	ck_assert_str_eq(drig_str(rep, "iopartd"), "b");
	ck_assert_int_eq(n, 1);
	close(fe);
	fe = fds[0];
	check_pair(fe, be);
	json_object_put(rep);

	/* An iopartd that refuses: the requester hears why, the channel stays. */
	send_only(cl, "{\"op\":\"channel_create\",\"id\":102,\"partition\":\"p\","
		      "\"device\":1,\"iopartd\":\"b\"}");
	{
		json_object *m = drig_recv(ib, NULL, NULL), *r = ctl_reply_err(m, "no such disk");

		ck_assert_int_eq(ctl_send(ib, r, NULL, 0), 0);
		json_object_put(r);
		json_object_put(m);
	}
	rep = drig_recv(cl, fds, &n);
	ck_assert_int_eq(n, 0);
	ck_assert_str_eq(drig_str(rep, "error"), "iopartd 'b' refused the channel: no such disk");
	json_object_put(rep);

	call_refused(cl,
		     "{\"op\":\"channel_create\",\"partition\":\"p\",\"device\":64,"
		     "\"iopartd\":\"b\"}",
		     "'device' must be in [0, 63]");
	call_refused(cl,
		     "{\"op\":\"channel_create\",\"partition\":\"p\",\"device\":1,"
		     "\"iopartd\":\"b\",\"spec\":[]}",
		     "'spec' must be an object");

	/*
	 * With the partition's uvmm connected, a move asked by somebody else
	 * (commandd failing over) hands the new front end to the uvmm.
	 */
	uvmm = conn();
	call_ok(uvmm, "{\"op\":\"hello\",\"role\":\"uvmm\",\"name\":\"p\"}");
	ck_assert_int_eq(call(uvmm, "{\"op\":\"partition_attach\",\"name\":\"p\"}", &rep, fds, &n),
			 0);
	ck_assert_int_eq(drig_int(rep, "pid"), getpid()); /* the peer's own, by default */
	ck_assert_int_eq(n, 1);
	close(fds[0]);
	json_object_put(rep);
	ia = fake_iopartd("a");			     /* a is back */
	json_object_put(drig_recv(sub, NULL, NULL)); /* iopartd_up a */
	send_only(cl, "{\"op\":\"channel_move\",\"id\":103,\"partition\":\"p\","
		      "\"device\":0,\"iopartd\":\"a\"}");
	close(be);
	be = drig_adopt(ia, "a", &n);
	rep = drig_recv(cl, fds, &n);
	ck_assert_str_eq(drig_str(rep, "frontend"), "uvmm");
	ck_assert_int_eq(n, 0);
	json_object_put(rep);
	ev = drig_recv(uvmm, fds, &n);
	ck_assert_str_eq(drig_str(ev, "op"), "channel_moved");
	ck_assert_int_eq(drig_int(ev, "epoch"), 2);
	ck_assert_int_eq(n, 1);
	close(fe);
	fe = fds[0];
	check_pair(fe, be);
	json_object_put(ev);

	ck_assert_int_eq(call(cl, "{\"op\":\"status\"}", &rep, NULL, NULL), 0);
	ck_assert_int_eq(json_object_array_length(json_object_object_get(rep, "channels")), 1);
	ck_assert_int_eq(json_object_array_length(json_object_object_get(rep, "iopartds")), 2);
	json_object_put(rep);
	close(fe);
	close(be);
	close(ia);
	close(ib);
	close(uvmm);
	close(cl);
	close(sub);
	uvd_stop();
}
END_TEST

/* A stand-in uvmm (it waits to be killed) attached to partition vm by pid; *nfds: fds that came. */
static pid_t attach_standin(int cl, int *nfds)
{
	int fds[CTL_MAX_FDS];
	json_object *rep;
	char req[128];
	pid_t vm = fork();

	if (!vm) {
		pause();
		_exit(0);
	}
	snprintf(req, sizeof(req), "{\"op\":\"partition_attach\",\"name\":\"vm\",\"pid\":%d}",
		 (int)vm);
	ck_assert_int_eq(call(cl, req, &rep, fds, nfds), 0);
	for (int i = 0; i < *nfds; i++)
		close(fds[i]);
	json_object_put(rep);
	return vm;
}

START_TEST(test_attach_exit_restart)
{
	int cl, sub, n, st;
	json_object *rep, *ev, *parts;
	char bad[300];
	pid_t vm, second;

	uvd_pid = uvd_spawn("1G", NULL);
	/* A second one on the same directories is refused. */
	second = uvd_spawn("1G", &st);
	(void)second;
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status %#x", st);

	cl = conn();
	sub = conn();
	call_ok(sub, "{\"op\":\"subscribe\",\"events\":[\"partition_exit\"]}");
	call_refused(sub, "{\"op\":\"subscribe\",\"events\":[\"nope\"]}", "unknown event 'nope'");
	close(reserve(cl, "vm", 32));
	/* A stand-in uvmm: attached by pid, its exit seen through a pidfd. */
	vm = attach_standin(cl, &n);
	ck_assert_int_eq(n, 1); /* the memory again, for a uvmm started without it */
	call_refused(cl, "{\"op\":\"partition_release\",\"name\":\"vm\"}", "stop it first");
	kill(vm, SIGKILL);
	waitpid(vm, NULL, 0);
	ev = drig_recv(sub, NULL, NULL);
	ck_assert_str_eq(drig_str(ev, "event"), "partition_exit");
	ck_assert_str_eq(drig_str(ev, "name"), "vm");
	ck_assert_str_eq(drig_str(ev, "state"), "stopped");
	ck_assert_int_eq(drig_int(ev, "pid"), vm);
	json_object_put(ev);

	/* Attach again with a live one, then restart ultravisord under it. */
	vm = attach_standin(cl, &n);
	close(cl);
	close(sub);
	uvd_stop();
	ck_assert_int_eq(kill(vm, 0), 0); /* the guest outlives the daemon */

	uvd_pid = uvd_spawn("1G", NULL);
	cl = conn();
	ck_assert_int_eq(call(cl, "{\"op\":\"status\"}", &rep, NULL, NULL), 0);
	parts = json_object_object_get(rep, "partitions");
	ck_assert_int_eq(json_object_array_length(parts), 1);
	ck_assert_str_eq(drig_str(json_object_array_get_idx(parts, 0), "state"), "running");
	ck_assert_int_eq(drig_int(json_object_object_get(rep, "host"), "used_mib"), 32);
	json_object_put(rep);
	sub = conn();
	call_ok(sub, "{\"op\":\"subscribe\"}");
	kill(vm, SIGKILL);
	waitpid(vm, NULL, 0);
	ev = drig_recv(sub, NULL, NULL); /* still watched after the restart */
	ck_assert_str_eq(drig_str(ev, "event"), "partition_exit");
	json_object_put(ev);
	close(cl);
	close(sub);
	uvd_stop();

	/* A corrupt state file: kept aside, an empty start. */
	ck_assert_int_eq(uv_file_write_atomic(state_file, "{garbage", 8, 0600, err, sizeof(err)),
			 0);
	uvd_pid = uvd_spawn("1G", NULL);
	snprintf(bad, sizeof(bad), "%s.bad", state_file);
	ck_assert_int_eq(access(bad, F_OK), 0);
	cl = conn();
	ck_assert_int_eq(call(cl, "{\"op\":\"status\"}", &rep, NULL, NULL), 0);
	ck_assert_int_eq(json_object_array_length(json_object_object_get(rep, "partitions")), 0);
	json_object_put(rep);
	close(cl);
	uvd_stop();
}
END_TEST

/* A peer that is neither root nor ultravisord's uid may read, not change. */
START_TEST(test_unprivileged)
{
	pid_t pid;
	int st;

	uvd_pid = uvd_spawn("256M", NULL);
	/* Let everybody reach the socket, which the 0750 directory normally prevents. */
	ck_assert_int_eq(chmod(dir, 0755), 0);
	ck_assert_int_eq(chmod(run_dir, 0755), 0);
	ck_assert_int_eq(chmod(sock, 0666), 0);
	pid = fork();
	if (!pid) {
		json_object *rep;
		int fd;

		if (setgid(65534) || setuid(65534))
			_exit(10);
		fd = conn();
		if (call(fd, "{\"op\":\"status\"}", &rep, NULL, NULL))
			_exit(11);
		json_object_put(rep);
		if (call(fd,
			 "{\"op\":\"partition_reserve\",\"name\":\"x\",\"memory_mib\":16,"
			 "\"cpus\":1}",
			 &rep, NULL, NULL) != -EREMOTEIO ||
		    !strstr(err, "permission denied"))
			_exit(12);
		json_object_put(rep);
		if (call(fd, "{\"op\":\"hello\",\"role\":\"iopartd\",\"name\":\"a\"}", &rep, NULL,
			 NULL) != -EREMOTEIO ||
		    !strstr(err, "permission denied"))
			_exit(13);
		json_object_put(rep);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "unprivileged client: step %d",
		      WEXITSTATUS(st));
	uvd_stop();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ultravisord_run");
	TCase *tc = uv_tcase(
		s, "run", setup, teardown, 40,
		UV_TESTS(test_reserve_and_refusals, test_channels, test_attach_exit_restart));

	if (geteuid() == 0) /* the unprivileged peer is made with setuid */
		tcase_add_test(tc, test_unprivileged);
	return uv_check_run(s);
}
