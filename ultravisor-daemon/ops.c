// SPDX-License-Identifier: GPL-2.0
/* The control messages of docs/ultravisord.md, but for the channel ones (channel.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "ctl_msg.h"
#include "log.h"
#include "uvd.h"

static const char *const role_names[] = {
	[UVD_ROLE_NONE] = "none", [UVD_ROLE_IOPARTD] = "iopartd",
	[UVD_ROLE_UVMM] = "uvmm", [UVD_ROLE_COMMANDD] = "commandd",
	[UVD_ROLE_OPSD] = "opsd", [UVD_ROLE_CLIENT] = "client",
};

static const struct {
	const char *name;
	unsigned bit;
} event_names[] = {
	{"iopartd_up", UVD_EV_IOPARTD_UP},	   {"iopartd_down", UVD_EV_IOPARTD_DOWN},
	{"partition_exit", UVD_EV_PARTITION_EXIT}, {"channel_promoted", UVD_EV_PROMOTED},
	{"standby_lost", UVD_EV_STANDBY_LOST},
};

struct uvd_peer *uvd_peer_of(struct uvd *u, struct ctl_conn *c)
{
	struct uvd_peer *p = ctl_conn_data(c);

	if (p)
		return p;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->conn = c;
	p->next = u->peers;
	u->peers = p;
	ctl_conn_set_data(c, p);
	return p;
}

void uvd_event(struct uvd *u, unsigned ev, json_object *e)
{
	for (struct uvd_peer *p = u->peers; p; p = p->next)
		if (p->events & ev)
			ctl_conn_send(p->conn, e, NULL, 0);
	json_object_put(e);
}

static void part_exit_event(struct uvd *u, struct uvd_part *p)
{
	json_object *e = ctl_event("partition_exit");

	json_object_object_add(e, "name", json_object_new_string(p->name));
	json_object_object_add(e, "pid", json_object_new_int((int)p->pid));
	json_object_object_add(e, "state", json_object_new_string(uvd_part_state_name(p->state)));
	json_object_object_add(e, "reason", json_object_new_string(p->reason));
	uvd_event(u, UVD_EV_PARTITION_EXIT, e);
}

static void part_exited(struct uvd *u, struct uvd_part *p)
{
	uvd_part_unwatch(p);
	p->uvmm = NULL;
	p->state = UVD_PART_STOPPED;
	snprintf(p->reason, sizeof(p->reason), "uvmm pid %d exited", (int)p->pid);
	pr_info("partition %s: %s", p->name, p->reason);
	part_exit_event(u, p);
	uvd_state_save(u);
}

static void part_pid_readable(evutil_socket_t fd, short what, void *arg)
{
	struct uvd_part *p = arg;

	(void)fd;
	(void)what;
	part_exited(p->owner, p);
}

void uvd_part_watch(struct uvd *u, struct uvd_part *p)
{
	uvd_part_unwatch(p);
	p->owner = u;
	/* A pidfd works for processes that are not our children (they never are). */
	p->pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
	if (p->pidfd < 0) {
		pr_warn("partition %s: cannot watch pid %d (%s): its exit is seen only when its "
			"connection ends",
			p->name, (int)p->pid, strerror(errno));
		return;
	}
	p->pid_ev = event_new(u->base, p->pidfd, EV_READ, part_pid_readable, p);
	if (!p->pid_ev || event_add(p->pid_ev, NULL))
		pr_warn("partition %s: cannot watch pid %d", p->name, (int)p->pid);
}

void uvd_part_unwatch(struct uvd_part *p)
{
	if (p->pid_ev)
		event_free(p->pid_ev);
	p->pid_ev = NULL;
	if (p->pidfd >= 0)
		close(p->pidfd);
	p->pidfd = -1;
}

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

static int op_hello(struct uvd *u, struct ctl_conn *c, struct uvd_peer *peer, json_object *msg)
{
	const char *role, *name = "";
	struct uvd_iopartd *iop;
	enum uvd_role r = UVD_ROLE_NONE;
	json_object *rep, *e;
	char err[160];

	if (ctl_get_str(msg, "role", &role, err, sizeof(err)))
		return ctl_conn_reply_err(c, msg, "%s", err);
	for (unsigned i = 1; i < sizeof(role_names) / sizeof(role_names[0]); i++)
		if (!strcmp(role, role_names[i]))
			r = (enum uvd_role)i;
	if (r == UVD_ROLE_NONE)
		return ctl_conn_reply_err(c, msg, "unknown role '%s'", role);
	if (ctl_get_str(msg, "name", &name, err, sizeof(err)) == -EINVAL ||
	    (r == UVD_ROLE_IOPARTD && !*name))
		return ctl_conn_reply_err(c, msg, "%s", *name ? err : "an iopartd needs a 'name'");
	if (*name && !uvd_name_ok(name))
		return ctl_conn_reply_err(c, msg, "bad name '%s'", name);
	if (peer->role != UVD_ROLE_NONE)
		return ctl_conn_reply_err(c, msg, "hello already said (as %s)",
					  role_names[peer->role]);
	if (r == UVD_ROLE_IOPARTD) {
		if (!ctl_conn_privileged(c))
			return ctl_conn_reply_err(c, msg,
						  "permission denied: registering an iopartd");
		iop = uvd_iop_find(u, name);
		if (iop && iop->conn)
			return ctl_conn_reply_err(c, msg,
						  "iopartd '%s' is already registered (pid %d)",
						  name, (int)iop->pid);
		if (!iop) {
			iop = calloc(1, sizeof(*iop));
			if (!iop)
				return ctl_conn_reply_err(c, msg, "out of memory");
			snprintf(iop->name, sizeof(iop->name), "%s", name);
			iop->next = u->iops;
			u->iops = iop;
		}
		/* A new process: the standbys of the last one (died unseen, while we were away)
		 * went with it. */
		if (iop->pid && iop->pid != ctl_conn_cred(c)->pid)
			uvd_standby_lost(u, iop);
		iop->conn = c;
		iop->health = UVD_IOP_HEALTHY;
		iop->pid = ctl_conn_cred(c)->pid;
		iop->since = now_s();
		peer->iop = iop;
		pr_info("iopartd %s registered (pid %d)", name, (int)iop->pid);
		e = ctl_event("iopartd_up");
		json_object_object_add(e, "name", json_object_new_string(name));
		json_object_object_add(e, "pid", json_object_new_int((int)iop->pid));
		uvd_event(u, UVD_EV_IOPARTD_UP, e);
		uvd_state_save(u);
	}
	peer->role = r;
	snprintf(peer->name, sizeof(peer->name), "%s", name);
	rep = ctl_reply_ok(msg);
	json_object_object_add(rep, "server", json_object_new_string("ultravisord"));
	json_object_object_add(rep, "version", json_object_new_string(UV_VERSION));
	ctl_conn_send(c, rep, NULL, 0);
	json_object_put(rep);
	return 0;
}

static int op_subscribe(struct uvd *u, struct ctl_conn *c, struct uvd_peer *peer, json_object *msg)
{
	json_object *a, *rep, *names = json_object_new_array();
	unsigned mask = 0;

	(void)u;
	if (!json_object_object_get_ex(msg, "events", &a)) {
		for (unsigned i = 0; i < sizeof(event_names) / sizeof(event_names[0]); i++)
			mask |= event_names[i].bit;
	} else if (!json_object_is_type(a, json_type_array)) {
		json_object_put(names);
		return ctl_conn_reply_err(c, msg, "'events' must be an array of event names");
	}
	for (size_t i = 0; a && i < json_object_array_length(a); i++) {
		const char *n = json_object_get_string(json_object_array_get_idx(a, i));
		unsigned bit = 0;

		for (unsigned k = 0; n && k < sizeof(event_names) / sizeof(event_names[0]); k++)
			if (!strcmp(n, event_names[k].name))
				bit = event_names[k].bit;
		if (!bit ||
		    !json_object_is_type(json_object_array_get_idx(a, i), json_type_string)) {
			json_object_put(names);
			return ctl_conn_reply_err(c, msg, "unknown event '%s'", n ? n : "null");
		}
		mask |= bit;
	}
	peer->events = mask;
	for (unsigned k = 0; k < sizeof(event_names) / sizeof(event_names[0]); k++)
		if (mask & event_names[k].bit)
			json_object_array_add(names, json_object_new_string(event_names[k].name));
	rep = ctl_reply_ok(msg);
	json_object_object_add(rep, "events", names);
	ctl_conn_send(c, rep, NULL, 0);
	json_object_put(rep);
	return 0;
}

static json_object *part_status(const struct uvd_part *p)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(p->name));
	json_object_object_add(o, "state", json_object_new_string(uvd_part_state_name(p->state)));
	json_object_object_add(o, "memory_mib", json_object_new_int64((int64_t)p->memory_mib));
	json_object_object_add(o, "cpus", json_object_new_int((int)p->vcpus));
	json_object_object_add(o, "dedicated", json_object_new_boolean(p->dedicated));
	json_object_object_add(o, "host_cpus", uvd_cpus_json(&p->host_cpus));
	json_object_object_add(o, "hugepages", json_object_new_boolean(p->hugepages));
	json_object_object_add(o, "pid", json_object_new_int((int)p->pid));
	json_object_object_add(o, "memory_held", json_object_new_boolean(p->memfd >= 0));
	json_object_object_add(o, "reason", json_object_new_string(p->reason));
	return o;
}

static json_object *iop_status(struct uvd *u, const struct uvd_iopartd *i)
{
	json_object *o = json_object_new_object(), *ch = json_object_new_array();

	json_object_object_add(o, "name", json_object_new_string(i->name));
	json_object_object_add(
		o, "health",
		json_object_new_string(i->health == UVD_IOP_HEALTHY ? "healthy" : "dead"));
	json_object_object_add(o, "pid", json_object_new_int((int)i->pid));
	json_object_object_add(o, "since", json_object_new_int64(i->since));
	for (struct uvd_chan *c = u->chans; c; c = c->next)
		if (!strcmp(c->iopartd, i->name))
			json_object_array_add(ch, json_object_new_int((int)c->id));
	json_object_object_add(o, "channels", ch);
	return o;
}

static json_object *chan_status(const struct uvd_chan *c)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_int((int)c->id));
	json_object_object_add(o, "partition", json_object_new_string(c->partition));
	json_object_object_add(o, "device", json_object_new_int((int)c->device));
	json_object_object_add(o, "iopartd", json_object_new_string(c->iopartd));
	json_object_object_add(o, "standby", json_object_new_string(c->standby));
	json_object_object_add(o, "state",
			       json_object_new_string(c->state == UVD_CHAN_UP ? "up" : "pending"));
	json_object_object_add(o, "epoch", json_object_new_int((int)c->epoch));
	json_object_object_add(o, "inflight", json_object_new_boolean(c->inflight_fd >= 0));
	return o;
}

json_object *uvd_status_json(struct uvd *u)
{
	json_object *o = json_object_new_object(), *h = json_object_new_object(), *a;
	uint64_t used = uvd_pool_used(u);
	cpu_set_t ded;

	uvd_cpus_dedicated(u, &ded);
	json_object_object_add(h, "cpus", uvd_cpus_json(&u->cpus));
	json_object_object_add(h, "cpus_dedicated", uvd_cpus_json(&ded));
	json_object_object_add(h, "pool_mib", json_object_new_int64((int64_t)u->pool_mib));
	json_object_object_add(h, "used_mib", json_object_new_int64((int64_t)used));
	json_object_object_add(
		h, "free_mib",
		json_object_new_int64(used > u->pool_mib ? 0 : (int64_t)(u->pool_mib - used)));
	json_object_object_add(o, "host", h);
	a = json_object_new_array();
	for (struct uvd_iopartd *i = u->iops; i; i = i->next)
		json_object_array_add(a, iop_status(u, i));
	json_object_object_add(o, "iopartds", a);
	a = json_object_new_array();
	for (struct uvd_part *p = u->parts; p; p = p->next)
		json_object_array_add(a, part_status(p));
	json_object_object_add(o, "partitions", a);
	a = json_object_new_array();
	for (struct uvd_chan *c = u->chans; c; c = c->next)
		json_object_array_add(a, chan_status(c));
	json_object_object_add(o, "channels", a);
	return o;
}

static int op_status(struct uvd *u, struct ctl_conn *c, struct uvd_peer *peer, json_object *msg)
{
	json_object *rep = ctl_reply_ok(msg), *st = uvd_status_json(u);
	int ret;

	(void)peer;
	json_object_object_foreach(st, k, v) json_object_object_add(rep, k, json_object_get(v));
	json_object_put(st);
	ret = ctl_conn_send(c, rep, NULL, 0);
	json_object_put(rep);
	if (ret == -EMSGSIZE)
		return ctl_conn_reply_err(c, msg, "status does not fit in one message (%d bytes)",
					  CTL_MSG_MAX);
	return 0;
}

static int op_reserve(struct uvd *u, struct ctl_conn *c, struct uvd_peer *peer, json_object *msg)
{
	(void)peer;
	return uvd_op_partition_reserve(u, c, msg);
}

static int op_attach(struct uvd *u, struct ctl_conn *c, struct uvd_peer *peer, json_object *msg)
{
	(void)peer;
	return uvd_op_partition_attach(u, c, msg);
}

static int op_release(struct uvd *u, struct ctl_conn *c, struct uvd_peer *peer, json_object *msg)
{
	(void)peer;
	return uvd_op_partition_release(u, c, msg);
}

static int op_chan_create(struct uvd *u, struct ctl_conn *c, struct uvd_peer *peer,
			  json_object *msg)
{
	(void)peer;
	return uvd_channel_create(u, c, msg);
}

static int op_chan_move(struct uvd *u, struct ctl_conn *c, struct uvd_peer *peer, json_object *msg)
{
	(void)peer;
	return uvd_channel_move(u, c, msg);
}

static int op_chan_standby(struct uvd *u, struct ctl_conn *c, struct uvd_peer *peer,
			   json_object *msg)
{
	(void)peer;
	return uvd_channel_standby(u, c, msg);
}

static int op_chan_promoted(struct uvd *u, struct ctl_conn *c, struct uvd_peer *peer,
			    json_object *msg)
{
	(void)peer;
	return uvd_channel_promoted(u, c, msg);
}

static const struct uvd_op {
	const char *name;
	bool change; /* only privileged peers (docs/control-plane.md) */
	int (*fn)(struct uvd *u, struct ctl_conn *c, struct uvd_peer *peer, json_object *msg);
} uvd_ops[] = {
	{"hello", false, op_hello}, /* registering an iopartd checks for itself */
	{"status", false, op_status},
	{"subscribe", false, op_subscribe},
	{"partition_reserve", true, op_reserve},
	{"partition_attach", true, op_attach},
	{"partition_release", true, op_release},
	{"channel_create", true, op_chan_create},
	{"channel_move", true, op_chan_move},
	{"channel_standby", true, op_chan_standby},
	{"channel_promoted", true, op_chan_promoted},
	{"channel_inflight", true, NULL}, /* the one that takes an fd */
};

/* A reply from a peer: only iopartds answer anything (adopt_channel). */
static void uvd_on_reply(struct uvd *u, struct ctl_conn *c, json_object *msg)
{
	const char *op = json_object_get_string(json_object_object_get(msg, "op"));

	if (!strcmp(op, "adopt_channel"))
		uvd_channel_adopted(u, c, msg);
	else
		pr_debug("ignoring a '%s' reply from pid %d", op, (int)ctl_conn_cred(c)->pid);
}

int uvd_on_msg(struct ctl_conn *c, json_object *msg, int *fds, int nfds, void *arg)
{
	const char *op = json_object_get_string(json_object_object_get(msg, "op"));
	struct uvd *u = arg;
	struct uvd_peer *peer = uvd_peer_of(u, c);

	if (!peer)
		return -ENOMEM;
	if (ctl_is_reply(msg)) {
		uvd_on_reply(u, c, msg);
		return 0;
	}
	for (unsigned i = 0; i < sizeof(uvd_ops) / sizeof(uvd_ops[0]); i++) {
		const struct uvd_op *o = &uvd_ops[i];

		if (strcmp(op, o->name))
			continue;
		if (o->change && !ctl_conn_privileged(c))
			return ctl_conn_reply_err(c, msg,
						  "permission denied: '%s' changes things; "
						  "uid %d may only read",
						  op, (int)ctl_conn_cred(c)->uid);
		if (!o->fn)
			return uvd_channel_inflight(u, c, msg, fds, nfds);
		if (nfds)
			return ctl_conn_reply_err(c, msg, "'%s' takes no file descriptors", op);
		return o->fn(u, c, peer, msg);
	}
	return ctl_conn_reply_err(c, msg, "unknown op '%s'", op);
}

void uvd_on_close(struct ctl_conn *c, void *arg)
{
	struct uvd *u = arg;
	struct uvd_peer *peer = ctl_conn_data(c);
	struct uvd_iopartd *iop = peer ? peer->iop : NULL;

	uvd_channel_conn_gone(u, c);
	for (struct uvd_part *p = u->parts; p; p = p->next) {
		if (p->uvmm != c)
			continue;
		p->uvmm = NULL;
		/* Without a pidfd, the connection's end is all we see of its exit. */
		if (p->pidfd < 0 && p->state == UVD_PART_RUNNING &&
		    !uvd_pid_alive(p->pid, p->pid_start))
			part_exited(u, p);
	}
	if (iop) {
		json_object *e = ctl_event("iopartd_down"), *ch = json_object_new_array();

		iop->conn = NULL;
		iop->health = UVD_IOP_DEAD;
		iop->since = now_s();
		pr_warn("iopartd %s (pid %d) is gone", iop->name, (int)iop->pid);
		json_object_object_add(e, "name", json_object_new_string(iop->name));
		json_object_object_add(e, "pid", json_object_new_int((int)iop->pid));
		for (struct uvd_chan *k = u->chans; k; k = k->next)
			if (!strcmp(k->iopartd, iop->name))
				json_object_array_add(ch, json_object_new_int((int)k->id));
		json_object_object_add(e, "channels", ch);
		uvd_event(u, UVD_EV_IOPARTD_DOWN, e);
		uvd_standby_lost(u, iop);
	}
	if (!peer)
		return;
	for (struct uvd_peer **pp = &u->peers; *pp; pp = &(*pp)->next) {
		if (*pp == peer) {
			*pp = peer->next;
			break;
		}
	}
	free(peer);
}
