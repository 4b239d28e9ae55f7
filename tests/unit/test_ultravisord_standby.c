// SPDX-License-Identifier: GPL-2.0
/*
 * ultravisord's standby back ends (docs/ultravisord.md, "Standby back ends")
 * with the daemon as a process and the test playing its peers: fake
 * iopartds a, b, c, a fake uvmm attached to partition p, a client and a
 * subscriber. channel_standby's delivery and refusals, channel_promoted
 * applied, stale or refused, standby_lost, and the standby in state.json
 * across restarts, corrupt ones refused.
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "uvd_rig.h"

/* The peers of one test: client, subscriber, iopartds a b c, p's uvmm; p's channel 1 on a. */
struct peers {
	int cl, sub, ia, ib, ic, uvmm;
	int fe, be;    /* channel 1's ends */
	bool inflight; /* ultravisord has channel 1's in-flight area */
};

static void setup(void)
{
	uvd_rig_setup("test_uvd_standby");
	snprintf(uvd_log, sizeof(uvd_log), "%s/ultravisord.log", dir);
}

static void teardown(void)
{
	uvd_rig_teardown();
}

/* ultravisord, the peers, channel 1 (p device 0) on a, an in-flight area for it, p's uvmm. */
static void peers_up(struct peers *k)
{
	int fds[CTL_MAX_FDS], n, mfd;
	json_object *rep;

	uvd_pid = uvd_spawn("1G", NULL);
	k->cl = conn();
	k->sub = conn();
	call_ok(k->sub,
		"{\"op\":\"subscribe\",\"events\":[\"channel_promoted\",\"standby_lost\"]}");
	k->ia = fake_iopartd("a");
	k->ib = fake_iopartd("b");
	k->ic = fake_iopartd("c");
	close(reserve(k->cl, "p", 64));
	send_only(k->cl, "{\"op\":\"channel_create\",\"id\":1,\"partition\":\"p\",\"device\":0,"
			 "\"iopartd\":\"a\",\"spec\":{\"export\":\"vhost-user-blk,path=/x\"}}");
	k->be = drig_adopt(k->ia, "a", &n);
	rep = recv_ok(k->cl, fds, &n);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(drig_int(rep, "channel"), 1);
	k->fe = fds[0];
	json_object_put(rep);
	mfd = memfd_create("inflight", MFD_CLOEXEC);
	ck_assert_int_eq(ftruncate(mfd, 4096), 0);
	n = 1;
	ck_assert_int_eq(call_fds(k->cl,
				  "{\"op\":\"channel_inflight\",\"partition\":\"p\",\"device\":0}",
				  &rep, &mfd, &n),
			 0);
	json_object_put(rep);
	close(mfd);
	k->inflight = true;
	k->uvmm = fake_uvmm("p");
}

/* ultravisord stopped first: the iopartds' ends lose it no standby. */
static void peers_down(struct peers *k)
{
	int *fds[] = {&k->cl, &k->sub, &k->ia, &k->ib, &k->ic, &k->uvmm, &k->fe, &k->be};

	uvd_stop();
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (*fds[i] >= 0)
			close(*fds[i]);
}

/*
 * The fake iopartd on iop answers the adopt_channel that came for a standby
 * of channel 1, with the in-flight area when ultravisord has one.
 */
static int standby_adopted(int iop, const char *name, const char *refusal, bool inflight)
{
	int fds[CTL_MAX_FDS], n;
	json_object *m = drig_recv(iop, fds, &n), *r;
	struct stat st;

	ck_assert_str_eq(drig_str(m, "op"), "adopt_channel");
	ck_assert_str_eq(drig_str(m, "iopartd"), name);
	ck_assert(json_object_get_boolean(drig_get(m, "as_standby")));
	ck_assert(!json_object_get_boolean(drig_get(m, "move")));
	ck_assert_int_eq(drig_int(m, "channel"), 1);
	ck_assert_str_eq(drig_str(m, "partition"), "p");
	ck_assert_int_eq(drig_int(m, "device"), 0);
	ck_assert_str_eq(drig_str(json_object_object_get(m, "spec"), "export"),
			 "vhost-user-blk,path=/x");
	/* The socket and the in-flight area, for the requests the standby resubmits. */
	ck_assert_int_eq(json_object_get_boolean(drig_get(m, "inflight")), inflight);
	ck_assert_int_eq(n, 1 + inflight);
	if (inflight) {
		ck_assert_int_eq(fstat(fds[1], &st), 0);
		ck_assert(S_ISREG(st.st_mode));
		close(fds[1]);
	}
	r = refusal ? ctl_reply_err(m, "%s", refusal) : ctl_reply_ok(m);
	ck_assert_int_eq(ctl_send(iop, r, NULL, 0), 0);
	json_object_put(r);
	json_object_put(m);
	if (refusal) {
		close(fds[0]);
		return -1;
	}
	return fds[0];
}

/*
 * channel_standby of channel 1 on name, answered by the fake iopartd iop:
 * the uvmm gets the push (epoch: the channel's + 1) with the other end of
 * the iopartd's socket, the requester its reply.
 */
static void standby_set(struct peers *k, int iop, const char *name, const char *active, int epoch)
{
	int be, fds[CTL_MAX_FDS], n;
	json_object *push, *rep;
	char req[160];

	snprintf(req, sizeof(req),
		 "{\"op\":\"channel_standby\",\"id\":77,\"partition\":\"p\",\"device\":0,"
		 "\"iopartd\":\"%s\"}",
		 name);
	send_only(k->cl, req);
	be = standby_adopted(iop, name, NULL, k->inflight);
	push = drig_recv(k->uvmm, fds, &n);
	ck_assert_str_eq(drig_str(push, "op"), "channel_standby");
	ck_assert(!json_object_object_get_ex(push, "id", NULL)); /* a push, not a request */
	ck_assert_int_eq(drig_int(push, "channel"), 1);
	ck_assert_str_eq(drig_str(push, "partition"), "p");
	ck_assert_int_eq(drig_int(push, "device"), 0);
	ck_assert_str_eq(drig_str(push, "iopartd"), active);
	ck_assert_str_eq(drig_str(push, "standby"), name);
	ck_assert_int_eq(drig_int(push, "epoch"), epoch + 1);
	ck_assert_int_eq(n, 1);
	check_pair(fds[0], be);
	check_pair(be, fds[0]);
	close(fds[0]);
	close(be);
	json_object_put(push);
	rep = recv_ok(k->cl, fds, &n);
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(drig_int(rep, "id"), 77);
	ck_assert_str_eq(drig_str(rep, "standby"), name);
	ck_assert_str_eq(drig_str(rep, "iopartd"), active);
	ck_assert_int_eq(drig_int(rep, "epoch"), epoch);
	json_object_put(rep);
}

/* Channel 1 in status is on iop with standby (""), at epoch. */
static void status_is(int cl, const char *iop, const char *standby, int epoch)
{
	json_object *rep, *chans, *ch = NULL;

	ck_assert_int_eq(call(cl, "{\"op\":\"status\"}", &rep, NULL, NULL), 0);
	chans = drig_get(rep, "channels");
	for (size_t i = 0; i < json_object_array_length(chans); i++)
		if (drig_int(json_object_array_get_idx(chans, i), "id") == 1)
			ch = json_object_array_get_idx(chans, i);
	ck_assert_msg(ch, "no channel 1 in %s", json_object_to_json_string(rep));
	ck_assert_str_eq(drig_str(ch, "iopartd"), iop);
	ck_assert_str_eq(drig_str(ch, "standby"), standby);
	ck_assert_int_eq(drig_int(ch, "epoch"), epoch);
	ck_assert_str_eq(drig_str(ch, "state"), "up");
	json_object_put(rep);
}

/* Channel 1 in state.json: the same, no "standby" key when there is none. */
static void state_is(const char *iop, const char *standby, int epoch)
{
	json_object *doc = json_object_from_file(state_file), *chans, *ch = NULL, *v;

	ck_assert_ptr_nonnull(doc);
	chans = drig_get(doc, "channels");
	for (size_t i = 0; i < json_object_array_length(chans); i++)
		if (drig_int(json_object_array_get_idx(chans, i), "id") == 1)
			ch = json_object_array_get_idx(chans, i);
	ck_assert_msg(ch, "no channel 1 in %s", json_object_to_json_string(doc));
	ck_assert_str_eq(drig_str(ch, "iopartd"), iop);
	ck_assert_int_eq(drig_int(ch, "epoch"), epoch);
	if (*standby)
		ck_assert_str_eq(drig_str(ch, "standby"), standby);
	else
		ck_assert(!json_object_object_get_ex(ch, "standby", &v));
	json_object_put(doc);
}

/* The uvmm says channel 1 switched, at epoch; whether ultravisord applied it. */
static bool promoted(int fd, int epoch, const char *iop_after, int epoch_after)
{
	json_object *rep;
	char req[128];
	bool applied;

	snprintf(req, sizeof(req),
		 "{\"op\":\"channel_promoted\",\"partition\":\"p\",\"device\":0,\"epoch\":%d}",
		 epoch);
	ck_assert_msg(call(fd, req, &rep, NULL, NULL) == 0, "%s", err);
	applied = json_object_get_boolean(drig_get(rep, "applied"));
	ck_assert_int_eq(drig_int(rep, "device"), 0);
	ck_assert_str_eq(drig_str(rep, "iopartd"), iop_after);
	ck_assert_int_eq(drig_int(rep, "epoch"), epoch_after);
	json_object_put(rep);
	return applied;
}

/* The next event on sub is name, about channel 1 as it now is. */
static void event_is(int sub, const char *name, const char *iop, int epoch)
{
	json_object *ev = drig_recv(sub, NULL, NULL);

	ck_assert_str_eq(drig_str(ev, "op"), "event");
	ck_assert_str_eq(drig_str(ev, "event"), name);
	ck_assert_int_eq(drig_int(ev, "channel"), 1);
	ck_assert_str_eq(drig_str(ev, "partition"), "p");
	ck_assert_int_eq(drig_int(ev, "device"), 0);
	ck_assert_str_eq(drig_str(ev, "iopartd"), iop);
	ck_assert_str_eq(drig_str(ev, "standby"), "");
	ck_assert_int_eq(drig_int(ev, "epoch"), epoch);
	json_object_put(ev);
}

#define STANDBY_REQ(part, dev, iop)                                                                \
	"{\"op\":\"channel_standby\",\"partition\":" part ",\"device\":" dev ",\"iopartd\":"       \
	"\"" iop "\"}"

START_TEST(test_standby_delivered_and_refused)
{
	struct peers k;
	int fe, be, n, fds[CTL_MAX_FDS], id;
	json_object *rep;

	peers_up(&k);
	standby_set(&k, k.ib, "b", "a", 0);
	status_is(k.cl, "a", "b", 0);
	state_is("a", "b", 0);
	/* The active channel is untouched. */
	check_pair(k.fe, k.be);

	call_refused(k.cl, STANDBY_REQ("\"p\"", "0", "a"),
		     "iopartd 'a' is channel 1's active "
		     "back end");
	call_refused(k.cl, STANDBY_REQ("\"p\"", "0", "zz"), "iopartd 'zz' never registered");
	id = fake_iopartd("d");
	close(id);
	/* The close is seen before the next request is read: same loop, earlier event. */
	for (int t = 0; t < 250; t++) {
		if (call(k.cl, STANDBY_REQ("\"p\"", "0", "d"), &rep, NULL, NULL) == -EREMOTEIO &&
		    strstr(err, "is down")) {
			json_object_put(rep);
			break;
		}
		json_object_put(rep);
		ck_assert_msg(t < 249, "iopartd d never down: %s", err);
		usleep(20000);
	}
	call_refused(k.cl, STANDBY_REQ("\"p\"", "5", "b"), "partition 'p' device 5 has no channel");
	call_refused(k.cl, STANDBY_REQ("\"zz\"", "0", "b"), "no partition 'zz'");
	call_refused(k.cl, STANDBY_REQ("\"p\"", "64", "b"), "'device' must be in [0, 63]");
	call_refused(k.cl, STANDBY_REQ("\"p\"", "\"0\"", "b"), "'device' must be an integer");
	call_refused(k.cl, STANDBY_REQ("7", "0", "b"), "'partition' must be a string");
	call_refused(k.cl, "{\"op\":\"channel_standby\",\"partition\":\"p\",\"device\":0}",
		     "missing 'iopartd'");

	/* A partition with no uvmm attached has nobody to hold a standby. */
	close(reserve(k.cl, "q", 16));
	send_only(k.cl, "{\"op\":\"channel_create\",\"id\":2,\"partition\":\"q\",\"device\":0,"
			"\"iopartd\":\"a\"}");
	be = drig_adopt(k.ia, "a", &n);
	rep = recv_ok(k.cl, fds, &n);
	fe = fds[0];
	json_object_put(rep);
	call_refused(k.cl, STANDBY_REQ("\"q\"", "0", "b"),
		     "partition 'q' has no uvmm attached to hold a standby");
	close(fe);
	close(be);

	/* Busy while an iopartd has not answered; a refusal keeps the standby there was. */
	send_only(k.cl, "{\"op\":\"channel_standby\",\"id\":78,\"partition\":\"p\",\"device\":0,"
			"\"iopartd\":\"c\"}");
	call_refused(k.cl, STANDBY_REQ("\"p\"", "0", "c"), "channel 1 is being set up or moved");
	call_refused(k.cl,
		     "{\"op\":\"channel_move\",\"partition\":\"p\",\"device\":0,\"iopartd\":\"c\"}",
		     "channel 1 is being set up or moved");
	standby_adopted(k.ic, "c", "net: only one process can hold it: no standby", true);
	rep = drig_recv(k.cl, NULL, NULL);
	ck_assert_int_eq(drig_int(rep, "id"), 78);
	ck_assert(!json_object_get_boolean(drig_get(rep, "ok")));
	ck_assert_str_eq(drig_str(rep, "error"),
			 "iopartd 'c' refused the channel: net: only one process can hold it: "
			 "no standby");
	json_object_put(rep);
	quiet(k.uvmm, 200);
	status_is(k.cl, "a", "b", 0);

	/* A new standby replaces the last; the epoch it would take is the same. */
	standby_set(&k, k.ic, "c", "a", 0);
	status_is(k.cl, "a", "c", 0);

	/* The uvmm leaves before the iopartd answers: refused, nothing recorded. */
	send_only(k.cl, "{\"op\":\"channel_standby\",\"id\":79,\"partition\":\"p\",\"device\":0,"
			"\"iopartd\":\"b\"}");
	close(k.uvmm);
	k.uvmm = -1;
	be = standby_adopted(k.ib, "b", NULL, true);
	ck_assert_int_ge(be, 0);
	close(be);
	/* Its end seen first, or the push failing on it: the standby it had stays recorded. */
	rep = drig_recv(k.cl, NULL, NULL);
	ck_assert_int_eq(drig_int(rep, "id"), 79);
	ck_assert_msg(!strcmp(drig_str(rep, "error"), "no uvmm attached to hold the standby") ||
			      !strcmp(drig_str(rep, "error"), "the uvmm's connection failed"),
		      "%s", drig_str(rep, "error"));
	json_object_put(rep);
	status_is(k.cl, "a", "c", 0);
	state_is("a", "c", 0);
	peers_down(&k);
}
END_TEST

START_TEST(test_promoted)
{
	struct peers k;
	int n, fds[CTL_MAX_FDS], other;
	json_object *rep;

	peers_up(&k);
	/* Without a standby there is nothing to promote: answered, ignored. */
	ck_assert(!promoted(k.uvmm, 1, "a", 0));
	standby_set(&k, k.ib, "b", "a", 0);

	/* Only p's attached uvmm says so; malformed ones are refused. */
	call_refused(k.cl,
		     "{\"op\":\"channel_promoted\",\"partition\":\"p\",\"device\":0,\"epoch\":1}",
		     "only partition 'p''s attached uvmm says that");
	other = conn();
	call_ok(other, "{\"op\":\"hello\",\"role\":\"uvmm\",\"name\":\"p\"}");
	call_refused(other,
		     "{\"op\":\"channel_promoted\",\"partition\":\"p\",\"device\":0,\"epoch\":1}",
		     "only partition 'p''s attached uvmm says that");
	close(other);
	call_refused(k.uvmm,
		     "{\"op\":\"channel_promoted\",\"partition\":\"p\",\"device\":0,\"epoch\":0}",
		     "'epoch' must be in [1, ");
	call_refused(k.uvmm, "{\"op\":\"channel_promoted\",\"partition\":\"p\",\"device\":0}",
		     "missing 'epoch'");
	call_refused(k.uvmm, "{\"op\":\"channel_promoted\",\"partition\":\"p\",\"epoch\":1}",
		     "missing 'device'");
	call_refused(k.uvmm,
		     "{\"op\":\"channel_promoted\",\"partition\":\"zz\",\"device\":0,\"epoch\":1}",
		     "no partition 'zz'");
	call_refused(k.uvmm,
		     "{\"op\":\"channel_promoted\",\"partition\":\"p\",\"device\":3,\"epoch\":1}",
		     "partition 'p' device 3 has no channel");
	/* An epoch other than the next one is not this standby's. */
	ck_assert(!promoted(k.uvmm, 2, "a", 0));
	quiet(k.sub, 100);
	status_is(k.cl, "a", "b", 0);

	/* Applied: b is the channel's back end, with no standby, one epoch on. */
	ck_assert(promoted(k.uvmm, 1, "b", 1));
	event_is(k.sub, "channel_promoted", "b", 1);
	status_is(k.cl, "b", "", 1);
	state_is("b", "", 1);
	/* Said again (a reconnection): answered, not applied, no event. */
	ck_assert(!promoted(k.uvmm, 1, "b", 1));
	quiet(k.sub, 200);
	status_is(k.cl, "b", "", 1);

	/* A move drops the standby: its promotion, late, undoes nothing. */
	standby_set(&k, k.ic, "c", "b", 1);
	send_only(k.cl, "{\"op\":\"channel_move\",\"id\":5,\"partition\":\"p\",\"device\":0,"
			"\"iopartd\":\"a\"}");
	close(k.be);
	k.be = drig_adopt(k.ia, "a", &n);
	rep = drig_recv(k.cl, NULL, NULL);
	ck_assert_str_eq(drig_str(rep, "frontend"), "uvmm");
	json_object_put(rep);
	rep = drig_recv(k.uvmm, fds, &n);
	ck_assert_str_eq(drig_str(rep, "op"), "channel_moved");
	ck_assert_int_eq(drig_int(rep, "epoch"), 2);
	ck_assert_str_eq(drig_str(rep, "standby"), "");
	ck_assert_int_eq(n, 1);
	close(k.fe);
	k.fe = fds[0];
	json_object_put(rep);
	status_is(k.cl, "a", "", 2);
	ck_assert(!promoted(k.uvmm, 2, "a", 2));
	quiet(k.sub, 200);
	status_is(k.cl, "a", "", 2);
	state_is("a", "", 2);

	/* The standby's iopartd dies: standby_lost, the standby forgotten. */
	standby_set(&k, k.ib, "b", "a", 2);
	close(k.ib);
	k.ib = -1;
	event_is(k.sub, "standby_lost", "a", 2);
	status_is(k.cl, "a", "", 2);
	state_is("a", "", 2);
	ck_assert(!promoted(k.uvmm, 3, "a", 2));
	/* The active one's death is not a standby's. */
	close(k.ia);
	k.ia = -1;
	quiet(k.sub, 200);
	status_is(k.cl, "a", "", 2);
	peers_down(&k);
}
END_TEST

/* state.json's record of iopartd name says it was pid. */
static void state_set_iop_pid(const char *name, int pid)
{
	json_object *doc = json_object_from_file(state_file), *a;

	ck_assert_ptr_nonnull(doc);
	a = drig_get(doc, "iopartds");
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *o = json_object_array_get_idx(a, i);

		if (!strcmp(drig_str(o, "name"), name))
			json_object_object_add(o, "pid", json_object_new_int(pid));
	}
	ck_assert_int_eq(json_object_to_file(state_file, doc), 0);
	json_object_put(doc);
}

/* A restarted ultravisord knows the standby and learns of a switch it missed. */
START_TEST(test_standby_across_restart)
{
	struct peers k;

	peers_up(&k);
	standby_set(&k, k.ib, "b", "a", 0);
	peers_down(&k);
	state_is("a", "b", 0);

	uvd_pid = uvd_spawn("1G", NULL);
	k.cl = conn();
	status_is(k.cl, "a", "b", 0);
	k.sub = conn();
	call_ok(k.sub, "{\"op\":\"subscribe\",\"events\":[\"channel_promoted\"]}");
	/* The uvmm switched meanwhile; its broker says so once attached again. */
	k.uvmm = fake_uvmm("p");
	ck_assert(promoted(k.uvmm, 1, "b", 1));
	event_is(k.sub, "channel_promoted", "b", 1);
	status_is(k.cl, "b", "", 1);
	/* The next standby: no in-flight area yet (the uvmm's broker sends it again). */
	k.ic = fake_iopartd("c");
	k.inflight = false;
	standby_set(&k, k.ic, "c", "b", 1);
	close(k.cl);
	close(k.sub);
	close(k.uvmm);
	uvd_stop();
	close(k.ic);
	state_is("b", "c", 1);

	uvd_pid = uvd_spawn("1G", NULL);
	k.cl = conn();
	status_is(k.cl, "b", "c", 1);
	close(k.cl);
	uvd_stop();

	/* c died while ultravisord was away: another process says hello as c. */
	state_set_iop_pid("c", 1);
	uvd_pid = uvd_spawn("1G", NULL);
	k.cl = conn();
	status_is(k.cl, "b", "c", 1);
	k.sub = conn();
	call_ok(k.sub, "{\"op\":\"subscribe\",\"events\":[\"standby_lost\"]}");
	k.ic = fake_iopartd("c");
	event_is(k.sub, "standby_lost", "b", 1);
	status_is(k.cl, "b", "", 1);
	close(k.ic);
	close(k.sub);
	close(k.cl);
	uvd_stop();
	state_is("b", "", 1);
}
END_TEST

static bool log_has(const char *s)
{
	char buf[1 << 16];
	FILE *f = fopen(uvd_log, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	if (f)
		fclose(f);
	buf[n] = 0;
	return strstr(buf, s) != NULL;
}

/* state.json with channel 1's "standby" set to v (taken), then ultravisord started on it. */
static void start_with_standby(json_object *good, json_object *v)
{
	json_object *doc = NULL, *ch;

	ck_assert_int_eq(json_object_deep_copy(good, &doc, NULL), 0);
	ch = json_object_array_get_idx(drig_get(doc, "channels"), 0);
	json_object_object_add(ch, "standby", v);
	ck_assert_int_eq(json_object_to_file(state_file, doc), 0);
	json_object_put(doc);
	uvd_pid = uvd_spawn("1G", NULL);
}

/* ultravisord refused its state file as corrupt, saying why: an empty start. */
static void refused_state(const char *why)
{
	char bad[300];
	json_object *rep;
	int cl;

	snprintf(bad, sizeof(bad), "%s.bad", state_file);
	ck_assert_int_eq(access(bad, F_OK), 0);
	ck_assert_int_eq(unlink(bad), 0);
	ck_assert_msg(log_has(why), "the log does not say '%s'", why);
	cl = conn();
	ck_assert_int_eq(call(cl, "{\"op\":\"status\"}", &rep, NULL, NULL), 0);
	ck_assert_int_eq(json_object_array_length(drig_get(rep, "channels")), 0);
	ck_assert_int_eq(json_object_array_length(drig_get(rep, "partitions")), 0);
	json_object_put(rep);
	close(cl);
	uvd_stop();
}

START_TEST(test_corrupt_standby_in_state)
{
	struct peers k;
	json_object *good;
	int cl;

	peers_up(&k);
	peers_down(&k);
	good = json_object_from_file(state_file);
	ck_assert_ptr_nonnull(good);

	start_with_standby(good, json_object_new_string("B/x"));
	refused_state("channels[0]: bad standby iopartd name");
	start_with_standby(good, json_object_new_string("a"));
	refused_state("channels[0]: bad standby iopartd name");
	start_with_standby(good, json_object_new_int(2));
	refused_state("channels[0]: 'standby' must be a string");

	/* A good one loads: "" and a name. */
	start_with_standby(good, json_object_new_string(""));
	cl = conn();
	status_is(cl, "a", "", 0);
	close(cl);
	uvd_stop();
	start_with_standby(good, json_object_new_string("c"));
	cl = conn();
	status_is(cl, "a", "c", 0);
	close(cl);
	uvd_stop();
	json_object_put(good);
}
END_TEST

int main(void)
{
	return uv_check_run(
		uv_suite("ultravisord_standby", setup, teardown, 60,
			 UV_TESTS(test_standby_delivered_and_refused, test_promoted,
				  test_standby_across_restart, test_corrupt_standby_in_state)));
}
