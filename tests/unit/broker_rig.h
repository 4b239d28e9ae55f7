/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UV_TEST_BROKER_RIG_H
#define UV_TEST_BROKER_RIG_H

/*
 * For test_uvmm_broker*.c: a fake ultravisord, a ctl_server on the test's
 * event loop that records what uvmm's broker (vmm/broker.c) sends it,
 * answers it, and pushes channel_moved or channel_standby; the broker's
 * callbacks recorded in mv. No VM.
 */
#include <check.h>

#include "uvcheck.h"
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
#include "chan_mem.h"
#include "ctl_msg.h"

#define MAX_SEEN 64

/* How the fake answers channel_promoted. */
enum fake_promoted {
	PROMOTED_OK,	 /* ok, applied, at the epoch it was told (+ promoted_delta) */
	PROMOTED_REFUSE, /* an error, as ultravisord's for a stranger's word */
	PROMOTED_SILENT, /* no answer at all (the connection ends first) */
};

struct fake {
	struct ctl_server *srv;
	struct ctl_conn *conn; /* the uvmm's */
	bool refuse_attach;
	enum fake_promoted promoted;
	int promoted_delta;
	/* what it was sent */
	int n;
	char op[MAX_SEEN][32];
	json_object *msg[MAX_SEEN];
	ino_t inflight_ino[MAX_SEEN];
	int replies; /* replies from the uvmm (to a request of ours) */
	json_object *last_reply;
};

struct moved {
	int calls;
	unsigned device;
	int fd;
	/* channel_standby: the last one's device, fd (ours now) and epoch */
	int sb_calls;
	unsigned sb_device, sb_epoch;
	int sb_fd;
};

static struct event_base *base;
static struct fake fk;
static struct moved mv;
static struct broker *br;
static char dir[64], path[128];

/* ultravisord's answer to channel_promoted, as fk.promoted says. */
static inline int fake_promoted(struct ctl_conn *c, json_object *msg)
{
	json_object *rep, *v;

	if (fk.promoted == PROMOTED_SILENT)
		return 0;
	if (fk.promoted == PROMOTED_REFUSE)
		return ctl_conn_reply_err(c, msg,
					  "only partition 'web1''s attached uvmm says that");
	rep = ctl_reply_ok(msg);
	json_object_object_add(rep, "applied", json_object_new_boolean(true));
	json_object_object_get_ex(msg, "device", &v);
	json_object_object_add(rep, "device", json_object_get(v));
	json_object_object_add(rep, "iopartd", json_object_new_string("b"));
	json_object_object_get_ex(msg, "epoch", &v);
	json_object_object_add(rep, "epoch",
			       json_object_new_int(json_object_get_int(v) + fk.promoted_delta));
	ctl_conn_send(c, rep, NULL, 0);
	json_object_put(rep);
	return 0;
}

static inline int fake_on_msg(struct ctl_conn *c, json_object *msg, int *fds, int nfds, void *arg)
{
	json_object *v, *rep;
	struct stat st;
	int i = fk.n;

	(void)arg;
	fk.conn = c;
	if (ctl_is_reply(msg)) {
		fk.replies++;
		json_object_put(fk.last_reply);
		fk.last_reply = json_object_get(msg);
		return 0;
	}
	ck_assert_int_lt(i, MAX_SEEN);
	json_object_object_get_ex(msg, "op", &v);
	snprintf(fk.op[i], sizeof(fk.op[i]), "%s", json_object_get_string(v));
	fk.msg[i] = json_object_get(msg);
	fk.n++;
	if (!strcmp(fk.op[i], "channel_inflight")) {
		ck_assert_int_eq(nfds, 1);
		ck_assert_int_eq(fstat(fds[0], &st), 0);
		ck_assert(S_ISREG(st.st_mode));
		fk.inflight_ino[i] = st.st_ino;
	} else {
		ck_assert_int_eq(nfds, 0);
	}
	if (!strcmp(fk.op[i], "partition_attach") && fk.refuse_attach)
		return ctl_conn_reply_err(c, msg,
					  "partition 'web1' is attached to pid 1, which runs");
	if (!strcmp(fk.op[i], "channel_promoted"))
		return fake_promoted(c, msg);
	rep = ctl_reply_ok(msg);
	if (!strcmp(fk.op[i], "partition_attach")) {
		/* ultravisord hands the memory it still holds; the uvmm has its own. */
		int mfd = chan_memfd_create("fake-guest", 1 << 20, false);

		json_object_object_add(rep, "memory", json_object_new_boolean(true));
		ctl_conn_send(c, rep, &mfd, 1);
		close(mfd);
	} else {
		ctl_conn_send(c, rep, NULL, 0);
	}
	json_object_put(rep);
	return 0;
}

static inline void fake_on_close(struct ctl_conn *c, void *arg)
{
	(void)arg;
	if (fk.conn == c)
		fk.conn = NULL;
}

static const struct ctl_ops fake_ops = {fake_on_msg, fake_on_close};

static inline void fake_start(void)
{
	char err[256];

	fk.srv = ctl_server_new(base, path, &fake_ops, NULL, err, sizeof(err));
	ck_assert_msg(fk.srv, "%s", err);
}

static inline void fake_stop(void)
{
	ctl_server_free(fk.srv);
	fk.srv = NULL;
	fk.conn = NULL;
}

static inline void fake_forget(void)
{
	for (int i = 0; i < fk.n; i++)
		json_object_put(fk.msg[i]);
	fk.n = 0;
}

static inline int seen(const char *op)
{
	int n = 0;

	for (int i = 0; i < fk.n; i++)
		n += !strcmp(fk.op[i], op);
	return n;
}

static inline int seen_at(const char *op)
{
	for (int i = 0; i < fk.n; i++)
		if (!strcmp(fk.op[i], op))
			return i;
	return -1;
}

static inline const char *field_str(int i, const char *key)
{
	json_object *v;

	ck_assert(json_object_object_get_ex(fk.msg[i], key, &v));
	return json_object_get_string(v);
}

static inline int field_int(int i, const char *key)
{
	json_object *v;

	ck_assert(json_object_object_get_ex(fk.msg[i], key, &v));
	return json_object_get_int(v);
}

static inline long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs the loop until cond() holds; fails after ms. */
static inline void run_until(bool (*cond)(void), long ms, const char *what)
{
	long end = now_ms() + ms;

	while (!cond()) {
		ck_assert_msg(now_ms() < end, "timed out waiting for %s", what);
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		usleep(1000);
	}
}

static inline void run_for(long ms)
{
	long end = now_ms() + ms;

	while (now_ms() < end) {
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		usleep(1000);
	}
}

static inline bool attached(void)
{
	return broker_attached(br) && seen("partition_attach");
}

/* partition_attach came and was answered, whatever the answer. */
static inline bool attach_answered(void)
{
	return seen("partition_attach") > 0 && fk.conn;
}

static inline bool got_inflight(void)
{
	return seen("channel_inflight") > 0;
}

static inline bool got_moved(void)
{
	return mv.calls > 0;
}

static inline bool got_reply(void)
{
	return fk.replies > 0;
}

static inline bool detached(void)
{
	return !broker_attached(br);
}

static inline void on_moved(void *ctx, unsigned device, int fd)
{
	struct moved *m = ctx;

	m->calls++;
	m->device = device;
	if (m->fd >= 0)
		close(m->fd);
	m->fd = fd;
}

static inline void on_standby(void *ctx, unsigned device, int fd, unsigned epoch)
{
	struct moved *m = ctx;

	m->sb_calls++;
	m->sb_device = device;
	m->sb_epoch = epoch;
	if (m->sb_fd >= 0)
		close(m->sb_fd);
	m->sb_fd = fd;
}

static const struct broker_ops moved_ops = {.channel_moved = on_moved,
					    .channel_standby = on_standby};

static inline void setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	ck_assert_int_eq(evthread_use_pthreads(), 0);
	base = event_base_new();
	strcpy(dir, "/tmp/test_uvmm_broker.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ultravisord.sock", dir);
	memset(&fk, 0, sizeof(fk));
	memset(&mv, 0, sizeof(mv));
	mv.fd = mv.sb_fd = -1;
}

static inline void teardown(void)
{
	broker_free(br);
	br = NULL;
	if (fk.srv)
		fake_stop();
	fake_forget();
	json_object_put(fk.last_reply);
	if (mv.fd >= 0)
		close(mv.fd);
	if (mv.sb_fd >= 0)
		close(mv.sb_fd);
	event_base_free(base);
	unlink(path);
	rmdir(dir);
}

static inline struct broker *broker_start(void)
{
	struct broker_cfg cfg = {
		.path = path, .partition = "web1", .pid = getpid(), .retry_ms = 50};

	br = broker_new(base, &cfg, &moved_ops, &mv);
	ck_assert_ptr_nonnull(br);
	return br;
}

#endif
