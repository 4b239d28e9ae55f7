/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UV_IOPART_SUITE_H
#define UV_IOPART_SUITE_H

/*
 * iopartd as a member of the suite (iopartd --name NAME, docs/iopartd.md
 * "Suite mode"): registered with ultravisord over its control socket, it
 * serves the channels ultravisord hands it (adopt_channel). The channels
 * belong to iopartd, not to the connection: when ultravisord goes away they
 * keep running, and iopartd reconnects and says hello again.
 */
#include <event2/event.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "export.h"

#define IOPART_SUITE_NAME_MAX	31
#define IOPART_SUITE_RETRY_MS	100  /* between connection attempts */
#define IOPART_SUITE_REFUSED_MS 1000 /* after ultravisord refused our hello */
#define IOPART_SUITE_LOG_S	10   /* at most one "still cannot connect" per this */

struct iopart_suite;

/* [a-z0-9][a-z0-9_-]{0,30}: a suite member's name (also in its pid file's name). */
bool iopart_suite_name_ok(const char *name);

/*
 * An adopt_channel "spec": {"export": "vhost-user-blk,path=IMG[,...]"}, the
 * --export syntax without socket=. 0, or -EINVAL with the reason in err.
 */
int iopart_suite_spec(json_object *spec, struct iopart_export *e, char *err, size_t errlen);

/*
 * Joins the suite on base as iopartd name, talking to ultravisord at
 * uvd_sock: connects now or, while ultravisord is not there, every
 * IOPART_SUITE_RETRY_MS. Sends READY=1 (uv_notify) the first time
 * ultravisord accepts the hello. 0, or -errno with err set (out of memory).
 */
int iopart_suite_start(struct iopart_suite **out, struct event_base *base, const char *name,
		       const char *uvd_sock, char *err, size_t errlen);
/* Leaves: closes the connection and every channel (outstanding I/O finishes first). */
void iopart_suite_free(struct iopart_suite *s);

#endif
