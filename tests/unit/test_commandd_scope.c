// SPDX-License-Identifier: GPL-2.0
/*
 * commandd's scopes (commandd/scope.c) without systemd: --scope, when auto
 * makes scopes, the unit name and its escapes, the properties given to
 * StartTransientUnit, and the thread letting a monitor go when there is no
 * system bus to ask. Adoption (scope_adopt.c): /proc/PID/cgroup and
 * /proc/PID/status read and judged, which of an adopted uvmm and its monitor
 * are moved, and a failed move being a warning only.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "scope.h"
#include "scope_rig.h"
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

START_TEST(test_scope_plan)
{
	struct cmd_scope_plan p;
	struct cmd_opts o;

	opts_init(&o);
	ck_assert_int_eq(cmd_scope_plan("web1", 4242, &o, "commandd.service", &p), 0);
	ck_assert_str_eq(p.part, "web1");
	ck_assert_str_eq(p.unit, "uvmm-web1.scope");
	ck_assert_str_eq(p.description, "Ultravisor partition web1 (uvmm and its monitor)");
	ck_assert_uint_eq(p.npids, 1);
	ck_assert_int_eq(p.pids[0], 4242);
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

/* /proc/PID/cgroup: systemd's hierarchy (v1, hybrid) before cgroup v2's line. */
START_TEST(test_scope_cgroup_parse)
{
	char path[64], small[16];

	/* cgroup v2 (Debian 12's default). */
	ck_assert_int_eq(
		cmd_scope_cgroup_parse("0::/system.slice/commandd.service\n", path, sizeof(path)),
		0);
	ck_assert_str_eq(path, "/system.slice/commandd.service");
	ck_assert_int_eq(
		cmd_scope_cgroup_parse("0::/ultravisor.slice/uvmm-web1.scope", path, sizeof(path)),
		0);
	ck_assert_str_eq(path, "/ultravisor.slice/uvmm-web1.scope");
	/* Hybrid: name=systemd is where systemd keeps its units, whatever 0:: says. */
	ck_assert_int_eq(cmd_scope_cgroup_parse("12:cpu,cpuacct:/\n"
						"1:name=systemd:/ultravisor.slice/uvmm-a.scope\n"
						"0::/other\n",
						path, sizeof(path)),
			 0);
	ck_assert_str_eq(path, "/ultravisor.slice/uvmm-a.scope");
	ck_assert_int_eq(cmd_scope_cgroup_parse("0::/x\n1:name=systemd:/y\n", path, sizeof(path)),
			 0);
	ck_assert_str_eq(path, "/y");
	ck_assert_int_eq(
		cmd_scope_cgroup_parse("3:name=elogind,name=systemd:/z\n", path, sizeof(path)), 0);
	ck_assert_str_eq(path, "/z");
	/* A unit name may hold ':' (and escapes): the path is all after the second ':'. */
	ck_assert_int_eq(cmd_scope_cgroup_parse("0::/ultravisor.slice/uvmm-Ab:9\\x2d.scope\n", path,
						sizeof(path)),
			 0);
	ck_assert_str_eq(path, "/ultravisor.slice/uvmm-Ab:9\\x2d.scope");
	ck_assert_int_eq(cmd_scope_cgroup_parse("0::/\n", path, sizeof(path)), 0);
	ck_assert_str_eq(path, "/");
	/* Neither hierarchy, nothing, a relative path, a name that is not systemd's. */
	ck_assert_int_eq(cmd_scope_cgroup_parse("4:memory:/a\n5:cpu:/b\n", path, sizeof(path)),
			 -ENOENT);
	ck_assert_int_eq(cmd_scope_cgroup_parse("", path, sizeof(path)), -ENOENT);
	ck_assert_int_eq(cmd_scope_cgroup_parse("0::\n", path, sizeof(path)), -ENOENT);
	ck_assert_int_eq(cmd_scope_cgroup_parse("0::x\n", path, sizeof(path)), -ENOENT);
	ck_assert_int_eq(cmd_scope_cgroup_parse("1:name=systemdx:/a\n", path, sizeof(path)),
			 -ENOENT);
	ck_assert_int_eq(cmd_scope_cgroup_parse("10::/a\n", path, sizeof(path)), -ENOENT);
	ck_assert_int_eq(cmd_scope_cgroup_parse("garbage\n", path, sizeof(path)), -ENOENT);
	/* Too long for the buffer: refused, never cut. */
	ck_assert_int_eq(
		cmd_scope_cgroup_parse("0::/system.slice/commandd.service\n", small, sizeof(small)),
		-ENAMETOOLONG);
	ck_assert_int_eq(cmd_scope_cgroup_parse("0::/123456789abcdef", small, sizeof(small)),
			 -ENAMETOOLONG);
	ck_assert_int_eq(cmd_scope_cgroup_parse("0::/123456789abcde", small, sizeof(small)), 0);
}
END_TEST

START_TEST(test_scope_cgroup_in)
{
	const char *u = "uvmm-web1.scope";

	ck_assert(cmd_scope_cgroup_in("/ultravisor.slice/uvmm-web1.scope", u));
	/* Below it (a sub-cgroup) is in it; a scope of that name is in no other slice. */
	ck_assert(cmd_scope_cgroup_in("/ultravisor.slice/uvmm-web1.scope/x", u));
	ck_assert(cmd_scope_cgroup_in("/uvmm-web1.scope", u));
	ck_assert(!cmd_scope_cgroup_in("/system.slice/commandd.service", u));
	ck_assert(!cmd_scope_cgroup_in("/ultravisor.slice/uvmm-web10.scope", u));
	ck_assert(!cmd_scope_cgroup_in("/ultravisor.slice/uvmm-web1.scopes", u));
	ck_assert(!cmd_scope_cgroup_in("/ultravisor.slice/xuvmm-web1.scope", u));
	ck_assert(!cmd_scope_cgroup_in("/", u));
	ck_assert(!cmd_scope_cgroup_in("", u));
}
END_TEST

/*
 * SigIgn and SigCgt of /proc/PID/status: a monitor of ours catches SIGPWR
 * (one of stop 13 and before ignored it), an old one leaves it at default.
 */
START_TEST(test_scope_sigpwr)
{
	struct sigaction ign = {.sa_handler = SIG_IGN}, dfl = {.sa_handler = SIG_DFL},
			 cgt = {.sa_handler = child_on_sigpwr};
	struct cmd_scope_text t;
	struct cmd_scope_proc pr;

	/* HUP INT PIPE TERM ignored and PWR caught, as the monitor does. */
	ck_assert_int_eq(cmd_scope_sigpwr_kept("Name:\tuvmon:web1\nSigIgn:\t0000000000005003\n"
					       "SigCgt:\t0000000020000000\n"),
			 1);
	/* PWR ignored too (the monitors of before) and left at default (older). */
	ck_assert_int_eq(cmd_scope_sigpwr_kept("SigIgn:\t0000000020005003\nSigCgt:\t0\n"), 1);
	ck_assert_int_eq(cmd_scope_sigpwr_kept("SigIgn:\t0000000000005003\nSigCgt:\t0\n"), 0);
	ck_assert_int_eq(cmd_scope_sigpwr_kept("SigCgt:\t0000000000000000\nSigIgn:\t20000000"), 1);
	/* Without both lines, or with a bad mask: nothing said. */
	ck_assert_int_eq(cmd_scope_sigpwr_kept("Name:\tx\nSigCgt:\t0000000020000000\n"), -EINVAL);
	ck_assert_int_eq(cmd_scope_sigpwr_kept("SigIgn:\t0000000020000000\n"), -EINVAL);
	ck_assert_int_eq(cmd_scope_sigpwr_kept("XSigIgn:\t0\nSigCgt:\t0\n"), -EINVAL);
	ck_assert_int_eq(cmd_scope_sigpwr_kept("SigIgn:\tzz\nSigCgt:\t0\n"), -EINVAL);
	ck_assert_int_eq(cmd_scope_sigpwr_kept(""), -EINVAL);

	/* The kernel's own text, of this process. */
	sigaction(SIGPWR, &cgt, NULL);
	cmd_scope_proc_read(getpid(), -1, true, &pr, &t);
	ck_assert_ptr_nonnull(pr.status);
	ck_assert_int_eq(cmd_scope_sigpwr_kept(pr.status), 1);
	sigaction(SIGPWR, &ign, NULL);
	cmd_scope_proc_read(getpid(), -1, true, &pr, &t);
	ck_assert_int_eq(cmd_scope_sigpwr_kept(pr.status), 1);
	sigaction(SIGPWR, &dfl, NULL);
	cmd_scope_proc_read(getpid(), -1, true, &pr, &t);
	ck_assert_int_eq(cmd_scope_sigpwr_kept(pr.status), 0);
}
END_TEST

#define CG_CMDD	 "0::/system.slice/commandd.service\n"
#define CG_SCOPE "0::/ultravisor.slice/uvmm-web1.scope\n"
#define ST_NEW	 "Name:\tuvmon:web1\nSigIgn:\t0000000000005003\nSigCgt:\t0000000020000000\n"
#define ST_OLD	 "Name:\tuvmon:web1\nSigIgn:\t0000000000005003\nSigCgt:\t0000000000000000\n"

static struct cmd_scope_proc proc(pid_t pid, bool monitor, const char *cg, const char *st)
{
	return (struct cmd_scope_proc){.pid = pid, .monitor = monitor, .cgroup = cg, .status = st};
}

/* Which of an adopted uvmm and its monitor are moved into the scope. */
START_TEST(test_scope_adopt_plan)
{
	struct cmd_scope_proc uv = proc(812, false, CG_CMDD, NULL),
			      mon = proc(811, true, CG_CMDD, ST_NEW);
	enum cmd_scope_move v[2];
	struct cmd_scope_plan p;
	struct cmd_opts o;

	opts_init(&o);
	/* Started by commandd --scope off: both, the monitor first, with a new start's properties.
	 */
	ck_assert_int_eq(cmd_scope_adopt_plan("web1", &uv, &mon, &o, "commandd.service", &p, v), 0);
	ck_assert_int_eq(v[0], CMD_SCOPE_MOVE);
	ck_assert_int_eq(v[1], CMD_SCOPE_MOVE);
	ck_assert_uint_eq(p.npids, 2);
	ck_assert_int_eq(p.pids[0], 811);
	ck_assert_int_eq(p.pids[1], 812);
	ck_assert_str_eq(p.unit, "uvmm-web1.scope");
	ck_assert_str_eq(p.slice, "ultravisor.slice");
	ck_assert_int_eq(p.kill_signal, SIGPWR);
	ck_assert(p.send_sigkill);
	ck_assert_uint_eq(p.timeout_stop_usec, 60000000ULL);
	ck_assert_uint_eq(p.nafter, 3);
	ck_assert_str_eq(p.after[2], "iopartd@b.service");
	ck_assert_str_eq(p.before, "commandd.service");
	ck_assert_str_eq(p.collect_mode, "inactive-or-failed");

	/* In its scope already (the usual restart of commandd): nothing. */
	uv.cgroup = mon.cgroup = CG_SCOPE;
	ck_assert_int_eq(cmd_scope_adopt_plan("web1", &uv, &mon, &o, NULL, &p, v), 0);
	ck_assert_int_eq(v[0], CMD_SCOPE_IN);
	ck_assert_int_eq(v[1], CMD_SCOPE_IN);
	ck_assert_uint_eq(p.npids, 0);
	/* Hybrid cgroups: name=systemd says where. */
	uv.cgroup = "0::/\n1:name=systemd:/ultravisor.slice/uvmm-web1.scope\n";
	ck_assert_int_eq(cmd_scope_adopt_plan("web1", &uv, &mon, &o, NULL, &p, v), 0);
	ck_assert_uint_eq(p.npids, 0);

	/* One of them outside: that one. */
	mon.cgroup = CG_CMDD;
	ck_assert_int_eq(cmd_scope_adopt_plan("web1", &uv, &mon, &o, NULL, &p, v), 0);
	ck_assert_uint_eq(p.npids, 1);
	ck_assert_int_eq(p.pids[0], 811);
	uv.cgroup = CG_CMDD;
	mon.cgroup = CG_SCOPE;
	ck_assert_int_eq(cmd_scope_adopt_plan("web1", &uv, &mon, &o, NULL, &p, v), 0);
	ck_assert_uint_eq(p.npids, 1);
	ck_assert_int_eq(p.pids[0], 812);
	/* In another partition's scope, or a session's: moved. */
	mon.cgroup = "0::/ultravisor.slice/uvmm-web10.scope\n";
	uv.cgroup = "0::/user.slice/user-0.slice/session-3.scope\n";
	ck_assert_int_eq(cmd_scope_adopt_plan("web1", &uv, &mon, &o, NULL, &p, v), 0);
	ck_assert_uint_eq(p.npids, 2);

	/* A monitor of a commandd before scopes would die of the scope's SIGPWR: the uvmm alone. */
	mon = proc(811, true, CG_CMDD, ST_OLD);
	ck_assert_int_eq(cmd_scope_adopt_plan("web1", &uv, &mon, &o, NULL, &p, v), 0);
	ck_assert_int_eq(v[1], CMD_SCOPE_KEEP);
	ck_assert_uint_eq(p.npids, 1);
	ck_assert_int_eq(p.pids[0], 812);
	/* ...unless it is in the scope already, or its status could not be read. */
	mon.cgroup = CG_SCOPE;
	ck_assert_int_eq(cmd_scope_adopt_plan("web1", &uv, &mon, &o, NULL, &p, v), 0);
	ck_assert_int_eq(v[1], CMD_SCOPE_IN);
	mon = proc(811, true, CG_CMDD, NULL);
	ck_assert_int_eq(cmd_scope_adopt_plan("web1", &uv, &mon, &o, NULL, &p, v), 0);
	ck_assert_int_eq(v[1], CMD_SCOPE_MOVE);
	ck_assert_uint_eq(p.npids, 2);

	/* No monitor (killed by hand), or it is gone: the uvmm alone. */
	ck_assert_int_eq(cmd_scope_adopt_plan("web1", &uv, NULL, &o, NULL, &p, v), 0);
	ck_assert_int_eq(v[1], CMD_SCOPE_GONE);
	ck_assert_uint_eq(p.npids, 1);
	ck_assert_int_eq(p.pids[0], 812);
	mon = proc(0, true, NULL, NULL);
	ck_assert_int_eq(cmd_scope_adopt_plan("web1", &uv, &mon, &o, NULL, &p, v), 0);
	ck_assert_uint_eq(p.npids, 1);
	mon = proc(811, true, NULL, NULL);
	ck_assert_int_eq(cmd_scope_adopt_plan("web1", &uv, &mon, &o, NULL, &p, v), 0);
	ck_assert_int_eq(v[1], CMD_SCOPE_GONE);
	ck_assert_uint_eq(p.npids, 1);
	ck_assert_int_eq(p.pids[0], 812);

	/* The uvmm gone: its exit is the loop's to see; nothing is moved. */
	uv.cgroup = NULL;
	mon = proc(811, true, CG_CMDD, ST_NEW);
	ck_assert_int_eq(cmd_scope_adopt_plan("web1", &uv, &mon, &o, NULL, &p, v), 0);
	ck_assert_int_eq(v[0], CMD_SCOPE_GONE);
	ck_assert_uint_eq(p.npids, 0);

	/* A text without systemd's hierarchy: systemd is asked, and says what is wrong. */
	uv.cgroup = "4:memory:/\n";
	ck_assert_int_eq(cmd_scope_adopt_plan("web1", &uv, NULL, &o, NULL, &p, v), 0);
	ck_assert_int_eq(v[0], CMD_SCOPE_MOVE);
	ck_assert_int_eq(cmd_scope_adopt_plan("", &uv, NULL, &o, NULL, &p, v), -EINVAL);
}
END_TEST

/* KVM's kernel thread of a VM, from /proc/PID/stat (flags: the 9th field, PF_KTHREAD 0x200000). */
START_TEST(test_scope_kvm_thread)
{
	/* As Linux 6.1 writes it: kernel threads' names whole, not cut at 15 bytes. */
	const char *kt = "1046 (kvm-nx-lpage-recovery-1041) S 2 0 0 0 -1 2129984 0 0 0 0 0 3 0 0 "
			 "20 0 1 0 2231 0 0 18446744073709551615 0 0 0 0 0 0 0 2147483647 0 1 0 "
			 "0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n";

	ck_assert(cmd_scope_kvm_thread(kt, 1041));
	ck_assert(!cmd_scope_kvm_thread(kt, 104));
	ck_assert(!cmd_scope_kvm_thread(kt, 11041));
	ck_assert(!cmd_scope_kvm_thread(kt, 1046));
	/* A process (no PF_KTHREAD) with such a name is not one. */
	ck_assert(!cmd_scope_kvm_thread(
		"1046 (kvm-nx-lpage-recovery-1041) S 1 1 1 0 -1 4194560 0\n", 1041));
	/* Other kernel threads: not KVM's, or not of this VM, or no name between. */
	ck_assert(!cmd_scope_kvm_thread("99 (kworker/0:1-1041) I 2 0 0 0 -1 69238880 0\n", 1041));
	ck_assert(!cmd_scope_kvm_thread("99 (kvm-pit/1041) S 2 0 0 0 -1 2129984 0\n", 1041));
	ck_assert(!cmd_scope_kvm_thread("99 (kvm--1041) S 2 0 0 0 -1 2129984 0\n", 1041));
	ck_assert(cmd_scope_kvm_thread("99 (kvm-x-1041) S 2 0 0 0 -1 2129984 0\n", 1041));
	/* A name with ") " in it: the last ')' ends it. */
	ck_assert(cmd_scope_kvm_thread("99 (kvm-a) b-7) S 2 0 0 0 -1 2129984 0\n", 7));
	ck_assert(!cmd_scope_kvm_thread("", 7));
	ck_assert(!cmd_scope_kvm_thread("99 (kvm-a-7", 7));
	ck_assert(!cmd_scope_kvm_thread("99 (kvm-a-7) S", 7));
}
END_TEST

/* /proc read for real: the cgroup and status of a live process, nothing of a dead one. */
START_TEST(test_scope_proc_read)
{
	struct cmd_scope_text t, self;
	struct cmd_scope_proc pr, me;
	char path[CMD_SCOPE_CGROUP_MAX];
	int fd;
	pid_t pid;

	cmd_scope_proc_read(getpid(), -1, false, &me, &self);
	ck_assert_ptr_nonnull(me.cgroup);
	ck_assert_ptr_null(me.status);
	ck_assert_int_eq(cmd_scope_cgroup_parse(me.cgroup, path, sizeof(path)), 0);
	ck_assert(path[0] == '/');

	/* A child shares our cgroup; a monitor's status is read too. */
	pid = child_start(true, &fd);
	cmd_scope_proc_read(pid, fd, true, &pr, &t);
	ck_assert_int_eq(pr.pid, pid);
	ck_assert(pr.monitor);
	ck_assert_ptr_nonnull(pr.cgroup);
	ck_assert_str_eq(pr.cgroup, me.cgroup);
	ck_assert_ptr_nonnull(pr.status);
	ck_assert_int_eq(cmd_scope_sigpwr_kept(pr.status), 1);
	ck_assert_int_eq(cmd_scope_proc_verdict("uvmm-web1.scope", &pr), CMD_SCOPE_MOVE);

	/* Dead and reaped: gone, whatever may have its pid by now. */
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	cmd_scope_proc_read(pid, fd, true, &pr, &t);
	ck_assert_ptr_null(pr.cgroup);
	ck_assert_ptr_null(pr.status);
	ck_assert_int_eq(cmd_scope_proc_verdict("uvmm-web1.scope", &pr), CMD_SCOPE_GONE);
	close(fd);
	/* A zombie (exited, not reaped) has left too. */
	pid = child_start(false, &fd);
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitid(P_PID, (id_t)pid, NULL, WEXITED | WNOWAIT), 0);
	cmd_scope_proc_read(pid, fd, false, &pr, &t);
	ck_assert_ptr_null(pr.cgroup);
	child_end(pid, fd);
	cmd_scope_proc_read(0, -1, true, &pr, &t);
	ck_assert_ptr_null(pr.cgroup);
}
END_TEST

/* Waits until file path holds needle (10 s at most); its text in buf. */
static bool log_wait(const char *path, const char *needle, char *buf, size_t len)
{
	for (int i = 0; i < 1000; i++) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd < 0 ? 0 : read(fd, buf, len - 1);

		if (fd >= 0)
			close(fd);
		buf[n > 0 ? n : 0] = 0;
		if (strstr(buf, needle))
			return true;
		usleep(10000);
	}
	return false;
}

/*
 * An adoption with no system bus: a warning naming what was not moved and
 * where it stays, and nothing else happens (the processes run on). A monitor
 * that SIGPWR would kill is left out, and said so.
 */
START_TEST(test_scope_adopt_no_bus)
{
	int ufd, mfd, ofd, err = dup(2);
	pid_t uv, mon, old;
	struct cmd_scoper *s;
	struct cmd_opts o;
	char buf[8192], want[160], log[] = "/tmp/uv-test-scope-XXXXXX";
	int lfd = mkstemp(log);

	ck_assert_int_ge(lfd, 0);
	close(lfd);
	/* Its own file offset (O_APPEND): the log is read through another. */
	lfd = open(log, O_WRONLY | O_APPEND | O_CLOEXEC);
	ck_assert_int_ge(lfd, 0);
	opts_init(&o);
	setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/uv-test-bus", 1);
	uv = child_start(false, &ufd);
	mon = child_start(true, &mfd);
	old = child_start(false, &ofd);
	ck_assert_int_eq(dup2(lfd, 2), 2);
	s = cmd_scoper_new(&o);
	ck_assert_ptr_nonnull(s);
	cmd_scoper_adopt(s, "web1", uv, ufd, mon, mfd);
	/* The descriptors were duplicated: ours to close at once. */
	close(ufd);
	close(mfd);
	snprintf(want, sizeof(want),
		 "partition web1: uvmm %d and its monitor %d not moved into "
		 "uvmm-web1.scope: cannot connect to the system bus: ",
		 (int)uv, (int)mon);
	ck_assert_msg(log_wait(log, want, buf, sizeof(buf)), "no '%s' in: %s", want, buf);
	ck_assert_msg(strstr(buf, ": it stays in /"), "%s", buf);

	cmd_scoper_adopt(s, "web2", uv, -1, old, ofd);
	snprintf(want, sizeof(want),
		 "partition web2: uvmm %d not moved into uvmm-web2.scope: ", (int)uv);
	ck_assert_msg(log_wait(log, want, buf, sizeof(buf)), "no '%s' in: %s", want, buf);
	snprintf(want, sizeof(want), "partition web2: monitor %d would die of SIGPWR", (int)old);
	ck_assert_msg(strstr(buf, want), "no '%s' in: %s", want, buf);

	/* The processes were left alone. */
	cmd_scoper_free(s);
	dup2(err, 2);
	close(err);
	ck_assert_int_eq(kill(uv, 0), 0);
	ck_assert_int_eq(kill(mon, 0), 0);
	child_end(uv, -1);
	child_end(mon, -1);
	child_end(old, ofd);
	close(lfd);
	unlink(log);
}
END_TEST

int main(void)
{
	return uv_check_run(uv_suite(
		"commandd_scope", NULL, NULL, 30,
		UV_TESTS(test_scope_mode, test_scope_unit_name, test_scope_plan, test_scope_no_bus,
			 test_scope_free_queued, test_scope_cgroup_parse, test_scope_cgroup_in,
			 test_scope_sigpwr, test_scope_adopt_plan, test_scope_kvm_thread,
			 test_scope_proc_read, test_scope_adopt_no_bus)));
}
