// SPDX-License-Identifier: GPL-2.0
/*
 * commandd's connections to opsd (common/uvhttp.c's uvhttp_conn, used by
 * commandd/opsc.c): requests reuse one kept-alive connection; a connection
 * the server closed (restart, a request dropped unanswered, a reset) is
 * replaced without an error; a stop cancels a request opsd holds; opsd
 * itself keeps connections open across every kind of answer and a restarted
 * opsd is reached again; opsc's two threads use a connection each however
 * many reports they send, and go on through a restart without an error.
 *
 * The stub server is libevent's evhttp on a unix socket in a thread of the
 * test, counting the connections it accepts (its bufferevent callback).
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <poll.h>
#include <pthread.h>

#include "commandd.h"
#include "commandd_rig.h"
#include "loop_thread.h"
#include "unix_sock.h"

struct held;

struct stub {
	struct event_base *base;
	struct held *held; /* requests not answered yet */
	struct evhttp *http;
	struct loop_thread t;
	int accepts, puts; /* atomics: the stub's thread counts, the test reads */
	int drop_next;	   /* the next request: its connection closed, unanswered */
	unsigned hold_ms;  /* a long poll (?wait=) or /hold is answered after this */
};

struct held {
	struct held *next;
	struct stub *s;
	struct evhttp_request *req;
	struct event *timer;
};

static char dir[64], sock[128];

static void stub_setup(void)
{
	uv_tmpdir(dir, sizeof(dir), "test_opsc");
	snprintf(sock, sizeof(sock), "%s/s.sock", dir);
	signal(SIGPIPE, SIG_IGN);
	ck_assert_int_eq(curl_global_init(CURL_GLOBAL_NOTHING), 0);
}

static void stub_teardown(void)
{
	uv_rmtree(dir);
}

static int load(const int *v)
{
	return __atomic_load_n(v, __ATOMIC_ACQUIRE);
}

static struct bufferevent *stub_bev(struct event_base *base, void *arg)
{
	struct stub *s = arg;

	__atomic_add_fetch(&s->accepts, 1, __ATOMIC_RELEASE);
	return bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
}

static void stub_reply(struct evhttp_request *req, int code, const char *body)
{
	evbuffer_add_printf(evhttp_request_get_output_buffer(req), "%s\n", body);
	evhttp_send_reply(req, code, code == 200 ? "OK" : "Not Found", NULL);
}

static void stub_list(struct evhttp_request *req)
{
	stub_reply(req, 200, "{\"generation\":1,\"partitions\":[]}");
}

static void stub_held_reply(evutil_socket_t fd, short what, void *arg)
{
	struct held *h = arg, **pp = &h->s->held;

	(void)fd;
	(void)what;
	stub_list(h->req);
	while (*pp != h)
		pp = &(*pp)->next;
	*pp = h->next;
	event_free(h->timer);
	free(h);
}

/* As opsd holds a long poll. */
static void stub_hold(struct stub *s, struct evhttp_request *req)
{
	struct timeval tv = {s->hold_ms / 1000, (s->hold_ms % 1000) * 1000};
	struct held *h = calloc(1, sizeof(*h));

	ck_assert_ptr_nonnull(h);
	h->req = req;
	h->s = s;
	h->next = s->held;
	s->held = h;
	h->timer = evtimer_new(s->base, stub_held_reply, h);
	ck_assert_int_eq(evtimer_add(h->timer, &tv), 0);
}

/* A server that died with the request: the connection closes, no answer. */
static void stub_drop(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	evhttp_connection_free(arg);
}

static void stub_request(struct evhttp_request *req, void *arg)
{
	struct stub *s = arg;
	const char *uri = evhttp_request_get_uri(req);
	struct timeval now = {0, 0};

	if (__atomic_exchange_n(&s->drop_next, 0, __ATOMIC_ACQ_REL)) {
		ck_assert_int_eq(event_base_once(s->base, -1, EV_TIMEOUT, stub_drop,
						 evhttp_request_get_connection(req), &now),
				 0);
		return;
	}
	if (evhttp_request_get_command(req) == EVHTTP_REQ_PUT)
		__atomic_add_fetch(&s->puts, 1, __ATOMIC_RELEASE);
	if (strstr(uri, "wait=") || !strcmp(uri, "/hold"))
		stub_hold(s, req);
	else if (!strncmp(uri, "/v1/partitions", 14) &&
		 evhttp_request_get_command(req) == EVHTTP_REQ_GET)
		stub_list(req);
	else if (!strcmp(uri, "/missing"))
		stub_reply(req, 404, "{\"error\":{\"code\":404,\"message\":\"no such thing\"}}");
	else
		stub_reply(req, 200, "{}");
}

/*
 * Serves sock. The socket is bound under another name and renamed over
 * sock: a stub started while another serves sock replaces it with no moment
 * where nobody listens, as a restarted opsd looks to a client that was idle.
 */
static void stub_start(struct stub *s, unsigned hold_ms)
{
	char tmp[160], err[256];
	int fd;

	memset(s, 0, sizeof(*s));
	s->hold_ms = hold_ms;
	snprintf(tmp, sizeof(tmp), "%s.new", sock);
	s->base = event_base_new();
	s->http = evhttp_new(s->base);
	ck_assert(s->base && s->http);
	evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_PUT | EVHTTP_REQ_POST);
	evhttp_set_bevcb(s->http, stub_bev, s);
	evhttp_set_gencb(s->http, stub_request, s);
	fd = unix_listen(tmp, 16, err, sizeof(err));
	ck_assert_msg(fd >= 0, "%s", err);
	ck_assert_ptr_nonnull(evhttp_accept_socket_with_handle(s->http, fd));
	ck_assert_int_eq(rename(tmp, sock), 0);
	loop_thread_start(&s->t, s->base);
}

/* Its connections close (clients see EOF); sock stays, served by a newer stub or none. */
static void stub_stop(struct stub *s)
{
	loop_thread_stop(&s->t);
	evhttp_free(s->http); /* and the held requests */
	while (s->held) {
		struct held *h = s->held;

		s->held = h->next;
		event_free(h->timer);
		free(h);
	}
	event_base_free(s->base);
}

static long req_ok(struct uvhttp_conn *h, const char *method, const char *path, const char *body)
{
	struct uvhttp_reply r;
	char err[512] = "";
	long status;

	ck_assert_msg(!uvhttp_conn_request(h, method, path, body, NULL, &r, err, sizeof(err)),
		      "%s %s: %s", method, path, err);
	status = r.status;
	uvhttp_reply_fini(&r);
	return status;
}

START_TEST(test_reuse)
{
	struct uvhttp_conn *h;
	struct uvhttp_reply r;
	struct stub s;
	char err[512];

	stub_start(&s, 100);
	h = uvhttp_conn_new(sock, "stub");
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
	ck_assert_int_eq(load(&s.puts), 5);
	ck_assert_int_eq(load(&s.accepts), 1);
	ck_assert_int_eq(uvhttp_conn_connects(h), 1);
	/* The options of one request do not leak into the next: a GET after a PUT is a GET. */
	ck_assert_int_eq(req_ok(h, "GET", "/v1/partitions/x", NULL), 200);
	ck_assert_int_eq(load(&s.puts), 5);
	uvhttp_conn_free(h);

	/* uvctl's one-shot requests: a connection each, as before. */
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(uvhttp_request(sock, "stub", "GET", "/v1/policy", NULL, NULL, &r,
						err, sizeof(err)),
				 0);
		ck_assert_int_eq(r.status, 200);
		uvhttp_reply_fini(&r);
	}
	ck_assert_int_eq(load(&s.accepts), 4);
	stub_stop(&s);
}
END_TEST

START_TEST(test_server_restart)
{
	struct uvhttp_conn *h = uvhttp_conn_new(sock, "stub");
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
	ck_assert_int_eq(load(&b.accepts), 1);
	ck_assert_int_eq(load(&b.puts), 1);
	ck_assert_int_eq(uvhttp_conn_connects(h), 2);

	/* Gone, with a moment where nobody listens: the ordinary error, then back. */
	stub_stop(&b);
	unlink(sock);
	ck_assert_int_eq(
		uvhttp_conn_request(h, "GET", "/v1/policy", NULL, NULL, &r, err, sizeof(err)),
		-ECONNREFUSED);
	ck_assert_msg(strstr(err, "cannot reach stub at"), "%s", err);
	stub_start(&a, 100);
	ck_assert_int_eq(req_ok(h, "GET", "/v1/policy", NULL), 200);
	ck_assert_int_eq(load(&a.accepts), 1);
	uvhttp_conn_free(h);
	stub_stop(&a);
}
END_TEST

/* The server closes the kept connection on the request's arrival: sent again on a new one. */
START_TEST(test_dropped_request)
{
	struct uvhttp_conn *h = uvhttp_conn_new(sock, "stub");
	struct stub s;

	stub_start(&s, 100);
	ck_assert_int_eq(req_ok(h, "GET", "/v1/policy", NULL), 200);
	__atomic_store_n(&s.drop_next, 1, __ATOMIC_RELEASE);
	ck_assert_int_eq(req_ok(h, "PUT", "/v1/partitions/x/actual", "{}"), 200);
	ck_assert_int_eq(load(&s.puts), 1);
	ck_assert_int_eq(load(&s.accepts), 2);
	ck_assert_int_eq(uvhttp_conn_connects(h), 2);
	ck_assert_int_eq(req_ok(h, "GET", "/v1/policy", NULL), 200);
	ck_assert_int_eq(load(&s.accepts), 2);
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

	while ((fd = accept(s->lfd, NULL, NULL)) >= 0 && !load(&s->stop)) {
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
	s->lfd = unix_listen(sock, 4, err, sizeof(err));
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
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%.100s", sock);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	pthread_join(s->t, NULL);
	close(fd);
	close(s->lfd);
	unlink(sock);
}

/* Sends GET /a, then method /b (which meets the death); b's result, and its error in err. */
static int raw_second(size_t cut, const char *method, char *err, size_t errlen, int *accepts)
{
	struct uvhttp_conn *h = uvhttp_conn_new(sock, "stub");
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
	return load(arg);
}

static void *cancel_later(void *arg)
{
	rig_sleep_ms(300);
	__atomic_store_n((int *)arg, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* commandd's stop: a request the server holds gives up within about a second. */
START_TEST(test_cancel)
{
	struct uvhttp_opts o = {
		.timeout_ms = 30000, .cancel = cancelled, .cancel_arg = &cancel_flag};
	struct uvhttp_conn *h = uvhttp_conn_new(sock, "stub");
	struct uvhttp_reply r;
	struct stub s;
	char err[512];
	pthread_t t;
	int64_t t0;

	stub_start(&s, 60000);
	ck_assert_int_eq(req_ok(h, "GET", "/v1/policy", NULL), 200);
	cancel_flag = 0;
	ck_assert_int_eq(pthread_create(&t, NULL, cancel_later, &cancel_flag), 0);
	t0 = rig_now_us();
	ck_assert_int_eq(uvhttp_conn_request(h, "GET", "/hold", NULL, &o, &r, err, sizeof(err)),
			 -ECANCELED);
	ck_assert_int_lt(rig_now_us() - t0, 2500000);
	ck_assert_str_eq(err, "request to stub cancelled");
	pthread_join(t, NULL);
	/* The connection went with the cancelled request; the handle goes on. */
	ck_assert_int_eq(req_ok(h, "GET", "/v1/policy", NULL), 200);
	ck_assert_int_eq(uvhttp_conn_connects(h), 2);
	uvhttp_conn_free(h);
	stub_stop(&s);
}
END_TEST

/* Server-side connections of opsd's socket now open (accepted sockets carry its path). */
static int opsd_conns(const char *path)
{
	FILE *f = fopen("/proc/net/unix", "r");
	char line[512], p[256];
	unsigned st;
	int n = 0;

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %*s %*s %*s %*s %x %*s %255s", &st, p) == 2 && st == 3 &&
		    !strcmp(p, path))
			n++;
	fclose(f);
	return n;
}

/* The real opsd keeps the connection across answers of every kind; a restarted one is reached. */
START_TEST(test_opsd)
{
	char path[192], body[512];
	struct uvhttp_conn *h;
	int fd;

	rig_setup();
	snprintf(body, sizeof(body), "%s/d.img", R.dir);
	fd = open(body, O_WRONLY | O_CREAT, 0644);
	ck_assert_int_ge(fd, 0);
	close(fd);
	rig_start_opsd();
	snprintf(path, sizeof(path), "%s/opsd.sock", R.run);
	h = uvhttp_conn_new(path, "opsd");
	ck_assert_int_eq(req_ok(h, "GET", "/v1/partitions", NULL), 200);
	ck_assert_int_eq(opsd_conns(path), 1);
	snprintf(body, sizeof(body),
		 "{\"name\":\"k1\",\"cpus\":1,\"memory_mib\":64,\"disks\":[{\"path\":\"%s/"
		 "d.img\"}]}",
		 R.dir);
	ck_assert_int_eq(req_ok(h, "POST", "/v1/partitions", body), 201);
	/* The generation moved on: the long poll answers at once. */
	ck_assert_int_eq(req_ok(h, "GET", "/v1/partitions?wait=0", NULL), 200);
	ck_assert_int_eq(req_ok(h, "PUT", "/v1/partitions/k1/actual", "{\"state\":\"stopped\"}"),
			 200);
	ck_assert_int_eq(req_ok(h, "POST", "/v1/partitions/k1/start", NULL), 202);
	ck_assert_int_eq(req_ok(h, "GET", "/v1/policy", NULL), 200);
	/* Refusals too: 404, 400 (bad JSON), 405, 409. */
	ck_assert_int_eq(req_ok(h, "GET", "/v1/partitions/nope", NULL), 404);
	ck_assert_int_eq(req_ok(h, "PUT", "/v1/partitions/k1/actual", "{\"state\":"), 400);
	ck_assert_int_eq(req_ok(h, "PUT", "/v1/policy/x", NULL), 404);
	ck_assert_int_eq(req_ok(h, "POST", "/v1/partitions", body), 409);
	ck_assert_int_eq(req_ok(h, "GET", "/v1/partitions/k1", NULL), 200);
	ck_assert_int_eq(uvhttp_conn_connects(h), 1);
	ck_assert_int_eq(opsd_conns(path), 1);

	/* kill -9 and a new opsd while the client is idle: reached again, no error. */
	rig_kill(&R.opsd);
	rig_start_opsd();
	ck_assert_int_eq(req_ok(h, "GET", "/v1/partitions/k1", NULL), 200);
	ck_assert_int_eq(req_ok(h, "PUT", "/v1/partitions/k1/actual", "{\"state\":\"running\"}"),
			 200);
	ck_assert_int_eq(uvhttp_conn_connects(h), 2);
	ck_assert_int_eq(opsd_conns(path), 1);
	uvhttp_conn_free(h);
	rig_teardown();
}
END_TEST

/* Runs the loop (opsc's results) until *v reaches want, for ms at most. */
static void loop_until(struct cmd *c, const int *v, int want, unsigned ms)
{
	for (unsigned i = 0; i < ms / 10 && load(v) < want; i++) {
		event_base_loop(c->base, EVLOOP_NONBLOCK);
		rig_sleep_ms(10);
	}
	event_base_loop(c->base, EVLOOP_NONBLOCK);
	ck_assert_int_ge(load(v), want);
}

static void reports(struct opsc *o, int from, int n)
{
	char name[16];

	for (int i = from; i < from + n; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		ck_assert_uint_gt(
			opsc_report(o, name, json_tokener_parse("{\"state\":\"running\"}")), 0);
	}
}

/*
 * commandd's client: two connections (the long poll's and the worker's)
 * however many requests; through a restart, no warning, two again; its stop
 * does not wait for the long poll opsd holds.
 */
START_TEST(test_opsc)
{
	struct cmd c = {0};
	char log[128], text[8192];
	struct stub a, b;
	struct opsc *o;
	int64_t t0;
	ssize_t n;
	int fd, saved;

	snprintf(log, sizeof(log), "%s/log", dir);
	fd = open(log, O_RDWR | O_CREAT | O_TRUNC, 0644);
	saved = dup(2);
	ck_assert(fd >= 0 && saved >= 0);
	dup2(fd, 2);
	c.base = event_base_new();
	stub_start(&a, 60000);
	o = opsc_new(&c, sock);
	ck_assert_ptr_nonnull(o);
	reports(o, 0, 50);
	loop_until(&c, &a.puts, 50, 10000);
	for (int i = 0; i < 5; i++)
		opsc_resync(o);
	rig_sleep_ms(300);
	event_base_loop(c.base, EVLOOP_NONBLOCK);
	ck_assert(c.opsd_up && c.have_desired);
	ck_assert_int_eq(load(&a.accepts), 2);

	/* opsd restarted: the long poll it held and the worker's idle connection die. */
	stub_start(&b, 60000);
	stub_stop(&a);
	reports(o, 50, 50);
	loop_until(&c, &b.puts, 50, 10000);
	loop_until(&c, &b.accepts, 2, 3000);
	rig_sleep_ms(300);
	event_base_loop(c.base, EVLOOP_NONBLOCK);
	ck_assert_int_eq(load(&b.accepts), 2);
	ck_assert(c.opsd_up);

	t0 = rig_now_us();
	opsc_free(o);
	ck_assert_int_lt(rig_now_us() - t0, 2500000);
	stub_stop(&b);
	event_base_free(c.base);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, text, sizeof(text) - 1, 0);
	close(fd);
	ck_assert_int_ge(n, 0);
	text[n] = 0;
	ck_assert_msg(!strstr(text, "report on") && !strstr(text, "cannot reach") &&
			      !strstr(text, "no answer"),
		      "warnings: %s", text);
}
END_TEST

int main(int argc, char **argv)
{
	Suite *s = suite_create("commandd_opsc");

	rig_dispatch(argc, argv);
	uv_tcase(s, "uvhttp", stub_setup, stub_teardown, 60,
		 UV_TESTS(test_reuse, test_server_restart, test_dropped_request, test_reset,
			  test_cut_reply, test_cancel, test_opsc));
	uv_tcase(s, "opsd", NULL, NULL, 60, UV_TESTS(test_opsd));
	return uv_check_run(s);
}
