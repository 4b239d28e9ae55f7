/* SPDX-License-Identifier: GPL-2.0 */
#ifndef OPSD_AUDIT_H
#define OPSD_AUDIT_H

/*
 * The audit log, $UV_STATE_DIR/opsd/audit.log: one JSON line per change that
 * succeeded, {"time", "uid", "gid", "pid", "method", "path", "partition",
 * "status"}, on disk (fdatasync) before the client hears of it.
 */

#include <json-c/json.h>
#include <limits.h>
#include <stddef.h>
#include <sys/socket.h>

#define OPSD_AUDIT_LIMIT_MAX 1000

struct opsd_audit {
	int fd; /* O_APPEND */
	char path[PATH_MAX];
};

struct opsd_audit_rec {
	const struct ucred *cred;
	const char *method;
	const char *path;
	const char *partition; /* the one concerned, or NULL */
	int status;
};

int opsd_audit_open(struct opsd_audit *a, const char *dir, char *err, size_t errlen);
void opsd_audit_close(struct opsd_audit *a);
int opsd_audit_append(struct opsd_audit *a, const struct opsd_audit_rec *r, char *err,
		      size_t errlen);
/*
 * The last limit records, oldest first, as a JSON array (NULL with err on a
 * read failure). Lines that do not parse (a torn tail after a crash) are
 * skipped.
 */
json_object *opsd_audit_tail(const struct opsd_audit *a, unsigned limit, char *err, size_t errlen);

#endif
