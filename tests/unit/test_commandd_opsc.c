// SPDX-License-Identifier: GPL-2.0
/*
 * commandd's client of opsd (commandd/opsc.c) and its connections: the real
 * opsd keeps an HTTP/1.1 connection open across answers of every kind, and
 * a restarted opsd is reached again on a new one without an error; opsc's
 * two threads use a connection each however many requests they make, go on
 * through a restart of the server without a warning, and stop without
 * waiting for a long poll the server holds (tests/unit/http_stub.h).
 */
#include "commandd.h"
#include "commandd_rig.h"
#include "http_stub.h"

/* Server-side connections of opsd's socket now open (accepted sockets carry its path). */
static int opsd_conns(const char *path)
{
	FILE *f = fopen("/proc/net/unix", "r");
	char line[512], p[256];
	unsigned st;
	int n = 0;

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %*s %*s %*s %*s %x %*s %255s", &st, p) == 2 && st == 3 &&
		    !strcmp(p, path))
			n++;
	fclose(f);
	return n;
}

/* The real opsd keeps the connection across answers of every kind; a restarted one is reached. */
START_TEST(test_opsd)
{
	char path[192], img[192], body[512];
	struct uvhttp_conn *h;
	int fd;

	rig_setup();
	snprintf(img, sizeof(img), "%s/d.img", R.dir);
	fd = open(img, O_WRONLY | O_CREAT, 0644);
	ck_assert_int_ge(fd, 0);
	close(fd);
	rig_start_opsd();
	snprintf(path, sizeof(path), "%s/opsd.sock", R.run);
	h = uvhttp_conn_new(path, "opsd");
	ck_assert_int_eq(req_ok(h, "GET", "/v1/partitions", NULL), 200);
	ck_assert_int_eq(opsd_conns(path), 1);
	snprintf(body, sizeof(body),
		 "{\"name\":\"k1\",\"cpus\":1,\"memory_mib\":64,\"disks\":[{\"path\":\"%s\"}]}",
		 img);
	ck_assert_int_eq(req_ok(h, "POST", "/v1/partitions", body), 201);
	/* The generation moved on: the long poll answers at once. */
	ck_assert_int_eq(req_ok(h, "GET", "/v1/partitions?wait=0", NULL), 200);
	ck_assert_int_eq(req_ok(h, "PUT", "/v1/partitions/k1/actual", "{\"state\":\"stopped\"}"),
			 200);
	ck_assert_int_eq(req_ok(h, "POST", "/v1/partitions/k1/start", NULL), 202);
	ck_assert_int_eq(req_ok(h, "GET", "/v1/policy", NULL), 200);
	/* Refusals too: 404, 400 (bad JSON), 405, 409. */
	ck_assert_int_eq(req_ok(h, "GET", "/v1/partitions/nope", NULL), 404);
	ck_assert_int_eq(req_ok(h, "PUT", "/v1/partitions/k1/actual", "{\"state\":"), 400);
	ck_assert_int_eq(req_ok(h, "PUT", "/v1/partitions", "{}"), 405);
	ck_assert_int_eq(req_ok(h, "POST", "/v1/partitions", body), 409);
	ck_assert_int_eq(req_ok(h, "GET", "/v1/partitions/k1", NULL), 200);
	ck_assert_int_eq(uvhttp_conn_connects(h), 1);
	ck_assert_int_eq(opsd_conns(path), 1);

	/* kill -9 and a new opsd while the client is idle: reached again, no error. */
	rig_kill(&R.opsd);
	rig_start_opsd();
	ck_assert_int_eq(req_ok(h, "GET", "/v1/partitions/k1", NULL), 200);
	ck_assert_int_eq(req_ok(h, "PUT", "/v1/partitions/k1/actual", "{\"state\":\"running\"}"),
			 200);
	ck_assert_int_eq(uvhttp_conn_connects(h), 2);
	ck_assert_int_eq(opsd_conns(path), 1);
	uvhttp_conn_free(h);
	rig_teardown();
}
END_TEST

/* Runs the loop (opsc's results) until *v reaches want, for ms at most. */
static void loop_until(struct cmd *c, const int *v, int want, unsigned ms)
{
	for (unsigned i = 0; i < ms / 10 && stub_load(v) < want; i++) {
		event_base_loop(c->base, EVLOOP_NONBLOCK);
		rig_sleep_ms(10);
	}
	event_base_loop(c->base, EVLOOP_NONBLOCK);
	ck_assert_int_ge(stub_load(v), want);
}

static void reports(struct opsc *o, int from, int n)
{
	char name[16];

	for (int i = from; i < from + n; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		ck_assert_uint_gt(
			opsc_report(o, name, json_tokener_parse("{\"state\":\"running\"}")), 0);
	}
}

/*
 * commandd's client: two connections (the long poll's and the worker's)
 * however many requests; through a restart, no warning, two again; its stop
 * does not wait for the long poll opsd holds.
 */
START_TEST(test_opsc)
{
	struct cmd c = {0};
	char log[128], text[8192];
	struct stub a, b;
	struct opsc *o;
	int64_t t0;
	ssize_t n;
	int fd, saved;

	snprintf(log, sizeof(log), "%s/log", stub_dir);
	fd = open(log, O_RDWR | O_CREAT | O_TRUNC, 0644);
	saved = dup(2);
	ck_assert(fd >= 0 && saved >= 0);
	dup2(fd, 2);
	c.base = event_base_new();
	stub_start(&a, 60000);
	o = opsc_new(&c, stub_sock);
	ck_assert_ptr_nonnull(o);
	reports(o, 0, 50);
	loop_until(&c, &a.puts, 50, 10000);
	for (int i = 0; i < 5; i++)
		opsc_resync(o);
	rig_sleep_ms(300);
	event_base_loop(c.base, EVLOOP_NONBLOCK);
	ck_assert(c.opsd_up && c.have_desired);
	ck_assert_int_eq(stub_load(&a.accepts), 2);

	/* opsd restarted: the long poll it held and the worker's idle connection die. */
	stub_start(&b, 60000);
	stub_stop(&a);
	reports(o, 50, 50);
	loop_until(&c, &b.puts, 50, 10000);
	loop_until(&c, &b.accepts, 2, 3000);
	rig_sleep_ms(300);
	event_base_loop(c.base, EVLOOP_NONBLOCK);
	ck_assert_int_eq(stub_load(&b.accepts), 2);
	ck_assert(c.opsd_up);

	t0 = rig_now_us();
	opsc_free(o);
	ck_assert_int_lt(rig_now_us() - t0, 2500000);
	stub_stop(&b);
	event_base_free(c.base);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, text, sizeof(text) - 1, 0);
	close(fd);
	ck_assert_int_ge(n, 0);
	text[n] = 0;
	ck_assert_msg(!strstr(text, "report on") && !strstr(text, "cannot reach") &&
			      !strstr(text, "no answer"),
		      "warnings: %s", text);
}
END_TEST

int main(int argc, char **argv)
{
	Suite *s = suite_create("commandd_opsc");

	rig_dispatch(argc, argv);
	uv_tcase(s, "opsd", NULL, NULL, 60, UV_TESTS(test_opsd));
	uv_tcase(s, "opsc", stub_setup, stub_teardown, 60, UV_TESTS(test_opsc));
	return uv_check_run(s);
}
