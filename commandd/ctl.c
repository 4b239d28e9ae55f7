// SPDX-License-Identifier: GPL-2.0
/* commandd.sock: its view of things, for people and tests (op "status"). */
#include <stdio.h>
#include <string.h>

#include "commandd.h"
#include "ctl_msg.h"

static const char *const phase_names[] = {
	[CMD_IDLE] = "idle",	     [CMD_STARTING] = "starting",   [CMD_RUNNING] = "running",
	[CMD_STOPPING] = "stopping", [CMD_RELEASING] = "releasing",
};

static json_object *status_chan(struct cmd *c, const struct cmd_chan *ch)
{
	json_object *o = json_object_new_object();
	int sb = cmd_pick_iopartd(c->iops, c->niops, ch->iopartd);

	json_object_object_add(o, "device", json_object_new_int((int)ch->device));
	json_object_object_add(o, "channel", json_object_new_int(ch->id));
	json_object_object_add(o, "iopartd", json_object_new_string(ch->iopartd));
	/* Its standby connection's iopartd; with moves only, where one would go. */
	json_object_object_add(o, "standby",
			       json_object_new_string(c->policy.failover_standby ? ch->standby
						      : sb >= 0			 ? c->iops[sb].name
										 : ""));
	json_object_object_add(o, "state",
			       json_object_new_string(ch->moving      ? "moving"
						      : ch->promoting ? "switching"
						      : ch->pending   ? "pending"
								      : "up"));
	return o;
}

static json_object *status_part(struct cmd *c, const struct cmd_part *p)
{
	json_object *o = json_object_new_object(), *ch = json_object_new_array();

	json_object_object_add(o, "name", json_object_new_string(p->name));
	json_object_object_add(o, "desired",
			       json_object_new_string(!p->def	    ? "deleted"
						      : p->def->run ? "running"
								    : "stopped"));
	json_object_object_add(o, "actual",
			       json_object_new_string(p->state[0] ? p->state : "unknown"));
	json_object_object_add(o, "reason", json_object_new_string(p->reason));
	json_object_object_add(o, "phase", json_object_new_string(phase_names[p->phase]));
	json_object_object_add(o, "pid", json_object_new_int((int)p->pid));
	json_object_object_add(o, "monitor", json_object_new_int((int)p->mon_pid));
	json_object_object_add(o, "adopted", json_object_new_boolean(p->adopted));
	json_object_object_add(o, "iopartd", json_object_new_string(cmd_part_iopartd(p)));
	json_object_object_add(o, "restarts", json_object_new_int((int)p->restart_total));
	json_object_object_add(o, "restarts_in_window", json_object_new_int((int)p->nrestarts));
	for (unsigned i = 0; i < p->nchans; i++)
		json_object_array_add(ch, status_chan(c, &p->chans[i]));
	json_object_object_add(o, "channels", ch);
	return o;
}

static json_object *status_iop(const struct cmd_iop *iop)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(iop->name));
	json_object_object_add(o, "health",
			       json_object_new_string(iop->healthy ? "healthy" : "dead"));
	json_object_object_add(o, "role",
			       json_object_new_string(!iop->healthy ? "none"
						      : iop->nchans ? "active"
								    : "standby"));
	json_object_object_add(o, "expected", json_object_new_boolean(iop->expected));
	json_object_object_add(o, "pid", json_object_new_int((int)iop->pid));
	json_object_object_add(o, "channels", json_object_new_int((int)iop->nchans));
	return o;
}

json_object *cmd_status_json(struct cmd *c)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array(), *x;

	x = json_object_new_object();
	json_object_object_add(x, "connected", json_object_new_boolean(c->opsd_up));
	json_object_object_add(x, "generation", json_object_new_int64((int64_t)c->generation));
	json_object_object_add(o, "opsd", x);
	x = json_object_new_object();
	json_object_object_add(x, "connected", json_object_new_boolean(c->uvd != NULL));
	json_object_object_add(o, "ultravisord", x);
	x = json_object_new_object();
	json_object_object_add(x, "restart_default",
			       json_object_new_string(cmd_restart_name(c->policy.restart_default)));
	json_object_object_add(x, "restart_max", json_object_new_int((int)c->policy.restart_max));
	json_object_object_add(x, "restart_window_s",
			       json_object_new_int((int)c->policy.restart_window_s));
	json_object_object_add(x, "cpu_pinning",
			       json_object_new_string(c->policy.dedicated ? "dedicated" : "none"));
	json_object_object_add(x, "failover",
			       json_object_new_string(!c->policy.failover_auto	   ? "manual"
						      : c->policy.failover_standby ? "auto"
										   : "move"));
	json_object_object_add(o, "policy", x);
	for (unsigned i = 0; i < c->niops; i++)
		json_object_array_add(a, status_iop(&c->iops[i]));
	json_object_object_add(o, "iopartds", a);
	a = json_object_new_array();
	for (struct cmd_part *p = c->parts; p; p = p->next)
		json_object_array_add(a, status_part(c, p));
	json_object_object_add(o, "partitions", a);
	x = json_object_new_object();
	json_object_object_add(x, "moves", json_object_new_int((int)c->moves));
	json_object_object_add(x, "failed", json_object_new_int((int)c->moves_failed));
	json_object_object_add(x, "last_ms", json_object_new_double(c->last_failover_ms));
	json_object_object_add(x, "max_ms", json_object_new_double(c->max_failover_ms));
	json_object_object_add(o, "failover", x);
	json_object_object_add(o, "iopartd_starts", json_object_new_int((int)c->iop_restarts));
	return o;
}

int cmd_ctl_msg(struct ctl_conn *cc, json_object *msg, int *fds, int nfds, void *arg)
{
	const char *op = json_object_get_string(json_object_object_get(msg, "op"));
	json_object *rep, *st;

	(void)fds;
	if (ctl_is_reply(msg))
		return 0;
	if (nfds)
		return ctl_conn_reply_err(cc, msg, "'%s' takes no file descriptors", op);
	if (!strcmp(op, "hello"))
		return ctl_conn_reply_ok(cc, msg);
	if (strcmp(op, "status"))
		return ctl_conn_reply_err(cc, msg, "unknown op '%s' (commandd answers status)", op);
	rep = ctl_reply_ok(msg);
	st = cmd_status_json(arg);
	json_object_object_foreach(st, k, v) json_object_object_add(rep, k, json_object_get(v));
	json_object_put(st);
	ctl_conn_send(cc, rep, NULL, 0);
	json_object_put(rep);
	return 0;
}
