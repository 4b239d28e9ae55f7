// SPDX-License-Identifier: GPL-2.0
/* The records ultravisord keeps, and admission against them. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "uvd.h"

void uvd_init(struct uvd *u)
{
	memset(u, 0, sizeof(*u));
	u->next_chan = 1;
	u->adopt_timeout_ms = 5000;
}

void uvd_fini(struct uvd *u)
{
	uvd_channel_fini(u);
	while (u->parts)
		uvd_part_free(u, u->parts);
	while (u->chans)
		uvd_chan_free(u, u->chans);
	while (u->iops) {
		struct uvd_iopartd *i = u->iops;

		u->iops = i->next;
		free(i);
	}
	while (u->peers) {
		struct uvd_peer *p = u->peers;

		u->peers = p->next;
		free(p);
	}
}

struct uvd_part *uvd_part_find(struct uvd *u, const char *name)
{
	for (struct uvd_part *p = u->parts; p; p = p->next)
		if (!strcmp(p->name, name))
			return p;
	return NULL;
}

struct uvd_iopartd *uvd_iop_find(struct uvd *u, const char *name)
{
	for (struct uvd_iopartd *i = u->iops; i; i = i->next)
		if (!strcmp(i->name, name))
			return i;
	return NULL;
}

struct uvd_chan *uvd_chan_find(struct uvd *u, const char *partition, unsigned device)
{
	for (struct uvd_chan *c = u->chans; c; c = c->next)
		if (c->device == device && !strcmp(c->partition, partition))
			return c;
	return NULL;
}

struct uvd_chan *uvd_chan_by_id(struct uvd *u, unsigned id)
{
	for (struct uvd_chan *c = u->chans; c; c = c->next)
		if (c->id == id)
			return c;
	return NULL;
}

void uvd_chan_free(struct uvd *u, struct uvd_chan *c)
{
	for (struct uvd_chan **pp = &u->chans; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	if (c->inflight_fd >= 0)
		close(c->inflight_fd);
	json_object_put(c->device_spec);
	free(c);
}

void uvd_part_free(struct uvd *u, struct uvd_part *p)
{
	for (struct uvd_part **pp = &u->parts; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	uvd_part_unwatch(p);
	if (p->memfd >= 0)
		close(p->memfd);
	free(p);
}

uint64_t uvd_pool_used(const struct uvd *u)
{
	uint64_t used = 0;

	/* Every recorded partition holds its memory until partition_release. */
	for (const struct uvd_part *p = u->parts; p; p = p->next)
		used += p->memory_mib;
	return used;
}

void uvd_cpus_dedicated(const struct uvd *u, cpu_set_t *out)
{
	CPU_ZERO(out);
	for (const struct uvd_part *p = u->parts; p; p = p->next)
		if (p->dedicated)
			CPU_OR(out, out, &p->host_cpus);
}

bool uvd_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (!n || n >= UVD_NAME_MAX - 1 ||
	    !(islower((unsigned char)name[0]) || isdigit((unsigned char)name[0])))
		return false;
	for (size_t i = 1; i < n; i++) {
		unsigned char ch = (unsigned char)name[i];

		if (!islower(ch) && !isdigit(ch) && !strchr("_.-", ch))
			return false;
	}
	return true;
}

int uvd_admit(const struct uvd *u, uint64_t memory_mib, unsigned vcpus, bool dedicated,
	      cpu_set_t *cpus, char *err, size_t errlen)
{
	uint64_t used = uvd_pool_used(u);
	cpu_set_t taken, avail;
	unsigned nhost = (unsigned)CPU_COUNT(&u->cpus), navail, got = 0;

	if (used > u->pool_mib || memory_mib > u->pool_mib - used) {
		snprintf(err, errlen, "memory pool: %llu MiB asked, %llu MiB free of %llu MiB",
			 (unsigned long long)memory_mib,
			 (unsigned long long)(used > u->pool_mib ? 0 : u->pool_mib - used),
			 (unsigned long long)u->pool_mib);
		return -ENOSPC;
	}
	uvd_cpus_dedicated(u, &taken);
	CPU_XOR(&avail, &u->cpus, &taken);
	CPU_AND(&avail, &avail, &u->cpus);
	navail = (unsigned)CPU_COUNT(&avail);
	if (dedicated && vcpus > navail) {
		snprintf(err, errlen, "host CPUs: %u dedicated CPUs asked, %u of %u not dedicated",
			 vcpus, navail, nhost);
		return -ENOSPC;
	}
	if (!dedicated && (vcpus > nhost || !navail)) {
		snprintf(err, errlen,
			 navail ? "host CPUs: %u vCPUs asked, the host has %u to give"
				: "host CPUs: %u vCPUs asked, all %u are dedicated to others",
			 vcpus, nhost);
		return -ENOSPC;
	}
	if (!dedicated) {
		*cpus = avail;
		return 0;
	}
	/* The lowest free ones: predictable, and easy to read in status. */
	CPU_ZERO(cpus);
	for (int c = 0; c < CPU_SETSIZE && got < vcpus; c++) {
		if (CPU_ISSET(c, &avail)) {
			CPU_SET(c, cpus);
			got++;
		}
	}
	return 0;
}

static const char *const part_states[] = {
	[UVD_PART_RESERVED] = "reserved",
	[UVD_PART_RUNNING] = "running",
	[UVD_PART_STOPPED] = "stopped",
	[UVD_PART_CRASHED] = "crashed",
};

const char *uvd_part_state_name(enum uvd_part_state s)
{
	return part_states[s];
}

int uvd_part_state_parse(const char *s, enum uvd_part_state *out)
{
	for (unsigned i = 0; i < sizeof(part_states) / sizeof(part_states[0]); i++) {
		if (!strcmp(s, part_states[i])) {
			*out = (enum uvd_part_state)i;
			return 0;
		}
	}
	return -EINVAL;
}

json_object *uvd_cpus_json(const cpu_set_t *set)
{
	json_object *a = json_object_new_array();

	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, set))
			json_object_array_add(a, json_object_new_int(c));
	return a;
}

int uvd_cpus_from_json(json_object *a, cpu_set_t *out)
{
	CPU_ZERO(out);
	if (!json_object_is_type(a, json_type_array))
		return -EINVAL;
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *v = json_object_array_get_idx(a, i);
		int64_t c;

		if (!json_object_is_type(v, json_type_int))
			return -EINVAL;
		c = json_object_get_int64(v);
		if (c < 0 || c >= CPU_SETSIZE)
			return -EINVAL;
		CPU_SET((int)c, out);
	}
	return 0;
}

static int cpus_num(const char **s, long *out)
{
	char *end;

	if (!isdigit((unsigned char)**s))
		return -EINVAL;
	errno = 0;
	*out = strtol(*s, &end, 10);
	if (errno || *out >= CPU_SETSIZE)
		return -EINVAL;
	*s = end;
	return 0;
}

int uvd_cpus_parse(const char *s, cpu_set_t *out)
{
	CPU_ZERO(out);
	for (;;) {
		long a, b;

		if (cpus_num(&s, &a))
			return -EINVAL;
		b = a;
		if (*s == '-') {
			s++;
			if (cpus_num(&s, &b) || b < a)
				return -EINVAL;
		}
		for (long c = a; c <= b; c++)
			CPU_SET((int)c, out);
		if (!*s)
			return CPU_COUNT(out) ? 0 : -EINVAL;
		if (*s++ != ',')
			return -EINVAL;
	}
}
