// SPDX-License-Identifier: GPL-2.0
/*
 * opsd's partitions and policy as records, and the decisions that need no
 * process around them: restart policy, the choice of iopartd, the export of
 * a device, uvmm's command line.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "commandd.h"

static const char *const restart_names[] = {
	[CMD_RESTART_ON_FAILURE] = "on-failure",
	[CMD_RESTART_ALWAYS] = "always",
	[CMD_RESTART_NEVER] = "never",
};

const char *cmd_restart_name(enum cmd_restart r)
{
	return restart_names[r];
}

static int restart_parse(const char *s, enum cmd_restart *out)
{
	for (unsigned i = 0; i < 3; i++)
		if (!strcmp(s, restart_names[i])) {
			*out = (enum cmd_restart)i;
			return 0;
		}
	return -EINVAL;
}

void cmd_policy_default(struct cmd_policy *p)
{
	*p = (struct cmd_policy){
		.restart_default = CMD_RESTART_ON_FAILURE,
		.restart_max = 5,
		.restart_window_s = 60,
		.dedicated = false,
		.failover_auto = true,
		.failover_standby = true,
	};
}

static const char *get_str(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* An integer member in [min, max]; -1 when absent or out of range. */
static int get_int(json_object *o, const char *key, int64_t min, int64_t max, int64_t *out)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return -1;
	*out = json_object_get_int64(v);
	return *out < min || *out > max ? -1 : 0;
}

static bool get_bool(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_boolean) &&
	       json_object_get_boolean(v);
}

/* Unknown or missing members keep the current value: opsd is the judge of policy. */
int cmd_policy_parse(json_object *o, struct cmd_policy *p, char *err, size_t errlen)
{
	const char *s;
	int64_t v;

	if (!json_object_is_type(o, json_type_object)) {
		snprintf(err, errlen, "policy is not a JSON object");
		return -EINVAL;
	}
	if ((s = get_str(o, "restart_default")) && restart_parse(s, &p->restart_default)) {
		snprintf(err, errlen, "policy: unknown restart_default '%s'", s);
		return -EINVAL;
	}
	if (!get_int(o, "restart_max", 0, 1000, &v))
		p->restart_max = (unsigned)v;
	if (!get_int(o, "restart_window_s", 1, 86400, &v))
		p->restart_window_s = (unsigned)v;
	if ((s = get_str(o, "cpu_pinning")))
		p->dedicated = !strcmp(s, "dedicated");
	if ((s = get_str(o, "failover"))) {
		p->failover_auto = strcmp(s, "manual") != 0;
		p->failover_standby = !strcmp(s, "auto");
	}
	return 0;
}

static int def_disks(json_object *a, struct cmd_def *d, char *err, size_t errlen)
{
	size_t n = json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;

	if (n > CMD_DISKS_MAX) {
		snprintf(err, errlen, "%s: more than %d disks", d->name, CMD_DISKS_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(a, i);
		const char *path = get_str(o, "path"), *fmt = get_str(o, "format");

		if (!path || path[0] != '/' || (fmt && strlen(fmt) >= sizeof(d->disks[i].format))) {
			snprintf(err, errlen, "%s: disk %zu has no absolute path", d->name, i);
			return -EINVAL;
		}
		d->disks[i].path = strdup(path);
		if (!d->disks[i].path) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		snprintf(d->disks[i].format, sizeof(d->disks[i].format), "%s", fmt ? fmt : "");
		d->disks[i].readonly = get_bool(o, "readonly");
		d->ndisks = (unsigned)i + 1;
	}
	return 0;
}

static int def_nets(json_object *a, struct cmd_def *d, char *err, size_t errlen)
{
	size_t n = json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;

	if (n > CMD_NETS_MAX) {
		snprintf(err, errlen, "%s: more than %d nets", d->name, CMD_NETS_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		const char *tap = get_str(json_object_array_get_idx(a, i), "tap");

		if (!tap || !tap[0] || strlen(tap) >= sizeof(d->taps[i])) {
			snprintf(err, errlen, "%s: net %zu has no tap", d->name, i);
			return -EINVAL;
		}
		snprintf(d->taps[i], sizeof(d->taps[i]), "%s", tap);
	}
	d->nnets = (unsigned)n;
	return 0;
}

/* kernel, initrd, cmdline: strings when present; opsd checked them, we check what we rely on. */
static int def_boot(json_object *o, struct cmd_def *d, char *err, size_t errlen)
{
	static const char *const keys[] = {"kernel", "initrd", "cmdline"};
	char **dst[] = {&d->kernel, &d->initrd, &d->cmdline};
	json_object *v;

	for (unsigned i = 0; i < 3; i++) {
		if (!json_object_object_get_ex(o, keys[i], &v))
			continue;
		if (!json_object_is_type(v, json_type_string) ||
		    (i < 2 && json_object_get_string(v)[0] != '/')) {
			snprintf(err, errlen, "%s: %s is not %s", d->name, keys[i],
				 i < 2 ? "an absolute path" : "a string");
			return -EINVAL;
		}
		*dst[i] = strdup(json_object_get_string(v));
		if (!*dst[i]) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
	}
	if (!d->kernel && (d->initrd || d->cmdline)) {
		snprintf(err, errlen, "%s: %s without kernel", d->name,
			 d->initrd ? "initrd" : "cmdline");
		return -EINVAL;
	}
	return 0;
}

static void def_actual(json_object *o, struct cmd_def *d)
{
	json_object *a;
	const char *s;
	int64_t v;

	if (!json_object_object_get_ex(o, "actual", &a))
		return;
	if ((s = get_str(a, "state")))
		snprintf(d->actual, sizeof(d->actual), "%s", s);
	if (!get_int(a, "pid", 0, INT32_MAX, &v))
		d->actual_pid = (int)v;
}

int cmd_def_parse(json_object *o, enum cmd_restart dflt, struct cmd_def *d, char *err,
		  size_t errlen)
{
	const char *name = get_str(o, "name"), *s;
	json_object *a = NULL;
	int64_t v;
	int ret;

	memset(d, 0, sizeof(*d));
	if (!name || !name[0] || strlen(name) >= sizeof(d->name)) {
		snprintf(err, errlen, "a partition without a usable name");
		return -EINVAL;
	}
	snprintf(d->name, sizeof(d->name), "%s", name);
	if (get_int(o, "cpus", 1, 255, &v)) {
		snprintf(err, errlen, "%s: no cpus in [1, 255]", name);
		return -EINVAL;
	}
	d->cpus = (unsigned)v;
	if (get_int(o, "memory_mib", 16, 1048576, &v)) {
		snprintf(err, errlen, "%s: no memory_mib in [16, 1048576]", name);
		return -EINVAL;
	}
	d->memory_mib = (uint64_t)v;
	d->hugepages = get_bool(o, "hugepages");
	json_object_object_get_ex(o, "disks", &a);
	if ((ret = def_disks(a, d, err, errlen)))
		goto fail;
	a = NULL;
	json_object_object_get_ex(o, "nets", &a);
	if ((ret = def_nets(a, d, err, errlen)))
		goto fail;
	if ((ret = def_boot(o, d, err, errlen)))
		goto fail;
	d->restart = dflt;
	if ((s = get_str(o, "restart")) && restart_parse(s, &d->restart)) {
		snprintf(err, errlen, "%s: unknown restart policy '%s'", name, s);
		ret = -EINVAL;
		goto fail;
	}
	d->run = (s = get_str(o, "desired")) && !strcmp(s, "running");
	d->destroy = (s = get_str(o, "stop_mode")) && !strcmp(s, "destroy");
	if (!get_int(o, "generation", 0, INT64_MAX, &v))
		d->generation = (uint64_t)v;
	def_actual(o, d);
	return 0;
fail:
	cmd_def_fini(d);
	return ret;
}

void cmd_def_fini(struct cmd_def *d)
{
	for (unsigned i = 0; i < d->ndisks; i++)
		free(d->disks[i].path);
	d->ndisks = 0;
	free(d->kernel);
	free(d->initrd);
	free(d->cmdline);
	d->kernel = d->initrd = d->cmdline = NULL;
}

int cmd_export_spec(const struct cmd_def *d, unsigned dev, char *buf, size_t len, char *err,
		    size_t errlen)
{
	const struct cmd_disk *k;
	int n;

	if (dev >= d->ndisks) {
		n = snprintf(buf, len, "vhost-user-net,tap=%s", d->taps[dev - d->ndisks]);
		return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
	}
	k = &d->disks[dev];
	/* The export syntax separates options with commas and has no quoting. */
	if (strchr(k->path, ',')) {
		snprintf(err, errlen,
			 "disk %u: the path %s has a ',', which an export cannot carry", dev,
			 k->path);
		return -EINVAL;
	}
	n = snprintf(buf, len, "vhost-user-blk,path=%s%s%s%s", k->path,
		     k->readonly ? ",readonly=on" : "", k->format[0] ? ",format=" : "", k->format);
	if (n < 0 || (size_t)n >= len) {
		snprintf(err, errlen, "disk %u: path too long", dev);
		return -ENOSPC;
	}
	return 0;
}

enum cmd_exit_verdict cmd_exit_decide(enum cmd_restart r, bool clean, const struct cmd_policy *pol,
				      const int64_t *times, unsigned n, int64_t now)
{
	unsigned recent = 0;

	if (clean && r != CMD_RESTART_ALWAYS)
		return CMD_EXIT_STOPPED;
	if (!clean && r == CMD_RESTART_NEVER)
		return CMD_EXIT_CRASHED;
	for (unsigned i = 0; i < n; i++)
		if (times[i] > now - (int64_t)pol->restart_window_s)
			recent++;
	return recent >= pol->restart_max ? CMD_EXIT_GIVE_UP : CMD_EXIT_RESTART;
}

bool cmd_exit_refused(bool known, int wstatus)
{
	if (!known || !WIFEXITED(wstatus))
		return false;
	switch (WEXITSTATUS(wstatus)) {
	case 2: /* docs/uvmm.md, exit statuses */
	case 5:
	case 6:
		return true;
	default:
		return false;
	}
}

void cmd_exit_describe(bool known, int wstatus, char *buf, size_t len)
{
	if (!known)
		snprintf(buf, len, "ended (exit status unknown)");
	else if (WIFEXITED(wstatus))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(wstatus));
	else if (WIFSIGNALED(wstatus))
		snprintf(buf, len, "killed by signal %d", WTERMSIG(wstatus));
	else
		snprintf(buf, len, "ended (wait status %#x)", (unsigned)wstatus);
}

bool cmd_exit_cause(const char *text, size_t len, char *buf, size_t buflen)
{
	const char *end = text + len, *line, *nl, *at;
	size_t n;

	for (line = text; line < end; line = nl + 1) {
		nl = memchr(line, '\n', (size_t)(end - line));
		if (!nl)
			nl = end; /* a last line without its end: still said */
		/* "uvmm: error: TEXT", after UV_LOG_TIME's stamp if any: no ':' before. */
		at = memmem(line, (size_t)(nl - line), ": error: ", 9);
		if (!at || memchr(line, ':', (size_t)(at - line)))
			continue;
		at += 9;
		n = (size_t)(nl - at);
		if (!n || !buflen)
			continue;
		if (n >= buflen)
			n = buflen - 1;
		memcpy(buf, at, n);
		buf[n] = 0;
		return true;
	}
	return false;
}

int cmd_pick_iopartd(const struct cmd_iop *iops, unsigned n, const char *skip)
{
	int best = -1;

	for (unsigned i = 0; i < n; i++) {
		if (!iops[i].healthy || !iops[i].expected || (skip && !strcmp(iops[i].name, skip)))
			continue;
		if (best < 0 || iops[i].nchans < iops[best].nchans)
			best = (int)i;
	}
	return best;
}

/* Appends one string to buf at *off, storing its start in argv[(*argc)++]. */
static int argv_add(char **argv, unsigned *argc, char *buf, size_t len, size_t *off,
		    const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static int argv_add(char **argv, unsigned *argc, char *buf, size_t len, size_t *off,
		    const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*off >= len || *argc + 1 >= CMD_ARGV_MAX)
		return -ENOSPC;
	va_start(ap, fmt);
	n = vsnprintf(buf + *off, len - *off, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len - *off)
		return -ENOSPC;
	argv[(*argc)++] = buf + *off;
	argv[*argc] = NULL;
	*off += (size_t)n + 1;
	return 0;
}

int cmd_uvmm_argv(const struct cmd_uvmm_args *a, char **argv, char *buf, size_t len)
{
	unsigned argc = 0;
	size_t off = 0;
	int ret = 0;

#define ADD(...) (ret = ret ? ret : argv_add(argv, &argc, buf, len, &off, __VA_ARGS__))
	ADD("%s", a->uvmm);
	ADD("run");
	ADD("--partition");
	ADD("%s", a->name);
	ADD("--ultravisord");
	ADD("%s", a->uvd_sock);
	ADD("--memory-fd");
	ADD("%d", a->memfd);
	ADD("--memory");
	ADD("%lluM", (unsigned long long)a->memory_mib);
	ADD("--cpus");
	ADD("%u", a->cpus);
	/* Without --kernel, uvmm boots the first disk through its firmware. */
	if (a->kernel) {
		ADD("--kernel");
		ADD("%s", a->kernel);
	}
	if (a->kernel && a->initrd) {
		ADD("--initrd");
		ADD("%s", a->initrd);
	}
	if (a->kernel && a->cmdline) {
		ADD("--cmdline");
		ADD("%s", a->cmdline);
	}
	for (unsigned i = 0; i < a->ndisks + a->nnets; i++) {
		ADD(i < a->ndisks ? "--disk" : "--net");
		ADD("vhost-user-fd=%d,channel=%u", a->fds[i], i);
	}
	ADD("--console");
	ADD("unix:%s", a->console);
#undef ADD
	return ret;
}
