// SPDX-License-Identifier: GPL-2.0
/*
 * Suite mode: iopartd registered with ultravisord, serving the channels it
 * is handed. The channels live on iopartd's loop, independent of the control
 * connection, so an ultravisord restart costs them nothing: the connection
 * is simply made again and hello said again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl_msg.h"
#include "daemon.h"
#include "dev.h"
#include "log.h"
#include "suite.h"

/* One adopted channel: the device and the vhost-user connection serving it. */
struct suite_chan {
	struct suite_chan *next;
	struct iopart_suite *s;
	unsigned id, device, epoch;
	bool standby; /* held for the front end to switch to (docs/iopartd.md) */
	char partition[64];
	char label[96]; /* "channel 5 (web1 device 0)", for logs */
	struct iopart_dev dev;
	/* The front end closed: the device is freed from the loop, not under vu_back. */
	struct event *gone;
};

struct iopart_suite {
	struct event_base *base;
	char name[IOPART_SUITE_NAME_MAX + 1];
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct ctl_conn *conn;
	json_object *hello_id; /* our hello's id while its answer is awaited */
	bool registered, ready_sent, stopping;
	bool refused; /* ultravisord refused the hello: why says why */
	char why[512];
	struct event *retry;
	/*
	 * Failed attempts since the last registration, since when, when that was
	 * last said (ms); lost_at: when the registered connection ended (0: it did not).
	 */
	unsigned failures;
	int64_t fail_since, fail_logged, lost_at;
	struct suite_chan *chans;
	unsigned nchans;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool iopart_suite_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (!n || n > IOPART_SUITE_NAME_MAX ||
	    !strchr("abcdefghijklmnopqrstuvwxyz0123456789", *name))
		return false;
	return strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

int iopart_suite_spec(json_object *spec, struct iopart_export *e, char *err, size_t errlen)
{
	const char *ex;
	char why[400];

	if (!spec || !json_object_is_type(spec, json_type_object)) {
		snprintf(err, errlen,
			 "no 'spec' object such as {\"export\": \"vhost-user-blk,path=IMG\"}");
		return -EINVAL;
	}
	json_object_object_foreach(spec, key, val)
	{
		(void)val;
		if (strcmp(key, "export")) {
			snprintf(err, errlen, "spec: unknown key '%.64s' (it has only 'export')",
				 key);
			return -EINVAL;
		}
	}
	if (ctl_get_str(spec, "export", &ex, why, sizeof(why))) {
		snprintf(err, errlen, "spec: %s", why);
		return -EINVAL;
	}
	if (iopart_export_parse_channel(ex, e, why, sizeof(why))) {
		snprintf(err, errlen, "spec: %s", why);
		return -EINVAL;
	}
	return 0;
}

static void suite_connect(struct iopart_suite *s);

static void suite_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	suite_connect(arg);
}

/*
 * One more failed attempt: said at once (unless "went away" just was, and
 * loud is false), then at most every IOPART_SUITE_LOG_S.
 */
static void suite_failed(struct iopart_suite *s, const char *why, int delay_ms, bool loud)
{
	int64_t now = now_ms();
	struct timeval tv = {delay_ms / 1000, (delay_ms % 1000) * 1000};

	if (!s->failures++) {
		/* After "went away", the next word comes IOPART_SUITE_LOG_S later. */
		s->fail_since = s->fail_logged = s->lost_at ? s->lost_at : now;
		if (!s->lost_at || loud)
			pr_warn("ultravisord: %s; trying again every %d ms", why, delay_ms);
	} else if (now - s->fail_logged >= IOPART_SUITE_LOG_S * 1000) {
		s->fail_logged = now;
		pr_warn("ultravisord: still not registered after %lld s (%u attempts): %s; "
			"%u channels served meanwhile",
			(long long)((now - s->fail_since) / 1000), s->failures, why, s->nchans);
	}
	evtimer_add(s->retry, &tv);
}

static void suite_chan_free(struct suite_chan *ch)
{
	struct iopart_suite *s = ch->s;

	for (struct suite_chan **pp = &s->chans; *pp; pp = &(*pp)->next) {
		if (*pp == ch) {
			*pp = ch->next;
			s->nchans--;
			break;
		}
	}
	if (ch->dev.priv)
		iopart_dev_close(&ch->dev);
	if (ch->gone)
		event_free(ch->gone);
	free(ch);
}

static void suite_chan_gone(evutil_socket_t fd, short what, void *arg)
{
	struct suite_chan *ch = arg;

	(void)fd;
	(void)what;
	pr_info("%s: closed by its front end; device freed", ch->label);
	suite_chan_free(ch);
}

static void suite_chan_disconnected(struct iopart_dev *d)
{
	struct suite_chan *ch = d->owner;

	event_active(ch->gone, EV_TIMEOUT, 0);
}

/* adopt_channel's fields and fds, checked; the device spec parsed into e. 0 or -EINVAL. */
static int adopt_args(json_object *msg, const int *fds, int nfds, struct suite_chan *ch,
		      struct iopart_export *e, bool *move, char *err, size_t errlen)
{
	const char *part;
	int64_t id, dev, epoch;
	bool inflight = false;
	struct stat st;

	*move = false;
	if (ctl_get_int(msg, "channel", 0, UINT32_MAX, &id, err, errlen) ||
	    ctl_get_str(msg, "partition", &part, err, errlen) ||
	    ctl_get_int(msg, "device", 0, 63, &dev, err, errlen) ||
	    ctl_get_int(msg, "epoch", 0, UINT32_MAX, &epoch, err, errlen) ||
	    ctl_get_bool(msg, "move", move, err, errlen) == -EINVAL ||
	    ctl_get_bool(msg, "inflight", &inflight, err, errlen) == -EINVAL ||
	    ctl_get_bool(msg, "as_standby", &ch->standby, err, errlen) == -EINVAL)
		return -EINVAL;
	if (strlen(part) >= sizeof(ch->partition)) {
		snprintf(err, errlen, "'partition' is too long");
		return -EINVAL;
	}
	ch->id = (unsigned)id;
	ch->device = (unsigned)dev;
	ch->epoch = (unsigned)epoch;
	snprintf(ch->partition, sizeof(ch->partition), "%s", part);
	snprintf(ch->label, sizeof(ch->label), "channel %u (%s device %u)", ch->id, part,
		 ch->device);
	if (nfds != 1 + inflight) {
		snprintf(err, errlen, "%d fds came, not %d (the socket%s)", nfds, 1 + inflight,
			 inflight ? " and the in-flight area" : "");
		return -EINVAL;
	}
	if (fstat(fds[0], &st) || !S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "fd[0] is not a socket");
		return -EINVAL;
	}
	if (inflight && (fstat(fds[1], &st) || !S_ISREG(st.st_mode))) {
		snprintf(err, errlen, "fd[1] is not a memfd or file (the in-flight area)");
		return -EINVAL;
	}
	if (inflight)
		pr_info("%s: in-flight area of %lld bytes came with it; requests in it resume "
			"once the front end hands it over (SET_INFLIGHT_FD)",
			ch->label, (long long)st.st_size);
	return iopart_suite_spec(json_object_object_get(msg, "spec"), e, err, errlen);
}

/* Opens the device and serves fds[0] (taken: set to -1). 0 or -errno with err set. */
static int adopt_serve(struct iopart_suite *s, struct suite_chan *ch, const struct iopart_export *e,
		       int *fds, char *err, size_t errlen)
{
	char why[400] = "";
	int ret;

	/*
	 * Before the open: a tap the active back end holds would fail it as
	 * busy, and "no standby" is what tells commandd not to ask again.
	 */
	if (ch->standby && !iopart_kind_shared(e->kind)) {
		snprintf(err, errlen, "%s: only one process can hold it: no standby",
			 iopart_kind_name(e->kind));
		return -EOPNOTSUPP;
	}
	ret = iopart_dev_open(&ch->dev, e, s->base, why, sizeof(why));
	if (ret < 0) {
		snprintf(err, errlen, "%s: %s", iopart_kind_name(e->kind),
			 *why ? why : strerror(-ret));
		return ret;
	}
	if (ch->standby && iopart_dev_standby(&ch->dev)) {
		snprintf(err, errlen, "%s: only one process can hold it: no standby",
			 iopart_kind_name(e->kind));
		return -EOPNOTSUPP;
	}
	ch->dev.label = ch->label;
	ch->dev.on_disconnect = suite_chan_disconnected;
	ch->dev.owner = ch;
	ch->gone = event_new(s->base, -1, 0, suite_chan_gone, ch);
	if (!ch->gone) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ret = iopart_dev_serve(&ch->dev, s->base, fds[0]);
	fds[0] = -1; /* iopart_dev_serve owns it now, even on failure */
	if (ret < 0)
		snprintf(err, errlen, "cannot serve the channel: %s", strerror(-ret));
	return ret;
}

/* Every failure is answered (ok: false) and loses only this channel; never the daemon. */
static int suite_adopt(struct iopart_suite *s, struct ctl_conn *c, json_object *msg, int *fds,
		       int nfds)
{
	struct suite_chan *ch = calloc(1, sizeof(*ch));
	struct iopart_export e;
	char err[512];
	json_object *rep;
	bool move;

	if (!ch)
		return ctl_conn_reply_err(c, msg, "out of memory"), 0;
	ch->s = s;
	if (adopt_args(msg, fds, nfds, ch, &e, &move, err, sizeof(err)) ||
	    adopt_serve(s, ch, &e, fds, err, sizeof(err))) {
		pr_warn("adopt_channel%s%s refused: %s", *ch->label ? " of " : "", ch->label, err);
		suite_chan_free(ch); /* not linked yet */
		ctl_conn_reply_err(c, msg, "%s", err);
		return 0;
	}
	ch->next = s->chans;
	s->chans = ch;
	s->nchans++;
	pr_info("%s, epoch %u%s: %s %s", ch->label, ch->epoch, move ? ", moved here" : "",
		ch->standby ? "standing by for" : "serving",
		json_object_get_string(
			json_object_object_get(json_object_object_get(msg, "spec"), "export")));
	rep = ctl_reply_ok(msg);
	json_object_object_add(rep, "channel", json_object_new_int64(ch->id));
	ctl_conn_send(c, rep, NULL, 0);
	json_object_put(rep);
	return 0;
}

static void suite_on_reply(struct iopart_suite *s, struct ctl_conn *c, json_object *msg)
{
	json_object *id, *v;

	if (!s->hello_id || !json_object_object_get_ex(msg, "id", &id) ||
	    !json_object_equal(id, s->hello_id)) {
		pr_debug("ultravisord: a reply nobody waits for: %s", json_object_get_string(msg));
		return;
	}
	json_object_put(s->hello_id);
	s->hello_id = NULL;
	if (!json_object_get_boolean(json_object_object_get(msg, "ok"))) {
		v = json_object_object_get(msg, "error");
		snprintf(s->why, sizeof(s->why), "%s refused our hello: %s", s->sock,
			 v ? json_object_get_string(v) : "no reason given");
		s->refused = true;
		ctl_conn_close(c);
		return;
	}
	s->registered = true;
	if (s->lost_at)
		pr_info("registered again with ultravisord as iopartd %s, %lld ms after losing it; "
			"%u channels kept running",
			s->name, (long long)(now_ms() - s->lost_at), s->nchans);
	else if (s->failures)
		pr_info("registered with ultravisord at %s as iopartd %s after %u failed attempts",
			s->sock, s->name, s->failures);
	else
		pr_info("registered with ultravisord at %s as iopartd %s", s->sock, s->name);
	s->failures = 0;
	s->lost_at = 0;
	if (!s->ready_sent) {
		uv_notify("READY=1");
		s->ready_sent = true;
	}
}

static int suite_on_msg(struct ctl_conn *c, json_object *msg, int *fds, int nfds, void *arg)
{
	struct iopart_suite *s = arg;
	const char *op = json_object_get_string(json_object_object_get(msg, "op"));

	if (ctl_is_reply(msg)) {
		suite_on_reply(s, c, msg);
		return 0;
	}
	if (!strcmp(op, "event")) /* we subscribe to none; nothing to answer */
		return 0;
	if (!strcmp(op, "adopt_channel"))
		return suite_adopt(s, c, msg, fds, nfds);
	ctl_conn_reply_err(c, msg, "unknown op '%s' (iopartd takes adopt_channel)", op);
	return 0;
}

static void suite_on_close(struct ctl_conn *c, void *arg)
{
	struct iopart_suite *s = arg;
	bool was = s->registered;

	(void)c;
	s->conn = NULL;
	s->registered = false;
	json_object_put(s->hello_id);
	s->hello_id = NULL;
	if (s->stopping)
		return;
	if (s->refused) {
		s->refused = false;
		suite_failed(s, s->why, IOPART_SUITE_REFUSED_MS, true);
	} else if (was) {
		struct timeval tv = {0, IOPART_SUITE_RETRY_MS * 1000};

		pr_warn("ultravisord went away; %u channels keep running; reconnecting every %d ms",
			s->nchans, IOPART_SUITE_RETRY_MS);
		s->lost_at = now_ms();
		evtimer_add(s->retry, &tv);
	} else {
		suite_failed(s, "the connection ended before ultravisord answered our hello",
			     IOPART_SUITE_RETRY_MS, false);
	}
}

static const struct ctl_ops suite_ctl_ops = {
	.on_msg = suite_on_msg,
	.on_close = suite_on_close,
};

static void suite_connect(struct iopart_suite *s)
{
	char err[512];
	json_object *hello;
	int fd = ctl_connect(s->sock, err, sizeof(err));

	if (fd < 0)
		return suite_failed(s, err, IOPART_SUITE_RETRY_MS, false);
	s->conn = ctl_conn_new(s->base, fd, &suite_ctl_ops, s); /* takes fd */
	if (!s->conn)
		return suite_failed(s, "cannot watch the connection", IOPART_SUITE_RETRY_MS, false);
	hello = ctl_request("hello");
	json_object_object_add(hello, "role", json_object_new_string("iopartd"));
	json_object_object_add(hello, "name", json_object_new_string(s->name));
	s->hello_id = json_object_get(json_object_object_get(hello, "id"));
	if (ctl_conn_send(s->conn, hello, NULL, 0))
		ctl_conn_close(s->conn); /* on_close tries again */
	json_object_put(hello);
}

int iopart_suite_start(struct iopart_suite **out, struct event_base *base, const char *name,
		       const char *uvd_sock, char *err, size_t errlen)
{
	struct iopart_suite *s;

	*out = NULL;
	if (!iopart_suite_name_ok(name)) {
		snprintf(err, errlen, "'%s' is not a name ([a-z0-9][a-z0-9_-], at most %d)", name,
			 IOPART_SUITE_NAME_MAX);
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (strlen(uvd_sock) >= sizeof(s->sock)) {
		snprintf(err, errlen, "%s: socket path too long", uvd_sock);
		free(s);
		return -ENAMETOOLONG;
	}
	s->base = base;
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->sock, sizeof(s->sock), "%s", uvd_sock);
	s->retry = evtimer_new(base, suite_retry_cb, s);
	if (!s->retry) {
		snprintf(err, errlen, "out of memory");
		free(s);
		return -ENOMEM;
	}
	suite_connect(s);
	*out = s;
	return 0;
}

void iopart_suite_free(struct iopart_suite *s)
{
	if (!s)
		return;
	s->stopping = true;
	if (s->conn)
		ctl_conn_free(s->conn);
	while (s->chans)
		suite_chan_free(s->chans);
	event_free(s->retry);
	json_object_put(s->hello_id);
	free(s);
}
