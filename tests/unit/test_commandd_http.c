// SPDX-License-Identifier: GPL-2.0
/*
 * common/uvhttp.c's kept-alive connections (uvhttp_conn, commandd's way to
 * opsd): requests reuse one connection, uvctl's one-shot requests do not;
 * a connection the server closed (a restart, a request dropped unanswered,
 * a reset, an answer cut short) is replaced without an error, a POST is
 * not sent twice; a cancel (commandd's stop) ends a request the server
 * holds. The server is tests/unit/http_stub.h's, or for what evhttp cannot
 * play a plain blocking one here.
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "http_stub.h"

START_TEST(test_reuse)
{
	struct uvhttp_conn *h;
	struct uvhttp_reply r;
	struct stub s;
	char err[512];

	stub_start(&s, 100);
	h = uvhttp_conn_new(stub_sock, "stub");
	ck_assert_ptr_nonnull(h);
	ck_assert_int_eq(uvhttp_conn_connects(h), 0);
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(req_ok(h, "GET", "/v1/partitions", NULL), 200);
		ck_assert_int_eq(
			req_ok(h, "PUT", "/v1/partitions/x/actual", "{\"state\":\"running\"}"),
			200);
		ck_assert_int_eq(req_ok(h, "POST", "/v1/x", NULL), 200);
		ck_assert_int_eq(req_ok(h, "GET", "/missing", NULL), 404);
		/* A long poll answered later, on the same connection too. */
		ck_assert_int_eq(req_ok(h, "GET", "/v1/partitions?wait=1", NULL), 200);
	}
	ck_assert_int_eq(stub_load(&s.puts), 5);
	ck_assert_int_eq(stub_load(&s.accepts), 1);
	ck_assert_int_eq(uvhttp_conn_connects(h), 1);
	/* The options of one request do not leak into the next: a GET after a PUT is a GET. */
	ck_assert_int_eq(req_ok(h, "GET", "/v1/partitions/x", NULL), 200);
	ck_assert_int_eq(stub_load(&s.puts), 5);
	uvhttp_conn_free(h);

	/* uvctl's one-shot requests: a connection each, as before. */
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(uvhttp_request(stub_sock, "stub", "GET", "/v1/policy", NULL, NULL,
						&r, err, sizeof(err)),
				 0);
		ck_assert_int_eq(r.status, 200);
		uvhttp_reply_fini(&r);
	}
	ck_assert_int_eq(stub_load(&s.accepts), 4);
	stub_stop(&s);
}
END_TEST

START_TEST(test_server_restart)
{
	struct uvhttp_conn *h = uvhttp_conn_new(stub_sock, "stub");
	struct uvhttp_reply r;
	struct stub a, b;
	char err[512];

	stub_start(&a, 100);
	ck_assert_int_eq(req_ok(h, "GET", "/v1/policy", NULL), 200);
	/* Restarted while the client was idle: its kept connection is closed. */
	stub_start(&b, 100);
	stub_stop(&a);
	ck_assert_int_eq(req_ok(h, "PUT", "/v1/partitions/x/actual", "{}"), 200);
	ck_assert_int_eq(req_ok(h, "GET", "/v1/policy", NULL), 200);
	ck_assert_int_eq(stub_load(&b.accepts), 1);
	ck_assert_int_eq(stub_load(&b.puts), 1);
	ck_assert_int_eq(uvhttp_conn_connects(h), 2);

	/* Gone, with a moment where nobody listens: the ordinary error, then back. */
	stub_stop(&b);
	unlink(stub_sock);
	ck_assert_int_eq(
		uvhttp_conn_request(h, "GET", "/v1/policy", NULL, NULL, &r, err, sizeof(err)),
		-ECONNREFUSED);
	ck_assert_msg(strstr(err, "cannot reach stub at"), "%s", err);
	stub_start(&a, 100);
	ck_assert_int_eq(req_ok(h, "GET", "/v1/policy", NULL), 200);
	ck_assert_int_eq(stub_load(&a.accepts), 1);
	uvhttp_conn_free(h);
	stub_stop(&a);
}
END_TEST

/* The server closes the kept connection on the request's arrival: sent again on a new one. */
START_TEST(test_dropped_request)
{
	struct uvhttp_conn *h = uvhttp_conn_new(stub_sock, "stub");
	struct stub s;

	stub_start(&s, 100);
	ck_assert_int_eq(req_ok(h, "GET", "/v1/policy", NULL), 200);
	__atomic_store_n(&s.drop_next, 1, __ATOMIC_RELEASE);
	ck_assert_int_eq(req_ok(h, "PUT", "/v1/partitions/x/actual", "{}"), 200);
	ck_assert_int_eq(stub_load(&s.puts), 1);
	ck_assert_int_eq(stub_load(&s.accepts), 2);
	ck_assert_int_eq(uvhttp_conn_connects(h), 2);
	ck_assert_int_eq(req_ok(h, "GET", "/v1/policy", NULL), 200);
	ck_assert_int_eq(stub_load(&s.accepts), 2);
	uvhttp_conn_free(h);
	stub_stop(&s);
}
END_TEST

/*
 * A plain blocking server for what evhttp cannot play, as it reads every
 * request at once and answers whole: a death under the second request of
 * the first connection, either before reading it (the client sees a reset,
 * ECONNRESET) or halfway through the answer.
 */
struct raw {
	int lfd;
	int accepts, stop;
	size_t cut; /* the dying answer's bytes sent; 0: the request is not even read */
	pthread_t t;
};

static bool raw_read_request(int fd)
{
	char buf[4096];
	size_t len = 0;
	ssize_t n;

	while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0) {
		len += (size_t)n;
		buf[len] = 0;
		if (strstr(buf, "\r\n\r\n"))
			return true;
	}
	return false;
}

#define REPLY "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n{}\n"
#define CUT   (sizeof(REPLY) - 3) /* all but the body's last 2 bytes */

static void *raw_main(void *arg)
{
	static const char reply[] = REPLY;
	struct raw *s = arg;
	int fd;

	while ((fd = accept(s->lfd, NULL, NULL)) >= 0 && !stub_load(&s->stop)) {
		int conn = __atomic_add_fetch(&s->accepts, 1, __ATOMIC_ACQ_REL);
		struct pollfd p = {.fd = fd, .events = POLLIN};
		size_t len = sizeof(reply) - 1;

		for (int n = 0; poll(&p, 1, 10000) == 1; n++) {
			bool dies = conn == 1 && n == 1;

			if (dies && !s->cut)
				break; /* closed with the request unread */
			if (!raw_read_request(fd) || write(fd, reply, dies ? s->cut : len) < 0 ||
			    dies)
				break;
		}
		close(fd);
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

static void raw_start(struct raw *s, size_t cut)
{
	char err[256];

	*s = (struct raw){.cut = cut};
	s->lfd = unix_listen(stub_sock, 4, err, sizeof(err));
	ck_assert_msg(s->lfd >= 0, "%s", err);
	ck_assert_int_eq(fcntl(s->lfd, F_SETFL, 0), 0); /* this thread blocks in accept() */
	ck_assert_int_eq(pthread_create(&s->t, NULL, raw_main, s), 0);
}

/* Once the client closed its connections: a connection of our own wakes accept(). */
static void raw_stop(struct raw *s)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	__atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%.100s", stub_sock);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	pthread_join(s->t, NULL);
	close(fd);
	close(s->lfd);
	unlink(stub_sock);
}

/* Sends GET /a, then method /b (which meets the death); b's result, and its error in err. */
static int raw_second(size_t cut, const char *method, char *err, size_t errlen, int *accepts)
{
	struct uvhttp_conn *h = uvhttp_conn_new(stub_sock, "stub");
	struct uvhttp_reply r;
	struct raw s;
	int ret;

	raw_start(&s, cut);
	ck_assert_int_eq(req_ok(h, "GET", "/a", NULL), 200);
	ret = uvhttp_conn_request(h, method, "/b", !strcmp(method, "GET") ? NULL : "{}", NULL, &r,
				  err, errlen);
	if (!ret) {
		ck_assert_int_eq(r.status, 200);
		uvhttp_reply_fini(&r);
		ck_assert_int_eq(uvhttp_conn_connects(h), 2);
		/* And the new connection is kept. */
		ck_assert_int_eq(req_ok(h, "GET", "/c", NULL), 200);
		ck_assert_int_eq(uvhttp_conn_connects(h), 2);
	}
	uvhttp_conn_free(h);
	raw_stop(&s);
	*accepts = s.accepts;
	return ret;
}

/* Nothing came back (a reset): libcurl sends the request again itself, whatever its method. */
START_TEST(test_reset)
{
	char err[512] = "";
	int n;

	ck_assert_msg(!raw_second(0, "GET", err, sizeof(err), &n), "%s", err);
	ck_assert_int_eq(n, 2);
	ck_assert_msg(!raw_second(0, "PUT", err, sizeof(err), &n), "%s", err);
	ck_assert_int_eq(n, 2);
	ck_assert_msg(!raw_second(0, "POST", err, sizeof(err), &n), "%s", err);
	ck_assert_int_eq(n, 2);
}
END_TEST

/*
 * An answer cut short (its body shorter than its Content-Length): uvhttp's
 * own retry, for a method that may be repeated; a POST's error is returned.
 */
START_TEST(test_cut_reply)
{
	char err[512] = "";
	int n;

	ck_assert_msg(!raw_second(CUT, "GET", err, sizeof(err), &n), "%s", err);
	ck_assert_int_eq(n, 2);
	ck_assert_msg(!raw_second(CUT, "PUT", err, sizeof(err), &n), "%s", err);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(raw_second(CUT, "POST", err, sizeof(err), &n), -EPROTO);
	ck_assert_msg(strstr(err, "no answer from stub at"), "%s", err);
	ck_assert_int_eq(n, 1);
}
END_TEST

static int cancel_flag;

static bool cancelled(void *arg)
{
	return stub_load(arg);
}

static void *cancel_later(void *arg)
{
	stub_sleep_ms(300);
	__atomic_store_n((int *)arg, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* commandd's stop: a request the server holds gives up within about a second. */
START_TEST(test_cancel)
{
	struct uvhttp_opts o = {
		.timeout_ms = 30000, .cancel = cancelled, .cancel_arg = &cancel_flag};
	struct uvhttp_conn *h = uvhttp_conn_new(stub_sock, "stub");
	struct uvhttp_reply r;
	struct stub s;
	char err[512];
	pthread_t t;
	int64_t t0;

	stub_start(&s, 60000);
	ck_assert_int_eq(req_ok(h, "GET", "/v1/policy", NULL), 200);
	cancel_flag = 0;
	ck_assert_int_eq(pthread_create(&t, NULL, cancel_later, &cancel_flag), 0);
	t0 = stub_now_us();
	ck_assert_int_eq(uvhttp_conn_request(h, "GET", "/hold", NULL, &o, &r, err, sizeof(err)),
			 -ECANCELED);
	ck_assert_int_lt(stub_now_us() - t0, 2500000);
	ck_assert_str_eq(err, "request to stub cancelled");
	pthread_join(t, NULL);
	/* The connection went with the cancelled request; the handle goes on. */
	ck_assert_int_eq(req_ok(h, "GET", "/v1/policy", NULL), 200);
	ck_assert_int_eq(uvhttp_conn_connects(h), 2);
	uvhttp_conn_free(h);
	stub_stop(&s);
}
END_TEST

int main(void)
{
	return uv_check_run(uv_suite("commandd_http", stub_setup, stub_teardown, 60,
				     UV_TESTS(test_reuse, test_server_restart, test_dropped_request,
					      test_reset, test_cut_reply, test_cancel)));
}
