// SPDX-License-Identifier: GPL-2.0
/*
 * One HTTP/1.1 exchange with opsd over its unix socket, through libcurl.
 * libevent 2.1's evhttp client cannot do it: evhttp_make_request() resets a
 * connection that it did not connect itself and then connects by TCP to the
 * host name (unix sockets came to its client in 2.2).
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "uvctl.h"

#define HTTP_REPLY_MAX (16 << 20) /* a list of many partitions fits; a runaway reply does not */
#define HTTP_TIMEOUT_S 60

static size_t http_write(char *ptr, size_t size, size_t nmemb, void *ctx)
{
	struct uvctl_reply *r = ctx;
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

static int http_setup(CURL *c, const char *sock, const char *method, const char *url,
		      const char *body, struct curl_slist **hdrs, struct uvctl_reply *r, char *cerr)
{
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
	bad |= curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)HTTP_TIMEOUT_S);
	bad |= curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hdrs);
	bad |= curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	bad |= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_write);
	bad |= curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	if (body || strcmp(method, "GET")) {
		/* POST without a body still sends "Content-Length: 0". */
		bad |= curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
		bad |= curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)(body ? strlen(body) : 0));
		if (strcmp(method, "POST"))
			bad |= curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	}
	return bad ? -1 : 0;
}

int uvctl_http(const char *sock, const char *method, const char *path, const char *body,
	       struct uvctl_reply *r, char *err, size_t errlen)
{
	char url[UVCTL_PATH_MAX + 32], cerr[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL;
	CURLcode rc = CURLE_FAILED_INIT;
	long os_errno = 0;
	CURL *c;

	memset(r, 0, sizeof(*r));
	if (strlen(sock) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		snprintf(err, errlen, "cannot reach opsd: socket path %s is too long", sock);
		return -1;
	}
	snprintf(url, sizeof(url), "http://localhost%s", path);
	c = curl_easy_init();
	if (c && !http_setup(c, sock, method, url, body, &hdrs, r, cerr))
		rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		rc = curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	if (rc == CURLE_COULDNT_CONNECT) {
		curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os_errno);
		snprintf(err, errlen, "cannot reach opsd at %s: %s", sock,
			 os_errno ? strerror((int)os_errno) : "connection failed");
	} else if (rc != CURLE_OK) {
		snprintf(err, errlen, "no answer from opsd at %s: %s", sock,
			 cerr[0] ? cerr : curl_easy_strerror(rc));
	}
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK) {
		uvctl_reply_fini(r);
		return -1;
	}
	if (!r->body)
		r->body = calloc(1, 1);
	return r->body ? 0 : -1;
}

void uvctl_reply_fini(struct uvctl_reply *r)
{
	free(r->body);
	r->body = NULL;
	r->len = 0;
}

void uvctl_reply_error(const struct uvctl_reply *r, char *msg, size_t msglen)
{
	json_object *o = r->body && r->len ? json_tokener_parse(r->body) : NULL;
	json_object *e, *m;

	if (json_object_object_get_ex(o, "error", &e) &&
	    json_object_object_get_ex(e, "message", &m) && json_object_is_type(m, json_type_string))
		snprintf(msg, msglen, "%s", json_object_get_string(m));
	else
		snprintf(msg, msglen, "opsd refused the request (HTTP %ld)", r->status);
	json_object_put(o);
}
