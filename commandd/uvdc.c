// SPDX-License-Identifier: GPL-2.0
/*
 * The ultravisord client: one control connection on the event loop, used
 * both for requests (answered asynchronously: a call's callback runs when
 * its reply comes) and for the events it subscribed to. Nothing here waits:
 * channel_create can take seconds (ultravisord waits for the iopartd), and a
 * failover must not queue behind it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "commandd.h"
#include "ctl_msg.h"
#include "log.h"

#define UVDC_RETRY_MS  500
#define UVDC_STATUS_MS 5000

struct uvdc_call {
	struct uvdc_call *next;
	struct cmd *c;
	int64_t id;
	char op[32];
	uvdc_cb cb;
	void *arg;
	struct event *timer;
};

static void call_unlink(struct cmd *c, struct uvdc_call *k)
{
	for (struct uvdc_call **pp = &c->calls; *pp; pp = &(*pp)->next)
		if (*pp == k) {
			*pp = k->next;
			break;
		}
	event_free(k->timer);
}

static void call_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct uvdc_call *k = arg;
	char err[128];

	(void)fd;
	(void)what;
	call_unlink(k->c, k);
	snprintf(err, sizeof(err), "ultravisord did not answer '%s' in time", k->op);
	pr_warn("%s", err);
	k->cb(k->c, k->arg, NULL, NULL, 0, err);
	free(k);
}

int uvdc_call(struct cmd *c, json_object *req, const int *fds, int nfds, unsigned timeout_ms,
	      uvdc_cb cb, void *arg)
{
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	struct uvdc_call *k;
	json_object *v;

	if (!c->uvd) {
		json_object_put(req);
		return -ENOTCONN;
	}
	k = calloc(1, sizeof(*k));
	if (!k || !json_object_object_get_ex(req, "id", &v))
		goto fail;
	k->c = c;
	k->id = json_object_get_int64(v);
	snprintf(k->op, sizeof(k->op), "%s",
		 json_object_get_string(json_object_object_get(req, "op")));
	k->cb = cb;
	k->arg = arg;
	k->timer = evtimer_new(c->base, call_timeout, k);
	if (!k->timer || evtimer_add(k->timer, &tv))
		goto fail;
	if (ctl_conn_send(c->uvd, req, fds, nfds)) {
		event_free(k->timer);
		goto fail;
	}
	json_object_put(req);
	k->next = c->calls;
	c->calls = k;
	return 0;
fail:
	free(k);
	json_object_put(req);
	return -ENOMEM;
}

static int uvdc_reply(struct cmd *c, json_object *msg, int *fds, int nfds)
{
	json_object *v;
	struct uvdc_call *k;
	int64_t id;

	if (!json_object_object_get_ex(msg, "id", &v))
		return 0;
	id = json_object_get_int64(v);
	for (k = c->calls; k && k->id != id; k = k->next)
		;
	if (!k) {
		pr_debug("ultravisord: a reply to no call (id %lld)", (long long)id);
		return 0;
	}
	call_unlink(c, k);
	if (json_object_get_boolean(json_object_object_get(msg, "ok")))
		k->cb(c, k->arg, msg, fds, nfds, NULL);
	else
		k->cb(c, k->arg, msg, fds, nfds,
		      json_object_get_string(json_object_object_get(msg, "error")) ?: "refused");
	free(k);
	return 0;
}

static int uvdc_msg(struct ctl_conn *cc, json_object *msg, int *fds, int nfds, void *arg)
{
	struct cmd *c = arg;
	const char *op = json_object_get_string(json_object_object_get(msg, "op"));

	(void)cc;
	if (ctl_is_reply(msg))
		return uvdc_reply(c, msg, fds, nfds);
	if (!strcmp(op, "event"))
		cmd_on_event(c, msg);
	else
		pr_debug("ultravisord sent '%s', which is not for commandd", op);
	return 0;
}

static void uvdc_schedule(struct cmd *c, unsigned ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	if (!c->stopping)
		evtimer_add(c->uvd_timer, &tv);
}

static void uvdc_closed(struct ctl_conn *cc, void *arg)
{
	struct cmd *c = arg;

	(void)cc;
	c->uvd = NULL;
	c->uvd_ready = false;
	if (!c->stopping)
		pr_warn("lost the connection to ultravisord; reconnecting");
	/* Every call in flight fails; their callbacks decide what to do. */
	while (c->calls) {
		struct uvdc_call *k = c->calls;

		call_unlink(c, k);
		k->cb(c, k->arg, NULL, NULL, 0, "ultravisord went away");
		free(k);
	}
	uvdc_schedule(c, UVDC_RETRY_MS);
}

static const struct ctl_ops uvdc_ops = {.on_msg = uvdc_msg, .on_close = uvdc_closed};

static void status_done(struct cmd *c, void *arg, json_object *rep, int *fds, int nfds,
			const char *err)
{
	(void)arg;
	(void)fds;
	(void)nfds;
	if (err) {
		pr_warn("ultravisord status: %s", err);
		return;
	}
	c->uvd_ready = true;
	cmd_on_uvd_status(c, rep);
}

void uvdc_status(struct cmd *c)
{
	uvdc_call(c, ctl_request("status"), NULL, 0, UVDC_STATUS_MS, status_done, NULL);
}

static void ignore_reply(struct cmd *c, void *arg, json_object *rep, int *fds, int nfds,
			 const char *err)
{
	(void)c;
	(void)rep;
	(void)fds;
	(void)nfds;
	if (err)
		pr_warn("ultravisord refused '%s': %s", (const char *)arg, err);
}

static void uvdc_connect(evutil_socket_t fd, short what, void *arg)
{
	static bool said;
	struct cmd *c = arg;
	json_object *req;
	char err[512];
	int sfd;

	(void)fd;
	(void)what;
	sfd = ctl_connect(c->uvd_sock, err, sizeof(err));
	if (sfd < 0) {
		if (!said)
			pr_warn("%s; retrying every %d ms", err, UVDC_RETRY_MS);
		said = true;
		uvdc_schedule(c, UVDC_RETRY_MS);
		return;
	}
	said = false;
	c->uvd = ctl_conn_new(c->base, sfd, &uvdc_ops, c);
	if (!c->uvd) {
		uvdc_schedule(c, UVDC_RETRY_MS);
		return;
	}
	pr_info("connected to ultravisord at %s", c->uvd_sock);
	req = ctl_request("hello");
	json_object_object_add(req, "role", json_object_new_string("commandd"));
	uvdc_call(c, req, NULL, 0, UVDC_STATUS_MS, ignore_reply, "hello");
	/* Subscribed before the status is asked: no event falls between the two. */
	uvdc_call(c, ctl_request("subscribe"), NULL, 0, UVDC_STATUS_MS, ignore_reply, "subscribe");
	uvdc_status(c);
}

int uvdc_init(struct cmd *c)
{
	c->uvd_timer = evtimer_new(c->base, uvdc_connect, c);
	if (!c->uvd_timer)
		return -ENOMEM;
	event_active(c->uvd_timer, EV_TIMEOUT, 0);
	return 0;
}

void uvdc_fini(struct cmd *c)
{
	c->stopping = true;
	if (c->uvd)
		ctl_conn_free(c->uvd);
	if (c->uvd_timer)
		event_free(c->uvd_timer);
	c->uvd_timer = NULL;
}
