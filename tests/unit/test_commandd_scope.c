// SPDX-License-Identifier: GPL-2.0
/*
 * commandd's scopes (commandd/scope.c) without systemd: --scope, when auto
 * makes scopes, the unit name and its escapes, the properties given to
 * StartTransientUnit, and the thread letting a monitor go when there is no
 * system bus to ask.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scope.h"
#include "uvcheck.h"

START_TEST(test_scope_mode)
{
	enum cmd_scope_mode m = CMD_SCOPE_OFF;

	ck_assert_int_eq(cmd_scope_mode_parse("auto", &m), 0);
	ck_assert_int_eq(m, CMD_SCOPE_AUTO);
	ck_assert_int_eq(cmd_scope_mode_parse("on", &m), 0);
	ck_assert_int_eq(m, CMD_SCOPE_ON);
	ck_assert_int_eq(cmd_scope_mode_parse("off", &m), 0);
	ck_assert_int_eq(m, CMD_SCOPE_OFF);
	ck_assert_int_eq(cmd_scope_mode_parse("yes", &m), -EINVAL);
	ck_assert_int_eq(cmd_scope_mode_parse("", &m), -EINVAL);
	ck_assert_int_eq(m, CMD_SCOPE_OFF);
	ck_assert_str_eq(cmd_scope_mode_name(CMD_SCOPE_AUTO), "auto");

	/* auto: systemd booted the host and runs commandd as a unit. */
	ck_assert(cmd_scope_wanted(CMD_SCOPE_AUTO, true, "8f3e0c"));
	ck_assert(!cmd_scope_wanted(CMD_SCOPE_AUTO, true, NULL));
	ck_assert(!cmd_scope_wanted(CMD_SCOPE_AUTO, true, ""));
	ck_assert(!cmd_scope_wanted(CMD_SCOPE_AUTO, false, "8f3e0c"));
	ck_assert(cmd_scope_wanted(CMD_SCOPE_ON, false, NULL));
	ck_assert(!cmd_scope_wanted(CMD_SCOPE_OFF, true, "8f3e0c"));
}
END_TEST

START_TEST(test_scope_unit_name)
{
	char buf[CMD_SCOPE_UNIT_MAX], name[CMD_NAME_MAX];

	ck_assert_int_eq(cmd_scope_unit_name("web1", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "uvmm-web1.scope");
	/* opsd's alphabet, [a-z0-9][a-z0-9_.-], is kept as it is. */
	ck_assert_int_eq(cmd_scope_unit_name("db-2.prod_x", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "uvmm-db-2.prod_x.scope");
	ck_assert_int_eq(cmd_scope_unit_name("Ab:9", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "uvmm-Ab:9.scope");
	/* The rest as systemd-escape writes it: no '@' (a template), no '/', no '\'. */
	ck_assert_int_eq(cmd_scope_unit_name("a b/c@d\\e", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "uvmm-a\\x20b\\x2fc\\x40d\\x5ce.scope");
	ck_assert_int_eq(cmd_scope_unit_name("caf\xc3\xa9", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "uvmm-caf\\xc3\\xa9.scope");
	ck_assert_int_eq(cmd_scope_unit_name("", buf, sizeof(buf)), -EINVAL);

	/* The longest name commandd keeps fits when plain... */
	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = 0;
	ck_assert_int_eq(cmd_scope_unit_name(name, buf, sizeof(buf)), 0);
	ck_assert_uint_eq(strlen(buf), 5 + 63 + 6);
	/* ...not when every byte takes four (a unit name has at most 255). */
	memset(name, '*', sizeof(name) - 1);
	ck_assert_int_eq(cmd_scope_unit_name(name, buf, sizeof(buf)), -ENAMETOOLONG);
	memset(name, '*', 61);
	name[61] = 0;
	ck_assert_int_eq(cmd_scope_unit_name(name, buf, sizeof(buf)), 0);
	ck_assert_uint_eq(strlen(buf), 5 + 61 * 4 + 6);
	/* A short buffer is refused, never cut. */
	ck_assert_int_eq(cmd_scope_unit_name("web1", buf, 15), -ENAMETOOLONG);
	ck_assert_int_eq(cmd_scope_unit_name("web1", buf, 16), 0);
	ck_assert_int_eq(cmd_scope_unit_name("web1", buf, 11), -ENAMETOOLONG);
}
END_TEST

static void opts_init(struct cmd_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->shutdown_timeout_s = 60;
	o->niop_names = 2;
	strcpy(o->iop_names[0], "a");
	strcpy(o->iop_names[1], "b");
}

START_TEST(test_scope_plan)
{
	struct cmd_scope_plan p;
	struct cmd_opts o;

	opts_init(&o);
	ck_assert_int_eq(cmd_scope_plan("web1", 4242, &o, "commandd.service", &p), 0);
	ck_assert_str_eq(p.part, "web1");
	ck_assert_str_eq(p.unit, "uvmm-web1.scope");
	ck_assert_str_eq(p.description, "Ultravisor partition web1 (uvmm and its monitor)");
	ck_assert_int_eq(p.pid, 4242);
	ck_assert_str_eq(p.slice, "ultravisor.slice");
	ck_assert_str_eq(p.collect_mode, "inactive-or-failed");
	ck_assert_int_eq(p.kill_signal, SIGPWR);
	ck_assert(p.send_sigkill);
	ck_assert_uint_eq(p.timeout_stop_usec, 60000000ULL);
	ck_assert_uint_eq(p.nafter, 3);
	ck_assert_str_eq(p.after[0], "ultravisord.service");
	ck_assert_str_eq(p.after[1], "iopartd@a.service");
	ck_assert_str_eq(p.after[2], "iopartd@b.service");
	ck_assert_str_eq(p.before, "commandd.service");

	/* --iopartd and --shutdown-timeout are followed; only a service is ordered after. */
	o.niop_names = 3;
	strcpy(o.iop_names[0], "io-0");
	strcpy(o.iop_names[1], "io_1");
	strcpy(o.iop_names[2], "c");
	o.shutdown_timeout_s = 86400;
	ck_assert_int_eq(cmd_scope_plan("x", 7, &o, "session-3.scope", &p), 0);
	ck_assert_uint_eq(p.nafter, 4);
	ck_assert_str_eq(p.after[1], "iopartd@io-0.service");
	ck_assert_str_eq(p.after[3], "iopartd@c.service");
	ck_assert_uint_eq(p.timeout_stop_usec, 86400000000ULL);
	ck_assert_str_eq(p.before, "");
	ck_assert_int_eq(cmd_scope_plan("x", 7, &o, NULL, &p), 0);
	ck_assert_str_eq(p.before, "");

	/* D-Bus strings are UTF-8: the description carries the escaped name. */
	ck_assert_int_eq(cmd_scope_plan("caf\xc3\xa9", 7, &o, NULL, &p), 0);
	ck_assert_str_eq(p.description,
			 "Ultravisor partition caf\\xc3\\xa9 (uvmm and its monitor)");
	ck_assert_int_eq(cmd_scope_plan("", 7, &o, NULL, &p), -EINVAL);
}
END_TEST

/* 1 when the gate got its byte, 0 on end of file, -1 when nothing came within ms. */
static int gate_wait(int fd, int ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	char b = 0;
	ssize_t n;

	if (poll(&pfd, 1, ms) != 1)
		return -1;
	n = read(fd, &b, 1);
	return n == 1 && b == 's' ? 1 : n == 0 ? 0 : -2;
}

/* No system bus (or no systemd): a warning, and the monitor goes on at once. */
START_TEST(test_scope_no_bus)
{
	struct cmd_scoper *s;
	struct cmd_opts o;
	int g[2], g2[2];

	opts_init(&o);
	setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/uv-test-bus", 1);
	s = cmd_scoper_new(&o);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(pipe2(g, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(g2, O_CLOEXEC), 0);
	cmd_scoper_add(s, "web1", getpid(), g[1]);
	/* A name that makes no unit name never reaches the thread. */
	cmd_scoper_add(s, "", getpid(), g2[1]);
	ck_assert_int_eq(gate_wait(g2[0], 1000), 1);
	ck_assert_int_eq(gate_wait(g[0], 10000), 1);
	ck_assert_int_eq(gate_wait(g[0], 1000), 0); /* and closed */
	close(g[0]);
	close(g2[0]);
	cmd_scoper_free(s);
}
END_TEST

/* A stop lets every queued monitor go without asking systemd. */
START_TEST(test_scope_free_queued)
{
	struct cmd_scoper *s;
	struct cmd_opts o;
	int g[8][2];

	opts_init(&o);
	setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/uv-test-bus", 1);
	s = cmd_scoper_new(&o);
	ck_assert_ptr_nonnull(s);
	for (int i = 0; i < 8; i++) {
		ck_assert_int_eq(pipe2(g[i], O_CLOEXEC), 0);
		cmd_scoper_add(s, "p", getpid(), g[i][1]);
	}
	cmd_scoper_free(s);
	for (int i = 0; i < 8; i++) {
		ck_assert_int_eq(gate_wait(g[i][0], 0), 1);
		close(g[i][0]);
	}
	cmd_scoper_free(NULL);
}
END_TEST

int main(void)
{
	return uv_check_run(
		uv_suite("commandd_scope", NULL, NULL, 30,
			 UV_TESTS(test_scope_mode, test_scope_unit_name, test_scope_plan,
				  test_scope_no_bus, test_scope_free_queued)));
}
