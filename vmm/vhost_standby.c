// SPDX-License-Identifier: GPL-2.0
/*
 * A channel's standby back end. ultravisord hands the uvmm a second
 * connection, to another iopartd, which is handshaken and given the memory
 * table at once and then left idle. When the active back end goes away the
 * device switches to it on the spot: features, in-flight area and rings,
 * from the used index the guest saw, and the standby resubmits what was in
 * flight. Nothing waits for commandd or ultravisord, who learn of it after
 * the fact (channel_promoted through the broker). The standby's iopartd
 * serves nothing before the switch: rings start only on this connection,
 * and only once the active one is gone.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "vhost_dev.h"

void vhost_standby_drop(struct vhost_dev *d, const char *why)
{
	if (!d->has_standby)
		return;
	if (why)
		pr_warn("%s: channel %d's standby back end %s; none until ultravisord hands "
			"another",
			d->name, d->channel, why);
	if (d->standby_ev)
		event_free(d->standby_ev);
	d->standby_ev = NULL;
	vu_front_close(&d->sf);
	d->has_standby = false;
	d->sf_mem = false;
}

/* Nothing is ever sent on an idle standby: readable means closed, or broken. */
static void standby_on_sock(evutil_socket_t fd, short what, void *arg)
{
	struct vhost_dev *d = arg;
	int st;

	(void)what;
	pthread_mutex_lock(&d->lock);
	st = vhost_sock_peek(fd);
	if (d->has_standby && fd == d->sf.fd && st)
		vhost_standby_drop(d, st > 0 ? "sent an unexpected message" : "went away");
	pthread_mutex_unlock(&d->lock);
}

/* Called with d->lock held: the handshake and memory table on d->sf. */
static int standby_prepare(struct vhost_dev *d, struct event_base *base)
{
	int err = vu_front_handshake(&d->sf);

	if (!err && d->mem) {
		err = vhost_dev_set_mem(d, &d->sf);
		d->sf_mem = !err;
	}
	if (err)
		return err;
	d->standby_ev = event_new(base, d->sf.fd, EV_READ | EV_PERSIST, standby_on_sock, d);
	if (!d->standby_ev || event_add(d->standby_ev, NULL)) {
		snprintf(d->sf.err, sizeof(d->sf.err), "out of memory");
		return -ENOMEM;
	}
	return 0;
}

int vhost_dev_standby(struct vhost_dev *d, int fd, unsigned epoch)
{
	int err;

	if (d->thread || !d->retry_ev) {
		close(fd);
		return -EINVAL;
	}
	pthread_mutex_lock(&d->lock);
	vhost_standby_drop(d, NULL);
	vu_front_attach(&d->sf, fd);
	d->sf.timeout_ms = d->f.timeout_ms;
	d->has_standby = true;
	err = standby_prepare(d, event_get_base(d->retry_ev));
	if (err) {
		pr_warn("%s: channel %d's standby back end failed its handshake: %s", d->name,
			d->channel, d->sf.err);
		vhost_standby_drop(d, NULL);
	} else {
		d->standby_epoch = epoch;
		pr_info("%s: channel %d has a standby back end (epoch %u if it takes over)",
			d->name, d->channel, epoch);
		/* The active one is gone already: no reason to wait for a move. */
		if (!d->connected && !vhost_standby_promote(d))
			err = -EIO;
	}
	pthread_mutex_unlock(&d->lock);
	return err;
}

bool vhost_standby_promote(struct vhost_dev *d)
{
	unsigned epoch = d->standby_epoch;
	int err;

	if (!d->has_standby)
		return false;
	event_free(d->standby_ev);
	d->standby_ev = NULL;
	d->f = d->sf;
	/*
	 * Only the setup vhost_dev_take does now (the driver runs the device)
	 * may skip the table the standby has; left set, a later start would
	 * skip it on whatever back end the channel is on by then (a move).
	 */
	d->mem_sent = d->sf_mem && d->running;
	vu_front_init(&d->sf);
	d->has_standby = false;
	d->sf_mem = false;
	err = vhost_dev_take(d);
	if (err) {
		pr_err("%s: channel %d's standby back end failed to take over: %s; waiting for "
		       "ultravisord to move the channel",
		       d->name, d->channel, d->f.err);
		vu_front_close(&d->f);
		d->mem_sent = false;
		return false;
	}
	pr_info("%s: channel %d switched to its standby back end (epoch %u)", d->name, d->channel,
		epoch);
	if (d->on_promoted)
		d->on_promoted(d->promoted_ctx, d->channel, epoch);
	return true;
}

void vhost_dev_set_promote_hook(struct vhost_dev *d,
				void (*fn)(void *ctx, int channel, unsigned epoch), void *ctx)
{
	pthread_mutex_lock(&d->lock);
	d->on_promoted = fn;
	d->promoted_ctx = ctx;
	pthread_mutex_unlock(&d->lock);
}
