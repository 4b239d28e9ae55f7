// SPDX-License-Identifier: GPL-2.0
/*
 * Channels: a socketpair per channel, one end to an iopartd (adopt_channel),
 * the other to the front end (the requester, or the partition's uvmm on a
 * move or for a standby). The requester's reply waits for the iopartd's
 * answer, so a reply that says ok means the back end has the channel.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "ctl_msg.h"
#include "log.h"
#include "uvd.h"

enum adopt_mode {
	ADOPT_CREATE,
	ADOPT_MOVE,
	ADOPT_STANDBY, /* a second connection the uvmm holds, for it to switch to */
};

struct uvd_pending {
	struct uvd_pending *next;
	struct uvd *u;
	json_object *adopt_id;	    /* our adopt_channel's id, to match the answer */
	struct ctl_conn *iop_conn;  /* the iopartd asked */
	struct ctl_conn *requester; /* NULL once gone */
	json_object *req;	    /* the request, for the reply */
	unsigned chan_id;
	enum adopt_mode mode;
	char target[UVD_NAME_MAX]; /* the iopartd asked */
	int frontend;		   /* the end that goes to the front end */
	struct event *timer;
};

static void pending_free(struct uvd *u, struct uvd_pending *p)
{
	for (struct uvd_pending **pp = &u->pending; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	if (p->timer)
		event_free(p->timer);
	if (p->frontend >= 0)
		close(p->frontend);
	json_object_put(p->adopt_id);
	json_object_put(p->req);
	free(p);
}

static bool chan_busy(struct uvd *u, unsigned id)
{
	for (struct uvd_pending *p = u->pending; p; p = p->next)
		if (p->chan_id == id)
			return true;
	return false;
}

/*
 * The channel's creation failed: the record goes; a failed move keeps the old
 * back end, a failed standby the channel as it was.
 */
static void pending_fail(struct uvd *u, struct uvd_pending *p, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void pending_fail(struct uvd *u, struct uvd_pending *p, const char *fmt, ...)
{
	struct uvd_chan *ch = uvd_chan_by_id(u, p->chan_id);
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	pr_warn("channel %u: %s", p->chan_id, why);
	if (p->requester)
		ctl_conn_reply_err(p->requester, p->req, "%s", why);
	if (ch && p->mode == ADOPT_CREATE)
		uvd_chan_free(u, ch);
	pending_free(u, p);
}

static void pending_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct uvd_pending *p = arg;

	(void)fd;
	(void)what;
	pending_fail(p->u, p, "iopartd '%s' did not answer adopt_channel in %u ms", p->target,
		     p->u->adopt_timeout_ms);
}

static void reply_add_chan(json_object *rep, const struct uvd_chan *ch)
{
	json_object_object_add(rep, "channel", json_object_new_int((int)ch->id));
	json_object_object_add(rep, "partition", json_object_new_string(ch->partition));
	json_object_object_add(rep, "device", json_object_new_int((int)ch->device));
	json_object_object_add(rep, "iopartd", json_object_new_string(ch->iopartd));
	json_object_object_add(rep, "standby", json_object_new_string(ch->standby));
	json_object_object_add(rep, "epoch", json_object_new_int((int)ch->epoch));
}

json_object *uvd_chan_event(const char *name, const struct uvd_chan *ch)
{
	json_object *e = ctl_event(name);

	reply_add_chan(e, ch);
	return e;
}

/*
 * The standby's front end goes to the uvmm, with the epoch the channel will
 * have once the uvmm switches to it: what its channel_promoted then says.
 * ch->standby names the new one; prev, the one it replaces, is what the uvmm
 * still holds when the push fails.
 */
static void standby_deliver(struct uvd *u, struct uvd_pending *p, struct uvd_chan *ch,
			    struct ctl_conn *uvmm, const char *prev)
{
	json_object *push = json_object_new_object(), *rep;
	bool sent;

	json_object_object_add(push, "op", json_object_new_string("channel_standby"));
	reply_add_chan(push, ch);
	json_object_object_add(push, "epoch", json_object_new_int((int)ch->epoch + 1));
	sent = !ctl_conn_send(uvmm, push, &p->frontend, 1);
	if (!sent) {
		pr_warn("channel %u: cannot hand the standby's front end to %s's uvmm", ch->id,
			ch->partition);
		snprintf(ch->standby, sizeof(ch->standby), "%s", prev);
	}
	json_object_put(push);
	uvd_state_save(u);
	if (!p->requester)
		return;
	if (!sent) {
		ctl_conn_reply_err(p->requester, p->req, "the uvmm's connection failed");
		return;
	}
	rep = ctl_reply_ok(p->req);
	reply_add_chan(rep, ch);
	ctl_conn_send(p->requester, rep, NULL, 0);
	json_object_put(rep);
}

/*
 * A moved channel's front end goes to the partition's uvmm when the request
 * came from somebody else (commandd failing channels over); otherwise, and
 * always for a new channel, to the requester.
 */
static void pending_deliver(struct uvd *u, struct uvd_pending *p, struct uvd_chan *ch)
{
	struct uvd_part *part = uvd_part_find(u, ch->partition);
	struct ctl_conn *uvmm = part ? part->uvmm : NULL;
	json_object *rep = NULL, *push;

	if (p->mode == ADOPT_MOVE && uvmm && uvmm != p->requester) {
		push = json_object_new_object();
		json_object_object_add(push, "op", json_object_new_string("channel_moved"));
		reply_add_chan(push, ch);
		if (ctl_conn_send(uvmm, push, &p->frontend, 1))
			pr_warn("channel %u: cannot hand the new front end to %s's uvmm", ch->id,
				ch->partition);
		json_object_put(push);
		if (p->requester) {
			rep = ctl_reply_ok(p->req);
			json_object_object_add(rep, "frontend", json_object_new_string("uvmm"));
			reply_add_chan(rep, ch);
			ctl_conn_send(p->requester, rep, NULL, 0);
		}
	} else if (p->requester) {
		rep = ctl_reply_ok(p->req);
		json_object_object_add(rep, "frontend", json_object_new_string("reply"));
		reply_add_chan(rep, ch);
		ctl_conn_send(p->requester, rep, &p->frontend, 1);
	} else {
		/* The move happened; with nobody to take the front end the uvmm needs another. */
		pr_warn("channel %u: its requester left; the new front end is dropped", ch->id);
	}
	json_object_put(rep);
}

void uvd_channel_adopted(struct uvd *u, struct ctl_conn *c, json_object *reply)
{
	struct uvd_pending *p;
	struct uvd_chan *ch;
	json_object *id, *v;

	if (!json_object_object_get_ex(reply, "id", &id))
		return;
	for (p = u->pending; p; p = p->next)
		if (p->iop_conn == c && json_object_equal(p->adopt_id, id))
			break;
	if (!p) {
		pr_debug("an adopt_channel answer nobody waits for (late, after a timeout?)");
		return;
	}
	ch = uvd_chan_by_id(u, p->chan_id);
	if (!ch || !uvd_part_find(u, ch->partition))
		return pending_fail(u, p, "the partition was released meanwhile");
	if (!p->requester && p->mode == ADOPT_CREATE)
		return pending_fail(u, p, "its requester left before it was set up");
	json_object_object_get_ex(reply, "ok", &v);
	if (!json_object_get_boolean(v))
		return pending_fail(u, p, "iopartd '%s' refused the channel: %s", p->target,
				    json_object_object_get_ex(reply, "error", &v)
					    ? json_object_get_string(v)
					    : "no reason given");
	if (p->mode == ADOPT_STANDBY) {
		struct uvd_part *part = uvd_part_find(u, ch->partition);
		char prev[UVD_NAME_MAX];

		if (!part || !part->uvmm)
			return pending_fail(u, p, "no uvmm attached to hold the standby");
		/* The uvmm switched to it meanwhile (it was the standby already). */
		if (!strcmp(ch->iopartd, p->target))
			return pending_fail(u, p, "iopartd '%s' is channel %u's active back end",
					    p->target, ch->id);
		pr_info("channel %u (%s device %u): iopartd %s stands by for %s", ch->id,
			ch->partition, ch->device, p->target, ch->iopartd);
		snprintf(prev, sizeof(prev), "%s", ch->standby);
		snprintf(ch->standby, sizeof(ch->standby), "%s", p->target);
		standby_deliver(u, p, ch, part->uvmm, prev);
		pending_free(u, p);
		return;
	}
	if (p->mode == ADOPT_MOVE) {
		pr_info("channel %u (%s device %u): moved from iopartd %s to %s", ch->id,
			ch->partition, ch->device, ch->iopartd, p->target);
		ch->epoch++;
		/* The uvmm drops its standby when a move replaces its back end. */
		ch->standby[0] = 0;
	} else {
		pr_info("channel %u (%s device %u): served by iopartd %s", ch->id, ch->partition,
			ch->device, p->target);
	}
	snprintf(ch->iopartd, sizeof(ch->iopartd), "%s", p->target);
	ch->state = UVD_CHAN_UP;
	/* The front end first: the state file's fsync is not on a failover's path. */
	pending_deliver(u, p, ch);
	uvd_state_save(u);
	pending_free(u, p);
}

/* Sends adopt_channel to iop for ch and waits for the answer. 0, or replied already. */
static int adopt_start(struct uvd *u, struct ctl_conn *c, json_object *msg, struct uvd_chan *ch,
		       struct uvd_iopartd *iop, enum adopt_mode mode)
{
	struct uvd_pending *p = calloc(1, sizeof(*p));
	struct timeval tv = {u->adopt_timeout_ms / 1000, (u->adopt_timeout_ms % 1000) * 1000};
	json_object *adopt;
	int sv[2] = {-1, -1}, fds[2], ret;

	if (!p || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		free(p);
		return -ENOMEM;
	}
	adopt = ctl_request("adopt_channel");
	reply_add_chan(adopt, ch);
	json_object_object_add(adopt, "iopartd", json_object_new_string(iop->name));
	json_object_object_add(adopt, "move", json_object_new_boolean(mode == ADOPT_MOVE));
	if (mode == ADOPT_STANDBY)
		json_object_object_add(adopt, "as_standby", json_object_new_boolean(true));
	json_object_object_add(adopt, "inflight", json_object_new_boolean(ch->inflight_fd >= 0));
	if (ch->device_spec)
		json_object_object_add(adopt, "spec", json_object_get(ch->device_spec));
	fds[0] = sv[1];
	fds[1] = ch->inflight_fd;
	ret = ctl_conn_send(iop->conn, adopt, fds, ch->inflight_fd >= 0 ? 2 : 1);
	close(sv[1]);
	p->u = u;
	p->adopt_id = json_object_get(json_object_object_get(adopt, "id"));
	json_object_put(adopt);
	p->iop_conn = iop->conn;
	p->requester = c;
	p->req = json_object_get(msg);
	p->chan_id = ch->id;
	p->mode = mode;
	snprintf(p->target, sizeof(p->target), "%s", iop->name);
	p->frontend = sv[0];
	p->next = u->pending;
	u->pending = p;
	p->timer = evtimer_new(u->base, pending_timeout, p);
	if (ret || !p->timer || evtimer_add(p->timer, &tv)) {
		pending_fail(u, p, "cannot send adopt_channel to iopartd '%s': %s", iop->name,
			     strerror(ret ? -ret : ENOMEM));
		return 0;
	}
	return 0;
}

struct chan_args {
	const char *partition, *iopartd;
	int64_t device;
	struct uvd_part *part;
	struct uvd_iopartd *iop;
};

/* partition, device, iopartd: checked, found, the iopartd healthy. 0 or replied. */
static int chan_args(struct uvd *u, struct ctl_conn *c, json_object *msg, struct chan_args *a,
		     bool want_iop)
{
	char err[160];

	if (ctl_get_str(msg, "partition", &a->partition, err, sizeof(err)) ||
	    ctl_get_int(msg, "device", 0, UVD_DEVICE_MAX - 1, &a->device, err, sizeof(err)) ||
	    (want_iop && ctl_get_str(msg, "iopartd", &a->iopartd, err, sizeof(err))))
		return ctl_conn_reply_err(c, msg, "%s", err), -EINVAL;
	a->part = uvd_part_find(u, a->partition);
	if (!a->part)
		return ctl_conn_reply_err(c, msg, "no partition '%s'", a->partition), -ENOENT;
	if (!want_iop)
		return 0;
	a->iop = uvd_iop_find(u, a->iopartd);
	if (!a->iop)
		return ctl_conn_reply_err(c, msg, "iopartd '%s' never registered", a->iopartd),
		       -ENOENT;
	if (!a->iop->conn)
		return ctl_conn_reply_err(c, msg, "iopartd '%s' is down", a->iopartd), -ENOENT;
	return 0;
}

int uvd_channel_create(struct uvd *u, struct ctl_conn *c, json_object *msg)
{
	struct chan_args a;
	struct uvd_chan *ch;
	json_object *spec = NULL;
	int ret;

	if (chan_args(u, c, msg, &a, true))
		return 0;
	if (a.part->state == UVD_PART_STOPPED || a.part->state == UVD_PART_CRASHED)
		return ctl_conn_reply_err(c, msg, "partition '%s' is %s", a.partition,
					  uvd_part_state_name(a.part->state));
	if (json_object_object_get_ex(msg, "spec", &spec) &&
	    !json_object_is_type(spec, json_type_object))
		return ctl_conn_reply_err(c, msg, "'spec' must be an object");
	ch = uvd_chan_find(u, a.partition, (unsigned)a.device);
	if (ch)
		return ctl_conn_reply_err(c, msg,
					  "partition '%s' device %d has channel %u (iopartd %s); "
					  "use channel_move",
					  a.partition, (int)a.device, ch->id, ch->iopartd);
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return ctl_conn_reply_err(c, msg, "out of memory");
	ch->id = u->next_chan++;
	snprintf(ch->partition, sizeof(ch->partition), "%s", a.partition);
	snprintf(ch->iopartd, sizeof(ch->iopartd), "%s", a.iopartd);
	ch->device = (unsigned)a.device;
	ch->state = UVD_CHAN_PENDING;
	ch->inflight_fd = -1;
	ch->device_spec = spec ? json_object_get(spec) : NULL;
	ch->next = u->chans;
	u->chans = ch;
	ret = adopt_start(u, c, msg, ch, a.iop, ADOPT_CREATE);
	if (ret) {
		uvd_chan_free(u, ch);
		return ctl_conn_reply_err(c, msg, "cannot create a channel: %s", strerror(-ret));
	}
	return 0;
}

/* An existing channel, not being set up or moved, and a healthy iopartd; NULL: replied. */
static struct uvd_chan *chan_idle(struct uvd *u, struct ctl_conn *c, json_object *msg,
				  struct chan_args *a)
{
	struct uvd_chan *ch;

	if (chan_args(u, c, msg, a, true))
		return NULL;
	ch = uvd_chan_find(u, a->partition, (unsigned)a->device);
	if (!ch)
		ctl_conn_reply_err(c, msg, "partition '%s' device %d has no channel", a->partition,
				   (int)a->device);
	else if (chan_busy(u, ch->id))
		ctl_conn_reply_err(c, msg, "channel %u is being set up or moved", ch->id);
	else
		return ch;
	return NULL;
}

int uvd_channel_move(struct uvd *u, struct ctl_conn *c, json_object *msg)
{
	struct chan_args a;
	struct uvd_chan *ch = chan_idle(u, c, msg, &a);
	int ret;

	if (!ch)
		return 0;
	ret = adopt_start(u, c, msg, ch, a.iop, ADOPT_MOVE);
	if (ret)
		return ctl_conn_reply_err(c, msg, "cannot move channel %u: %s", ch->id,
					  strerror(-ret));
	return 0;
}

int uvd_channel_standby(struct uvd *u, struct ctl_conn *c, json_object *msg)
{
	struct chan_args a;
	struct uvd_chan *ch = chan_idle(u, c, msg, &a);
	int ret;

	if (!ch)
		return 0;
	if (!strcmp(ch->iopartd, a.iopartd))
		return ctl_conn_reply_err(c, msg, "iopartd '%s' is channel %u's active back end",
					  a.iopartd, ch->id);
	if (!a.part->uvmm)
		return ctl_conn_reply_err(c, msg,
					  "partition '%s' has no uvmm attached to hold a standby",
					  a.partition);
	ret = adopt_start(u, c, msg, ch, a.iop, ADOPT_STANDBY);
	if (ret)
		return ctl_conn_reply_err(c, msg, "cannot set up a standby for channel %u: %s",
					  ch->id, strerror(-ret));
	return 0;
}

int uvd_channel_inflight(struct uvd *u, struct ctl_conn *c, json_object *msg, int *fds, int nfds)
{
	struct chan_args a;
	struct uvd_chan *ch;
	struct stat st;
	json_object *rep;

	if (chan_args(u, c, msg, &a, false))
		return 0;
	ch = uvd_chan_find(u, a.partition, (unsigned)a.device);
	if (!ch)
		return ctl_conn_reply_err(c, msg, "partition '%s' device %d has no channel",
					  a.partition, (int)a.device);
	if (nfds != 1)
		return ctl_conn_reply_err(c, msg, "channel_inflight takes exactly one fd, not %d",
					  nfds);
	/* The in-flight area is shared memory: a memfd or a file, nothing else. */
	if (fstat(fds[0], &st) || !S_ISREG(st.st_mode))
		return ctl_conn_reply_err(c, msg, "the fd is not a memfd or file");
	if (ch->inflight_fd >= 0)
		close(ch->inflight_fd);
	ch->inflight_fd = fds[0];
	fds[0] = -1; /* kept */
	pr_info("channel %u: in-flight area of %lld bytes kept", ch->id, (long long)st.st_size);
	rep = ctl_reply_ok(msg);
	reply_add_chan(rep, ch);
	ctl_conn_send(c, rep, NULL, 0);
	json_object_put(rep);
	return 0;
}

void uvd_channel_conn_gone(struct uvd *u, struct ctl_conn *c)
{
	struct uvd_pending *p, *next;

	for (p = u->pending; p; p = next) {
		next = p->next;
		if (p->requester == c)
			p->requester = NULL;
		if (p->iop_conn == c)
			pending_fail(u, p, "iopartd '%s' went away before adopting the channel",
				     p->target);
	}
}

void uvd_channel_fini(struct uvd *u)
{
	while (u->pending)
		pending_free(u, u->pending);
}
