// SPDX-License-Identifier: GPL-2.0
/*
 * iopartd --name against a fake ultravisord (this test, on a control socket
 * of its own): hello and its refusal (retried later, no READY=1 until
 * accepted), unknown ops, adopt_channel with missing or wrongly typed
 * fields and wrong fds answered with an error while the daemon goes on, a
 * good adoption served over vhost-user, the control connection ending
 * under a channel (iopartd reconnects and says hello again, the channel
 * keeps working), quiet retries while nobody listens, and SIGTERM.
 */
#include "chan_mem.h"
#include "iopartd_suite_rig.h"

static int accept_wait(int lfd, int ms)
{
	struct pollfd p = {.fd = lfd, .events = POLLIN};
	struct timeval tv = {5, 0};
	int fd;

	ck_assert_msg(poll(&p, 1, ms) == 1, "iopartd did not connect within %d ms", ms);
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static json_object *recv_one(int fd)
{
	int fds[CTL_MAX_FDS], nfds;
	json_object *m;

	ck_assert_msg(ctl_recv(fd, &m, fds, &nfds, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(nfds, 0);
	return m;
}

static void expect_eof(int fd)
{
	int fds[CTL_MAX_FDS], nfds;
	json_object *m = NULL;

	ck_assert_int_eq(ctl_recv(fd, &m, fds, &nfds, err, sizeof(err)), -EPIPE);
	ck_assert_ptr_null(m);
}

/* Takes iopartd's hello on fd and answers it, ok or refused. */
static void hello(int fd, bool ok)
{
	json_object *m = recv_one(fd), *r;

	ck_assert_str_eq(json_object_get_string(json_object_object_get(m, "op")), "hello");
	ck_assert_str_eq(json_object_get_string(json_object_object_get(m, "role")), "iopartd");
	ck_assert_str_eq(json_object_get_string(json_object_object_get(m, "name")), "x");
	r = ok ? ctl_reply_ok(m) : ctl_reply_err(m, "permission denied: test");
	ck_assert_int_eq(ctl_send(fd, r, NULL, 0), 0);
	json_object_put(r);
	json_object_put(m);
}

/* Sends a request (JSON text) with fds; returns the reply's error, "" when ok. */
static const char *ask(int fd, const char *json, const int *fds, int nfds)
{
	static char why[512];
	json_object *req = json_tokener_parse(json), *rep, *v;
	int64_t id;

	ck_assert_ptr_nonnull(req);
	id = json_object_get_int64(json_object_object_get(req, "id"));
	ck_assert_int_eq(ctl_send(fd, req, fds, nfds), 0);
	json_object_put(req);
	rep = recv_one(fd);
	ck_assert_int_eq(json_object_get_int64(json_object_object_get(rep, "id")), id);
	ck_assert(ctl_is_reply(rep));
	v = json_object_object_get(rep, "error");
	snprintf(why, sizeof(why), "%s",
		 json_object_get_boolean(json_object_object_get(rep, "ok"))
			 ? ""
			 : (v ? json_object_get_string(v) : "(no error)"));
	json_object_put(rep);
	return why;
}

#define ADOPT(extra)                                                                               \
	"{\"op\":\"adopt_channel\",\"id\":%d,\"channel\":5,\"partition\":\"p\",\"device\":2,"      \
	"\"epoch\":0,\"iopartd\":\"x\",\"spec\":{\"export\":\"vhost-user-rng\"}" extra "}"

static void refuse(int fd, const char *json, const int *fds, int nfds, const char *want)
{
	const char *why = ask(fd, json, fds, nfds);

	ck_assert_msg(strstr(why, want), "%s: '%s' does not say '%s'", json, why, want);
}

START_TEST(test_proto)
{
	char path[192], buf[1024];
	int lfd, c, nfd, sv[2], pfd[2], area, fds[2];
	struct vu_front f;

	snprintf(path, sizeof(path), "%s/fake.sock", dir);
	lfd = ctl_listen(path, err, sizeof(err));
	ck_assert_msg(lfd >= 0, "%s", err);
	iop_pid[0] = iop_start("x", path, &nfd);

	/* A refused hello: the connection ends, a new one comes a second later. */
	c = accept_wait(lfd, 5000);
	hello(c, false);
	expect_eof(c);
	close(c);
	ck_assert(log_has("iopartd-x.log", "refused our hello: permission denied: test", 2000));
	ck_assert(!drig_notified(nfd, 0));
	c = accept_wait(lfd, 3000);
	hello(c, true);
	ck_assert_msg(drig_notified(nfd, 5000), "no READY=1 after the hello was accepted");

	refuse(c, "{\"op\":\"status\",\"id\":1}", NULL, 0, "unknown op 'status'");
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(pipe2(pfd, O_CLOEXEC), 0);
	area = chan_memfd_create("inflight", 4096, false);
	ck_assert_int_ge(area, 0);
	snprintf(buf, sizeof(buf), ADOPT(""), 2);
	refuse(c, buf, NULL, 0, "0 fds came, not 1");
	refuse(c, buf, pfd, 1, "fd[0] is not a socket");
	snprintf(buf, sizeof(buf), ADOPT(",\"inflight\":true"), 3);
	refuse(c, buf, &sv[1], 1, "1 fds came, not 2");
	fds[0] = sv[1];
	fds[1] = pfd[0];
	refuse(c, buf, fds, 2, "fd[1] is not a memfd or file");
	refuse(c, "{\"op\":\"adopt_channel\",\"id\":4,\"partition\":\"p\"}", &sv[1], 1,
	       "missing 'channel'");
	refuse(c,
	       "{\"op\":\"adopt_channel\",\"id\":5,\"channel\":1,\"partition\":7,\"device\":0,"
	       "\"epoch\":0}",
	       &sv[1], 1, "'partition' must be a string");
	refuse(c,
	       "{\"op\":\"adopt_channel\",\"id\":6,\"channel\":1,\"partition\":\"p\","
	       "\"device\":64,\"epoch\":0}",
	       &sv[1], 1, "device");
	snprintf(buf, sizeof(buf), ADOPT(",\"move\":\"yes\""), 7);
	refuse(c, buf, &sv[1], 1, "'move'");

	/* An event needs no answer; the next request's reply comes next. */
	ck_assert_int_eq(ctl_send_buf(c, "{\"op\":\"event\",\"event\":\"x\"}", 26, NULL, 0), 0);
	fds[1] = area;
	snprintf(buf, sizeof(buf), ADOPT(",\"move\":true,\"inflight\":true"), 8);
	ck_assert_str_eq(ask(c, buf, fds, 2), "");
	close(sv[1]);
	ck_assert(log_has("iopartd-x.log", "in-flight area of 4096 bytes", 0));
	vu_front_init(&f);
	vu_front_attach(&f, sv[0]);
	ck_assert_msg(vu_front_handshake(&f) == 0, "%s", f.err);

	/* The control connection ends: the channel goes on, iopartd comes back. */
	close(c);
	c = accept_wait(lfd, 3000);
	hello(c, true);
	ck_assert_msg(vu_front_set_features(&f, 1ull << VIRTIO_F_VERSION_1) == 0, "%s", f.err);
	ck_assert(log_has("iopartd-x.log", "1 channels keep running", 0));

	kill(iop_pid[0], SIGTERM);
	ck_assert_int_eq(waitpid(iop_pid[0], &nfd, 0), iop_pid[0]);
	iop_pid[0] = 0;
	ck_assert(WIFEXITED(nfd) && WEXITSTATUS(nfd) == 0);
	expect_eof(c);
	vu_front_close(&f);
	close(c);
	close(lfd);
	close(area);
	close(pfd[0]);
	close(pfd[1]);
}
END_TEST

/* Nobody listening: one report, then silence for 10 s; retries every 100 ms. */
START_TEST(test_quiet_retries)
{
	char path[192], log[192], line[512];
	unsigned reports = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/nobody.sock", dir);
	iop_pid[0] = iop_start("x", path, NULL);
	usleep(1500000);
	drig_kill(&iop_pid[0]);
	snprintf(log, sizeof(log), "%s/iopartd-x.log", dir);
	f = fopen(log, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		reports += strstr(line, "ultravisord:") != NULL;
	fclose(f);
	ck_assert_uint_eq(reports, 1);
}
END_TEST

int main(void)
{
	return uv_check_run(uv_suite("iopartd_suite_proto", rig_setup, rig_teardown, 40,
				     UV_TESTS(test_proto, test_quiet_retries)));
}
