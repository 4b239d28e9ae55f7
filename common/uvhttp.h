/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UV_UVHTTP_H
#define UV_UVHTTP_H

/*
 * Blocking HTTP/1.1 exchanges with a JSON API on a unix stream socket
 * (opsd's), through libcurl: libevent 2.1's evhttp client cannot connect to
 * a unix socket (docs/uvctl.md). uvctl sends one request per connection
 * (uvhttp_request); commandd's opsd threads keep theirs (uvhttp_conn). Safe
 * from several threads at once once curl_global_init() ran.
 */

#include <stdbool.h>
#include <stddef.h>

struct uvhttp_conn;

struct uvhttp_reply {
	long status; /* HTTP status */
	char *body;  /* NUL-terminated, malloc'd; may be empty */
	size_t len;
};

struct uvhttp_opts {
	long timeout_ms; /* the whole exchange; 0: 60 s */
	/* Polled about once a second while waiting: true gives up (-ECANCELED). */
	bool (*cancel)(void *arg);
	void *cancel_arg;
};

/*
 * Sends method path (body: JSON text or NULL) over the unix socket sock, to
 * the service called peer in messages ("opsd"). Returns 0 with the reply (any
 * HTTP status; the caller frees it with uvhttp_reply_fini), or a negative
 * errno with the reason, naming peer and sock, in err:
 *   -ECONNREFUSED  nobody listens ("cannot reach opsd at SOCK: ...")
 *   -ETIMEDOUT     no complete answer in time
 *   -ECANCELED     o->cancel said so
 *   -EPROTO        anything else: not HTTP, a reply over 16 MiB, ...
 * The URL's host is only the Host header; proxies from the environment are
 * never used; no "Expect: 100-continue" round trip.
 */
int uvhttp_request(const char *sock, const char *peer, const char *method, const char *path,
		   const char *body, const struct uvhttp_opts *o, struct uvhttp_reply *r, char *err,
		   size_t errlen);
void uvhttp_reply_fini(struct uvhttp_reply *r);

/*
 * A kept-alive connection to the server at sock, for one thread at a time:
 * its requests reuse one HTTP/1.1 connection for as long as the server keeps
 * it open, and open a new one when it does not. A kept connection that turns
 * out dead when used (the server restarted or timed it out) costs no error:
 * libcurl drops one it sees closed before use, and sends a request again on
 * a fresh connection when the kept one answered nothing at all; uvhttp adds
 * one retry on a fresh connection after a send or receive error (a reset)
 * on a kept one, for GET, HEAD, PUT and DELETE only (a POST may have been
 * carried out). NULL: out of memory.
 */
struct uvhttp_conn *uvhttp_conn_new(const char *sock, const char *peer);
/* As uvhttp_request, on h's connection. */
int uvhttp_conn_request(struct uvhttp_conn *h, const char *method, const char *path,
			const char *body, const struct uvhttp_opts *o, struct uvhttp_reply *r,
			char *err, size_t errlen);
/* How many connections h has opened so far (1 while the first one lasts). */
unsigned long uvhttp_conn_connects(const struct uvhttp_conn *h);
/* Closes its connection. NULL is fine. */
void uvhttp_conn_free(struct uvhttp_conn *h);

/*
 * The message of an error body {"error": {"message": "..."}}, or a generic
 * "PEER refused the request (HTTP N)".
 */
void uvhttp_reply_error(const struct uvhttp_reply *r, const char *peer, char *msg, size_t msglen);

#endif
