// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "daemon.h"

/* Far more than OPSD_AUDIT_LIMIT_MAX of our lines; bounds what one GET reads. */
#define AUDIT_TAIL_MAX (4 << 20)
#define AUDIT_CHUNK    65536

int opsd_audit_open(struct opsd_audit *a, const char *dir, char *err, size_t errlen)
{
	a->fd = -1;
	if (uv_path_join(a->path, sizeof(a->path), dir, "audit.log")) {
		snprintf(err, errlen, "%s: path too long", dir);
		return -ENAMETOOLONG;
	}
	a->fd = open(a->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (a->fd < 0) {
		snprintf(err, errlen, "%s: %s", a->path, strerror(errno));
		return -errno;
	}
	return 0;
}

void opsd_audit_close(struct opsd_audit *a)
{
	if (a->fd >= 0)
		close(a->fd);
	a->fd = -1;
}

static void audit_time(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

int opsd_audit_append(struct opsd_audit *a, const struct opsd_audit_rec *r, char *err,
		      size_t errlen)
{
	json_object *o = json_object_new_object();
	const char *text;
	char now[40], *line;
	ssize_t n;
	size_t len;
	int ret = 0;

	audit_time(now, sizeof(now));
	json_object_object_add(o, "time", json_object_new_string(now));
	json_object_object_add(o, "uid", json_object_new_int64(r->cred->uid));
	json_object_object_add(o, "gid", json_object_new_int64(r->cred->gid));
	json_object_object_add(o, "pid", json_object_new_int64(r->cred->pid));
	json_object_object_add(o, "method", json_object_new_string(r->method));
	json_object_object_add(o, "path", json_object_new_string(r->path));
	if (r->partition)
		json_object_object_add(o, "partition", json_object_new_string(r->partition));
	json_object_object_add(o, "status", json_object_new_int(r->status));
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							 JSON_C_TO_STRING_NOSLASHESCAPE);
	len = strlen(text);
	line = malloc(len + 1);
	if (!line) {
		json_object_put(o);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	memcpy(line, text, len);
	line[len++] = '\n';
	json_object_put(o);
	/* One write per record: O_APPEND keeps lines whole and in order. */
	n = write(a->fd, line, len);
	if (n != (ssize_t)len || fdatasync(a->fd)) {
		ret = n < 0 || n == (ssize_t)len ? -errno : -EIO;
		snprintf(err, errlen, "%s: %s", a->path,
			 n >= 0 && n != (ssize_t)len ? "short write" : strerror(errno));
	}
	free(line);
	return ret;
}

/* Reads the file's tail, from a line start, holding at least limit lines when it has them. */
static char *audit_read_tail(int fd, unsigned limit, size_t *outlen)
{
	struct stat st;
	char *buf = NULL;
	size_t have = 0, lines = 0;
	off_t end;

	if (fstat(fd, &st))
		return NULL;
	end = st.st_size;
	while (end > 0 && lines <= limit && have < AUDIT_TAIL_MAX) {
		size_t chunk = end < AUDIT_CHUNK ? (size_t)end : AUDIT_CHUNK;
		char *nb = malloc(have + chunk + 1);

		if (!nb || pread(fd, nb, chunk, end - chunk) != (ssize_t)chunk) {
			free(nb);
			free(buf);
			return NULL;
		}
		memcpy(nb + chunk, buf ? buf : "", have);
		free(buf);
		buf = nb;
		have += chunk;
		end -= chunk;
		for (size_t i = 0; i < chunk; i++)
			lines += buf[i] == '\n';
	}
	if (!buf)
		buf = calloc(1, 1);
	else
		buf[have] = 0;
	*outlen = have;
	return buf;
}

json_object *opsd_audit_tail(const struct opsd_audit *a, unsigned limit, char *err, size_t errlen)
{
	json_object *all, *out;
	size_t len, n, first;
	char *buf, *line, *save = NULL;
	int fd = open(a->path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", a->path, strerror(errno));
		return NULL;
	}
	buf = audit_read_tail(fd, limit, &len);
	close(fd);
	if (!buf) {
		snprintf(err, errlen, "%s: cannot read", a->path);
		return NULL;
	}
	all = json_object_new_array();
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_object *rec = json_tokener_parse(line);

		if (json_object_is_type(rec, json_type_object))
			json_object_array_add(all, rec);
		else
			json_object_put(rec);
	}
	free(buf);
	n = json_object_array_length(all);
	first = n > limit ? n - limit : 0;
	out = json_object_new_array();
	for (size_t i = first; i < n; i++)
		json_object_array_add(out, json_object_get(json_object_array_get_idx(all, i)));
	json_object_put(all);
	return out;
}
