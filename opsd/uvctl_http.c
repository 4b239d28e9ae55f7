// SPDX-License-Identifier: GPL-2.0
/*
 * One HTTP/1.1 exchange with opsd over its unix socket: common/uvhttp.c
 * (libcurl; shared with commandd) with uvctl's 60 s limit.
 */
#include <stdlib.h>
#include <string.h>

#include "uvctl.h"
#include "uvhttp.h"

#define HTTP_TIMEOUT_MS 60000

int uvctl_http(const char *sock, const char *method, const char *path, const char *body,
	       struct uvctl_reply *r, char *err, size_t errlen)
{
	struct uvhttp_opts o = {.timeout_ms = HTTP_TIMEOUT_MS};
	struct uvhttp_reply h;

	memset(r, 0, sizeof(*r));
	if (uvhttp_request(sock, "opsd", method, path, body, &o, &h, err, errlen))
		return -1;
	r->status = h.status;
	r->body = h.body;
	r->len = h.len;
	return 0;
}

void uvctl_reply_fini(struct uvctl_reply *r)
{
	free(r->body);
	r->body = NULL;
	r->len = 0;
}

void uvctl_reply_error(const struct uvctl_reply *r, char *msg, size_t msglen)
{
	struct uvhttp_reply h = {.status = r->status, .body = r->body, .len = r->len};

	uvhttp_reply_error(&h, "opsd", msg, msglen);
}
