/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UV_TEST_HTTP_STUB_H
#define UV_TEST_HTTP_STUB_H

/*
 * A stub of opsd for HTTP clients' tests: libevent's evhttp on a unix
 * socket in a thread of the test, counting the connections it accepts (its
 * bufferevent callback) and the PUTs it answers. GET /v1/partitions answers
 * an empty list of generation 1, a long poll (?wait=) or /hold is answered
 * after hold_ms, /missing is a 404, anything else {}. drop_next: the next
 * request's connection is closed unanswered, as by a server that died.
 */
#include <curl/curl.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "loop_thread.h"
#include "unix_sock.h"
#include "uvcheck.h"
#include "uvhttp.h"

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

static char stub_dir[64], stub_sock[128];

static inline void stub_setup(void)
{
	uv_tmpdir(stub_dir, sizeof(stub_dir), "http_stub");
	snprintf(stub_sock, sizeof(stub_sock), "%s/s.sock", stub_dir);
	signal(SIGPIPE, SIG_IGN);
	ck_assert_int_eq(curl_global_init(CURL_GLOBAL_NOTHING), 0);
}

static inline void stub_teardown(void)
{
	uv_rmtree(stub_dir);
}

static inline int stub_load(const int *v)
{
	return __atomic_load_n(v, __ATOMIC_ACQUIRE);
}

static inline struct bufferevent *stub_bev(struct event_base *base, void *arg)
{
	struct stub *s = arg;

	__atomic_add_fetch(&s->accepts, 1, __ATOMIC_RELEASE);
	return bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
}

static inline void stub_reply(struct evhttp_request *req, int code, const char *body)
{
	evbuffer_add_printf(evhttp_request_get_output_buffer(req), "%s\n", body);
	evhttp_send_reply(req, code, code == 200 ? "OK" : "Not Found", NULL);
}

static inline void stub_list(struct evhttp_request *req)
{
	stub_reply(req, 200, "{\"generation\":1,\"partitions\":[]}");
}

static inline void stub_held_reply(evutil_socket_t fd, short what, void *arg)
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
static inline void stub_hold(struct stub *s, struct evhttp_request *req)
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
static inline void stub_drop(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	evhttp_connection_free(arg);
}

static inline void stub_request(struct evhttp_request *req, void *arg)
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
 * Serves stub_sock. The socket is bound under another name and renamed
 * over stub_sock: a stub started while another serves stub_sock replaces it
 * with no moment where nobody listens, as a restarted opsd looks to a client
 * that was idle.
 */
static inline void stub_start(struct stub *s, unsigned hold_ms)
{
	char tmp[160], err[256];
	int fd;

	memset(s, 0, sizeof(*s));
	s->hold_ms = hold_ms;
	snprintf(tmp, sizeof(tmp), "%s.new", stub_sock);
	s->base = event_base_new();
	s->http = evhttp_new(s->base);
	ck_assert(s->base && s->http);
	evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_PUT | EVHTTP_REQ_POST);
	evhttp_set_bevcb(s->http, stub_bev, s);
	evhttp_set_gencb(s->http, stub_request, s);
	fd = unix_listen(tmp, 16, err, sizeof(err));
	ck_assert_msg(fd >= 0, "%s", err);
	ck_assert_ptr_nonnull(evhttp_accept_socket_with_handle(s->http, fd));
	ck_assert_int_eq(rename(tmp, stub_sock), 0);
	loop_thread_start(&s->t, s->base);
}

/* Its connections close (clients see EOF); stub_sock stays, served by a newer stub or none. */
static inline void stub_stop(struct stub *s)
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

static inline long req_ok(struct uvhttp_conn *h, const char *method, const char *path,
			  const char *body)
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

static inline int64_t stub_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static inline void stub_sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

#endif
