// SPDX-License-Identifier: GPL-2.0
/* partition_reserve, partition_attach, partition_release. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl_msg.h"
#include "log.h"
#include "uvd.h"

static struct uvd_part *part_arg(struct uvd *u, struct ctl_conn *c, json_object *msg)
{
	struct uvd_part *p;
	const char *name;
	char err[160];

	if (ctl_get_str(msg, "name", &name, err, sizeof(err))) {
		ctl_conn_reply_err(c, msg, "%s", err);
		return NULL;
	}
	p = uvd_part_find(u, name);
	if (!p)
		ctl_conn_reply_err(c, msg, "no partition '%s'", name);
	return p;
}

/* Its uvmm still runs: nothing may take its resources away. */
static bool part_live(const struct uvd_part *p)
{
	return p->state == UVD_PART_RUNNING && uvd_pid_alive(p->pid, p->pid_start);
}

static void part_reply_add(json_object *rep, const struct uvd_part *p)
{
	json_object_object_add(rep, "name", json_object_new_string(p->name));
	json_object_object_add(rep, "memory_mib", json_object_new_int64((int64_t)p->memory_mib));
	json_object_object_add(rep, "size", json_object_new_int64((int64_t)(p->memory_mib << 20)));
	json_object_object_add(rep, "hugepages", json_object_new_boolean(p->hugepages));
	json_object_object_add(rep, "cpus", json_object_new_int((int)p->vcpus));
	json_object_object_add(rep, "dedicated", json_object_new_boolean(p->dedicated));
	json_object_object_add(rep, "host_cpus", uvd_cpus_json(&p->host_cpus));
}

struct reserve_args {
	const char *name;
	int64_t mem, cpus;
	bool huge, dedicated;
};

static int reserve_parse(json_object *msg, struct reserve_args *a, char *err, size_t errlen)
{
	int ret;

	a->huge = a->dedicated = false;
	if ((ret = ctl_get_str(msg, "name", &a->name, err, errlen)) ||
	    (ret = ctl_get_int(msg, "memory_mib", UVD_MEM_MIN_MIB, UVD_MEM_MAX_MIB, &a->mem, err,
			       errlen)) ||
	    (ret = ctl_get_int(msg, "cpus", 1, UVD_VCPUS_MAX, &a->cpus, err, errlen)))
		return ret;
	ret = ctl_get_bool(msg, "hugepages", &a->huge, err, errlen);
	if (ret && ret != -ENOENT)
		return ret;
	ret = ctl_get_bool(msg, "dedicated", &a->dedicated, err, errlen);
	if (ret && ret != -ENOENT)
		return ret;
	if (!uvd_name_ok(a->name)) {
		snprintf(err, errlen, "bad name '%s' (want [a-z0-9][a-z0-9_.-]{0,62})", a->name);
		return -EINVAL;
	}
	return 0;
}

int uvd_op_partition_reserve(struct uvd *u, struct ctl_conn *c, json_object *msg)
{
	struct reserve_args a;
	struct uvd_part *p;
	json_object *rep;
	cpu_set_t cpus;
	char err[256];
	int fd;

	if (reserve_parse(msg, &a, err, sizeof(err)))
		return ctl_conn_reply_err(c, msg, "%s", err);
	p = uvd_part_find(u, a.name);
	if (p)
		return ctl_conn_reply_err(c, msg, "partition '%s' exists (%s); release it first",
					  a.name, uvd_part_state_name(p->state));
	if (uvd_admit(u, (uint64_t)a.mem, (unsigned)a.cpus, a.dedicated, &cpus, err, sizeof(err)))
		return ctl_conn_reply_err(c, msg, "admission refused: %s", err);
	fd = uvd_memory_alloc(a.name, (uint64_t)a.mem, a.huge, err, sizeof(err));
	if (fd < 0)
		return ctl_conn_reply_err(c, msg, "admission refused: %s", err);
	p = calloc(1, sizeof(*p));
	if (!p) {
		close(fd);
		return ctl_conn_reply_err(c, msg, "out of memory");
	}
	snprintf(p->name, sizeof(p->name), "%s", a.name);
	p->owner = u;
	p->memory_mib = (uint64_t)a.mem;
	p->vcpus = (unsigned)a.cpus;
	p->hugepages = a.huge;
	p->dedicated = a.dedicated;
	p->host_cpus = cpus;
	p->state = UVD_PART_RESERVED;
	p->memfd = fd;
	p->pidfd = -1;
	p->next = u->parts;
	u->parts = p;
	uvd_state_save(u);
	pr_info("partition %s: reserved %llu MiB%s, %u vCPUs%s", p->name,
		(unsigned long long)p->memory_mib, p->hugepages ? " on huge pages" : "", p->vcpus,
		p->dedicated ? " on dedicated CPUs" : "");
	rep = ctl_reply_ok(msg);
	part_reply_add(rep, p);
	ctl_conn_send(c, rep, &fd, 1);
	json_object_put(rep);
	return 0;
}

int uvd_op_partition_attach(struct uvd *u, struct ctl_conn *c, json_object *msg)
{
	struct uvd_peer *peer = uvd_peer_of(u, c);
	struct uvd_part *p = part_arg(u, c, msg);
	int64_t pid = ctl_conn_cred(c)->pid;
	json_object *rep;
	char err[160];
	int ret;

	if (!p)
		return 0;
	ret = ctl_get_int(msg, "pid", 1, INT32_MAX, &pid, err, sizeof(err));
	if (ret && ret != -ENOENT)
		return ctl_conn_reply_err(c, msg, "%s", err);
	if (part_live(p) && p->pid != (pid_t)pid)
		return ctl_conn_reply_err(c, msg,
					  "partition '%s' is attached to pid %d, which runs",
					  p->name, (int)p->pid);
	if (!uvd_pid_alive((pid_t)pid, 0))
		return ctl_conn_reply_err(c, msg, "pid %d does not exist", (int)pid);
	p->state = UVD_PART_RUNNING;
	p->pid = (pid_t)pid;
	p->pid_start = uvd_pid_start(p->pid);
	p->reason[0] = 0;
	/* The uvmm's own connection: channel moves are pushed to it. */
	p->uvmm = peer && peer->role == UVD_ROLE_UVMM ? c : NULL;
	uvd_part_watch(u, p);
	uvd_state_save(u);
	pr_info("partition %s: uvmm pid %d attached", p->name, (int)p->pid);
	rep = ctl_reply_ok(msg);
	part_reply_add(rep, p);
	json_object_object_add(rep, "pid", json_object_new_int((int)p->pid));
	json_object_object_add(rep, "memory", json_object_new_boolean(p->memfd >= 0));
	ctl_conn_send(c, rep, &p->memfd, p->memfd >= 0);
	json_object_put(rep);
	return 0;
}

int uvd_op_partition_release(struct uvd *u, struct ctl_conn *c, json_object *msg)
{
	struct uvd_part *p = part_arg(u, c, msg);
	struct uvd_chan *ch, *next;

	if (!p)
		return 0;
	if (part_live(p))
		return ctl_conn_reply_err(c, msg,
					  "partition '%s' runs (uvmm pid %d); stop it first",
					  p->name, (int)p->pid);
	for (ch = u->chans; ch; ch = next) {
		next = ch->next;
		/* A channel still being set up goes when its answer comes. */
		if (!strcmp(ch->partition, p->name) && ch->state == UVD_CHAN_UP)
			uvd_chan_free(u, ch);
	}
	pr_info("partition %s: released %llu MiB", p->name, (unsigned long long)p->memory_mib);
	uvd_part_free(u, p);
	uvd_state_save(u);
	return ctl_conn_reply_ok(c, msg);
}
