// SPDX-License-Identifier: GPL-2.0
/*
 * uvmm's broker client (vmm/broker.c) against a fake ultravisord: a
 * ctl_server on the test's event loop that records what it is sent and pushes
 * channel_moved. No VM: the moves land in a callback.
 */
#include "broker_rig.h"

START_TEST(hello_and_attach)
{
	int h, a;

	fake_start();
	broker_start();
	run_until(attached, 2000, "partition_attach");
	h = seen_at("hello");
	a = seen_at("partition_attach");
	ck_assert_int_eq(h, 0);
	ck_assert_int_eq(a, 1);
	ck_assert_str_eq(field_str(h, "role"), "uvmm");
	ck_assert_str_eq(field_str(h, "name"), "web1");
	ck_assert_str_eq(field_str(a, "name"), "web1");
	ck_assert_int_eq(field_int(a, "pid"), getpid());
	ck_assert_int_ge(field_int(a, "id"), 1);
	/* Nothing else is said, and the memory ultravisord sent along was not kept. */
	run_for(100);
	ck_assert_int_eq(fk.n, 2);
}
END_TEST

struct inflight_arg {
	int device, fd;
};

static void *set_inflight_thread(void *p)
{
	struct inflight_arg *a = p;

	broker_set_inflight(br, a->device, a->fd);
	return NULL;
}

START_TEST(inflight_handed_over)
{
	int area = chan_memfd_create("inflight", 4096, false), i;
	struct inflight_arg arg = {2, area};
	struct stat st;
	pthread_t t;

	ck_assert_int_ge(area, 0);
	ck_assert_int_eq(fstat(area, &st), 0);
	fake_start();
	broker_start();
	run_until(attached, 2000, "partition_attach");
	/* From a vCPU thread, as vhost_dev does. */
	ck_assert_int_eq(pthread_create(&t, NULL, set_inflight_thread, &arg), 0);
	pthread_join(t, NULL);
	close(area); /* the broker has its own copy */
	run_until(got_inflight, 2000, "channel_inflight");
	i = seen_at("channel_inflight");
	ck_assert_str_eq(field_str(i, "partition"), "web1");
	ck_assert_int_eq(field_int(i, "device"), 2);
	ck_assert_uint_eq(fk.inflight_ino[i], st.st_ino);
	/* Out of range devices are ignored. */
	broker_set_inflight(br, 64, 0);
	broker_set_inflight(br, -1, 0);
	run_for(100);
	ck_assert_int_eq(seen("channel_inflight"), 1);
}
END_TEST

static bool two_inflights(void)
{
	return seen("channel_inflight") == 2;
}

/* Set before ultravisord answers: sent only once the partition is attached. */
START_TEST(inflight_waits_for_attach)
{
	int area = chan_memfd_create("inflight", 4096, false), i;

	broker_start(); /* nobody listens yet: it retries */
	broker_set_inflight(br, 0, area);
	broker_set_inflight(br, 5, area);
	close(area);
	run_for(120);
	ck_assert(!broker_attached(br));

	/* Attach refused: the areas stay with the uvmm. */
	fk.refuse_attach = true;
	fake_start();
	run_until(attach_answered, 2000, "partition_attach");
	run_for(150);
	ck_assert(!broker_attached(br));
	ck_assert_int_eq(seen("hello"), 1);
	ck_assert_int_eq(seen("channel_inflight"), 0);

	/* Accepted on the next connection: both go. */
	fk.refuse_attach = false;
	fake_forget();
	ctl_conn_close(fk.conn);
	run_until(two_inflights, 2000, "two channel_inflight");
	ck_assert(broker_attached(br));
	i = seen_at("channel_inflight");
	ck_assert_int_eq(field_int(i, "device"), 0);
	ck_assert_int_eq(field_int(i + 1, "device"), 5);
}
END_TEST

static void push_moved(int device, int nfds, int *fd_out)
{
	json_object *m = json_object_new_object();
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	json_object_object_add(m, "op", json_object_new_string("channel_moved"));
	json_object_object_add(m, "channel", json_object_new_int(9));
	json_object_object_add(m, "partition", json_object_new_string("web1"));
	if (device >= -1)
		json_object_object_add(m, "device", json_object_new_int(device));
	json_object_object_add(m, "iopartd", json_object_new_string("b"));
	json_object_object_add(m, "epoch", json_object_new_int(1));
	ck_assert_int_eq(ctl_conn_send(fk.conn, m, sv, nfds), 0);
	json_object_put(m);
	close(sv[0]);
	*fd_out = sv[1];
}

START_TEST(channel_moved_reaches_devices)
{
	struct stat a;
	int peer;
	char c = 'x';

	fake_start();
	broker_start();
	run_until(attached, 2000, "partition_attach");
	push_moved(3, 1, &peer);
	run_until(got_moved, 2000, "channel_moved");
	ck_assert_int_eq(mv.calls, 1);
	ck_assert_uint_eq(mv.device, 3);
	/* The fd is the new front end: what is written on it reaches the back end's end. */
	ck_assert_int_eq(fstat(mv.fd, &a), 0);
	ck_assert(S_ISSOCK(a.st_mode));
	ck_assert_int_eq(write(mv.fd, &c, 1), 1);
	c = 0;
	ck_assert_int_eq(read(peer, &c, 1), 1);
	ck_assert_int_eq(c, 'x');
	close(peer);

	/* Malformed pushes reach nobody, and the connection stays. */
	push_moved(64, 1, &peer);
	close(peer);
	push_moved(-1, 1, &peer); /* -1: a device of -1 */
	close(peer);
	push_moved(-2, 1, &peer); /* no device at all */
	close(peer);
	push_moved(1, 0, &peer); /* no fd */
	close(peer);
	run_for(150);
	ck_assert_int_eq(mv.calls, 1);
	ck_assert(broker_attached(br));
	ck_assert_ptr_nonnull(fk.conn);
}
END_TEST

/* A request the uvmm does not serve gets an error reply; events are ignored. */
START_TEST(unknown_requests)
{
	json_object *m, *v;

	fake_start();
	broker_start();
	run_until(attached, 2000, "partition_attach");
	m = ctl_event("iopartd_down");
	ck_assert_int_eq(ctl_conn_send(fk.conn, m, NULL, 0), 0);
	json_object_put(m);
	m = ctl_request("status");
	ck_assert_int_eq(ctl_conn_send(fk.conn, m, NULL, 0), 0);
	run_until(got_reply, 2000, "a reply");
	ck_assert_int_eq(fk.replies, 1);
	ck_assert(json_object_object_get_ex(fk.last_reply, "ok", &v));
	ck_assert(!json_object_get_boolean(v));
	ck_assert(json_object_object_get_ex(fk.last_reply, "id", &v));
	ck_assert(json_object_object_get_ex(m, "id", NULL));
	json_object_put(m);
	ck_assert(broker_attached(br));
}
END_TEST

START_TEST(reconnects_after_drop_and_restart)
{
	int area = chan_memfd_create("inflight", 4096, false);

	fake_start();
	broker_start();
	run_until(attached, 2000, "partition_attach");
	broker_set_inflight(br, 1, area);
	close(area);
	run_until(got_inflight, 2000, "channel_inflight");

	/* The connection ends: hello, partition_attach and the areas again. */
	fake_forget();
	ctl_conn_close(fk.conn);
	run_until(detached, 2000, "the broker to see the end");
	run_until(got_inflight, 2000, "channel_inflight after a reconnection");
	ck_assert_int_eq(seen_at("hello"), 0);
	ck_assert_int_eq(seen_at("partition_attach"), 1);
	ck_assert_int_eq(seen_at("channel_inflight"), 2);
	ck_assert_int_eq(field_int(2, "device"), 1);

	/* ultravisord goes away for a while (several retries), then comes back. */
	fake_forget();
	fake_stop();
	run_until(detached, 2000, "the broker to see the end");
	run_for(300);
	ck_assert_int_eq(fk.n, 0);
	fake_start();
	run_until(got_inflight, 2000, "channel_inflight after a restart");
	ck_assert(broker_attached(br));
	ck_assert_int_eq(seen("hello"), 1);
	ck_assert_int_eq(seen("partition_attach"), 1);
	ck_assert_int_eq(seen("channel_inflight"), 1);
}
END_TEST

int main(void)
{
	return uv_check_run(
		uv_suite("uvmm_broker", setup, teardown, 20,
			 UV_TESTS(hello_and_attach, inflight_handed_over, inflight_waits_for_attach,
				  channel_moved_reaches_devices, unknown_requests,
				  reconnects_after_drop_and_restart)));
}
