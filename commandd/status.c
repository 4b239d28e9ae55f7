// SPDX-License-Identifier: GPL-2.0
/*
 * The two views commandd reconciles: ultravisord's status and events (the
 * actual state; at a start of commandd, what to adopt), opsd's list (the
 * desired state). And commandd's own status on commandd.sock.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commandd.h"
#include "ctl_msg.h"
#include "log.h"
#include "scope.h"

#define REBUILD_GRACE_MS 3000 /* for a dead iopartd to say hello again */

int64_t cmd_now_ms(void)
{
	return cmd_now_us() / 1000;
}

int64_t cmd_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v)
		       : "";
}

static int jint(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int(v) : 0;
}

static json_object *jarr(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_array)
		       ? v
		       : NULL;
}

static void status_iopartds(struct cmd *c, json_object *a)
{
	for (size_t i = 0; a && i < json_object_array_length(a); i++) {
		json_object *o = json_object_array_get_idx(a, i);
		struct cmd_iop *iop = cmd_iop_get(c, jstr(o, "name"), true);
		bool healthy = !strcmp(jstr(o, "health"), "healthy");
		pid_t pid = jint(o, "pid");

		if (!iop)
			continue;
		if (healthy && (!iop->healthy || iop->pid != pid))
			cmd_iop_up(c, iop->name, pid);
		iop->healthy = healthy;
		if (pid > 0)
			iop->pid = pid;
	}
}

/* A partition we do not run: adopt it, clean it up, or see how it ended. */
static void status_partition(struct cmd *c, json_object *o)
{
	struct cmd_part *p = cmd_part_get(c, jstr(o, "name"), true);
	const char *state = jstr(o, "state");
	pid_t pid = jint(o, "pid");

	if (!p || p->phase != CMD_IDLE || p->busy)
		return;
	p->reserved = true;
	if (!strcmp(state, "running") && pid > 0 && !kill(pid, 0)) {
		cmd_part_adopt(p, pid);
		/*
		 * Into its scope if it is not there yet (a commandd without
		 * scopes started it, or its scope could not be made): scope.c's
		 * thread looks and moves it.
		 */
		if (c->scoper && p->phase == CMD_RUNNING && p->pid == pid)
			cmd_scoper_adopt(c->scoper, p->name, pid, p->pidfd, p->mon_pid,
					 p->mon_pid ? p->watch_fd : -1);
		return;
	}
	if ((!strcmp(state, "stopped") || !strcmp(state, "crashed") || !strcmp(state, "running")) &&
	    pid > 0 && pid != p->exited_pid) {
		/* It ended while we were away: as if we had watched it. */
		p->phase = CMD_RUNNING;
		p->pid = pid;
		return cmd_part_ended(p, true);
	}
	if (pid != p->exited_pid || !pid)
		pr_info("partition %s: %s in ultravisord with no uvmm: released", p->name, state);
	cmd_part_release(p);
}

static void status_channels(struct cmd *c, json_object *a)
{
	int64_t grace = cmd_now_ms() + REBUILD_GRACE_MS;

	for (size_t i = 0; a && i < json_object_array_length(a); i++) {
		json_object *o = json_object_array_get_idx(a, i);
		struct cmd_part *p = cmd_part_get(c, jstr(o, "partition"), false);
		int dev = jint(o, "device");
		struct cmd_iop *iop = cmd_iop_get(c, jstr(o, "iopartd"), true);
		struct cmd_chan *ch;

		if (!p || (p->phase != CMD_RUNNING && p->phase != CMD_STOPPING) || p->ended_early ||
		    dev < 0 || dev >= CMD_DEV_MAX || !iop)
			continue;
		while (p->nchans <= (unsigned)dev) {
			ch = &p->chans[p->nchans];
			*ch = (struct cmd_chan){.part = p, .device = p->nchans++, .id = -1};
		}
		ch = &p->chans[dev];
		if (ch->moving)
			continue;
		ch->id = jint(o, "id");
		snprintf(ch->iopartd, sizeof(ch->iopartd), "%s", iop->name);
		if (!ch->standby_req)
			snprintf(ch->standby, sizeof(ch->standby), "%s", jstr(o, "standby"));
		if (!iop->healthy && !ch->pending) {
			ch->pending = true;
			ch->grace_until = grace;
			ch->down_at_us = 0;
		}
	}
}

void cmd_on_uvd_status(struct cmd *c, json_object *st)
{
	json_object *a = jarr(st, "partitions");

	status_iopartds(c, jarr(st, "iopartds"));
	for (size_t i = 0; a && i < json_object_array_length(a); i++)
		status_partition(c, json_object_array_get_idx(a, i));
	status_channels(c, jarr(st, "channels"));
	for (struct cmd_part *p = c->parts; p; p = p->next)
		if (p->phase == CMD_RUNNING && p->rep_sent && !p->ended_early)
			cmd_report(p, "running", p->reason);
	c->have_status = true;
	cmd_iop_count(c);
	cmd_failover_pending(c);
	cmd_supervise_check(c);
	cmd_reconcile_all(c);
}

void cmd_on_event(struct cmd *c, json_object *ev)
{
	const char *name = jstr(ev, "name"), *e = jstr(ev, "event");
	struct cmd_part *p;

	if (!strcmp(e, "iopartd_up")) {
		cmd_iop_up(c, name, jint(ev, "pid"));
	} else if (!strcmp(e, "iopartd_down")) {
		cmd_iop_down(c, name);
	} else if (!strcmp(e, "channel_promoted")) {
		cmd_chan_promoted(c, ev);
	} else if (!strcmp(e, "standby_lost")) {
		cmd_standby_lost(c, ev);
	} else if (!strcmp(e, "partition_exit")) {
		p = cmd_part_get(c, name, false);
		/* The monitor's pidfd tells, with the exit status; this is for when there is none.
		 */
		if (p && p->pid == jint(ev, "pid") && p->phase != CMD_STARTING && p->pid > 0 &&
		    p->watch_fd < 0)
			cmd_part_ended(p, false);
	}
}

static void desired_partitions(struct cmd *c, json_object *a)
{
	char err[512];

	for (struct cmd_part *p = c->parts; p; p = p->next)
		p->seen = false;
	for (size_t i = 0; a && i < json_object_array_length(a); i++) {
		json_object *o = json_object_array_get_idx(a, i);
		struct cmd_def *d = malloc(sizeof(*d));
		struct cmd_part *p = cmd_part_get(c, jstr(o, "name"), false);

		if (p)
			p->seen = true; /* even when unreadable: a bad item is no deletion */
		if (!d || cmd_def_parse(o, c->policy.restart_default, d, err, sizeof(err))) {
			pr_warn("opsd: %s", d ? err : "out of memory");
			free(d);
			continue;
		}
		if (!p && !(p = cmd_part_get(c, d->name, true))) {
			cmd_def_fini(d);
			free(d);
			continue;
		}
		p->seen = true;
		if (p->def) {
			cmd_def_fini(p->def);
			free(p->def);
		}
		p->def = d;
	}
	for (struct cmd_part *p = c->parts; p; p = p->next)
		if (!p->seen && p->def) {
			pr_info("partition %s: deleted in opsd", p->name);
			cmd_def_fini(p->def);
			free(p->def);
			p->def = NULL;
		}
}

void cmd_on_desired(struct cmd *c, json_object *policy, json_object *list, bool from_watch,
		    uint64_t rep_done)
{
	int64_t gen = json_object_get_int64(json_object_object_get(list, "generation"));
	struct cmd_policy pol = c->policy;
	char err[256];

	/* A resync answered before a newer long poll is old news. */
	if (!from_watch && c->have_desired && gen < (int64_t)c->generation)
		return;
	if (cmd_policy_parse(policy, &pol, err, sizeof(err)))
		pr_warn("opsd: %s", err);
	else
		c->policy = pol;
	c->have_policy = true;
	desired_partitions(c, jarr(list, "partitions"));
	if (!c->have_desired || gen != (int64_t)c->generation)
		pr_debug("desired state: generation %lld", (long long)gen);
	c->generation = (uint64_t)gen;
	c->have_desired = true;
	cmd_parts_judge_early(c);
	for (struct cmd_part *p = c->parts; p; p = p->next)
		cmd_report_check(p, rep_done);
	cmd_failover_pending(c);
	cmd_reconcile_all(c);
}
