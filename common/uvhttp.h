/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UV_UVHTTP_H
#define UV_UVHTTP_H

/*
 * One blocking HTTP/1.1 exchange with a JSON API on a unix stream socket
 * (opsd's), through libcurl: libevent 2.1's evhttp client cannot connect to
 * a unix socket (docs/uvctl.md). Used by uvctl and by commandd's opsd
 * threads. Safe from several threads at once once curl_global_init() ran.
 */

#include <stdbool.h>
#include <stddef.h>

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
 * The message of an error body {"error": {"message": "..."}}, or a generic
 * "PEER refused the request (HTTP N)".
 */
void uvhttp_reply_error(const struct uvhttp_reply *r, const char *peer, char *msg, size_t msglen);

#endif
