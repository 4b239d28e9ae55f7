// SPDX-License-Identifier: GPL-2.0
/*
 * uvmm's broker and standby back ends, against the fake ultravisord of
 * broker_rig.h: channel_standby pushes reach broker_ops.channel_standby with
 * their fd and epoch (malformed ones reach nobody and their fds are closed),
 * and broker_set_promoted's channel_promoted goes once attached, again after
 * each reconnection until answered (ok at an epoch at least its own), and
 * not after a refusal.
 */
#include <fcntl.h>
#include <poll.h>

#include "broker_rig.h"

/* A channel_standby push; fds: how many to send (the socket, then a pipe's end). */
struct push {
	int device;	/* < -1: none */
	int epoch;	/* < -1: none */
	bool epoch_str; /* "epoch" a string */
	int nfds;
};

/*
 * Sends p; *peer: the other end of the socket sent (and *extra, for a second
 * fd, the read end of the pipe whose write end went), to see them closed.
 */
static void push_standby(const struct push *p, int *peer, int *extra)
{
	json_object *m = json_object_new_object();
	int sv[2], pp[2], fds[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(pipe2(pp, O_CLOEXEC), 0);
	fds[0] = sv[0];
	fds[1] = pp[1];
	json_object_object_add(m, "op", json_object_new_string("channel_standby"));
	json_object_object_add(m, "channel", json_object_new_int(9));
	json_object_object_add(m, "partition", json_object_new_string("web1"));
	if (p->device >= -1)
		json_object_object_add(m, "device", json_object_new_int(p->device));
	json_object_object_add(m, "iopartd", json_object_new_string("a"));
	json_object_object_add(m, "standby", json_object_new_string("b"));
	if (p->epoch_str)
		json_object_object_add(m, "epoch", json_object_new_string("1"));
	else if (p->epoch >= -1)
		json_object_object_add(m, "epoch", json_object_new_int(p->epoch));
	ck_assert_int_eq(ctl_conn_send(fk.conn, m, fds, p->nfds), 0);
	json_object_put(m);
	close(sv[0]);
	close(pp[1]);
	*peer = sv[1];
	if (extra)
		*extra = pp[0];
	else
		close(pp[0]);
}

static bool got_standby(void)
{
	return mv.sb_calls > 0;
}

static int watched_fd;

/* watched_fd's other end is closed: EOF (the fd it was sent as is closed everywhere). */
static bool watched_closed(void)
{
	struct pollfd p = {.fd = watched_fd, .events = POLLIN};
	char c;

	return poll(&p, 1, 0) == 1 && read(watched_fd, &c, 1) == 0;
}

static void closed_soon(int fd, const char *what)
{
	watched_fd = fd;
	run_until(watched_closed, 5000, what);
	close(fd);
}

START_TEST(standby_push_reaches_devices)
{
	static const struct push bad[] = {
		{.device = 1, .epoch = 2, .nfds = 0},  {.device = 1, .epoch = 2, .nfds = 2},
		{.device = 64, .epoch = 2, .nfds = 1}, {.device = -1, .epoch = 2, .nfds = 1},
		{.device = -2, .epoch = 2, .nfds = 1}, {.device = 1, .epoch = 0, .nfds = 1},
		{.device = 1, .epoch = -2, .nfds = 1}, {.device = 1, .epoch_str = true, .nfds = 1},
	};
	struct push good = {.device = 3, .epoch = 5, .nfds = 1};
	int peer, extra;
	struct stat st;
	char c = 's';

	fake_start();
	broker_start();
	run_until(attached, 5000, "partition_attach");
	push_standby(&good, &peer, NULL);
	run_until(got_standby, 5000, "channel_standby");
	ck_assert_int_eq(mv.sb_calls, 1);
	ck_assert_uint_eq(mv.sb_device, 3);
	ck_assert_uint_eq(mv.sb_epoch, 5);
	/* The fd is the standby's front end, the callee's. */
	ck_assert_int_eq(fstat(mv.sb_fd, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_int_eq(write(mv.sb_fd, &c, 1), 1);
	c = 0;
	ck_assert_int_eq(read(peer, &c, 1), 1);
	ck_assert_int_eq(c, 's');
	close(peer);

	/* Malformed pushes reach nobody, their fds are closed, the connection stays. */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		push_standby(&bad[i], &peer, bad[i].nfds == 2 ? &extra : NULL);
		closed_soon(peer, "the socket of a malformed push closed");
		if (bad[i].nfds == 2)
			closed_soon(extra, "the second fd of a malformed push closed");
	}
	run_for(100);
	ck_assert_int_eq(mv.sb_calls, 1);
	ck_assert(broker_attached(br));
	ck_assert_ptr_nonnull(fk.conn);
	/* The good one's is still open. */
	ck_assert_int_eq(fstat(mv.sb_fd, &st), 0);
}
END_TEST

/* Without broker_ops.channel_standby the fd is closed. */
START_TEST(standby_without_callback)
{
	static const struct broker_ops none = {0};
	struct broker_cfg cfg = {
		.path = path, .partition = "web1", .pid = getpid(), .retry_ms = 50};
	struct push good = {.device = 3, .epoch = 5, .nfds = 1};
	int peer;

	fake_start();
	br = broker_new(base, &cfg, &none, NULL);
	ck_assert_ptr_nonnull(br);
	run_until(attached, 5000, "partition_attach");
	push_standby(&good, &peer, NULL);
	closed_soon(peer, "the standby's socket closed");
	ck_assert(broker_attached(br));
}
END_TEST

static bool got_promoted(void)
{
	return seen("channel_promoted") > 0;
}

/* Ends the uvmm's connection (after forgetting what came): the broker attaches again. */
static void reconnect(void)
{
	fake_forget();
	ctl_conn_close(fk.conn);
	run_until(detached, 5000, "the broker to see the end");
	run_until(attached, 5000, "partition_attach again");
}

/* The i-th message seen is channel_promoted of device at epoch. */
static void promoted_is(int i, int device, int epoch)
{
	ck_assert_str_eq(fk.op[i], "channel_promoted");
	ck_assert_str_eq(field_str(i, "partition"), "web1");
	ck_assert_int_eq(field_int(i, "device"), device);
	ck_assert_int_eq(field_int(i, "epoch"), epoch);
	ck_assert_int_ge(field_int(i, "id"), 1);
}

START_TEST(promoted_waits_for_attach)
{
	broker_start(); /* nobody listens yet */
	broker_set_promoted(br, 2, 7);
	broker_set_promoted(br, 64, 1); /* out of range: ignored */
	broker_set_promoted(br, -1, 1);
	run_for(120);
	fk.refuse_attach = true;
	fake_start();
	run_until(attach_answered, 5000, "partition_attach");
	run_for(150);
	ck_assert_int_eq(seen("channel_promoted"), 0);

	fk.refuse_attach = false;
	fake_forget();
	ctl_conn_close(fk.conn);
	run_until(got_promoted, 5000, "channel_promoted");
	ck_assert_int_lt(seen_at("partition_attach"), seen_at("channel_promoted"));
	promoted_is(seen_at("channel_promoted"), 2, 7);
	/* Answered at its epoch: never again, on this connection or the next. */
	run_for(150);
	ck_assert_int_eq(seen("channel_promoted"), 1);
	reconnect();
	run_for(200);
	ck_assert_int_eq(seen("channel_promoted"), 0);
}
END_TEST

START_TEST(promoted_resent_until_answered)
{
	fk.promoted = PROMOTED_SILENT;
	fake_start();
	broker_start();
	run_until(attached, 5000, "partition_attach");
	broker_set_promoted(br, 1, 3);
	broker_set_promoted(br, 4, 6);
	run_until(got_promoted, 5000, "channel_promoted");
	run_for(200);
	ck_assert_int_eq(seen("channel_promoted"), 2); /* once each per connection */

	/* Unanswered: again after a reconnection; one answered below its epoch too. */
	fk.promoted = PROMOTED_OK;
	fk.promoted_delta = -1;
	reconnect();
	run_until(got_promoted, 5000, "channel_promoted after a reconnection");
	run_for(200);
	ck_assert_int_eq(seen("channel_promoted"), 2);
	promoted_is(seen_at("channel_promoted"), 1, 3);
	promoted_is(seen_at("channel_promoted") + 1, 4, 6);
	fk.promoted_delta = 0;
	reconnect();
	run_until(got_promoted, 5000, "channel_promoted after another reconnection");
	run_for(200);
	ck_assert_int_eq(seen("channel_promoted"), 2);

	/* Answered at their epochs (or past them): no more. */
	reconnect();
	run_for(300);
	ck_assert_int_eq(seen("channel_promoted"), 0);

	/* A later switch of the same device is said, once answered. */
	fk.promoted_delta = 1;
	broker_set_promoted(br, 1, 4);
	run_until(got_promoted, 5000, "the next channel_promoted");
	promoted_is(seen_at("channel_promoted"), 1, 4);
	reconnect();
	run_for(300);
	ck_assert_int_eq(seen("channel_promoted"), 0);
}
END_TEST

START_TEST(promoted_refusal_stops_resends)
{
	fk.promoted = PROMOTED_REFUSE;
	fake_start();
	broker_start();
	run_until(attached, 5000, "partition_attach");
	broker_set_promoted(br, 0, 2);
	run_until(got_promoted, 5000, "channel_promoted");
	run_for(200);
	ck_assert_int_eq(seen("channel_promoted"), 1);
	/* Refused: said once, not after a reconnection either. */
	fk.promoted = PROMOTED_OK;
	reconnect();
	run_for(300);
	ck_assert_int_eq(seen("channel_promoted"), 0);
	ck_assert(broker_attached(br));

	/* A later one goes as usual. */
	broker_set_promoted(br, 0, 3);
	run_until(got_promoted, 5000, "the next channel_promoted");
	promoted_is(seen_at("channel_promoted"), 0, 3);
}
END_TEST

int main(void)
{
	return uv_check_run(
		uv_suite("uvmm_broker_standby", setup, teardown, 40,
			 UV_TESTS(standby_push_reaches_devices, standby_without_callback,
				  promoted_waits_for_attach, promoted_resent_until_answered,
				  promoted_refusal_stops_resends)));
}
