// SPDX-License-Identifier: GPL-2.0
/*
 * state.json: what ultravisord must find again after a restart. Written
 * atomically on every change; read once at start. File descriptors (guest
 * memory, in-flight areas) cannot be written down: after a restart the
 * running uvmm processes still hold theirs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_msg.h"
#include "daemon.h"
#include "log.h"
#include "uvd.h"

#define UVD_STATE_VERSION 1
#define UVD_STATE_MAX	  (16 << 20)

static json_object *part_json(const struct uvd_part *p)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(p->name));
	json_object_object_add(o, "memory_mib", json_object_new_int64((int64_t)p->memory_mib));
	json_object_object_add(o, "cpus", json_object_new_int((int)p->vcpus));
	json_object_object_add(o, "dedicated", json_object_new_boolean(p->dedicated));
	json_object_object_add(o, "host_cpus", uvd_cpus_json(&p->host_cpus));
	json_object_object_add(o, "hugepages", json_object_new_boolean(p->hugepages));
	json_object_object_add(o, "state", json_object_new_string(uvd_part_state_name(p->state)));
	json_object_object_add(o, "pid", json_object_new_int((int)p->pid));
	json_object_object_add(o, "pid_start", json_object_new_int64((int64_t)p->pid_start));
	json_object_object_add(o, "reason", json_object_new_string(p->reason));
	return o;
}

static json_object *chan_json(const struct uvd_chan *c)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_int((int)c->id));
	json_object_object_add(o, "partition", json_object_new_string(c->partition));
	json_object_object_add(o, "device", json_object_new_int((int)c->device));
	json_object_object_add(o, "iopartd", json_object_new_string(c->iopartd));
	if (c->standby[0])
		json_object_object_add(o, "standby", json_object_new_string(c->standby));
	json_object_object_add(o, "epoch", json_object_new_int((int)c->epoch));
	if (c->device_spec)
		json_object_object_add(o, "spec", json_object_get(c->device_spec));
	return o;
}

json_object *uvd_state_json(const struct uvd *u)
{
	json_object *doc = json_object_new_object(), *a;

	json_object_object_add(doc, "version", json_object_new_int(UVD_STATE_VERSION));
	json_object_object_add(doc, "next_channel", json_object_new_int((int)u->next_chan));
	a = json_object_new_array();
	for (const struct uvd_part *p = u->parts; p; p = p->next)
		json_object_array_add(a, part_json(p));
	json_object_object_add(doc, "partitions", a);
	a = json_object_new_array();
	/* Only adopted channels: a pending one has no back end yet. */
	for (const struct uvd_chan *c = u->chans; c; c = c->next)
		if (c->state == UVD_CHAN_UP)
			json_object_array_add(a, chan_json(c));
	json_object_object_add(doc, "channels", a);
	a = json_object_new_array();
	/* The pid tells a restarted iopartd from the same one (its standbys). */
	for (const struct uvd_iopartd *i = u->iops; i; i = i->next) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "name", json_object_new_string(i->name));
		json_object_object_add(o, "pid", json_object_new_int((int)i->pid));
		json_object_array_add(a, o);
	}
	json_object_object_add(doc, "iopartds", a);
	return doc;
}

static int bad(char *err, size_t errlen, const char *what, size_t i, const char *why)
{
	snprintf(err, errlen, "%s[%zu]: %s", what, i, why);
	return -EINVAL;
}

static int part_apply(struct uvd *u, json_object *o, size_t i, char *err, size_t errlen)
{
	const char *name, *state, *reason = "";
	int64_t mem, cpus, pid, start;
	bool ded, huge;
	json_object *hc;
	struct uvd_part *p, **pp;
	char why[160];

	if (ctl_get_str(o, "name", &name, why, sizeof(why)) ||
	    ctl_get_int(o, "memory_mib", UVD_MEM_MIN_MIB, UVD_MEM_MAX_MIB, &mem, why,
			sizeof(why)) ||
	    ctl_get_int(o, "cpus", 1, UVD_VCPUS_MAX, &cpus, why, sizeof(why)) ||
	    ctl_get_bool(o, "dedicated", &ded, why, sizeof(why)) ||
	    ctl_get_bool(o, "hugepages", &huge, why, sizeof(why)) ||
	    ctl_get_str(o, "state", &state, why, sizeof(why)) ||
	    ctl_get_int(o, "pid", 0, INT32_MAX, &pid, why, sizeof(why)) ||
	    ctl_get_int(o, "pid_start", 0, INT64_MAX - 1, &start, why, sizeof(why)))
		return bad(err, errlen, "partitions", i, why);
	if (!uvd_name_ok(name))
		return bad(err, errlen, "partitions", i, "bad name");
	if (uvd_part_find(u, name))
		return bad(err, errlen, "partitions", i, "name recorded twice");
	ctl_get_str(o, "reason", &reason, why, sizeof(why));
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->owner = u;
	p->memfd = -1;
	p->pidfd = -1;
	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->reason, sizeof(p->reason), "%s", reason);
	p->memory_mib = (uint64_t)mem;
	p->vcpus = (unsigned)cpus;
	p->dedicated = ded;
	p->hugepages = huge;
	p->pid = (pid_t)pid;
	p->pid_start = (uint64_t)start;
	/* At the tail: the order stays what it was before the restart. */
	pp = &u->parts;
	while (*pp)
		pp = &(*pp)->next;
	*pp = p;
	if (uvd_part_state_parse(state, &p->state))
		return bad(err, errlen, "partitions", i, "unknown state");
	if (!json_object_object_get_ex(o, "host_cpus", &hc) ||
	    uvd_cpus_from_json(hc, &p->host_cpus))
		return bad(err, errlen, "partitions", i, "bad host_cpus");
	return 0;
}

static int chan_apply(struct uvd *u, json_object *o, size_t i, char *err, size_t errlen)
{
	const char *part, *iop, *standby = "";
	int64_t id, dev, epoch;
	json_object *spec = NULL;
	struct uvd_chan *c, **cc;
	char why[160];

	if (ctl_get_int(o, "id", 1, INT32_MAX, &id, why, sizeof(why)) ||
	    ctl_get_str(o, "partition", &part, why, sizeof(why)) ||
	    ctl_get_int(o, "device", 0, UVD_DEVICE_MAX - 1, &dev, why, sizeof(why)) ||
	    ctl_get_str(o, "iopartd", &iop, why, sizeof(why)) ||
	    ctl_get_int(o, "epoch", 0, INT32_MAX, &epoch, why, sizeof(why)) ||
	    ctl_get_str(o, "standby", &standby, why, sizeof(why)) == -EINVAL)
		return bad(err, errlen, "channels", i, why);
	if (*standby && (!uvd_name_ok(standby) || !strcmp(standby, iop)))
		return bad(err, errlen, "channels", i, "bad standby iopartd name");
	if (!uvd_part_find(u, part))
		return bad(err, errlen, "channels", i, "of an unknown partition");
	if (!uvd_name_ok(iop))
		return bad(err, errlen, "channels", i, "bad iopartd name");
	if (uvd_chan_by_id(u, (unsigned)id) || uvd_chan_find(u, part, (unsigned)dev))
		return bad(err, errlen, "channels", i, "recorded twice");
	json_object_object_get_ex(o, "spec", &spec);
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->id = (unsigned)id;
	snprintf(c->partition, sizeof(c->partition), "%s", part);
	snprintf(c->iopartd, sizeof(c->iopartd), "%s", iop);
	snprintf(c->standby, sizeof(c->standby), "%s", standby);
	c->device = (unsigned)dev;
	c->epoch = (unsigned)epoch;
	c->state = UVD_CHAN_UP;
	c->inflight_fd = -1;
	c->device_spec = spec ? json_object_get(spec) : NULL;
	cc = &u->chans;
	while (*cc)
		cc = &(*cc)->next;
	*cc = c;
	if (c->id >= u->next_chan)
		u->next_chan = c->id + 1;
	return 0;
}

static int iop_apply(struct uvd *u, json_object *v, size_t i, char *err, size_t errlen)
{
	struct uvd_iopartd *iop, **ip;
	const char *name = json_object_get_string(v);
	int64_t pid = 0;
	char why[160];

	/* {"name", "pid"}; a bare name is what state files before pids held. */
	if (json_object_is_type(v, json_type_object) &&
	    (ctl_get_str(v, "name", &name, why, sizeof(why)) ||
	     ctl_get_int(v, "pid", 0, INT32_MAX, &pid, why, sizeof(why))))
		return bad(err, errlen, "iopartds", i, why);
	if (!(json_object_is_type(v, json_type_string) ||
	      json_object_is_type(v, json_type_object)) ||
	    !uvd_name_ok(name))
		return bad(err, errlen, "iopartds", i, "bad name");
	if (uvd_iop_find(u, name))
		return bad(err, errlen, "iopartds", i, "recorded twice");
	iop = calloc(1, sizeof(*iop));
	if (!iop)
		return -ENOMEM;
	snprintf(iop->name, sizeof(iop->name), "%s", name);
	iop->pid = (pid_t)pid;
	/* Dead until it registers again: its connection died with our old self. */
	iop->health = UVD_IOP_DEAD;
	ip = &u->iops;
	while (*ip)
		ip = &(*ip)->next;
	*ip = iop;
	return 0;
}

static int list_apply(struct uvd *u, json_object *doc, const char *key,
		      int (*fn)(struct uvd *, json_object *, size_t, char *, size_t), char *err,
		      size_t errlen)
{
	json_object *a;
	int ret;

	if (!json_object_object_get_ex(doc, key, &a) || !json_object_is_type(a, json_type_array)) {
		snprintf(err, errlen, "'%s' is missing or not an array", key);
		return -EINVAL;
	}
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		ret = fn(u, json_object_array_get_idx(a, i), i, err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}

int uvd_state_apply(struct uvd *u, json_object *doc, char *err, size_t errlen)
{
	int64_t v, next;
	int ret;

	if (!json_object_is_type(doc, json_type_object)) {
		snprintf(err, errlen, "not a JSON object");
		return -EINVAL;
	}
	if (ctl_get_int(doc, "version", UVD_STATE_VERSION, UVD_STATE_VERSION, &v, err, errlen) ||
	    ctl_get_int(doc, "next_channel", 1, INT32_MAX, &next, err, errlen))
		return -EINVAL;
	u->next_chan = (unsigned)next;
	ret = list_apply(u, doc, "partitions", part_apply, err, errlen);
	if (!ret)
		ret = list_apply(u, doc, "channels", chan_apply, err, errlen);
	if (!ret)
		ret = list_apply(u, doc, "iopartds", iop_apply, err, errlen);
	return ret;
}

void uvd_state_save(struct uvd *u)
{
	json_object *doc = uvd_state_json(u);
	size_t len;
	const char *s = json_object_to_json_string_length(doc, JSON_C_TO_STRING_PRETTY, &len);
	char err[512];

	if (uv_file_write_atomic(u->state_path, s, len, 0640, err, sizeof(err)))
		pr_err("state not saved: %s", err);
	json_object_put(doc);
}

/* Drops whatever a failed apply left, so the start is really empty. */
static void state_clear(struct uvd *u)
{
	while (u->parts)
		uvd_part_free(u, u->parts);
	while (u->chans)
		uvd_chan_free(u, u->chans);
	while (u->iops) {
		struct uvd_iopartd *i = u->iops;

		u->iops = i->next;
		free(i);
	}
	u->next_chan = 1;
}

int uvd_state_load(struct uvd *u)
{
	char err[512], bad_path[4200];
	json_object *doc;
	size_t len;
	char *buf;
	int ret = uv_file_read(u->state_path, UVD_STATE_MAX, &buf, &len, err, sizeof(err));

	if (ret == -ENOENT)
		return 0;
	if (ret == -EFBIG || !ret) {
		doc = ret ? NULL : json_tokener_parse(buf);
		free(buf);
		if (!ret && !doc)
			snprintf(err, sizeof(err), "not JSON");
		ret = doc ? uvd_state_apply(u, doc, err, sizeof(err)) : -EINVAL;
		json_object_put(doc);
		if (!ret)
			return 0;
		state_clear(u);
		snprintf(bad_path, sizeof(bad_path), "%s.bad", u->state_path);
		if (rename(u->state_path, bad_path))
			pr_err("%s: corrupt (%s), starting empty; cannot keep it as %s: %s",
			       u->state_path, err, bad_path, strerror(errno));
		else
			pr_err("%s: corrupt (%s), starting empty; kept as %s", u->state_path, err,
			       bad_path);
		return 0;
	}
	pr_err("%s", err);
	return ret;
}

void uvd_state_revive(struct uvd *u)
{
	for (struct uvd_part *p = u->parts; p; p = p->next) {
		if (p->state == UVD_PART_RUNNING && uvd_pid_alive(p->pid, p->pid_start)) {
			uvd_part_watch(u, p);
			pr_info("partition %s: uvmm pid %d still runs", p->name, (int)p->pid);
		} else if (p->state == UVD_PART_RUNNING) {
			p->state = UVD_PART_CRASHED;
			snprintf(p->reason, sizeof(p->reason),
				 "uvmm pid %d ended while ultravisord was down", (int)p->pid);
			pr_warn("partition %s: %s", p->name, p->reason);
		} else if (p->state == UVD_PART_RESERVED) {
			p->state = UVD_PART_STOPPED;
			snprintf(p->reason, sizeof(p->reason),
				 "its memory was lost in an ultravisord restart before a uvmm "
				 "attached");
			pr_warn("partition %s: %s", p->name, p->reason);
		}
	}
}
