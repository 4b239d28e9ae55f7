// SPDX-License-Identifier: GPL-2.0
/*
 * Standbys (docs/commandd.md, "Failover"): each channel of a running
 * partition gets a second back end on another healthy iopartd
 * (channel_standby), which the uvmm switches to by itself the moment its
 * active one goes away. The failover then waits for no daemon: commandd
 * hears of it afterwards (channel_promoted) and arranges the next standby
 * once another iopartd is up. A channel whose uvmm has not switched within
 * PROMOTE_MS (a standby that failed to take over) is moved instead, as one
 * without a standby is.
 */
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "commandd.h"
#include "ctl_msg.h"
#include "log.h"

#define STANDBY_CALL_MS	     10000
#define STANDBY_RETRY_MS     500 /* doubling after each refusal, up to ... */
#define STANDBY_RETRY_MAX_MS 8000
#define PROMOTE_MS	     2000

static const char *ev_str(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v)
		       : "";
}

/* Wakes the failover timer in ms, unless it is due sooner already. */
static void standby_wake(struct cmd *c, int64_t ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	if (!evtimer_pending(c->fo_timer, NULL))
		evtimer_add(c->fo_timer, &tv);
}

static void standby_done(struct cmd *c, void *arg, json_object *rep, int *fds, int nfds,
			 const char *err)
{
	struct cmd_chan *ch = arg;
	struct cmd_part *p = ch->part;

	(void)fds;
	(void)nfds;
	p->busy--;
	ch->standby_req = false;
	if (!err) {
		ch->standby_tries = 0;
		snprintf(ch->standby, sizeof(ch->standby), "%s", ev_str(rep, "standby"));
		pr_info("partition %s: channel %u: iopartd %s stands by for %s", p->name,
			ch->device, ch->standby, ch->iopartd);
		cmd_report_again(p);
	} else if (rep && strstr(err, "no standby")) {
		ch->no_standby = true; /* its kind cannot have one: moved on failure */
		pr_info("partition %s: channel %u has no standby: %s", p->name, ch->device, err);
	} else {
		/* A uvmm still attaching is the usual case at a start: not worth a warning. */
		if (!strstr(err, "no uvmm attached"))
			pr_warn("partition %s: channel %u: no standby yet: %s", p->name, ch->device,
				err);
		int64_t ms = (int64_t)STANDBY_RETRY_MS
			     << (ch->standby_tries < 5 ? ch->standby_tries : 5);

		ms = ms < STANDBY_RETRY_MAX_MS ? ms : STANDBY_RETRY_MAX_MS;
		ch->standby_tries++;
		ch->standby_retry = cmd_now_ms() + ms;
		standby_wake(c, ms);
	}
	cmd_part_maybe_free(p);
}

static void standby_ask(struct cmd *c, struct cmd_chan *ch, const struct cmd_iop *to)
{
	json_object *req = cmd_chan_request("channel_standby", ch, to->name);

	if (uvdc_call(c, req, NULL, 0, STANDBY_CALL_MS, standby_done, ch))
		return;
	ch->standby_req = true;
	ch->part->busy++;
}

static bool standby_wanted(const struct cmd_chan *ch, int64_t now, int64_t *wake)
{
	if (ch->id < 0 || ch->pending || ch->moving || ch->promoting || ch->standby_req ||
	    ch->standby[0] || ch->no_standby)
		return false;
	if (ch->standby_retry > now) {
		if (!*wake || ch->standby_retry < *wake)
			*wake = ch->standby_retry;
		return false;
	}
	return true;
}

/* Partitions being started: their CPU time comes before any standby's. */
static bool starts_in_flight(const struct cmd *c)
{
	for (const struct cmd_part *p = c->parts; p; p = p->next)
		if (p->phase == CMD_STARTING)
			return true;
	return false;
}

void cmd_standby_check(struct cmd *c)
{
	int64_t now = cmd_now_ms(), wake = 0;
	int t;

	if (!c->policy.failover_standby || !c->uvd_ready)
		return;
	/*
	 * A burst of starts goes first: a standby costs the other iopartd an
	 * open and a mapping, and the uvmm a handshake, all on the CPUs the
	 * starts need. A failure meanwhile is a move, as without standbys.
	 */
	if (starts_in_flight(c)) {
		standby_wake(c, STANDBY_RETRY_MS);
		return;
	}
	for (struct cmd_part *p = c->parts; p; p = p->next) {
		if (p->phase != CMD_RUNNING)
			continue;
		for (unsigned i = 0; i < p->nchans; i++) {
			struct cmd_chan *ch = &p->chans[i];

			if (!standby_wanted(ch, now, &wake))
				continue;
			t = cmd_pick_iopartd(c->iops, c->niops, ch->iopartd);
			if (t >= 0)
				standby_ask(c, ch, &c->iops[t]);
		}
	}
	if (wake)
		standby_wake(c, wake - now);
}

bool cmd_standby_take(struct cmd *c, struct cmd_chan *ch, int64_t t0_us)
{
	const struct cmd_iop *s = ch->standby[0] ? cmd_iop_get(c, ch->standby, false) : NULL;

	if (!s || !s->healthy)
		return false;
	ch->promoting = true;
	ch->down_at_us = t0_us;
	ch->grace_until = cmd_now_ms() + PROMOTE_MS;
	standby_wake(c, PROMOTE_MS);
	return true;
}

void cmd_standby_deadlines(struct cmd *c)
{
	int64_t now = cmd_now_ms();

	for (struct cmd_part *p = c->parts; p; p = p->next)
		for (unsigned i = 0; i < p->nchans; i++) {
			struct cmd_chan *ch = &p->chans[i];

			if (!ch->promoting || ch->grace_until > now)
				continue;
			pr_warn("partition %s: channel %u: its uvmm did not switch to standby %s "
				"in "
				"%d ms; moving it",
				p->name, ch->device, ch->standby, PROMOTE_MS);
			ch->promoting = false;
			ch->standby[0] = 0;
			ch->pending = true;
			ch->grace_until = 0;
		}
}

bool cmd_failover_busy(const struct cmd *c)
{
	if (c->moves_in_flight)
		return true;
	for (const struct cmd_part *p = c->parts; p; p = p->next)
		for (unsigned i = 0; i < p->nchans; i++)
			if (p->chans[i].promoting)
				return true;
	return false;
}

static struct cmd_chan *event_chan(struct cmd *c, json_object *ev)
{
	struct cmd_part *p = cmd_part_get(c, ev_str(ev, "partition"), false);
	json_object *v;
	int dev;

	if (!p || !json_object_object_get_ex(ev, "device", &v))
		return NULL;
	dev = json_object_get_int(v);
	return dev >= 0 && (unsigned)dev < p->nchans ? &p->chans[dev] : NULL;
}

void cmd_chan_promoted(struct cmd *c, json_object *ev)
{
	struct cmd_chan *ch = event_chan(c, ev);
	const char *to = ev_str(ev, "iopartd");
	char from[CMD_NAME_MAX];
	double ms = -1;

	if (!ch || !*to)
		return;
	snprintf(from, sizeof(from), "%s", ch->iopartd);
	if (!ch->promoting)
		ch->down_at_us = 0; /* a switch not after an iopartd_down seen here: untimed */
	ms = cmd_failover_done(c, ch);
	if (ms >= 0)
		pr_info("partition %s: channel %u moved from %s to %s, %.1f ms after its iopartd "
			"went down (its uvmm switched to the standby)",
			ch->part->name, ch->device, from, to, ms);
	else
		pr_info("partition %s: channel %u moved from %s to %s (its uvmm switched to the "
			"standby)",
			ch->part->name, ch->device, from, to);
	snprintf(ch->iopartd, sizeof(ch->iopartd), "%s", to);
	ch->standby[0] = 0;
	ch->promoting = false;
	if (!ch->moving)
		ch->pending = false;
	ch->down_at_us = 0;
	cmd_iop_count(c);
	if (ch->part->phase == CMD_RUNNING)
		cmd_report(ch->part, "running", "");
	if (c->sup_after_moves && !cmd_failover_busy(c)) {
		c->sup_after_moves = false;
		cmd_supervise_check(c);
	}
	cmd_standby_check(c);
}

void cmd_standby_lost(struct cmd *c, json_object *ev)
{
	struct cmd_chan *ch = event_chan(c, ev);

	if (!ch)
		return;
	ch->standby[0] = 0;
	cmd_report_again(ch->part);
	cmd_standby_check(c);
}
