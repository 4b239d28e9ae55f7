// SPDX-License-Identifier: GPL-2.0
/* The HTTP side of opsd: libevent's evhttp on our unix socket, JSON replies and bodies. */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/keyvalq_struct.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl_msg.h"
#include "field.h"
#include "log.h"
#include "opsd.h"
#include "unix_sock.h"

#define HTTP_HEADERS_MAX 16384
#define HTTP_ALL_METHODS                                                                           \
	(EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | \
	 EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH)

static const char *http_method_name(enum evhttp_cmd_type m)
{
	switch (m) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_OPTIONS:
		return "OPTIONS";
	case EVHTTP_REQ_TRACE:
		return "TRACE";
	case EVHTTP_REQ_CONNECT:
		return "CONNECT";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	}
	return "?";
}

static const char *http_reason(int code)
{
	switch (code) {
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 202:
		return "Accepted";
	case 204:
		return "No Content";
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 413:
		return "Payload Too Large";
	case 500:
		return "Internal Server Error";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	}
	return NULL;
}

void opsd_reply(struct evhttp_request *req, int code, json_object *body)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(req);

	pr_debug("%s %s: %d", http_method_name(evhttp_request_get_command(req)),
		 evhttp_request_get_uri(req), code);
	if (body) {
		const char *text = json_object_to_json_string_ext(
			body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

		evbuffer_add_printf(out, "%s\n", text);
		json_object_put(body);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
				  "application/json");
	}
	evhttp_send_reply(req, code, http_reason(code), NULL);
}

static json_object *http_error_body(int code, const char *fmt, va_list ap)
{
	json_object *body = json_object_new_object(), *e = json_object_new_object();
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	json_object_object_add(e, "code", json_object_new_int(code));
	json_object_object_add(e, "message", json_object_new_string(msg));
	json_object_object_add(body, "error", e);
	return body;
}

void opsd_reply_error(struct evhttp_request *req, int code, const char *fmt, ...)
{
	json_object *body;
	va_list ap;

	va_start(ap, fmt);
	body = http_error_body(code, fmt, ap);
	va_end(ap);
	opsd_reply(req, code, body);
}

json_object *opsd_req_body(struct opsd_req *r)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
	size_t len = evbuffer_get_length(in);
	const char *buf;
	json_object *o;
	char err[256];

	if (!len) {
		opsd_reply_error(r->req, 400, "the body is empty: a JSON object is expected");
		return NULL;
	}
	if (len > OPSD_BODY_MAX) { /* evhttp refuses these first; kept for safety */
		opsd_reply_error(r->req, 413, "the body is larger than %d bytes", OPSD_BODY_MAX);
		return NULL;
	}
	buf = (const char *)evbuffer_pullup(in, -1);
	if (!buf) {
		opsd_reply_error(r->req, 500, "out of memory");
		return NULL;
	}
	o = opsd_json_parse(buf, len, err, sizeof(err));
	if (!o)
		opsd_reply_error(r->req, 400, "%s", err);
	return o;
}

bool opsd_req_may_change(struct opsd_req *r)
{
	if (opsd_auth_may_change(&r->d->auth, r->fd, &r->cred))
		return true;
	pr_info("refused %s %s from uid %u pid %d: not privileged", r->method_name, r->path,
		(unsigned)r->cred.uid, (int)r->cred.pid);
	opsd_reply_error(r->req, 403,
			 "uid %u may not change anything: only root, uid %u and group '%s' may",
			 (unsigned)r->cred.uid, (unsigned)r->d->auth.self, r->d->auth.group);
	return false;
}

/* After the change: a record that cannot be written is an error in the log, not a lost change. */
void opsd_req_audit(struct opsd_req *r, int status, const char *partition)
{
	struct opsd_audit_rec rec = {
		.cred = &r->cred,
		.method = r->method_name,
		.path = r->path,
		.partition = partition,
		.status = status,
	};
	char err[PATH_MAX + 64];

	if (opsd_audit_append(&r->d->audit, &rec, err, sizeof(err)))
		pr_err("audit record of %s %s lost: %s", r->method_name, r->path, err);
}

static void held_unlink(struct opsd_held *h)
{
	TAILQ_REMOVE(h->list, h, link);
	h->d->nheld--;
	if (h->timer)
		event_free(h->timer);
	if (h->closed)
		event_free(h->closed);
}

/* libevent is freeing the connection (and the request with it). */
static void held_conn_closed(struct evhttp_connection *conn, void *arg)
{
	struct opsd_held *h = arg;

	(void)conn;
	held_unlink(h);
	if (h->drop)
		h->drop(h);
	free(h);
}

/* The client hung up while we held its request: evhttp no longer reads, so we noticed. */
static void held_client_closed(evutil_socket_t fd, short what, void *arg)
{
	struct opsd_held *h = arg;
	struct evhttp_connection *conn = evhttp_request_get_connection(h->req);

	(void)what;
	/*
	 * A client that only shut down its sending side still waits for the answer.
	 * On a unix socket, a send of nothing fails (EPIPE) only once the peer has
	 * closed: then nobody reads any more. Otherwise the timeout ends the wait.
	 */
	if (!send(fd, "", 0, MSG_NOSIGNAL | MSG_DONTWAIT)) {
		event_free(h->closed);
		h->closed = NULL;
		return;
	}
	pr_debug("a client waiting on %s went away", evhttp_request_get_uri(h->req));
	evhttp_connection_set_closecb(conn, NULL, NULL);
	held_conn_closed(conn, h);
	evhttp_connection_free(conn);
}

static void held_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct opsd_held *h = arg;

	(void)fd;
	(void)what;
	h->expire(h);
}

struct opsd_held *opsd_held_new(struct opsd_req *r, struct opsd_held_list *list,
				const struct timeval *timeout, void (*expire)(struct opsd_held *),
				void (*drop)(struct opsd_held *), void *priv)
{
	struct opsd *d = r->d;
	struct opsd_held *h;

	if (d->nheld >= OPSD_HELD_MAX) {
		opsd_reply_error(r->req, 503, "too many requests waiting (%d): try again later",
				 OPSD_HELD_MAX);
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		goto nomem;
	*h = (struct opsd_held){
		.list = list, .d = d, .req = r->req, .expire = expire, .drop = drop, .priv = priv};
	h->timer = evtimer_new(d->base, held_timeout, h);
	if (!h->timer || evtimer_add(h->timer, timeout))
		goto nomem;
	/* Without EV_CLOSED (not epoll), a vanished client is noticed at the timeout. */
	if (event_base_get_features(d->base) & EV_FEATURE_EARLY_CLOSE) {
		h->closed = event_new(d->base, r->fd, EV_CLOSED, held_client_closed, h);
		if (!h->closed || event_add(h->closed, NULL))
			goto nomem;
	}
	TAILQ_INSERT_TAIL(list, h, link);
	d->nheld++;
	evhttp_connection_set_closecb(evhttp_request_get_connection(r->req), held_conn_closed, h);
	return h;
nomem:
	if (h) {
		if (h->timer)
			event_free(h->timer);
		if (h->closed)
			event_free(h->closed);
		free(h);
	}
	opsd_reply_error(r->req, 503, "out of memory");
	return NULL;
}

void opsd_held_reply(struct opsd_held *h, int code, json_object *body)
{
	struct evhttp_request *req = h->req;

	evhttp_connection_set_closecb(evhttp_request_get_connection(req), NULL, NULL);
	held_unlink(h);
	free(h);
	opsd_reply(req, code, body);
}

void opsd_held_reply_error(struct opsd_held *h, int code, const char *fmt, ...)
{
	json_object *body;
	va_list ap;

	va_start(ap, fmt);
	body = http_error_body(code, fmt, ap);
	va_end(ap);
	opsd_held_reply(h, code, body);
}

static void http_request(struct evhttp_request *req, void *arg)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	struct opsd_req r = {.d = arg, .req = req};
	const char *query;
	int ret;

	r.fd = bufferevent_getfd(evhttp_connection_get_bufferevent(conn));
	r.method = evhttp_request_get_command(req);
	r.method_name = http_method_name(r.method);
	r.path = uri ? evhttp_uri_get_path(uri) : NULL;
	if (!r.path)
		r.path = "";
	TAILQ_INIT(&r.params);
	ret = ctl_peer_cred(r.fd, &r.cred);
	if (ret) {
		opsd_reply_error(req, 500, "cannot tell who is asking: %s", strerror(-ret));
		return;
	}
	query = uri ? evhttp_uri_get_query(uri) : NULL;
	if (query && evhttp_parse_query_str(query, &r.params)) {
		opsd_reply_error(req, 400, "malformed query string");
		return;
	}
	opsd_api_dispatch(&r);
	evhttp_clear_headers(&r.params);
}

int opsd_http_start(struct opsd *d, char *err, size_t errlen)
{
	d->http = evhttp_new(d->base);
	if (!d->http) {
		snprintf(err, errlen, "cannot create the HTTP server");
		return -ENOMEM;
	}
	evhttp_set_max_body_size(d->http, OPSD_BODY_MAX);
	/* Read (and drop) an oversized body before the 413: a client still sending it
	 * when the connection closed would see a reset instead of the answer. */
	evhttp_set_flags(d->http, EVHTTP_SERVER_LINGERING_CLOSE);
	evhttp_set_max_headers_size(d->http, HTTP_HEADERS_MAX);
	evhttp_set_timeout(d->http, OPSD_CONN_TIMEOUT);
	/* Every method reaches us, so that a wrong one gets a JSON 405. */
	evhttp_set_allowed_methods(d->http, HTTP_ALL_METHODS);
	evhttp_set_default_content_type(d->http, "application/json");
	evhttp_set_gencb(d->http, http_request, d);
	d->listen_fd = unix_listen(d->sock_path, 128, err, errlen);
	if (d->listen_fd < 0)
		return -EADDRINUSE;
	/* Reads are open to whoever can reach the directory; changes are checked per request. */
	if (chmod(d->sock_path, 0666)) {
		snprintf(err, errlen, "%s: chmod: %s", d->sock_path, strerror(errno));
		goto fail;
	}
	if (!evhttp_accept_socket_with_handle(d->http, d->listen_fd)) {
		snprintf(err, errlen, "%s: cannot serve HTTP on it", d->sock_path);
		goto fail;
	}
	d->listen_fd = -1; /* evhttp's now: closed by evhttp_free */
	d->listening = true;
	return 0;
fail:
	close(d->listen_fd);
	d->listen_fd = -1;
	unlink(d->sock_path);
	return -EIO;
}

/* Held requests are dropped with their connections (their closecb runs). */
void opsd_http_stop(struct opsd *d)
{
	if (!d->http)
		return;
	evhttp_free(d->http);
	d->http = NULL;
	/* Only our own socket: a failed start may have met another server's. */
	if (d->listening)
		unlink(d->sock_path);
	d->listening = false;
}
