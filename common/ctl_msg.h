/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UV_CTL_MSG_H
#define UV_CTL_MSG_H

/*
 * Control messages (docs/control-plane.md, "Control messages"): one JSON
 * object per SOCK_SEQPACKET message, at most CTL_MSG_MAX bytes, with at most
 * CTL_MAX_FDS file descriptors attached (SCM_RIGHTS).
 *
 *   request: {"op": "partition_reserve", "id": 7, ...}
 *   reply:   {"op": "partition_reserve", "id": 7, "ok": true, ...}
 *            {"op": "partition_reserve", "id": 7, "ok": false, "error": "why"}
 *   event:   {"op": "event", "event": "iopartd_down", ...}   (no "id", no "ok")
 *
 * Every message has a string "op"; a reply is told from a request by its
 * "ok" member. Functions return a negative errno on failure.
 */

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct event_base;

#define CTL_MSG_MAX 65536
#define CTL_MAX_FDS 8

/*
 * A listening SOCK_SEQPACKET socket at path (non-blocking, close-on-exec,
 * mode 0660, group UV_GROUP when it exists, so that group may connect). A socket left by a dead
 * server is replaced; a live one (of any type) or a file that is no socket
 * is refused. Returns the fd, or -1 with the reason in err (as unix_listen).
 */
int ctl_listen(const char *path, char *err, size_t errlen);

/* A blocking, close-on-exec SOCK_SEQPACKET connection to path; fd or -errno. */
int ctl_connect(const char *path, char *err, size_t errlen);

/*
 * Sends msg with fds[0..nfds) attached (MSG_NOSIGNAL; the fds stay the
 * caller's). -EMSGSIZE over CTL_MSG_MAX, -EINVAL for nfds outside
 * [0, CTL_MAX_FDS], -EAGAIN on a full non-blocking socket, -EPIPE when the
 * peer has gone.
 */
int ctl_send(int fd, json_object *msg, const int *fds, int nfds);
/* The same for an already serialized message. */
int ctl_send_buf(int fd, const void *buf, size_t len, const int *fds, int nfds);

/*
 * Receives one message. fds must have room for CTL_MAX_FDS; received fds are
 * close-on-exec and become the caller's. Returns
 *   0         *msg (caller puts) and fds[0..*nfds)
 *   -EAGAIN   nothing to read on a non-blocking socket
 *   -EPIPE    the peer closed the connection (a zero-length read)
 *   -EBADMSG  the message was refused; err says why (truncated, over
 *             CTL_MSG_MAX, more than CTL_MAX_FDS fds, not JSON, not an
 *             object, no string "op", empty message with fds). Every fd that
 *             came with it is closed, *nfds is 0, and *msg is the parsed
 *             object if there was one (so a reply can echo its "id"), else
 *             NULL. The connection is still usable.
 *   other     -errno from recvmsg
 */
int ctl_recv(int fd, json_object **msg, int *fds, int *nfds, char *err, size_t errlen);

/* A new request {"op": op, "id": N} with a per-process increasing N. */
json_object *ctl_request(const char *op);
/* {"op": "event", "event": name}. */
json_object *ctl_event(const char *name);

/*
 * {"op": req.op, "id": req.id, "ok": true}; req may be NULL or lack either
 * member (then op is "error" and id is absent). Add fields to the result.
 */
json_object *ctl_reply_ok(json_object *req);
/* The same with "ok": false and "error": the formatted one-line reason. */
json_object *ctl_reply_err(json_object *req, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* 1 when msg is a reply (has a boolean "ok"), 0 otherwise. */
int ctl_is_reply(json_object *msg);

/*
 * Field readers for handlers, with the refusal worded for the reply:
 * 0 found; -ENOENT absent ("missing 'key'"); -EINVAL wrong type ("'key' must
 * be a string"); -ERANGE an integer outside [min, max].
 */
int ctl_get_str(json_object *msg, const char *key, const char **out, char *err, size_t errlen);
int ctl_get_int(json_object *msg, const char *key, int64_t min, int64_t max, int64_t *out,
		char *err, size_t errlen);
int ctl_get_bool(json_object *msg, const char *key, bool *out, char *err, size_t errlen);

/* SO_PEERCRED of a connected unix socket. */
int ctl_peer_cred(int fd, struct ucred *out);

/*
 * Sends req (with fds[0..*nfds) attached when nfds is not NULL; they stay the
 * caller's) and waits up to timeout_ms (-1: forever) for the reply with the
 * same "id" (one is added when req has none). Other messages arriving
 * meanwhile (events) are dropped, their fds closed: keep subscriptions on a
 * connection of their own. On return fds[0..*nfds) hold the reply's fds
 * (fds needs room for CTL_MAX_FDS; with nfds NULL they are closed).
 *   0            *reply is {"ok": true, ...}
 *   -EREMOTEIO   *reply is {"ok": false, ...}; err is its "error"
 *   -ETIMEDOUT, -EPIPE, -EBADMSG, ...: *reply NULL, err says why
 * The caller puts *reply.
 */
int ctl_call(int fd, json_object *req, json_object **reply, int *fds, int *nfds, int timeout_ms,
	     char *err, size_t errlen);

/*
 * The event-loop side: a connection (accepted by a ctl_server or wrapped
 * with ctl_conn_new) reads messages as they come and calls on_msg for each.
 *
 * on_msg owns nothing it is given: after it returns, the library puts msg
 * and closes every fds[i] still >= 0, so a handler keeps an fd by setting
 * fds[i] = -1. Returning < 0 closes the connection. Malformed messages never
 * reach on_msg: the library answers them with an error reply itself and
 * keeps the connection.
 *
 * on_close (may be NULL) is called once when the connection ends, by EOF,
 * error, ctl_conn_close() or ctl_server_free(); the conn is freed after it
 * returns.
 */
struct ctl_conn;
struct ctl_server;

struct ctl_ops {
	int (*on_msg)(struct ctl_conn *c, json_object *msg, int *fds, int nfds, void *arg);
	void (*on_close)(struct ctl_conn *c, void *arg);
};

/*
 * A server on ctl_listen(path). Connections get ops and arg. Returns NULL
 * with err set on failure. ctl_server_free closes every connection (calling
 * on_close), the listening socket, and removes the socket file; not from
 * inside a callback of its own connections.
 */
struct ctl_server *ctl_server_new(struct event_base *base, const char *path,
				  const struct ctl_ops *ops, void *arg, char *err, size_t errlen);
void ctl_server_free(struct ctl_server *s);

/* Serves an already connected socket (e.g. from ctl_connect) on base; takes fd. */
struct ctl_conn *ctl_conn_new(struct event_base *base, int fd, const struct ctl_ops *ops,
			      void *arg);

/*
 * Sends msg (not consumed) with fds (duplicated: they stay the caller's).
 * When the socket is full the message is queued and sent when it drains;
 * a peer that lets CTL_CONN_QUEUE_MAX messages pile up is disconnected.
 */
#define CTL_CONN_QUEUE_MAX 4096
int ctl_conn_send(struct ctl_conn *c, json_object *msg, const int *fds, int nfds);
/* Shorthands: reply to req, put the reply. */
int ctl_conn_reply_ok(struct ctl_conn *c, json_object *req);
int ctl_conn_reply_err(struct ctl_conn *c, json_object *req, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Ends the connection from the event loop, soon after (on_close runs then):
 * safe anywhere, including inside on_msg and on_close.
 */
void ctl_conn_close(struct ctl_conn *c);
/*
 * Ends it now (on_close runs before this returns): for tearing down a
 * ctl_conn_new connection at exit. Not from inside its own callbacks, nor
 * twice.
 */
void ctl_conn_free(struct ctl_conn *c);

/* Peer credentials taken at accept (pid -1 when unknown). */
const struct ucred *ctl_conn_cred(const struct ctl_conn *c);
/* uid 0 or our own effective uid: may change things (docs/control-plane.md). */
bool ctl_conn_privileged(const struct ctl_conn *c);
int ctl_conn_fd(const struct ctl_conn *c);
void ctl_conn_set_data(struct ctl_conn *c, void *data);
void *ctl_conn_data(const struct ctl_conn *c);

#endif
