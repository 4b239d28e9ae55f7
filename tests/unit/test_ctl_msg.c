// SPDX-License-Identifier: GPL-2.0
/* common/ctl_msg.h: the wire format, every refusal, ctl_call, the libevent server. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "ctl_msg.h"
#include "unix_sock.h"
#include "uvcheck.h"

static int sp[2];
static char err[512];
static char dir[64], path[128];

static void setup(void)
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp), 0);
	strcpy(dir, "/tmp/test_ctl_msg.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ctl.sock", dir);
	signal(SIGPIPE, SIG_IGN);
}

static void teardown(void)
{
	close(sp[0]);
	close(sp[1]);
	unlink(path);
	rmdir(dir);
}

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void send_raw(const char *s, size_t len, const int *fds, int nfds)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 16)] = {0};
	struct iovec iov = {.iov_base = (void *)s, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

	if (nfds) {
		struct cmsghdr *cm;

		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)nfds);
	}
	ck_assert_int_eq(sendmsg(sp[0], &mh, 0), (ssize_t)len);
}

/* Sends s raw with n fresh fds; expects a refusal naming why, and nothing leaked. */
static json_object *refused(const char *s, size_t len, int n, const char *why)
{
	int fds[16] = {0}, got[CTL_MAX_FDS], ngot = -1, before;
	json_object *m = NULL;

	for (int i = 0; i < n; i++)
		fds[i] = eventfd(0, EFD_CLOEXEC);
	send_raw(s, len, fds, n);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	before = open_fds();
	ck_assert_int_eq(ctl_recv(sp[1], &m, got, &ngot, err, sizeof(err)), -EBADMSG);
	ck_assert_msg(strstr(err, why), "'%s' does not say '%s'", err, why);
	ck_assert_int_eq(ngot, 0);
	ck_assert_int_eq(open_fds(), before); /* what came with it is closed */
	return m;
}

START_TEST(test_round_trip)
{
	int p[2], fds[CTL_MAX_FDS], n, out[2];
	json_object *m = json_object_new_object(), *r, *v;
	char buf[8];

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	json_object_object_add(m, "op", json_object_new_string("hello"));
	json_object_object_add(m, "id", json_object_new_int(7));
	json_object_object_add(m, "name", json_object_new_string("a"));
	out[0] = p[0];
	out[1] = p[1];
	ck_assert_int_eq(ctl_send(sp[0], m, out, 2), 0);
	close(p[0]);
	close(p[1]);
	ck_assert_int_eq(ctl_recv(sp[1], &r, fds, &n, err, sizeof(err)), 0);
	ck_assert(json_object_equal(m, r));
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(fcntl(fds[0], F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	/* The pipe still works through the received ends. */
	ck_assert_int_eq(write(fds[1], "hi", 2), 2);
	ck_assert_int_eq(read(fds[0], buf, sizeof(buf)), 2);
	ck_assert(json_object_object_get_ex(r, "name", &v));
	ck_assert_str_eq(json_object_get_string(v), "a");
	close(fds[0]);
	close(fds[1]);
	json_object_put(r);

	/* Without fds, and nothing more to read on a non-blocking socket. */
	ck_assert_int_eq(ctl_send(sp[0], m, NULL, 0), 0);
	ck_assert_int_eq(ctl_recv(sp[1], &r, fds, &n, err, sizeof(err)), 0);
	ck_assert_int_eq(n, 0);
	json_object_put(r);
	fcntl(sp[1], F_SETFL, O_NONBLOCK);
	ck_assert_int_eq(ctl_recv(sp[1], &r, fds, &n, err, sizeof(err)), -EAGAIN);
	json_object_put(m);
}
END_TEST

START_TEST(test_send_limits)
{
	json_object *m = ctl_request("big");
	char *s = malloc(CTL_MSG_MAX);
	int fds[CTL_MAX_FDS + 1] = {0};

	ck_assert_int_eq(ctl_send(sp[0], m, fds, CTL_MAX_FDS + 1), -EINVAL);
	ck_assert_int_eq(ctl_send(sp[0], m, fds, -1), -EINVAL);
	memset(s, 'x', CTL_MSG_MAX - 1);
	s[CTL_MSG_MAX - 1] = 0;
	json_object_object_add(m, "blob", json_object_new_string(s));
	ck_assert_int_eq(ctl_send(sp[0], m, NULL, 0), -EMSGSIZE);
	json_object_put(m);
	free(s);
	close(sp[1]);
	sp[1] = -1;
	m = ctl_request("x");
	ck_assert_int_eq(ctl_send(sp[0], m, NULL, 0), -EPIPE);
	json_object_put(m);
}
END_TEST

START_TEST(test_refusals)
{
	static const struct {
		const char *msg, *why;
	} bad[] = {
		{"hello", "not JSON"},
		{"{\"op\":\"x\"", "not JSON"}, /* short: cut off */
		{"{\"op\":\"x\"} {}", "trailing data"},
		{"[1,2]", "not a JSON object"},
		{"42", "not a JSON object"},
		{"\"op\"", "not a JSON object"},
		{"null", "not a JSON object"},
		{"{\"id\":1}", "no string \"op\""},
		{"{\"op\":1}", "no string \"op\""},
		{"{\"op\":null}", "no string \"op\""},
	};
	char deep[200];
	json_object *m, *v;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		m = refused(bad[i].msg, strlen(bad[i].msg), i % 3, bad[i].why);
		json_object_put(m);
	}
	/* A parsed object comes back, so the refusal can echo its id. */
	m = refused("{\"id\":9}", 8, 0, "op");
	ck_assert(json_object_object_get_ex(m, "id", &v));
	ck_assert_int_eq(json_object_get_int(v), 9);
	json_object_put(m);
	ck_assert_ptr_null(refused("{\"op\":\"a\0b\"}", 12, 1, "NUL byte"));
	memset(deep, '[', sizeof(deep));
	ck_assert_ptr_null(refused(deep, sizeof(deep), 0, "not JSON"));
	ck_assert_ptr_null(refused("", 0, 2, "empty message"));
}
END_TEST

START_TEST(test_oversized_and_too_many_fds)
{
	char *big = malloc(CTL_MSG_MAX + 100);
	json_object *m;
	int fds[CTL_MAX_FDS], n;

	memset(big, ' ', CTL_MSG_MAX + 100);
	memcpy(big, "{\"op\":\"x\"}", 10);
	ck_assert_ptr_null(refused(big, CTL_MSG_MAX + 100, 3, "over 65536 bytes"));
	/* Exactly the limit is fine. */
	send_raw(big, CTL_MSG_MAX, NULL, 0);
	ck_assert_int_eq(ctl_recv(sp[1], &m, fds, &n, err, sizeof(err)), 0);
	json_object_put(m);
	free(big);
	ck_assert_ptr_null(refused("{\"op\":\"x\"}", 10, CTL_MAX_FDS + 1, "more than 8 file"));
	/* The connection is still fine afterwards. */
	m = ctl_request("after");
	ck_assert_int_eq(ctl_send(sp[0], m, NULL, 0), 0);
	json_object_put(m);
	ck_assert_int_eq(ctl_recv(sp[1], &m, fds, &n, err, sizeof(err)), 0);
	json_object_put(m);
}
END_TEST

START_TEST(test_peer_close)
{
	json_object *m;
	int fds[CTL_MAX_FDS], n;

	close(sp[0]);
	sp[0] = -1;
	ck_assert_int_eq(ctl_recv(sp[1], &m, fds, &n, err, sizeof(err)), -EPIPE);
	ck_assert_ptr_null(m);
}
END_TEST

START_TEST(test_replies_and_fields)
{
	json_object *req, *r, *v;
	const char *s;
	int64_t i;
	bool b;

	req = json_tokener_parse("{\"op\":\"status\",\"id\":3,\"n\":5,\"s\":\"x\",\"b\":true,"
				 "\"big\":99999999999999999999}");
	r = ctl_reply_ok(req);
	ck_assert_str_eq(json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN),
			 "{\"op\":\"status\",\"id\":3,\"ok\":true}");
	ck_assert(ctl_is_reply(r));
	ck_assert(!ctl_is_reply(req));
	json_object_put(r);
	r = ctl_reply_err(req, "no %s", "way");
	ck_assert_str_eq(json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN),
			 "{\"op\":\"status\",\"id\":3,\"ok\":false,\"error\":\"no way\"}");
	json_object_put(r);
	r = ctl_reply_err(NULL, "bad");
	ck_assert(json_object_object_get_ex(r, "op", &v));
	ck_assert_str_eq(json_object_get_string(v), "error");
	ck_assert(!json_object_object_get_ex(r, "id", &v));
	json_object_put(r);

	ck_assert_int_eq(ctl_get_str(req, "s", &s, err, sizeof(err)), 0);
	ck_assert_str_eq(s, "x");
	ck_assert_int_eq(ctl_get_str(req, "n", &s, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "'n' must be a string");
	ck_assert_int_eq(ctl_get_str(req, "zz", &s, err, sizeof(err)), -ENOENT);
	ck_assert_str_eq(err, "missing 'zz'");
	ck_assert_int_eq(ctl_get_int(req, "n", 1, 10, &i, err, sizeof(err)), 0);
	ck_assert_int_eq(i, 5);
	ck_assert_int_eq(ctl_get_int(req, "n", 6, 10, &i, err, sizeof(err)), -ERANGE);
	ck_assert_int_eq(ctl_get_int(req, "big", 0, INT64_MAX, &i, err, sizeof(err)), -ERANGE);
	ck_assert_int_eq(ctl_get_int(req, "s", 0, 1, &i, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(ctl_get_bool(req, "b", &b, err, sizeof(err)), 0);
	ck_assert(b);
	ck_assert_int_eq(ctl_get_bool(req, "n", &b, err, sizeof(err)), -EINVAL);
	json_object_put(req);

	req = ctl_request("a");
	r = ctl_request("a");
	ck_assert(json_object_object_get_ex(req, "id", &v));
	i = json_object_get_int64(v);
	ck_assert(json_object_object_get_ex(r, "id", &v));
	ck_assert_int_gt(json_object_get_int64(v), i);
	json_object_put(req);
	json_object_put(r);
	r = ctl_event("iopartd_down");
	ck_assert_str_eq(json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN),
			 "{\"op\":\"event\",\"event\":\"iopartd_down\"}");
	json_object_put(r);
}
END_TEST

/* The peer of ctl_call: an event first, then the reply, with one fd. */
static void fake_server(int fd, int ok)
{
	int fds[CTL_MAX_FDS], n, p[2];
	json_object *m, *r, *e;

	if (ctl_recv(fd, &m, fds, &n, err, sizeof(err)) || n != 1)
		_exit(1);
	e = ctl_event("noise");
	ctl_send(fd, e, NULL, 0);
	r = ok ? ctl_reply_ok(m) : ctl_reply_err(m, "not today");
	if (pipe(p))
		_exit(1);
	ctl_send(fd, r, p, 1);
	_exit(0);
}

START_TEST(test_call)
{
	int fds[CTL_MAX_FDS], n, st;
	json_object *req, *r, *v;

	for (int ok = 1; ok >= 0; ok--) {
		pid_t pid = fork();

		if (!pid)
			fake_server(sp[1], ok);
		req = json_object_new_object();
		json_object_object_add(req, "op", json_object_new_string("partition_reserve"));
		fds[0] = 0; /* stdin goes along */
		n = 1;
		st = ctl_call(sp[0], req, &r, fds, &n, 5000, err, sizeof(err));
		ck_assert(json_object_object_get_ex(req, "id", &v)); /* one was added */
		if (ok) {
			ck_assert_msg(st == 0, "%s", err);
		} else {
			ck_assert_int_eq(st, -EREMOTEIO);
			ck_assert_str_eq(err, "not today");
		}
		ck_assert_ptr_nonnull(r);
		ck_assert_int_eq(n, 1);
		close(fds[0]);
		json_object_put(r);
		json_object_put(req);
		ck_assert_int_eq(waitpid(pid, &st, 0), pid);
		ck_assert_int_eq(st, 0);
	}
	/* Nobody answers. */
	req = ctl_request("status");
	ck_assert_int_eq(ctl_call(sp[0], req, &r, NULL, NULL, 100, err, sizeof(err)), -ETIMEDOUT);
	ck_assert_ptr_null(r);
	json_object_put(req);
	close(sp[1]);
	sp[1] = -1;
	req = ctl_request("status");
	ck_assert_int_lt(ctl_call(sp[0], req, &r, NULL, NULL, 100, err, sizeof(err)), 0);
	json_object_put(req);
}
END_TEST

/* The server side: a handler exercising fds in and out, queueing and closing. */
static int closes, want_closes, kept_fd = -1;
static struct event_base *base;

#define FLOOD 600

static int srv_msg(struct ctl_conn *c, json_object *msg, int *fds, int nfds, void *arg)
{
	const char *op = json_object_get_string(json_object_object_get(msg, "op"));
	json_object *r;

	(void)arg;
	if (!strcmp(op, "bye"))
		return -1;
	if (!strcmp(op, "keep") && nfds == 1) {
		kept_fd = fds[0];
		fds[0] = -1; /* ours now: the library must not close it */
		return ctl_conn_reply_ok(c, msg);
	}
	if (!strcmp(op, "flood")) {
		for (int i = 0; i < FLOOD; i++) {
			json_object *e = ctl_event("tick");

			json_object_object_add(e, "n", json_object_new_int(i));
			ck_assert_int_eq(ctl_conn_send(c, e, NULL, 0), 0);
			json_object_put(e);
		}
		return ctl_conn_reply_ok(c, msg);
	}
	if (strcmp(op, "echo"))
		return ctl_conn_reply_err(c, msg, "unknown op '%s'", op);
	r = ctl_reply_ok(msg);
	json_object_object_add(r, "uid", json_object_new_int((int)ctl_conn_cred(c)->uid));
	json_object_object_add(r, "pid", json_object_new_int((int)ctl_conn_cred(c)->pid));
	json_object_object_add(r, "privileged", json_object_new_boolean(ctl_conn_privileged(c)));
	ctl_conn_send(c, r, fds, nfds); /* the same fds go back */
	json_object_put(r);
	return 0;
}

static void srv_close(struct ctl_conn *c, void *arg)
{
	(void)c;
	(void)arg;
	if (++closes == want_closes)
		event_base_loopbreak(base);
}

static const struct ctl_ops srv_ops = {.on_msg = srv_msg, .on_close = srv_close};

#define STEP(cond)                                                                                 \
	do {                                                                                       \
		step++;                                                                            \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "client step %d: %s (%s)\n", step, #cond, err);            \
			_exit(step);                                                               \
		}                                                                                  \
	} while (0)

static json_object *op_req(const char *op)
{
	return ctl_request(op);
}

/* Everything a client can do to the server, in a child process. */
static void client(int fd)
{
	int fds[CTL_MAX_FDS], n, step = 0, p[2];
	json_object *r, *req, *v;

	STEP(fd >= 0);
	STEP(pipe2(p, O_CLOEXEC) == 0);
	req = op_req("echo");
	fds[0] = p[1];
	n = 1;
	STEP(ctl_call(fd, req, &r, fds, &n, 2000, err, sizeof(err)) == 0);
	STEP(n == 1 && write(fds[0], "z", 1) == 1 && read(p[0], err, 1) == 1 && err[0] == 'z');
	STEP(json_object_get_int(json_object_object_get(r, "pid")) == getpid());
	STEP(json_object_get_boolean(json_object_object_get(r, "privileged")));
	close(fds[0]);
	json_object_put(r);
	json_object_put(req);

	/* Malformed: an error reply, and the connection keeps serving. */
	STEP(send(fd, "garbage", 7, 0) == 7);
	STEP(ctl_recv(fd, &r, fds, &n, err, sizeof(err)) == 0);
	STEP(!json_object_get_boolean(json_object_object_get(r, "ok")));
	STEP(strstr(json_object_get_string(json_object_object_get(r, "error")), "not JSON"));
	json_object_put(r);
	STEP(send(fd, "{\"id\":5}", 8, 0) == 8);
	STEP(ctl_recv(fd, &r, fds, &n, err, sizeof(err)) == 0);
	STEP(json_object_object_get_ex(r, "id", &v) && json_object_get_int(v) == 5);
	json_object_put(r);
	req = op_req("nonsense");
	STEP(ctl_call(fd, req, &r, NULL, NULL, 2000, err, sizeof(err)) == -EREMOTEIO);
	STEP(!strcmp(err, "unknown op 'nonsense'"));
	json_object_put(r);
	json_object_put(req);

	/* An fd the handler keeps. */
	req = op_req("keep");
	fds[0] = p[1];
	n = 1;
	STEP(ctl_call(fd, req, &r, fds, &n, 2000, err, sizeof(err)) == 0);
	json_object_put(r);
	json_object_put(req);

	/* More than the socket holds: queued, delivered in order. */
	req = op_req("flood");
	STEP(ctl_send(fd, req, NULL, 0) == 0);
	usleep(300000);
	for (int i = 0; i < FLOOD; i++) {
		STEP(ctl_recv(fd, &r, fds, &n, err, sizeof(err)) == 0 && !ctl_is_reply(r));
		STEP(json_object_get_int(json_object_object_get(r, "n")) == i);
		json_object_put(r);
	}
	STEP(ctl_recv(fd, &r, fds, &n, err, sizeof(err)) == 0 && ctl_is_reply(r));
	json_object_put(r);
	json_object_put(req);

	/* A handler error ends the connection. */
	req = op_req("bye");
	STEP(ctl_send(fd, req, NULL, 0) == 0);
	STEP(ctl_recv(fd, &r, fds, &n, err, sizeof(err)) == -EPIPE);
	json_object_put(req);
	_exit(0);
}

static void wait_ok(pid_t pid)
{
	int st;

	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "client failed at step %d",
		      WEXITSTATUS(st));
}

START_TEST(test_server)
{
	struct ctl_server *s;
	pid_t a, b;

	base = event_base_new();
	s = ctl_server_new(base, path, &srv_ops, NULL, err, sizeof(err));
	ck_assert_msg(s, "%s", err);
	/* A live server is not replaced, neither by a control socket nor a stream one. */
	ck_assert_int_eq(ctl_listen(path, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "another server listens there"));
	ck_assert_int_eq(unix_listen(path, 1, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "another server listens there"));

	a = fork();
	if (!a)
		client(ctl_connect(path, err, sizeof(err)));
	/* One that connects and goes away without a word. */
	b = fork();
	if (!b)
		_exit(ctl_connect(path, err, sizeof(err)) < 0);
	want_closes = 3; /* the two, and the liveness probe of ctl_listen */
	ck_assert_int_eq(event_base_dispatch(base), 0);
	wait_ok(a);
	wait_ok(b);
	ck_assert_int_ge(fcntl(kept_fd, F_GETFD), 0);
	close(kept_fd);
	ctl_server_free(s);
	ck_assert_int_eq(access(path, F_OK), -1);
	event_base_free(base);
}
END_TEST

START_TEST(test_stale_socket_and_conn_new)
{
	struct ctl_server *s;
	struct ctl_conn *c;
	int fd = ctl_listen(path, err, sizeof(err));
	pid_t pid;

	ck_assert_int_ge(fd, 0);
	close(fd); /* as after kill -9: the file stays */
	ck_assert_int_eq(access(path, F_OK), 0);
	ck_assert_int_lt(ctl_connect(path, err, sizeof(err)), 0);
	base = event_base_new();
	s = ctl_server_new(base, path, &srv_ops, NULL, err, sizeof(err));
	ck_assert_msg(s, "stale socket not replaced: %s", err);

	/* A connection made elsewhere, served the same way. */
	c = ctl_conn_new(base, sp[1], &srv_ops, NULL);
	sp[1] = -1;
	ck_assert_ptr_nonnull(c);
	pid = fork();
	if (!pid) {
		json_object *req = ctl_request("echo"), *r;

		_exit(ctl_call(sp[0], req, &r, NULL, NULL, 2000, err, sizeof(err)) ? 1 : 0);
	}
	close(sp[0]);
	sp[0] = -1;
	closes = 0;
	want_closes = 1;
	ck_assert_int_eq(event_base_dispatch(base), 0);
	wait_ok(pid);
	ctl_server_free(s);
	event_base_free(base);
}
END_TEST

int main(void)
{
	Suite *s = uv_suite("ctl_msg", setup, teardown, 0,
			    UV_TESTS(test_round_trip, test_send_limits, test_refusals,
				     test_oversized_and_too_many_fds, test_peer_close,
				     test_replies_and_fields, test_call));

	uv_tcase(s, "server", setup, teardown, 20,
		 UV_TESTS(test_server, test_stale_socket_and_conn_new));
	return uv_check_run(s);
}
