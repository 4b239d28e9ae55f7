// SPDX-License-Identifier: GPL-2.0
/*
 * The iopartds: which is healthy, which serves what, moving channels when
 * one dies (failover), and, with --supervise-iopartd, starting a dead one
 * again. A move is one channel_move per channel, all sent at once on the
 * iopartd_down event: ultravisord pushes each new front end to its uvmm.
 * Nothing else is started while moves are in flight: the replacement
 * iopartd (an exec, and a process loading on the CPUs the moves need) waits
 * until the last move has its answer.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "commandd.h"
#include "ctl_msg.h"
#include "daemon.h"
#include "log.h"

#define MOVE_MS		 10000
#define PUSH_GAP_MS	 250 /* a uvmm not attached yet: try the move again after */
#define PUSH_TRIES	 40
#define SPAWN_BACKOFF_MS 1000
#define SPAWN_MAX_MS	 30000
#define SPAWN_STABLE_MS	 10000 /* a child that lived this long starts its back-off over */

struct cmd_iop *cmd_iop_get(struct cmd *c, const char *name, bool create)
{
	struct cmd_iop *iop;

	for (unsigned i = 0; i < c->niops; i++)
		if (!strcmp(c->iops[i].name, name))
			return &c->iops[i];
	if (!create || c->niops == CMD_IOPS_MAX)
		return NULL;
	iop = &c->iops[c->niops++];
	memset(iop, 0, sizeof(*iop));
	snprintf(iop->name, sizeof(iop->name), "%s", name);
	return iop;
}

static bool part_has_uvmm(const struct cmd_part *p)
{
	return p->phase == CMD_RUNNING || p->phase == CMD_STOPPING;
}

void cmd_iop_count(struct cmd *c)
{
	struct cmd_iop *iop;

	for (unsigned i = 0; i < c->niops; i++)
		c->iops[i].nchans = 0;
	for (struct cmd_part *p = c->parts; p; p = p->next)
		if (part_has_uvmm(p) || p->phase == CMD_STARTING)
			for (unsigned i = 0; i < p->nchans; i++)
				if ((iop = cmd_iop_get(c, p->chans[i].iopartd, false)))
					iop->nchans++;
}

double cmd_failover_done(struct cmd *c, const struct cmd_chan *ch)
{
	double ms = -1;

	c->moves++;
	if (!ch->down_at_us)
		return ms;
	ms = (double)(cmd_now_us() - ch->down_at_us) / 1000.0;
	c->last_failover_ms = ms;
	if (ms > c->max_failover_ms)
		c->max_failover_ms = ms;
	return ms;
}

static void move_finish(struct cmd *c, struct cmd_chan *ch, json_object *rep, const char *err)
{
	struct cmd_part *p = ch->part;
	const char *to, *fe;
	double ms = -1;

	if (err) {
		c->moves_failed++;
		pr_warn("partition %s: channel %u stays on %s: %s", p->name, ch->device,
			ch->iopartd, err);
		if (rep && strstr(err, "no channel"))
			ch->pending = false;
		cmd_iop_count(c);
		cmd_part_maybe_free(p);
		return;
	}
	to = json_object_get_string(json_object_object_get(rep, "iopartd"));
	fe = json_object_get_string(json_object_object_get(rep, "frontend"));
	ms = cmd_failover_done(c, ch);
	if (ms >= 0)
		pr_info("partition %s: channel %u moved from %s to %s, %.1f ms after its iopartd "
			"went down",
			p->name, ch->device, ch->iopartd, to ? to : "?", ms);
	else
		pr_info("partition %s: channel %u moved from %s to %s", p->name, ch->device,
			ch->iopartd, to ? to : "?");
	if (to)
		snprintf(ch->iopartd, sizeof(ch->iopartd), "%s", to);
	ch->pending = false;
	if (fe && !strcmp(fe, "reply") && p->phase == CMD_RUNNING) {
		/*
		 * No uvmm attached to take the new front end (it is starting):
		 * nobody has it, so its device waits. Move again until one is.
		 */
		if (++ch->push_tries <= PUSH_TRIES) {
			struct timeval tv = {0, PUSH_GAP_MS * 1000};

			ch->pending = true;
			ch->grace_until = cmd_now_ms() + PUSH_GAP_MS;
			evtimer_add(c->fo_timer, &tv);
		} else {
			pr_warn("partition %s: uvmm %d never attached to ultravisord; channel %u "
				"has no back end",
				p->name, (int)p->pid, ch->device);
		}
	}
	if (!ch->pending) {
		ch->push_tries = 0;
		ch->down_at_us = 0;
	}
	cmd_iop_count(c);
	if (p->phase == CMD_RUNNING)
		cmd_report(p, "running", "");
	cmd_part_maybe_free(p);
}

static void move_done(struct cmd *c, void *arg, json_object *rep, int *fds, int nfds,
		      const char *err)
{
	struct cmd_chan *ch = arg;

	(void)fds;
	(void)nfds;
	ch->part->busy--;
	ch->moving = false;
	c->moves_in_flight--;
	move_finish(c, ch, rep, err);
	/* The last answer: what supervision put off can run now. */
	if (!cmd_failover_busy(c) && c->sup_after_moves) {
		c->sup_after_moves = false;
		cmd_supervise_check(c);
	}
}

json_object *cmd_chan_request(const char *op, const struct cmd_chan *ch, const char *iopartd)
{
	json_object *req = ctl_request(op);

	json_object_object_add(req, "partition", json_object_new_string(ch->part->name));
	json_object_object_add(req, "device", json_object_new_int((int)ch->device));
	json_object_object_add(req, "iopartd", json_object_new_string(iopartd));
	return req;
}

static void chan_move(struct cmd *c, struct cmd_chan *ch, struct cmd_iop *to)
{
	json_object *req = cmd_chan_request("channel_move", ch, to->name);

	if (uvdc_call(c, req, NULL, 0, MOVE_MS, move_done, ch))
		return;
	ch->moving = true;
	ch->part->busy++;
	c->moves_in_flight++;
	to->nchans++; /* the next choice counts this one */
	pr_debug("partition %s: channel %u: %s -> %s", ch->part->name, ch->device, ch->iopartd,
		 to->name);
}

void cmd_failover_pending(struct cmd *c)
{
	int64_t now = cmd_now_ms();
	int t;

	if (!c->policy.failover_auto || !c->uvd_ready)
		return;
	cmd_standby_deadlines(c);
	cmd_standby_check(c);
	for (struct cmd_part *p = c->parts; p; p = p->next) {
		if (!part_has_uvmm(p))
			continue;
		for (unsigned i = 0; i < p->nchans; i++) {
			struct cmd_chan *ch = &p->chans[i];

			if (!ch->pending || ch->moving || ch->grace_until > now)
				continue;
			t = cmd_pick_iopartd(c->iops, c->niops, NULL);
			if (t < 0)
				return; /* kept pending until one comes up */
			chan_move(c, ch, &c->iops[t]);
		}
	}
}

void cmd_iop_up(struct cmd *c, const char *name, pid_t pid)
{
	struct cmd_iop *iop = cmd_iop_get(c, name, true);
	bool same = iop && iop->pid == pid && pid > 0;

	if (!iop)
		return;
	pr_info("iopartd %s (pid %d) is up%s", name, (int)pid, iop->expected ? "" : " (not ours)");
	iop->healthy = true;
	iop->pid = pid;
	/* The same process, back after an ultravisord restart, still serves its channels. */
	for (struct cmd_part *p = c->parts; p && same; p = p->next)
		for (unsigned i = 0; i < p->nchans; i++)
			if (!strcmp(p->chans[i].iopartd, name) && !p->chans[i].moving)
				p->chans[i].pending = false;
	cmd_iop_count(c);
	cmd_failover_pending(c);
	cmd_resources_changed(c);
}

void cmd_iop_down(struct cmd *c, const char *name)
{
	struct cmd_iop *iop = cmd_iop_get(c, name, true);
	int64_t t0 = cmd_now_us();
	char why[CMD_REASON_MAX];

	if (!iop)
		return;
	pr_warn("iopartd %s (pid %d) is down", name, (int)iop->pid);
	iop->healthy = false;
	for (struct cmd_part *p = c->parts; p; p = p->next) {
		bool hit = false;

		for (unsigned i = 0; i < p->nchans; i++) {
			struct cmd_chan *ch = &p->chans[i];

			if (!strcmp(ch->standby, name))
				ch->standby[0] = 0;
			if (strcmp(ch->iopartd, name))
				continue;
			hit = true;
			/* Its uvmm switches to the standby by itself; a move only if not. */
			if (c->policy.failover_auto && cmd_standby_take(c, ch, t0))
				continue;
			ch->pending = true;
			ch->down_at_us = t0;
			ch->grace_until = 0;
		}
		if (hit && !c->policy.failover_auto && p->phase == CMD_RUNNING) {
			snprintf(why, sizeof(why), "iopartd %s is down; failover is manual", name);
			cmd_report(p, "running", why);
		}
	}
	cmd_failover_pending(c);
	cmd_supervise_check(c);
	if (c->opts.supervise) {
		/* Its process may still be on its way out: look again soon. */
		struct timeval tv = {0, 200000};

		if (!evtimer_pending(c->sup_timer, NULL))
			evtimer_add(c->sup_timer, &tv);
	}
}

/*
 * A dead iopartd's process may still live: reconnecting after an ultravisord
 * restart, or still exiting (its socket closes before it is gone).
 */
static bool iop_process_lives(struct cmd *c, const struct cmd_iop *iop)
{
	const char *base = strrchr(c->opts.iopartd_bin, '/');
	char buf[512], *r;

	if (iop->pid <= 0 || kill(iop->pid, 0) ||
	    !cmd_proc_text(iop->pid, "stat", buf, sizeof(buf)))
		return false;
	/* "PID (COMM) S ...": a zombie or a dying process is no iopartd any more. */
	r = strrchr(buf, ')');
	if (!r || r[1] != ' ' || r[2] == 'Z' || r[2] == 'X' || !(r = strchr(buf, '(')))
		return false;
	base = base ? base + 1 : c->opts.iopartd_bin;
	*strrchr(r, ')') = 0;
	return r[1] && !strncmp(r + 1, base, strlen(r + 1));
}

static void supervise_one(struct cmd *c, struct cmd_iop *iop, int64_t now, int64_t *wake)
{
	char pidfile[4200], err[512];
	pid_t pid;

	if (iop->healthy || iop->child > 0 || iop_process_lives(c, iop))
		return;
	snprintf(pidfile, sizeof(pidfile), "%s/iopartd-%s.pid", c->runtime_dir, iop->name);
	if (uv_pidfile_running(pidfile, NULL) == 1)
		return;
	if (iop->spawned_at && now - iop->spawned_at > SPAWN_STABLE_MS)
		iop->backoff_ms = 0, iop->next_spawn = 0;
	if (now < iop->next_spawn) {
		if (!*wake || iop->next_spawn < *wake)
			*wake = iop->next_spawn;
		return;
	}
	if (cmd_spawn_iopartd(c, iop->name, &pid, err, sizeof(err))) {
		pr_err("%s", err);
		return;
	}
	pr_info("iopartd %s: started pid %d (%s --name %s)", iop->name, (int)pid,
		c->opts.iopartd_bin, iop->name);
	c->iop_restarts++;
	iop->child = pid;
	iop->spawned_at = now;
	iop->next_spawn = now + iop->backoff_ms;
	iop->backoff_ms = iop->backoff_ms ? iop->backoff_ms * 2 : SPAWN_BACKOFF_MS;
	if (iop->backoff_ms > SPAWN_MAX_MS)
		iop->backoff_ms = SPAWN_MAX_MS;
}

void cmd_supervise_check(struct cmd *c)
{
	int64_t now = cmd_now_ms(), wake = 0;

	if (!c->opts.supervise || !c->uvd_ready)
		return;
	if (cmd_failover_busy(c)) {
		c->sup_after_moves = true;
		return;
	}
	for (unsigned i = 0; i < c->niops; i++)
		if (c->iops[i].expected)
			supervise_one(c, &c->iops[i], now, &wake);
	if (wake) {
		int64_t ms = wake - now;
		struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

		evtimer_add(c->sup_timer, &tv);
	}
}

void cmd_child_exited(struct cmd *c, pid_t pid, int wstatus)
{
	char desc[96];

	for (unsigned i = 0; i < c->niops; i++) {
		struct cmd_iop *iop = &c->iops[i];

		if (iop->child != pid)
			continue;
		cmd_exit_describe(true, wstatus, desc, sizeof(desc));
		pr_warn("iopartd %s (pid %d) %s", iop->name, (int)pid, desc);
		iop->child = 0;
		cmd_supervise_check(c);
		return;
	}
}
