// SPDX-License-Identifier: GPL-2.0
/*
 * HTTP/1.1 exchanges over a unix socket, through libcurl. libevent 2.1's
 * evhttp client cannot do it: evhttp_make_request() resets a connection
 * that it did not connect itself and then connects by TCP to the host name
 * (unix sockets came to its client in 2.2).
 */
#include <curl/curl.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "uvhttp.h"

#define HTTP_REPLY_MAX	     (16 << 20) /* a list of many partitions fits; a runaway reply does not */
#define HTTP_TIMEOUT_MS_DFLT 60000
#define HTTP_PATH_MAX	     1024

struct http_ctx {
	struct uvhttp_reply *r;
	const struct uvhttp_opts *o;
};

static size_t http_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct uvhttp_reply *r = ((struct http_ctx *)arg)->r;
	size_t n = size * nmemb;
	char *nb;

	if (n > HTTP_REPLY_MAX - r->len)
		return 0; /* curl gives up with CURLE_WRITE_ERROR */
	nb = realloc(r->body, r->len + n + 1);
	if (!nb)
		return 0;
	memcpy(nb + r->len, ptr, n);
	r->len += n;
	nb[r->len] = 0;
	r->body = nb;
	return n;
}

/* libcurl calls this about once a second even when nothing moves. */
static int http_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	const struct uvhttp_opts *o = ((struct http_ctx *)arg)->o;

	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	return o->cancel(o->cancel_arg) ? 1 : 0;
}

static int http_setup(CURL *c, const char *sock, const char *method, const char *url,
		      const char *body, struct curl_slist **hdrs, struct http_ctx *ctx, char *cerr)
{
	long timeout = ctx->o->timeout_ms > 0 ? ctx->o->timeout_ms : HTTP_TIMEOUT_MS_DFLT;
	int bad = 0;

	*hdrs = curl_slist_append(*hdrs, "Accept: application/json");
	/* No "Expect: 100-continue" round trip for bodies over 1 KiB. */
	*hdrs = curl_slist_append(*hdrs, "Expect:");
	if (body)
		*hdrs = curl_slist_append(*hdrs, "Content-Type: application/json");
	if (!*hdrs)
		return -1;
	bad |= curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock);
	/* The URL's host is only the Host header; never a proxy from the environment. */
	bad |= curl_easy_setopt(c, CURLOPT_URL, url);
	bad |= curl_easy_setopt(c, CURLOPT_PROXY, "");
	bad |= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	bad |= curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout);
	bad |= curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hdrs);
	bad |= curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	bad |= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_write);
	bad |= curl_easy_setopt(c, CURLOPT_WRITEDATA, ctx);
	if (ctx->o->cancel) {
		bad |= curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, http_progress);
		bad |= curl_easy_setopt(c, CURLOPT_XFERINFODATA, ctx);
		bad |= curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	}
	if (body || strcmp(method, "GET")) {
		/* POST without a body still sends "Content-Length: 0". */
		bad |= curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
		bad |= curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)(body ? strlen(body) : 0));
		if (strcmp(method, "POST"))
			bad |= curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	}
	return bad ? -1 : 0;
}

/* curl's outcome as an errno and a one-line reason. */
static int http_failure(CURL *c, CURLcode rc, const char *sock, const char *peer, const char *cerr,
			char *err, size_t errlen)
{
	long os_errno = 0;

	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os_errno);
		snprintf(err, errlen, "cannot reach %s at %s: %s", peer, sock,
			 os_errno ? strerror((int)os_errno) : "connection failed");
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(err, errlen, "no answer from %s at %s: %s", peer, sock,
			 cerr[0] ? cerr : "timed out");
		return -ETIMEDOUT;
	case CURLE_ABORTED_BY_CALLBACK:
		snprintf(err, errlen, "request to %s cancelled", peer);
		return -ECANCELED;
	default:
		snprintf(err, errlen, "no answer from %s at %s: %s", peer, sock,
			 cerr[0] ? cerr : curl_easy_strerror(rc));
		return -EPROTO;
	}
}

struct uvhttp_conn {
	CURL *c;
	unsigned long connects;
	char *sock, *peer;
};

static int http_check(const char *sock, const char *peer, const char *path, char *err,
		      size_t errlen)
{
	if (strlen(sock) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		snprintf(err, errlen, "cannot reach %s: socket path %s is too long", peer, sock);
		return -ENAMETOOLONG;
	}
	if (strlen(path) > HTTP_PATH_MAX || path[0] != '/') {
		snprintf(err, errlen, "bad request path for %s", peer);
		return -EINVAL;
	}
	return 0;
}

/*
 * A kept connection that failed under the request (a reset: the server died
 * with it unread). libcurl retries by itself only when it got nothing back
 * without an error. Once on a fresh connection, for a method that may be
 * repeated: a POST might have been carried out already.
 */
static bool http_stale(CURL *c, CURLcode rc, const char *method)
{
	long fresh = -1;

	if (rc != CURLE_SEND_ERROR && rc != CURLE_RECV_ERROR && rc != CURLE_GOT_NOTHING &&
	    rc != CURLE_PARTIAL_FILE)
		return false;
	if (strcmp(method, "GET") && strcmp(method, "HEAD") && strcmp(method, "PUT") &&
	    strcmp(method, "DELETE"))
		return false;
	return !curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &fresh) && fresh == 0;
}

/* One exchange (and its one retry) on h's easy handle; its options are all set here. */
static int http_exchange(struct uvhttp_conn *h, const char *method, const char *path,
			 const char *body, const struct uvhttp_opts *o, struct uvhttp_reply *r,
			 char *err, size_t errlen)
{
	static const struct uvhttp_opts dflt;
	struct http_ctx ctx = {.r = r, .o = o ? o : &dflt};
	char url[HTTP_PATH_MAX + 32], cerr[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL;
	CURLcode rc = CURLE_FAILED_INIT;
	long fresh = 0;
	int ret = 0;

	snprintf(url, sizeof(url), "http://localhost%s", path);
	curl_easy_reset(h->c); /* the options; the connection stays */
	if (!http_setup(h->c, h->sock, method, url, body, &hdrs, &ctx, cerr))
		rc = curl_easy_perform(h->c);
	if (http_stale(h->c, rc, method)) {
		uvhttp_reply_fini(r);
		cerr[0] = 0;
		curl_easy_setopt(h->c, CURLOPT_FRESH_CONNECT, 1L);
		rc = curl_easy_perform(h->c);
	}
	if (!curl_easy_getinfo(h->c, CURLINFO_NUM_CONNECTS, &fresh) && fresh > 0)
		h->connects += (unsigned long)fresh;
	if (rc == CURLE_OK)
		rc = curl_easy_getinfo(h->c, CURLINFO_RESPONSE_CODE, &r->status);
	if (rc != CURLE_OK)
		ret = http_failure(h->c, rc, h->sock, h->peer, cerr, err, errlen);
	curl_slist_free_all(hdrs);
	if (ret) {
		uvhttp_reply_fini(r);
		return ret;
	}
	if (!r->body)
		r->body = calloc(1, 1);
	if (!r->body) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

struct uvhttp_conn *uvhttp_conn_new(const char *sock, const char *peer)
{
	struct uvhttp_conn *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	/* Too long a path is refused by each request, with its message. */
	h->c = curl_easy_init();
	h->sock = strdup(sock);
	h->peer = strdup(peer);
	if (h->c && h->sock && h->peer)
		return h;
	uvhttp_conn_free(h);
	return NULL;
}

void uvhttp_conn_free(struct uvhttp_conn *h)
{
	if (!h)
		return;
	curl_easy_cleanup(h->c);
	free(h->sock);
	free(h->peer);
	free(h);
}

unsigned long uvhttp_conn_connects(const struct uvhttp_conn *h)
{
	return h->connects;
}

int uvhttp_conn_request(struct uvhttp_conn *h, const char *method, const char *path,
			const char *body, const struct uvhttp_opts *o, struct uvhttp_reply *r,
			char *err, size_t errlen)
{
	int ret;

	memset(r, 0, sizeof(*r));
	ret = http_check(h->sock, h->peer, path, err, errlen);
	return ret ? ret : http_exchange(h, method, path, body, o, r, err, errlen);
}

int uvhttp_request(const char *sock, const char *peer, const char *method, const char *path,
		   const char *body, const struct uvhttp_opts *o, struct uvhttp_reply *r, char *err,
		   size_t errlen)
{
	struct uvhttp_conn *h;
	int ret;

	memset(r, 0, sizeof(*r));
	ret = http_check(sock, peer, path, err, errlen);
	if (ret)
		return ret;
	h = uvhttp_conn_new(sock, peer);
	if (!h) {
		snprintf(err, errlen, "no answer from %s at %s: %s", peer, sock,
			 curl_easy_strerror(CURLE_FAILED_INIT));
		return -EPROTO;
	}
	ret = http_exchange(h, method, path, body, o, r, err, errlen);
	uvhttp_conn_free(h);
	return ret;
}

void uvhttp_reply_fini(struct uvhttp_reply *r)
{
	free(r->body);
	r->body = NULL;
	r->len = 0;
}

void uvhttp_reply_error(const struct uvhttp_reply *r, const char *peer, char *msg, size_t msglen)
{
	json_object *o = r->body && r->len ? json_tokener_parse(r->body) : NULL;
	json_object *e, *m;

	if (json_object_object_get_ex(o, "error", &e) &&
	    json_object_object_get_ex(e, "message", &m) && json_object_is_type(m, json_type_string))
		snprintf(msg, msglen, "%s", json_object_get_string(m));
	else
		snprintf(msg, msglen, "%s refused the request (HTTP %ld)", peer, r->status);
	json_object_put(o);
}
