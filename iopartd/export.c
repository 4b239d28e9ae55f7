// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export.h"
#include "parse.h"

/* Export specs are comma-separated key=value lists, like qemu-storage-daemon's. */

const char *iopart_kind_name(enum iopart_kind kind)
{
	switch (kind) {
	case IOPART_BLK:
		return "vhost-user-blk";
	case IOPART_NET:
		return "vhost-user-net";
	case IOPART_RNG:
		return "vhost-user-rng";
	case IOPART_CONSOLE:
		return "vhost-user-console";
	}
	return "?";
}

static int export_err(char *err, size_t errlen, const char *fmt, const char *a, const char *b)
{
	snprintf(err, errlen, fmt, a, b);
	return -EINVAL;
}

static int parse_onoff(const char *key, const char *v, bool *out, char *err, size_t errlen)
{
	if (!strcmp(v, "on") || !strcmp(v, "true") || !strcmp(v, "yes"))
		*out = true;
	else if (!strcmp(v, "off") || !strcmp(v, "false") || !strcmp(v, "no"))
		*out = false;
	else
		return export_err(err, errlen, "%s: '%s' is not on or off", key, v);
	return 0;
}

static int parse_mac(const char *v, uint8_t mac[6])
{
	unsigned b[6];
	char end;

	if (sscanf(v, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &end) != 6 ||
	    strlen(v) != 17)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = b[i];
	/* A multicast address cannot be a station's. */
	return mac[0] & 1 ? -1 : 0;
}

static int copy_str(const char *key, const char *v, char *dst, size_t size, char *err,
		    size_t errlen)
{
	if (!*v)
		return export_err(err, errlen, "%s: empty value%s", key, "");
	if (strlen(v) >= size)
		return export_err(err, errlen, "%s: '%s' is too long", key, v);
	strcpy(dst, v);
	return 0;
}

/* The console endpoint: "pty", "unix:PATH" or "file:PATH"; prefix starts messages. */
static int export_console(struct iopart_export *e, const char *prefix, const char *v, char *err,
			  size_t errlen)
{
	struct console_cfg c;

	if (console_parse(v, &c) || c.kind == CONSOLE_STDIO)
		return export_err(err, errlen, "%s'%s' is not pty, unix:PATH or file:PATH", prefix,
				  v);
	if (c.kind == CONSOLE_UNIX && strlen(c.path) >= sizeof(e->socket))
		return export_err(err, errlen, "%sthe socket path of '%s' is too long", prefix, v);
	if (c.path && strlen(c.path) >= sizeof(e->path))
		return export_err(err, errlen, "%sthe path of '%s' is too long", prefix, v);
	e->has_console = true;
	e->console = c.kind;
	snprintf(e->path, sizeof(e->path), "%s", c.path ? c.path : "");
	return 0;
}

static int export_key(struct iopart_export *e, const char *key, const char *v, char *err,
		      size_t errlen)
{
	bool blk = e->kind == IOPART_BLK, net = e->kind == IOPART_NET;
	bool con = e->kind == IOPART_CONSOLE;
	uint64_t n;

	if (!strcmp(key, "socket"))
		return copy_str(key, v, e->socket, sizeof(e->socket), err, errlen);
	if (blk && !strcmp(key, "path"))
		return copy_str(key, v, e->path, sizeof(e->path), err, errlen);
	if (blk && !strcmp(key, "readonly"))
		return parse_onoff(key, v, &e->readonly, err, errlen);
	if (blk && !strcmp(key, "direct"))
		return parse_onoff(key, v, &e->direct, err, errlen);
	if (blk && !strcmp(key, "num-queues")) {
		if (parse_uint(v, 1, IOPART_MAX_QUEUES, &n))
			return export_err(err, errlen, "num-queues: '%s' is not in 1..%s", v,
					  IOPART_MAX_QUEUES_STR);
		e->num_queues = n;
		return 0;
	}
	if (blk && !strcmp(key, "format")) {
		if (!strcmp(v, "raw"))
			e->format = IOPART_FMT_RAW;
		else if (!strcmp(v, "qcow2"))
			e->format = IOPART_FMT_QCOW2;
		else
			return export_err(err, errlen, "format: '%s' is not raw or qcow2%s", v, "");
		return 0;
	}
	if (blk && !strcmp(key, "serial"))
		return copy_str(key, v, e->serial, sizeof(e->serial), err, errlen);
	if (net && !strcmp(key, "tap"))
		return copy_str(key, v, e->tap, sizeof(e->tap), err, errlen);
	if (net && !strcmp(key, "mac")) {
		if (parse_mac(v, e->mac))
			return export_err(err, errlen, "mac: '%s' is not a unicast MAC address%s",
					  v, "");
		e->has_mac = true;
		return 0;
	}
	if (con && !strcmp(key, "console"))
		return export_console(e, "console: ", v, err, errlen);
	return export_err(err, errlen, "unknown key '%s' for %s", key, iopart_kind_name(e->kind));
}

/* Parses "key=value,..." from s (which it modifies) into e. */
static int export_keys(struct iopart_export *e, char *s, char *err, size_t errlen)
{
	char *save = NULL;

	for (char *kv = strtok_r(s, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		int ret;

		if (!eq)
			return export_err(err, errlen, "'%s': expected key=value%s", kv, "");
		*eq = 0;
		ret = export_key(e, kv, eq + 1, err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}

static void export_init(struct iopart_export *e, enum iopart_kind kind)
{
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->num_queues = 1;
}

static int export_check(const struct iopart_export *e, bool need_socket, char *err, size_t errlen)
{
	const char *kind = iopart_kind_name(e->kind);

	if (need_socket && !e->socket[0])
		return export_err(err, errlen, "%s: missing key 'socket'%s", kind, "");
	if (e->kind == IOPART_BLK && !e->path[0])
		return export_err(err, errlen, "%s: missing key 'path'%s", kind, "");
	if (e->kind == IOPART_NET && !e->tap[0])
		return export_err(err, errlen, "%s: missing key 'tap'%s", kind, "");
	if (e->kind == IOPART_CONSOLE && e->console == CONSOLE_UNIX && !strcmp(e->path, e->socket))
		return export_err(err, errlen, "%s: console socket %s is the vhost-user socket",
				  kind, e->path);
	if (e->kind == IOPART_CONSOLE && !e->has_console)
		return export_err(err, errlen,
				  "%s: missing key 'console' (pty, unix:PATH or file:PATH)%s", kind,
				  "");
	return 0;
}

/* "TYPE,key=value,...": with a socket= key (--export), or without (an adopted channel). */
static int export_parse(const char *spec, struct iopart_export *e, bool channel, char *err,
			size_t errlen)
{
	static const enum iopart_kind kinds[] = {IOPART_BLK, IOPART_NET, IOPART_RNG,
						 IOPART_CONSOLE};
	char *s = strdup(spec), *comma;
	int ret = -EINVAL;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	comma = strchr(s, ',');
	if (comma)
		*comma = 0;
	for (unsigned i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(s, iopart_kind_name(kinds[i]))) {
			export_init(e, kinds[i]);
			ret = 0;
		}
	if (ret)
		export_err(err, errlen,
			   "unknown export type '%s' (vhost-user-blk, vhost-user-net, "
			   "vhost-user-rng or vhost-user-console)%s",
			   s, "");
	else if (comma)
		ret = export_keys(e, comma + 1, err, errlen);
	/* A channel's socket is the one it came with: a socket= would be ignored, so say so. */
	if (!ret && channel && e->socket[0])
		ret = export_err(err, errlen, "unknown key '%s' for a channel (%s)", "socket",
				 "its socket comes with it");
	if (!ret)
		ret = export_check(e, !channel, err, errlen);
	free(s);
	return ret;
}

int iopart_export_parse(const char *spec, struct iopart_export *e, char *err, size_t errlen)
{
	return export_parse(spec, e, false, err, errlen);
}

int iopart_export_parse_channel(const char *spec, struct iopart_export *e, char *err, size_t errlen)
{
	return export_parse(spec, e, true, err, errlen);
}

static int export_parse_inproc(const char *spec, struct iopart_export *e, enum iopart_kind kind,
			       char *err, size_t errlen)
{
	char *s = strdup(spec);
	char *keys = s;
	int ret = 0;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	export_init(e, kind);
	if (kind == IOPART_BLK) {
		char *comma = strchr(s, ',');

		keys = comma ? comma + 1 : NULL;
		if (comma)
			*comma = 0;
		ret = copy_str("path", s, e->path, sizeof(e->path), err, errlen);
	}
	if (!ret && keys)
		ret = export_keys(e, keys, err, errlen);
	if (!ret && e->socket[0])
		ret = export_err(err, errlen, "unknown key 'socket' for %s%s", "--disk or --net",
				 "");
	if (!ret)
		ret = export_check(e, false, err, errlen);
	free(s);
	return ret;
}

int iopart_export_parse_disk(const char *spec, struct iopart_export *e, char *err, size_t errlen)
{
	return export_parse_inproc(spec, e, IOPART_BLK, err, errlen);
}

int iopart_export_parse_net(const char *spec, struct iopart_export *e, char *err, size_t errlen)
{
	return export_parse_inproc(spec, e, IOPART_NET, err, errlen);
}

void iopart_export_init_rng(struct iopart_export *e)
{
	export_init(e, IOPART_RNG);
}

int iopart_export_parse_console(const char *spec, struct iopart_export *e, char *err, size_t errlen)
{
	export_init(e, IOPART_CONSOLE);
	return export_console(e, "", spec, err, errlen);
}
