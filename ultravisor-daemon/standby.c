// SPDX-License-Identifier: GPL-2.0
/*
 * Standbys (docs/ultravisord.md, "Standby back ends"). commandd asks for a
 * standby with channel_standby (channel.c); the uvmm holds that second
 * connection and, when its active back end goes away, switches to it on its
 * own, without waiting for anyone: the failover is then one process's work.
 * Here ultravisord learns that it happened (channel_promoted, from the uvmm)
 * and that a standby died with its iopartd, and records both.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "ctl_msg.h"
#include "log.h"
#include "uvd.h"

/*
 * The uvmm says so once per connection until told: a stale word (an epoch
 * already reached, a standby since dropped by a move) is answered and ignored.
 */
int uvd_channel_promoted(struct uvd *u, struct ctl_conn *c, json_object *msg)
{
	const char *part;
	int64_t dev, epoch;
	struct uvd_part *p;
	struct uvd_chan *ch;
	char err[160], from[UVD_NAME_MAX];
	json_object *rep;
	bool applied = false;

	if (ctl_get_str(msg, "partition", &part, err, sizeof(err)) ||
	    ctl_get_int(msg, "device", 0, UVD_DEVICE_MAX - 1, &dev, err, sizeof(err)) ||
	    ctl_get_int(msg, "epoch", 1, INT32_MAX, &epoch, err, sizeof(err)))
		return ctl_conn_reply_err(c, msg, "%s", err);
	p = uvd_part_find(u, part);
	if (!p)
		return ctl_conn_reply_err(c, msg, "no partition '%s'", part);
	if (p->uvmm != c)
		return ctl_conn_reply_err(c, msg, "only partition '%s''s attached uvmm says that",
					  part);
	ch = uvd_chan_find(u, part, (unsigned)dev);
	if (!ch)
		return ctl_conn_reply_err(c, msg, "partition '%s' device %d has no channel", part,
					  (int)dev);
	if (ch->standby[0] && epoch == (int64_t)ch->epoch + 1) {
		snprintf(from, sizeof(from), "%s", ch->iopartd);
		snprintf(ch->iopartd, sizeof(ch->iopartd), "%s", ch->standby);
		ch->standby[0] = 0;
		ch->epoch++;
		applied = true;
		pr_info("channel %u (%s device %u): the uvmm switched from iopartd %s to its "
			"standby %s (epoch %u)",
			ch->id, part, ch->device, from, ch->iopartd, ch->epoch);
		uvd_event(u, UVD_EV_PROMOTED, uvd_chan_event("channel_promoted", ch));
	} else {
		pr_debug("channel %u: a promotion to epoch %lld, at %u now: already known", ch->id,
			 (long long)epoch, ch->epoch);
	}
	rep = ctl_reply_ok(msg);
	json_object_object_add(rep, "applied", json_object_new_boolean(applied));
	json_object_object_add(rep, "device", json_object_new_int((int)dev));
	json_object_object_add(rep, "iopartd", json_object_new_string(ch->iopartd));
	json_object_object_add(rep, "epoch", json_object_new_int((int)ch->epoch));
	ctl_conn_send(c, rep, NULL, 0);
	json_object_put(rep);
	if (applied)
		uvd_state_save(u);
	return 0;
}

void uvd_standby_lost(struct uvd *u, const struct uvd_iopartd *iop)
{
	bool changed = false;

	/*
	 * A stopping ultravisord closes every connection itself: its iopartds
	 * live on, and their standbys with them, which the state file keeps.
	 */
	if (event_base_got_break(u->base) || event_base_got_exit(u->base))
		return;
	for (struct uvd_chan *ch = u->chans; ch; ch = ch->next) {
		if (strcmp(ch->standby, iop->name))
			continue;
		ch->standby[0] = 0;
		changed = true;
		pr_info("channel %u (%s device %u): its standby died with iopartd %s", ch->id,
			ch->partition, ch->device, iop->name);
		uvd_event(u, UVD_EV_STANDBY_LOST, uvd_chan_event("standby_lost", ch));
	}
	if (changed)
		uvd_state_save(u);
}
