// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "field.h"
#include "partition.h"

const char *const opsd_restart_names[3] = {"on-failure", "always", "never"};
const char *const opsd_state_names[7] = {"unknown",  "stopped", "starting", "running",
					 "stopping", "crashed", "failed"};
static const char *const desired_names[] = {"stopped", "running"};
static const char *const stop_mode_names[] = {"shutdown", "destroy"};
static const char *const format_names[] = {"detect", "raw", "qcow2"};

/* What a parse may see: a create body, or a saved file (which adds the intent). */
enum part_src { PART_CREATE, PART_FILE };

int opsd_enum_parse(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(s, names[i]))
			return (int)i;
	return -1;
}

/* [a-z0-9][a-z0-9_.-]{0,62}: also a safe file name (no '/', never "." or ".."). */
bool opsd_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (!len || len > OPSD_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

		if (!alnum && (!i || (c != '_' && c != '.' && c != '-')))
			return false;
	}
	return true;
}

/* Linux interface names: 1-15 bytes; kept to characters no shell or path mangles. */
static bool ifname_valid(const char *s)
{
	size_t len = strlen(s);

	if (!len || len > OPSD_IFNAME_MAX || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-",
			    s[i]))
			return false;
	return true;
}

static int part_disk(json_object *o, unsigned idx, struct opsd_disk *d, char *err, size_t errlen)
{
	char name[48];
	const char *s;
	int ret, fmt;

	if (!json_object_is_type(o, json_type_object)) {
		snprintf(err, errlen, "'disks[%u]' must be an object", idx);
		return -EINVAL;
	}
	json_object_object_foreach(o, key, val)
	{
		snprintf(name, sizeof(name), "disks[%u].%.16s", idx, key);
		if (!strcmp(key, "path")) {
			ret = opsd_field_path(val, name, OPSD_DISK_PATH_MAX, &s, err, errlen);
			if (ret)
				return ret;
			d->path = strdup(s);
			if (!d->path) {
				snprintf(err, errlen, "out of memory");
				return -ENOMEM;
			}
		} else if (!strcmp(key, "format")) {
			ret = opsd_field_enum(val, name, format_names + 1, 2, &fmt, err, errlen);
			if (ret)
				return ret;
			d->format = fmt + 1;
		} else if (!strcmp(key, "readonly")) {
			ret = opsd_field_bool(val, name, &d->readonly, err, errlen);
			if (ret)
				return ret;
		} else {
			snprintf(name, sizeof(name), "disks[%u].%s", idx, key);
			return opsd_field_unknown(name, err, errlen);
		}
	}
	if (!d->path) {
		snprintf(err, errlen, "missing field 'disks[%u].path'", idx);
		return -EINVAL;
	}
	return 0;
}

static int part_net(json_object *o, unsigned idx, struct opsd_net *n, char *err, size_t errlen)
{
	char name[48];
	const char *s;
	int ret;

	if (!json_object_is_type(o, json_type_object)) {
		snprintf(err, errlen, "'nets[%u]' must be an object", idx);
		return -EINVAL;
	}
	json_object_object_foreach(o, key, val)
	{
		snprintf(name, sizeof(name), "nets[%u].%.16s", idx, key);
		if (strcmp(key, "tap")) {
			snprintf(name, sizeof(name), "nets[%u].%s", idx, key);
			return opsd_field_unknown(name, err, errlen);
		}
		ret = opsd_field_str(val, name, 255, &s, err, errlen);
		if (ret)
			return ret;
		if (!ifname_valid(s)) {
			snprintf(err, errlen,
				 "'%s' must be an interface name: 1-15 of A-Z a-z 0-9 _ . -", name);
			return -EINVAL;
		}
		strcpy(n->tap, s);
	}
	if (!n->tap[0]) {
		snprintf(err, errlen, "missing field 'nets[%u].tap'", idx);
		return -EINVAL;
	}
	return 0;
}

/* disks and nets: arrays of at most max objects, each parsed by one. */
static int part_array(json_object *v, const char *name, size_t max, char *err, size_t errlen)
{
	if (!json_object_is_type(v, json_type_array)) {
		snprintf(err, errlen, "'%s' must be an array", name);
		return -EINVAL;
	}
	if (json_object_array_length(v) > max) {
		snprintf(err, errlen, "'%s' has more than %zu entries", name, max);
		return -EINVAL;
	}
	return 0;
}

static int part_lists(struct opsd_partition *p, const char *key, json_object *val, char *err,
		      size_t errlen)
{
	int ret;

	if (!strcmp(key, "disks")) {
		ret = part_array(val, key, OPSD_MAX_DISKS, err, errlen);
		for (size_t i = 0; !ret && i < json_object_array_length(val); i++) {
			ret = part_disk(json_object_array_get_idx(val, i), i, &p->disks[i], err,
					errlen);
			p->ndisks = i + 1; /* so that a half-parsed path is freed */
		}
		return ret;
	}
	ret = part_array(val, key, OPSD_MAX_NETS, err, errlen);
	for (size_t i = 0; !ret && i < json_object_array_length(val); i++) {
		ret = part_net(json_object_array_get_idx(val, i), i, &p->nets[i], err, errlen);
		p->nnets = i + 1;
	}
	return ret;
}

/* A cmdline is shown by uvctl and passed as one argument: printable text only. */
static int part_cmdline_check(const char *s, char *err, size_t errlen)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f) {
			snprintf(err, errlen, "'cmdline' must not contain control characters");
			return -EINVAL;
		}
	return 0;
}

/* kernel, initrd, cmdline: direct kernel boot. 1 when key is none of them. */
static int part_boot(struct opsd_partition *p, const char *key, json_object *val, char *err,
		     size_t errlen)
{
	char **dst;
	const char *s;
	int ret;

	if (!strcmp(key, "kernel") || !strcmp(key, "initrd")) {
		dst = key[0] == 'k' ? &p->kernel : &p->initrd;
		ret = opsd_field_path(val, key, OPSD_BOOT_PATH_MAX, &s, err, errlen);
	} else if (!strcmp(key, "cmdline")) {
		dst = &p->cmdline;
		ret = opsd_field_str(val, key, OPSD_CMDLINE_MAX, &s, err, errlen);
		if (!ret)
			ret = part_cmdline_check(s, err, errlen);
	} else {
		return 1;
	}
	if (ret)
		return ret;
	free(*dst);
	*dst = strdup(s);
	if (!*dst) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

/* The members only a saved file has. 1 when key is none of them. */
static int part_intent(struct opsd_partition *p, const char *key, json_object *val, char *err,
		       size_t errlen)
{
	int64_t gen;
	int ret, x;

	if (!strcmp(key, "desired")) {
		ret = OPSD_FIELD_ENUM(val, key, desired_names, &x, err, errlen);
		p->intent.desired = x;
	} else if (!strcmp(key, "stop_mode")) {
		ret = OPSD_FIELD_ENUM(val, key, stop_mode_names, &x, err, errlen);
		p->intent.stop_mode = x;
	} else if (!strcmp(key, "generation")) {
		ret = opsd_field_int(val, key, 0, INT64_MAX, &gen, err, errlen);
		p->intent.generation = gen;
	} else {
		return 1;
	}
	return ret;
}

static int part_member(struct opsd_partition *p, enum part_src src, const char *key,
		       json_object *val, char *err, size_t errlen)
{
	const char *s;
	int64_t x;
	int ret, r;

	if (!strcmp(key, "name")) {
		ret = opsd_field_str(val, key, 255, &s, err, errlen);
		if (!ret && !opsd_name_valid(s)) {
			snprintf(err, errlen, "'name' must match [a-z0-9][a-z0-9_.-]{0,62}");
			ret = -EINVAL;
		}
		if (!ret)
			strcpy(p->name, s);
	} else if (!strcmp(key, "cpus")) {
		ret = opsd_field_int(val, key, 1, OPSD_CPUS_MAX, &x, err, errlen);
		p->cpus = x;
	} else if (!strcmp(key, "memory_mib")) {
		ret = opsd_field_int(val, key, OPSD_MEM_MIN_MIB, OPSD_MEM_MAX_MIB, &x, err, errlen);
		p->memory_mib = x;
	} else if (!strcmp(key, "hugepages")) {
		ret = opsd_field_bool(val, key, &p->hugepages, err, errlen);
	} else if (!strcmp(key, "disks") || !strcmp(key, "nets")) {
		ret = part_lists(p, key, val, err, errlen);
	} else if (!strcmp(key, "restart")) {
		ret = OPSD_FIELD_ENUM(val, key, opsd_restart_names, &r, err, errlen);
		p->restart = r;
	} else if ((ret = part_boot(p, key, val, err, errlen)) <= 0) {
		/* done */
	} else if (src == PART_FILE && (ret = part_intent(p, key, val, err, errlen)) <= 0) {
		/* done */
	} else {
		ret = opsd_field_unknown(key, err, errlen);
	}
	return ret;
}

static struct opsd_partition *part_parse(json_object *o, enum part_src src,
					 enum opsd_restart restart_dflt, char *err, size_t errlen)
{
	struct opsd_partition *p;

	if (!json_object_is_type(o, json_type_object)) {
		snprintf(err, errlen, "the body must be a JSON object");
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->cpus = OPSD_DEFAULT_CPUS;
	p->memory_mib = OPSD_DEFAULT_MIB;
	p->restart = restart_dflt;
	json_object_object_foreach(o, key, val)
	{
		if (part_member(p, src, key, val, err, errlen))
			goto fail;
	}
	if (!p->name[0]) {
		snprintf(err, errlen, "missing field 'name'");
		goto fail;
	}
	/* Without a kernel the firmware boots the disk with the disk's own initrd and options. */
	if (!p->kernel && (p->initrd || p->cmdline)) {
		snprintf(err, errlen,
			 "'%s' needs 'kernel' (without one, the firmware boots the first disk "
			 "with its own)",
			 p->initrd ? "initrd" : "cmdline");
		goto fail;
	}
	return p;
fail:
	opsd_partition_free(p);
	return NULL;
}

struct opsd_partition *opsd_partition_from_create(json_object *o, enum opsd_restart restart_dflt,
						  char *err, size_t errlen)
{
	return part_parse(o, PART_CREATE, restart_dflt, err, errlen);
}

struct opsd_partition *opsd_partition_from_file(json_object *o, char *err, size_t errlen)
{
	return part_parse(o, PART_FILE, OPSD_RESTART_ON_FAILURE, err, errlen);
}

void opsd_partition_free(struct opsd_partition *p)
{
	if (!p)
		return;
	for (unsigned i = 0; i < p->ndisks; i++)
		free(p->disks[i].path);
	free(p->kernel);
	free(p->initrd);
	free(p->cmdline);
	opsd_actual_clear(&p->actual);
	free(p);
}

static json_object *part_definition(const struct opsd_partition *p)
{
	json_object *o = json_object_new_object(), *disks = json_object_new_array(),
		    *nets = json_object_new_array();

	json_object_object_add(o, "name", json_object_new_string(p->name));
	json_object_object_add(o, "cpus", json_object_new_int(p->cpus));
	json_object_object_add(o, "memory_mib", json_object_new_int(p->memory_mib));
	json_object_object_add(o, "hugepages", json_object_new_boolean(p->hugepages));
	for (unsigned i = 0; i < p->ndisks; i++) {
		json_object *d = json_object_new_object();

		json_object_object_add(d, "path", json_object_new_string(p->disks[i].path));
		if (p->disks[i].format != OPSD_FORMAT_DETECT)
			json_object_object_add(
				d, "format",
				json_object_new_string(format_names[p->disks[i].format]));
		json_object_object_add(d, "readonly",
				       json_object_new_boolean(p->disks[i].readonly));
		json_object_array_add(disks, d);
	}
	json_object_object_add(o, "disks", disks);
	for (unsigned i = 0; i < p->nnets; i++) {
		json_object *n = json_object_new_object();

		json_object_object_add(n, "tap", json_object_new_string(p->nets[i].tap));
		json_object_array_add(nets, n);
	}
	json_object_object_add(o, "nets", nets);
	/* Only when set: their absence says "boot through the firmware". */
	if (p->kernel)
		json_object_object_add(o, "kernel", json_object_new_string(p->kernel));
	if (p->initrd)
		json_object_object_add(o, "initrd", json_object_new_string(p->initrd));
	if (p->cmdline)
		json_object_object_add(o, "cmdline", json_object_new_string(p->cmdline));
	json_object_object_add(o, "restart",
			       json_object_new_string(opsd_restart_names[p->restart]));
	json_object_object_add(o, "desired",
			       json_object_new_string(desired_names[p->intent.desired]));
	json_object_object_add(o, "stop_mode",
			       json_object_new_string(stop_mode_names[p->intent.stop_mode]));
	json_object_object_add(o, "generation", json_object_new_int64(p->intent.generation));
	return o;
}

json_object *opsd_partition_to_file(const struct opsd_partition *p)
{
	return part_definition(p);
}

json_object *opsd_partition_to_json(const struct opsd_partition *p)
{
	json_object *o = part_definition(p), *a = json_object_new_object();

	json_object_object_add(a, "state",
			       json_object_new_string(opsd_state_names[p->actual.state]));
	json_object_object_add(a, "pid", json_object_new_int64(p->actual.pid));
	json_object_object_add(a, "iopartd", json_object_new_string(p->actual.iopartd));
	json_object_object_add(a, "standby", json_object_new_string(p->actual.standby));
	json_object_object_add(a, "reason",
			       json_object_new_string(p->actual.reason ? p->actual.reason : ""));
	json_object_object_add(o, "actual", a);
	return o;
}

static int actual_member(struct opsd_actual *a, const char *key, json_object *val, char *err,
			 size_t errlen)
{
	const char *s;
	int ret, st;

	if (!strcmp(key, "state")) {
		ret = OPSD_FIELD_ENUM(val, key, opsd_state_names, &st, err, errlen);
		a->state = st;
	} else if (!strcmp(key, "pid")) {
		ret = opsd_field_int(val, key, 0, INT32_MAX, &a->pid, err, errlen);
	} else if (!strcmp(key, "iopartd")) {
		ret = opsd_field_str(val, key, OPSD_IOPARTD_MAX, &s, err, errlen);
		if (!ret)
			strcpy(a->iopartd, s);
	} else if (!strcmp(key, "standby")) {
		ret = opsd_field_str(val, key, OPSD_IOPARTD_MAX, &s, err, errlen);
		if (!ret)
			strcpy(a->standby, s);
	} else if (!strcmp(key, "reason")) {
		ret = opsd_field_str(val, key, OPSD_REASON_MAX, &s, err, errlen);
		if (!ret) {
			free(a->reason);
			a->reason = strdup(s);
			if (!a->reason) {
				snprintf(err, errlen, "out of memory");
				ret = -ENOMEM;
			}
		}
	} else {
		ret = opsd_field_unknown(key, err, errlen);
	}
	return ret;
}

int opsd_actual_parse(json_object *o, struct opsd_actual *out, char *err, size_t errlen)
{
	bool have_state = false;
	int ret;

	memset(out, 0, sizeof(*out));
	if (!json_object_is_type(o, json_type_object)) {
		snprintf(err, errlen, "the body must be a JSON object");
		return -EINVAL;
	}
	json_object_object_foreach(o, key, val)
	{
		ret = actual_member(out, key, val, err, errlen);
		if (ret) {
			opsd_actual_clear(out);
			return ret;
		}
		have_state |= !strcmp(key, "state");
	}
	if (!have_state) {
		snprintf(err, errlen, "missing field 'state'");
		return -EINVAL;
	}
	return 0;
}

void opsd_actual_clear(struct opsd_actual *a)
{
	free(a->reason);
	memset(a, 0, sizeof(*a));
}

bool opsd_actual_active(const struct opsd_actual *a)
{
	return a->state == OPSD_STATE_STARTING || a->state == OPSD_STATE_RUNNING ||
	       a->state == OPSD_STATE_STOPPING;
}
