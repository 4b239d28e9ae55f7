// SPDX-License-Identifier: GPL-2.0
/*
 * "uvctl status" for people: opsd's GET /v1/status (its own figures and
 * ultravisord's view: host, iopartds, channels) laid out in sections, with
 * what only the host itself tells: which daemons hold their pid files, and
 * commandd's view on commandd.sock (its links, the failover figures).
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl_msg.h"
#include "daemon.h"
#include "uvctl.h"

static const char *const daemon_names[UVCTL_NDAEMONS] = {
	[UVCTL_D_ULTRAVISORD] = "ultravisord",
	[UVCTL_D_OPSD] = "opsd",
	[UVCTL_D_COMMANDD] = "commandd",
};

static void probe_commandd(struct uvctl_probe *p, const char *runtime_dir)
{
	json_object *req = ctl_request("status");
	char path[PATH_MAX], err[200];
	int fd, ret;

	if (uv_path_join(path, sizeof(path), runtime_dir, "commandd.sock")) {
		snprintf(p->commandd_err, sizeof(p->commandd_err), "runtime path too long");
		goto out;
	}
	fd = ctl_connect(path, err, sizeof(err));
	if (fd < 0) {
		snprintf(p->commandd_err, sizeof(p->commandd_err), "%s", err);
		goto out;
	}
	ret = ctl_call(fd, req, &p->commandd, NULL, NULL, UVCTL_COMMANDD_MS, err, sizeof(err));
	close(fd);
	if (ret) {
		snprintf(p->commandd_err, sizeof(p->commandd_err), "commandd.sock: %s", err);
		json_object_put(p->commandd);
		p->commandd = NULL;
	}
out:
	json_object_put(req);
}

void uvctl_probe_run(struct uvctl_probe *p, const char *runtime_dir)
{
	char path[PATH_MAX], file[32];

	memset(p, 0, sizeof(*p));
	for (int d = 0; d < UVCTL_NDAEMONS; d++) {
		snprintf(file, sizeof(file), "%s.pid", daemon_names[d]);
		p->running[d] = uv_path_join(path, sizeof(path), runtime_dir, file)
					? -ENAMETOOLONG
					: uv_pidfile_running(path, &p->pid[d]);
	}
	probe_commandd(p, runtime_dir);
}

void uvctl_probe_fini(struct uvctl_probe *p)
{
	json_object_put(p->commandd);
	p->commandd = NULL;
}

/* Members of a reply that may be anything: absent or mistyped reads as 0 or "". */
static json_object *jobj(json_object *o, const char *key)
{
	json_object *v;

	return json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, key, &v) &&
			       json_object_is_type(v, json_type_object)
		       ? v
		       : NULL;
}

static json_object *jarr(json_object *o, const char *key, size_t *n)
{
	json_object *v = json_object_object_get(o, key);

	if (!json_object_is_type(v, json_type_array)) {
		*n = 0;
		return NULL;
	}
	*n = json_object_array_length(v);
	return v;
}

static long long jint(json_object *o, const char *key)
{
	return (long long)json_object_get_int64(json_object_object_get(o, key));
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v = json_object_object_get(o, key);

	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
}

static void status_host(FILE *out, json_object *st, json_object *uvd)
{
	json_object *h = jobj(uvd, "host"), *a;
	long long pool = jint(h, "pool_mib"), used = jint(h, "used_mib");
	size_t n, running = 0, up = 0;
	struct uvctl_kv l = {0};
	char b1[300], b2[64];

	uvctl_format_cpus(b1, sizeof(b1), json_object_object_get(h, "cpus"));
	uvctl_kv_add(&l, "CPUs", "%s", b1);
	uvctl_format_cpus(b1, sizeof(b1), json_object_object_get(h, "cpus_dedicated"));
	uvctl_kv_add(&l, "dedicated CPUs", "%s", b1);
	uvctl_format_size(b1, sizeof(b1), pool);
	if (pool >= 1024)
		uvctl_kv_add(&l, "memory limit", "%s (%lld MiB)", b1, pool);
	else
		uvctl_kv_add(&l, "memory limit", "%s", b1);
	uvctl_format_size(b1, sizeof(b1), used);
	if (pool > 0)
		uvctl_kv_add(&l, "memory used", "%s (%lld%%)", b1, (used * 100 + pool / 2) / pool);
	else
		uvctl_kv_add(&l, "memory used", "%s", b1);
	uvctl_format_size(b1, sizeof(b1), jint(h, "free_mib"));
	uvctl_kv_add(&l, "memory free", "%s", b1);
	a = jarr(uvd, "partitions", &n);
	for (size_t i = 0; i < n; i++)
		running += !strcmp(jstr(json_object_array_get_idx(a, i), "state"), "running");
	snprintf(b2, sizeof(b2), "%lld", jint(jobj(st, "opsd"), "partitions"));
	uvctl_kv_add(&l, "partitions", "%s defined, %zu running", b2, running);
	a = jarr(uvd, "channels", &n);
	for (size_t i = 0; i < n; i++)
		up += !strcmp(jstr(json_object_array_get_idx(a, i), "state"), "up");
	if (n)
		uvctl_kv_add(&l, "channels", "%zu (%zu up)", n, up);
	else
		uvctl_kv_add(&l, "channels", "none");
	fputs("Host\n", out);
	uvctl_kv_print(&l, out, "  ");
}

static int iop_cmp(const void *a, const void *b)
{
	return strcmp(jstr(*(json_object *const *)a, "name"),
		      jstr(*(json_object *const *)b, "name"));
}

/* As commandd decides (docs/commandd.md): a healthy iopartd serving channels is the active one. */
static const char *iop_role(bool healthy, size_t nchans)
{
	return !healthy ? "none" : nchans ? "active" : "standby";
}

static void iop_row(struct uvctl_table *t, json_object *i)
{
	char pid[24] = "-", chans[24], since[32] = "-";
	const char *health = jstr(i, "health");
	time_t when = (time_t)jint(i, "since");
	size_t nch;
	struct tm tm;

	jarr(i, "channels", &nch);
	if (jint(i, "pid") > 0)
		snprintf(pid, sizeof(pid), "%lld", jint(i, "pid"));
	snprintf(chans, sizeof(chans), "%zu", nch);
	if (when > 0 && localtime_r(&when, &tm))
		strftime(since, sizeof(since), "%Y-%m-%d %H:%M:%S", &tm);
	uvctl_table_add(t, (const char *const[]){jstr(i, "name"), health[0] ? health : "-",
						 iop_role(!strcmp(health, "healthy"), nch), pid,
						 chans, since});
}

static void status_iopartds(FILE *out, json_object *uvd)
{
	static const char *const heads[] = {"NAME", "HEALTH", "ROLE", "PID", "CHANNELS", "SINCE"};
	json_object *a, **v;
	struct uvctl_table t;
	size_t n;

	jarr(uvd, "iopartds", &n);
	fputs("\nI/O partitions\n", out);
	if (!n) {
		fputs("  none registered with ultravisord\n", out);
		return;
	}
	v = calloc(n, sizeof(*v));
	if (!v)
		return;
	a = json_object_object_get(uvd, "iopartds");
	for (size_t i = 0; i < n; i++)
		v[i] = json_object_array_get_idx(a, i);
	qsort(v, n, sizeof(*v), iop_cmp);
	uvctl_table_init(&t, 6, heads);
	for (size_t i = 0; i < n; i++)
		iop_row(&t, v[i]);
	uvctl_table_print(&t, out, "  ");
	free(v);
}

static const char *commandd_note(const struct uvctl_probe *p, char *buf, size_t len)
{
	bool o, u;

	if (!p->commandd && p->running[UVCTL_D_COMMANDD] == 0)
		return "not running";
	if (!p->commandd) {
		snprintf(buf, len, "no answer: %s", p->commandd_err);
		return buf;
	}
	o = json_object_get_boolean(json_object_object_get(jobj(p->commandd, "opsd"), "connected"));
	u = json_object_get_boolean(
		json_object_object_get(jobj(p->commandd, "ultravisord"), "connected"));
	if (o && u)
		snprintf(buf, len, "connected to opsd and ultravisord");
	else if (o || u)
		snprintf(buf, len, "connected to %s, not to %s", o ? "opsd" : "ultravisord",
			 o ? "ultravisord" : "opsd");
	else
		snprintf(buf, len, "connected to neither opsd nor ultravisord");
	return buf;
}

/* A daemon that answered runs whatever its pid file says; one that did not, as the file says. */
static void daemon_row(struct uvctl_table *t, const struct uvctl_probe *p, int d, bool answered,
		       long long pid, const char *note)
{
	static const char *const states[] = {"unknown", "stopped", "running"};
	int r = answered ? 1 : p->running[d] < 0 ? -1 : p->running[d];
	char pidbuf[24] = "-";

	if (!pid && p->running[d] == 1)
		pid = p->pid[d];
	if (pid > 0)
		snprintf(pidbuf, sizeof(pidbuf), "%lld", pid);
	uvctl_table_add(t, (const char *const[]){daemon_names[d], states[r + 1], pidbuf, note});
}

static void status_daemons(FILE *out, json_object *st, const struct uvctl_probe *p)
{
	static const char *const heads[] = {"NAME", "STATE", "PID", "NOTE"};
	json_object *o = jobj(st, "opsd");
	char note[400];
	struct uvctl_table t;

	fputs("\nDaemons\n", out);
	uvctl_table_init(&t, 4, heads);
	daemon_row(&t, p, UVCTL_D_ULTRAVISORD, true, 0, "answered opsd's status request");
	snprintf(note, sizeof(note), "version %s, state generation %lld", jstr(o, "version"),
		 jint(o, "generation"));
	daemon_row(&t, p, UVCTL_D_OPSD, true, jint(o, "pid"), note);
	daemon_row(&t, p, UVCTL_D_COMMANDD, p->commandd != NULL, 0,
		   commandd_note(p, note, sizeof(note)));
	uvctl_table_print(&t, out, "  ");
}

static void status_failover(FILE *out, json_object *cmdd)
{
	json_object *f = jobj(cmdd, "failover");
	long long moves = jint(f, "moves");
	const char *mode = jstr(jobj(cmdd, "policy"), "failover");
	struct uvctl_kv l = {0};

	if (!cmdd)
		return;
	uvctl_kv_add(&l, "mode", "%s", mode[0] ? mode : "-");
	if (moves)
		uvctl_kv_add(&l, "channel moves",
			     "%lld, %lld failed; last %.1f ms, longest %.1f ms", moves,
			     jint(f, "failed"),
			     json_object_get_double(json_object_object_get(f, "last_ms")),
			     json_object_get_double(json_object_object_get(f, "max_ms")));
	else
		uvctl_kv_add(&l, "channel moves", "none");
	uvctl_kv_add(&l, "iopartd starts", "%lld (by commandd --supervise-iopartd)",
		     jint(cmdd, "iopartd_starts"));
	fputs("\nFailover (commandd)\n", out);
	uvctl_kv_print(&l, out, "  ");
}

void uvctl_print_status(FILE *out, json_object *st, const struct uvctl_probe *p)
{
	json_object *uvd = jobj(st, "ultravisord");

	/* Not the answer this uvctl knows: shown whole rather than half. */
	if (!uvd || !jobj(uvd, "host")) {
		uvctl_print_flat(out, st);
		return;
	}
	status_host(out, st, uvd);
	status_iopartds(out, uvd);
	status_daemons(out, st, p);
	status_failover(out, p->commandd);
}
