/* SPDX-License-Identifier: GPL-2.0 */
#ifndef OPSD_H
#define OPSD_H

/*
 * opsd: the operations partition (docs/opsd.md). One event loop serves the
 * REST API of docs/control-plane.md over HTTP/1.1 on $UV_RUNTIME_DIR/opsd.sock.
 */

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "audit.h"
#include "auth.h"
#include "daemon.h"
#include "store.h"

#define OPSD_BODY_MAX	  65536
#define OPSD_WAIT_S	  30   /* longest long poll */
#define OPSD_STATUS_MS	  2000 /* longest wait for ultravisord's status */
#define OPSD_HELD_MAX	  256  /* requests held at once (long polls, status) */
#define OPSD_CONN_TIMEOUT 60   /* idle or slow connections, seconds */

struct opsd_held;
TAILQ_HEAD(opsd_held_list, opsd_held);

struct opsd {
	struct event_base *base;
	struct evhttp *http;
	struct uv_paths paths;
	char sock_path[PATH_MAX];
	char uvd_path[PATH_MAX]; /* ultravisord's control socket */
	int listen_fd;
	bool listening; /* sock_path is ours to remove */
	struct opsd_store store;
	struct opsd_audit audit;
	struct opsd_auth auth;
	struct opsd_held_list watches;	/* GET /v1/partitions?wait=GEN */
	struct opsd_held_list statuses; /* GET /v1/status, waiting for ultravisord */
	unsigned nheld;
};

/* One request while its handler runs. */
struct opsd_req {
	struct opsd *d;
	struct evhttp_request *req;
	enum evhttp_cmd_type method;
	const char *method_name;
	const char *path;
	struct evkeyvalq params; /* the query */
	struct ucred cred;
	int fd;
};

/* http.c: the server, replies, bodies, held requests. */
int opsd_http_start(struct opsd *d, char *err, size_t errlen);
void opsd_http_stop(struct opsd *d);

/* Sends body (put here; NULL: none) with code. */
void opsd_reply(struct evhttp_request *req, int code, json_object *body);
void opsd_reply_error(struct evhttp_request *req, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The body as one JSON value; NULL after replying 400 itself. */
json_object *opsd_req_body(struct opsd_req *r);
/* May this peer change things? Replies 403 itself when not. */
bool opsd_req_may_change(struct opsd_req *r);
/* Appends the audit record of a change that succeeded with status. */
void opsd_req_audit(struct opsd_req *r, int status, const char *partition);

/*
 * A request answered later: on an event (opsd_held_reply), after timeout_s
 * (expire, which must reply), or never when the client goes away (drop, may
 * be NULL, releases what priv holds; the request is then freed by libevent).
 */
struct opsd_held {
	TAILQ_ENTRY(opsd_held) link;
	struct opsd_held_list *list;
	struct opsd *d;
	struct evhttp_request *req;
	struct event *timer;
	struct event *closed;
	void (*expire)(struct opsd_held *h);
	void (*drop)(struct opsd_held *h);
	void *priv;
	uint64_t gen;
};

/* NULL after replying 503 itself (too many held, or out of memory). */
struct opsd_held *opsd_held_new(struct opsd_req *r, struct opsd_held_list *list,
				const struct timeval *timeout, void (*expire)(struct opsd_held *),
				void (*drop)(struct opsd_held *), void *priv);
/* Replies and frees h (not priv). */
void opsd_held_reply(struct opsd_held *h, int code, json_object *body);
void opsd_held_reply_error(struct opsd_held *h, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* api.c: routes and handlers. */
void opsd_api_dispatch(struct opsd_req *r);
/* Answers every long poll: the generation moved. */
void opsd_api_changed(struct opsd *d);
json_object *opsd_api_list(struct opsd *d);

/* status.c: GET /v1/status, answered once ultravisord has (or has not, in time). */
void opsd_status_get(struct opsd_req *r);

#endif
