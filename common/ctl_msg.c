// SPDX-License-Identifier: GPL-2.0
/* Control messages: one JSON object per SOCK_SEQPACKET message, fds alongside. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl_msg.h"
#include "daemon.h"
#include "unix_sock.h"

/* Deep enough for any message of ours, shallow enough to bound the parser. */
#define CTL_JSON_DEPTH 32

int ctl_listen(const char *path, char *err, size_t errlen)
{
	int fd = unix_listen_type(path, SOCK_SEQPACKET, 64, err, errlen);

	if (fd < 0)
		return -1;
	/* The directory (0750, group ultravisor) decides who reaches it. */
	uv_set_group(path);
	if (chmod(path, 0660)) {
		snprintf(err, errlen, "%s: chmod: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	return fd;
}

int ctl_connect(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, ret;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "%s: socket path too long", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return ret;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return ret;
	}
	return fd;
}

int ctl_send_buf(int fd, const void *buf, size_t len, const int *fds, int nfds)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * CTL_MAX_FDS)];
	} cbuf;
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	ssize_t n;

	if (len > CTL_MSG_MAX)
		return -EMSGSIZE;
	if (nfds < 0 || nfds > CTL_MAX_FDS)
		return -EINVAL;
	if (nfds) {
		struct cmsghdr *cm;

		memset(&cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf.b;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)nfds);
	}
	do {
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return (size_t)n == len ? 0 : -EIO; /* seqpacket sends all or nothing */
}

int ctl_send(int fd, json_object *msg, const int *fds, int nfds)
{
	size_t len;
	const char *s = json_object_to_json_string_length(msg, JSON_C_TO_STRING_PLAIN, &len);

	if (!s)
		return -ENOMEM;
	return ctl_send_buf(fd, s, len, fds, nfds);
}

static void close_fds(int *fds, int *nfds)
{
	for (int i = 0; i < *nfds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	*nfds = 0;
}

/* Takes the SCM_RIGHTS fds out of mh; 1 when something else came too. */
static int recv_fds(struct msghdr *mh, int *fds, int *nfds)
{
	int odd = 0;

	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		size_t k;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) {
			odd = 1;
			continue;
		}
		k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int f;

			memcpy(&f, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (*nfds < CTL_MAX_FDS)
				fds[(*nfds)++] = f;
			else
				close(f), odd = 1;
		}
	}
	return odd;
}

static int parse_obj(const char *buf, size_t n, json_object **out, char *err, size_t errlen)
{
	struct json_tokener *tok;
	enum json_tokener_error jerr;
	json_object *obj, *op;
	size_t end;

	*out = NULL;
	if (memchr(buf, 0, n)) {
		snprintf(err, errlen, "message contains a NUL byte");
		return -EBADMSG;
	}
	tok = json_tokener_new_ex(CTL_JSON_DEPTH);
	if (!tok) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	/* The terminating NUL (buf[n]) ends a top-level number or literal. */
	obj = json_tokener_parse_ex(tok, buf, (int)n + 1);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (jerr == json_tokener_success && !obj) {
		snprintf(err, errlen, "message is not a JSON object"); /* it was null */
		return -EBADMSG;
	}
	if (!obj || jerr != json_tokener_success) {
		json_object_put(obj);
		snprintf(err, errlen, "not JSON: %s",
			 jerr == json_tokener_continue ? "incomplete"
						       : json_tokener_error_desc(jerr));
		return -EBADMSG;
	}
	*out = obj;
	for (; end < n; end++)
		if (!strchr(" \t\r\n", buf[end])) {
			snprintf(err, errlen, "not JSON: trailing data after the object");
			return -EBADMSG;
		}
	if (!json_object_is_type(obj, json_type_object)) {
		snprintf(err, errlen, "message is not a JSON object");
		return -EBADMSG;
	}
	if (!json_object_object_get_ex(obj, "op", &op) ||
	    !json_object_is_type(op, json_type_string)) {
		snprintf(err, errlen, "message has no string \"op\"");
		return -EBADMSG;
	}
	return 0;
}

int ctl_recv(int fd, json_object **msg, int *fds, int *nfds, char *err, size_t errlen)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * CTL_MAX_FDS)];
	} cbuf;
	char *buf = malloc(CTL_MSG_MAX + 1);
	struct iovec iov = {.iov_base = buf, .iov_len = CTL_MSG_MAX};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf.b,
			    .msg_controllen = sizeof(cbuf.b)};
	ssize_t n;
	int ret, odd;

	*msg = NULL;
	*nfds = 0;
	if (!buf) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	do {
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		ret = errno == EWOULDBLOCK ? -EAGAIN : -errno;
		snprintf(err, errlen, "recvmsg: %s", strerror(errno));
		free(buf);
		return ret;
	}
	odd = recv_fds(&mh, fds, nfds);
	ret = -EBADMSG;
	if (!n && !*nfds && !(mh.msg_flags & MSG_CTRUNC) && !odd) {
		snprintf(err, errlen, "peer closed the connection");
		ret = -EPIPE;
	} else if (mh.msg_flags & MSG_TRUNC) {
		snprintf(err, errlen, "message over %d bytes", CTL_MSG_MAX);
	} else if (mh.msg_flags & MSG_CTRUNC) {
		snprintf(err, errlen, "more than %d file descriptors", CTL_MAX_FDS);
	} else if (odd) {
		snprintf(err, errlen, "unexpected control data");
	} else if (!n) {
		snprintf(err, errlen, "empty message with file descriptors");
	} else {
		buf[n] = 0;
		ret = parse_obj(buf, (size_t)n, msg, err, errlen);
	}
	if (ret)
		close_fds(fds, nfds);
	free(buf);
	return ret;
}

json_object *ctl_request(const char *op)
{
	static int64_t next_id = 1;
	json_object *m = json_object_new_object();

	json_object_object_add(m, "op", json_object_new_string(op));
	json_object_object_add(
		m, "id", json_object_new_int64(__atomic_fetch_add(&next_id, 1, __ATOMIC_RELAXED)));
	return m;
}

json_object *ctl_event(const char *name)
{
	json_object *m = json_object_new_object();

	json_object_object_add(m, "op", json_object_new_string("event"));
	json_object_object_add(m, "event", json_object_new_string(name));
	return m;
}

json_object *ctl_reply_ok(json_object *req)
{
	json_object *m = json_object_new_object(), *v;
	const char *op = "error";

	if (req && json_object_object_get_ex(req, "op", &v) &&
	    json_object_is_type(v, json_type_string))
		op = json_object_get_string(v);
	json_object_object_add(m, "op", json_object_new_string(op));
	/* Echo any id the peer chose, whatever its type: it is the peer's key. */
	if (req && json_object_object_get_ex(req, "id", &v))
		json_object_object_add(m, "id", json_object_get(v));
	json_object_object_add(m, "ok", json_object_new_boolean(1));
	return m;
}

json_object *ctl_reply_err(json_object *req, const char *fmt, ...)
{
	json_object *m = ctl_reply_ok(req);
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_object_object_add(m, "ok", json_object_new_boolean(0));
	json_object_object_add(m, "error", json_object_new_string(buf));
	return m;
}

int ctl_is_reply(json_object *msg)
{
	json_object *v;

	return json_object_object_get_ex(msg, "ok", &v) &&
	       json_object_is_type(v, json_type_boolean);
}

static int get_typed(json_object *msg, const char *key, enum json_type t, const char *tname,
		     json_object **v, char *err, size_t errlen)
{
	if (!json_object_object_get_ex(msg, key, v)) {
		snprintf(err, errlen, "missing '%s'", key);
		return -ENOENT;
	}
	if (!json_object_is_type(*v, t)) {
		snprintf(err, errlen, "'%s' must be %s", key, tname);
		return -EINVAL;
	}
	return 0;
}

int ctl_get_str(json_object *msg, const char *key, const char **out, char *err, size_t errlen)
{
	json_object *v;
	int ret = get_typed(msg, key, json_type_string, "a string", &v, err, errlen);

	if (!ret)
		*out = json_object_get_string(v);
	return ret;
}

int ctl_get_int(json_object *msg, const char *key, int64_t min, int64_t max, int64_t *out,
		char *err, size_t errlen)
{
	json_object *v;
	int64_t x;
	int ret = get_typed(msg, key, json_type_int, "an integer", &v, err, errlen);

	if (ret)
		return ret;
	x = json_object_get_int64(v);
	/* json-c silently clamps what does not fit: the extremes mean "too big". */
	if (x == INT64_MAX || x == INT64_MIN || x < min || x > max) {
		snprintf(err, errlen, "'%s' must be in [%lld, %lld]", key, (long long)min,
			 (long long)max);
		return -ERANGE;
	}
	*out = x;
	return 0;
}

int ctl_get_bool(json_object *msg, const char *key, bool *out, char *err, size_t errlen)
{
	json_object *v;
	int ret = get_typed(msg, key, json_type_boolean, "true or false", &v, err, errlen);

	if (!ret)
		*out = json_object_get_boolean(v);
	return ret;
}

int ctl_peer_cred(int fd, struct ucred *out)
{
	socklen_t len = sizeof(*out);

	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, out, &len) ? -errno : 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* poll for ev until the deadline (-1: none); 0 ready, -ETIMEDOUT, -errno. */
static int wait_fd(int fd, short ev, int64_t deadline)
{
	struct pollfd p = {.fd = fd, .events = ev};
	int ret;

	do {
		int t = deadline < 0 ? -1 : (int)(deadline > now_ms() ? deadline - now_ms() : 0);

		ret = poll(&p, 1, t);
	} while (ret < 0 && errno == EINTR);
	if (ret < 0)
		return -errno;
	return ret ? 0 : -ETIMEDOUT;
}

static int same_id(json_object *a, json_object *b)
{
	json_object *x, *y;

	return json_object_object_get_ex(a, "id", &x) && json_object_object_get_ex(b, "id", &y) &&
	       json_object_equal(x, y);
}

static int call_send(int fd, json_object *req, const int *fds, int nfds, int64_t deadline)
{
	int ret;

	while ((ret = ctl_send(fd, req, fds, nfds)) == -EAGAIN) {
		ret = wait_fd(fd, POLLOUT, deadline);
		if (ret)
			return ret;
	}
	return ret;
}

int ctl_call(int fd, json_object *req, json_object **reply, int *fds, int *nfds, int timeout_ms,
	     char *err, size_t errlen)
{
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	int rfds[CTL_MAX_FDS], rn, ret;
	json_object *m, *v;

	*reply = NULL;
	if (!json_object_object_get_ex(req, "id", &v)) {
		json_object *tmp = ctl_request("x");

		json_object_object_get_ex(tmp, "id", &v);
		json_object_object_add(req, "id", json_object_get(v));
		json_object_put(tmp);
	}
	ret = call_send(fd, req, fds, nfds ? *nfds : 0, deadline);
	if (nfds)
		*nfds = 0;
	if (ret) {
		snprintf(err, errlen, "send: %s", strerror(-ret));
		return ret;
	}
	for (;;) {
		ret = wait_fd(fd, POLLIN, deadline);
		if (ret) {
			snprintf(err, errlen, "%s",
				 ret == -ETIMEDOUT ? "no reply in time" : strerror(-ret));
			return ret;
		}
		ret = ctl_recv(fd, &m, rfds, &rn, err, errlen);
		if (ret == -EAGAIN)
			continue;
		if (ret) {
			json_object_put(m);
			return ret;
		}
		if (ctl_is_reply(m) && same_id(m, req))
			break;
		json_object_put(m); /* an event, or a reply to somebody else's call */
		close_fds(rfds, &rn);
	}
	if (nfds) {
		memcpy(fds, rfds, sizeof(int) * (size_t)rn);
		*nfds = rn;
	} else {
		close_fds(rfds, &rn);
	}
	*reply = m;
	json_object_object_get_ex(m, "ok", &v);
	if (json_object_get_boolean(v))
		return 0;
	snprintf(err, errlen, "%s",
		 json_object_object_get_ex(m, "error", &v) ? json_object_get_string(v)
							   : "refused, no reason given");
	return -EREMOTEIO;
}
