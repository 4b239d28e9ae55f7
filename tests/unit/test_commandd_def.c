// SPDX-License-Identifier: GPL-2.0
/*
 * commandd's decisions that need no process: opsd's partitions and policy
 * read into records, the export of each device, uvmm's command line, the
 * restart policy, the choice of iopartd.
 */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "commandd.h"
#include "uvcheck.h"

static char err[512];

static json_object *parse(const char *s)
{
	json_object *o = json_tokener_parse(s);

	ck_assert_msg(o, "bad test JSON %s", s);
	return o;
}

START_TEST(test_def_parse)
{
	json_object *o = parse(
		"{\"name\":\"web1\",\"cpus\":2,\"memory_mib\":1024,\"hugepages\":true,"
		"\"disks\":[{\"path\":\"/srv/a.qcow2\",\"format\":\"qcow2\",\"readonly\":false},"
		"{\"path\":\"/srv/b.img\",\"readonly\":true}],\"nets\":[{\"tap\":\"uvtap0\"}],"
		"\"restart\":\"always\",\"desired\":\"running\",\"stop_mode\":\"destroy\","
		"\"generation\":7,\"actual\":{\"state\":\"running\",\"pid\":42,\"iopartd\":\"a\","
		"\"reason\":\"\"}}");
	struct cmd_def d;

	ck_assert_int_eq(cmd_def_parse(o, CMD_RESTART_NEVER, &d, err, sizeof(err)), 0);
	ck_assert_str_eq(d.name, "web1");
	ck_assert_int_eq(d.cpus, 2);
	ck_assert_int_eq(d.memory_mib, 1024);
	ck_assert(d.hugepages);
	ck_assert_int_eq(d.ndisks, 2);
	ck_assert_str_eq(d.disks[0].path, "/srv/a.qcow2");
	ck_assert_str_eq(d.disks[0].format, "qcow2");
	ck_assert(!d.disks[0].readonly);
	ck_assert_str_eq(d.disks[1].format, "");
	ck_assert(d.disks[1].readonly);
	ck_assert_int_eq(d.nnets, 1);
	ck_assert_str_eq(d.taps[0], "uvtap0");
	ck_assert_int_eq(d.restart, CMD_RESTART_ALWAYS);
	ck_assert(d.run && d.destroy);
	ck_assert_int_eq(d.generation, 7);
	ck_assert_str_eq(d.actual, "running");
	ck_assert_int_eq(d.actual_pid, 42);
	cmd_def_fini(&d);
	json_object_put(o);

	/* The policy's default fills an absent restart; stopped and shutdown otherwise. */
	o = parse("{\"name\":\"x\",\"cpus\":1,\"memory_mib\":16,\"desired\":\"stopped\"}");
	ck_assert_int_eq(cmd_def_parse(o, CMD_RESTART_NEVER, &d, err, sizeof(err)), 0);
	ck_assert_int_eq(d.restart, CMD_RESTART_NEVER);
	ck_assert(!d.run && !d.destroy);
	ck_assert_int_eq(d.ndisks + d.nnets, 0);
	ck_assert_ptr_null(d.kernel);
	ck_assert_ptr_null(d.initrd);
	ck_assert_ptr_null(d.cmdline);
	cmd_def_fini(&d);
	json_object_put(o);

	/* Direct kernel boot. */
	o = parse("{\"name\":\"k\",\"cpus\":1,\"memory_mib\":64,\"kernel\":\"/boot/vmlinuz\","
		  "\"initrd\":\"/boot/initrd\",\"cmdline\":\"console=ttyS0 quiet\"}");
	ck_assert_int_eq(cmd_def_parse(o, CMD_RESTART_NEVER, &d, err, sizeof(err)), 0);
	ck_assert_str_eq(d.kernel, "/boot/vmlinuz");
	ck_assert_str_eq(d.initrd, "/boot/initrd");
	ck_assert_str_eq(d.cmdline, "console=ttyS0 quiet");
	cmd_def_fini(&d);
	ck_assert_ptr_null(d.kernel);
	json_object_put(o);
}
END_TEST

static void def_refused(const char *json, const char *why)
{
	json_object *o = parse(json);
	struct cmd_def d;

	ck_assert_int_lt(cmd_def_parse(o, CMD_RESTART_ON_FAILURE, &d, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, why), "%s: '%s' lacks '%s'", json, err, why);
	json_object_put(o);
}

START_TEST(test_def_refused)
{
	def_refused("{\"cpus\":1,\"memory_mib\":16}", "without a usable name");
	def_refused("{\"name\":\"x\",\"cpus\":0,\"memory_mib\":16}", "x: no cpus");
	def_refused("{\"name\":\"x\",\"cpus\":1,\"memory_mib\":8}", "x: no memory_mib");
	def_refused("{\"name\":\"x\",\"cpus\":1,\"memory_mib\":16,\"disks\":[{\"path\":\"rel\"}]}",
		    "disk 0 has no absolute path");
	def_refused("{\"name\":\"x\",\"cpus\":1,\"memory_mib\":16,\"disks\":[{\"path\":\"/a\"},"
		    "{}]}",
		    "disk 1 has no absolute path");
	def_refused("{\"name\":\"x\",\"cpus\":1,\"memory_mib\":16,\"nets\":[{\"tap\":\"\"}]}",
		    "net 0 has no tap");
	def_refused("{\"name\":\"x\",\"cpus\":1,\"memory_mib\":16,\"restart\":\"sometimes\"}",
		    "unknown restart policy 'sometimes'");
	def_refused("{\"name\":\"x\",\"cpus\":1,\"memory_mib\":16,\"kernel\":\"vmlinuz\"}",
		    "x: kernel is not an absolute path");
	def_refused("{\"name\":\"x\",\"cpus\":1,\"memory_mib\":16,\"kernel\":7}",
		    "x: kernel is not an absolute path");
	def_refused("{\"name\":\"x\",\"cpus\":1,\"memory_mib\":16,\"kernel\":\"/k\","
		    "\"initrd\":\"i\"}",
		    "x: initrd is not an absolute path");
	def_refused("{\"name\":\"x\",\"cpus\":1,\"memory_mib\":16,\"kernel\":\"/k\","
		    "\"cmdline\":false}",
		    "x: cmdline is not a string");
	def_refused("{\"name\":\"x\",\"cpus\":1,\"memory_mib\":16,\"initrd\":\"/i\"}",
		    "x: initrd without kernel");
	def_refused("{\"name\":\"x\",\"cpus\":1,\"memory_mib\":16,\"cmdline\":\"quiet\"}",
		    "x: cmdline without kernel");
}
END_TEST

START_TEST(test_policy)
{
	struct cmd_policy p;
	json_object *o;

	cmd_policy_default(&p);
	ck_assert_int_eq(p.restart_default, CMD_RESTART_ON_FAILURE);
	ck_assert_int_eq(p.restart_max, 5);
	ck_assert_int_eq(p.restart_window_s, 60);
	ck_assert(!p.dedicated && p.failover_auto);
	o = parse("{\"restart_default\":\"never\",\"restart_max\":2,\"restart_window_s\":10,"
		  "\"cpu_pinning\":\"dedicated\",\"failover\":\"manual\"}");
	ck_assert_int_eq(cmd_policy_parse(o, &p, err, sizeof(err)), 0);
	ck_assert_int_eq(p.restart_default, CMD_RESTART_NEVER);
	ck_assert_int_eq(p.restart_max, 2);
	ck_assert_int_eq(p.restart_window_s, 10);
	ck_assert(p.dedicated && !p.failover_auto);
	json_object_put(o);
	/* Out of range or missing: the value stays. */
	o = parse("{\"restart_max\":-1,\"restart_window_s\":0}");
	ck_assert_int_eq(cmd_policy_parse(o, &p, err, sizeof(err)), 0);
	ck_assert_int_eq(p.restart_max, 2);
	ck_assert_int_eq(p.restart_window_s, 10);
	json_object_put(o);
	o = parse("{\"restart_default\":\"maybe\"}");
	ck_assert_int_lt(cmd_policy_parse(o, &p, err, sizeof(err)), 0);
	json_object_put(o);
	o = parse("[]");
	ck_assert_int_lt(cmd_policy_parse(o, &p, err, sizeof(err)), 0);
	json_object_put(o);
}
END_TEST

START_TEST(test_export_spec)
{
	json_object *o = parse("{\"name\":\"x\",\"cpus\":1,\"memory_mib\":16,\"disks\":["
			       "{\"path\":\"/a.img\"},"
			       "{\"path\":\"/b.qcow2\",\"format\":\"qcow2\",\"readonly\":true},"
			       "{\"path\":\"/c,d.img\"}],\"nets\":[{\"tap\":\"tap7\"}]}");
	struct cmd_def d;
	char spec[256];

	ck_assert_int_eq(cmd_def_parse(o, CMD_RESTART_NEVER, &d, err, sizeof(err)), 0);
	ck_assert_int_eq(cmd_export_spec(&d, 0, spec, sizeof(spec), err, sizeof(err)), 0);
	ck_assert_str_eq(spec, "vhost-user-blk,path=/a.img");
	ck_assert_int_eq(cmd_export_spec(&d, 1, spec, sizeof(spec), err, sizeof(err)), 0);
	ck_assert_str_eq(spec, "vhost-user-blk,path=/b.qcow2,readonly=on,format=qcow2");
	ck_assert_int_lt(cmd_export_spec(&d, 2, spec, sizeof(spec), err, sizeof(err)), 0);
	ck_assert_str_eq(err, "disk 2: the path /c,d.img has a ',', which an export cannot carry");
	ck_assert_int_eq(cmd_export_spec(&d, 3, spec, sizeof(spec), err, sizeof(err)), 0);
	ck_assert_str_eq(spec, "vhost-user-net,tap=tap7");
	ck_assert_int_lt(cmd_export_spec(&d, 0, spec, 10, err, sizeof(err)), 0);
	cmd_def_fini(&d);
	json_object_put(o);
}
END_TEST

/* argv is want, NULL-terminated as want is. */
static void ck_argv_eq(char *const *argv, const char *const *want)
{
	unsigned i;

	for (i = 0; want[i]; i++) {
		ck_assert_ptr_nonnull(argv[i]);
		ck_assert_str_eq(argv[i], want[i]);
	}
	ck_assert_ptr_null(argv[i]);
}

START_TEST(test_uvmm_argv)
{
	struct cmd_uvmm_args a = {
		.uvmm = "/b/vmm/uvmm",
		.name = "web1",
		.uvd_sock = "/run/uv/ultravisord.sock",
		.console = "/run/uv/partitions/web1/console.sock",
		.memfd = 5,
		.memory_mib = 1024,
		.cpus = 2,
		.ndisks = 2,
		.nnets = 1,
		.fds = {7, 8, 9},
	};
	static const char *const want[] = {
		"/b/vmm/uvmm",
		"run",
		"--partition",
		"web1",
		"--ultravisord",
		"/run/uv/ultravisord.sock",
		"--memory-fd",
		"5",
		"--memory",
		"1024M",
		"--cpus",
		"2",
		"--disk",
		"vhost-user-fd=7,channel=0",
		"--disk",
		"vhost-user-fd=8,channel=1",
		"--net",
		"vhost-user-fd=9,channel=2",
		"--console",
		"unix:/run/uv/partitions/web1/console.sock",
		NULL,
	};
	char *argv[CMD_ARGV_MAX], buf[1024];

	ck_assert_int_eq(cmd_uvmm_argv(&a, argv, buf, sizeof(buf)), 0);
	ck_argv_eq(argv, want);
	ck_assert_int_lt(cmd_uvmm_argv(&a, argv, buf, 64), 0);
	/* An initrd or cmdline without a kernel is not passed (the firmware boots the disk). */
	a.initrd = "/boot/initrd";
	a.cmdline = "quiet";
	ck_assert_int_eq(cmd_uvmm_argv(&a, argv, buf, sizeof(buf)), 0);
	ck_argv_eq(argv, want);
	/* The most devices there can be still fit, with a kernel, an initrd and a cmdline. */
	a.kernel = "/boot/vmlinuz";
	a.ndisks = CMD_DISKS_MAX;
	a.nnets = CMD_NETS_MAX;
	ck_assert_int_eq(cmd_uvmm_argv(&a, argv, buf, sizeof(buf)), 0);
}
END_TEST

/* A kernel: --kernel, --initrd, --cmdline after --cpus, the devices as before. */
START_TEST(test_uvmm_argv_kernel)
{
	struct cmd_uvmm_args a = {
		.uvmm = "/b/vmm/uvmm",
		.name = "k",
		.uvd_sock = "/run/uv/ultravisord.sock",
		.console = "/run/uv/partitions/k/console.sock",
		.memfd = 5,
		.memory_mib = 128,
		.cpus = 1,
		.kernel = "/boot/vmlinuz",
		.initrd = "/boot/initrd.img",
		.cmdline = "console=ttyS0 root=/dev/vda ro",
		.ndisks = 1,
		.fds = {7},
	};
	static const char *const want[] = {
		"/b/vmm/uvmm",
		"run",
		"--partition",
		"k",
		"--ultravisord",
		"/run/uv/ultravisord.sock",
		"--memory-fd",
		"5",
		"--memory",
		"128M",
		"--cpus",
		"1",
		"--kernel",
		"/boot/vmlinuz",
		"--initrd",
		"/boot/initrd.img",
		"--cmdline",
		"console=ttyS0 root=/dev/vda ro",
		"--disk",
		"vhost-user-fd=7,channel=0",
		"--console",
		"unix:/run/uv/partitions/k/console.sock",
		NULL,
	};
	char *argv[CMD_ARGV_MAX], buf[1024];

	ck_assert_int_eq(cmd_uvmm_argv(&a, argv, buf, sizeof(buf)), 0);
	ck_argv_eq(argv, want);
	/* A kernel alone: no --initrd, no --cmdline (uvmm's default). */
	a.initrd = a.cmdline = NULL;
	ck_assert_int_eq(cmd_uvmm_argv(&a, argv, buf, sizeof(buf)), 0);
	ck_assert_str_eq(argv[12], "--kernel");
	ck_assert_str_eq(argv[14], "--disk");
}
END_TEST

/* uvmm's log since it started: the first error line's text is the cause. */
START_TEST(test_exit_cause)
{
	static const char log[] =
		"uvmm: info: console on /run/x\n"
		"uvmm: warning: something: error: not this one\n"
		"uvmm: error: cannot open kernel '/boot/x': No such file or directory\n"
		"uvmm: error: a later one\n";
	static const char stamped[] = "1795702317.123456 uvmm: error: kernel '/k': not a bzImage";
	char b[64];

	ck_assert(cmd_exit_cause(log, strlen(log), b, sizeof(b)));
	ck_assert_str_eq(b, "cannot open kernel '/boot/x': No such file or directory");
	/* UV_LOG_TIME's stamp before the program; a last line without its newline. */
	ck_assert(cmd_exit_cause(stamped, strlen(stamped), b, sizeof(b)));
	ck_assert_str_eq(b, "kernel '/k': not a bzImage");
	/* Cut to fit. */
	ck_assert(cmd_exit_cause(log, strlen(log), b, 12));
	ck_assert_str_eq(b, "cannot open");
	/* None. */
	ck_assert(!cmd_exit_cause(log, 60, b, sizeof(b)));
	ck_assert(!cmd_exit_cause("", 0, b, sizeof(b)));
	ck_assert(!cmd_exit_cause("uvmm: error: \n", 14, b, sizeof(b)));
}
END_TEST

START_TEST(test_exit_decide)
{
	struct cmd_policy pol;
	int64_t t[3] = {100, 150, 190};

	cmd_policy_default(&pol);
	pol.restart_max = 3;
	pol.restart_window_s = 60;
	/* A clean exit (the guest powered off) restarts only with always. */
	ck_assert_int_eq(cmd_exit_decide(CMD_RESTART_ON_FAILURE, true, &pol, NULL, 0, 200),
			 CMD_EXIT_STOPPED);
	ck_assert_int_eq(cmd_exit_decide(CMD_RESTART_NEVER, true, &pol, NULL, 0, 200),
			 CMD_EXIT_STOPPED);
	ck_assert_int_eq(cmd_exit_decide(CMD_RESTART_ALWAYS, true, &pol, NULL, 0, 200),
			 CMD_EXIT_RESTART);
	/* A failure. */
	ck_assert_int_eq(cmd_exit_decide(CMD_RESTART_NEVER, false, &pol, NULL, 0, 200),
			 CMD_EXIT_CRASHED);
	ck_assert_int_eq(cmd_exit_decide(CMD_RESTART_ON_FAILURE, false, &pol, t, 2, 200),
			 CMD_EXIT_RESTART);
	/* Three restarts within the window (all after 159 - 60 = 99): no more. */
	ck_assert_int_eq(cmd_exit_decide(CMD_RESTART_ON_FAILURE, false, &pol, t, 3, 159),
			 CMD_EXIT_GIVE_UP);
	ck_assert_int_eq(cmd_exit_decide(CMD_RESTART_ALWAYS, true, &pol, t, 3, 159),
			 CMD_EXIT_GIVE_UP);
	/* At 161 the first (100) has left the window. */
	ck_assert_int_eq(cmd_exit_decide(CMD_RESTART_ON_FAILURE, false, &pol, t, 3, 161),
			 CMD_EXIT_RESTART);
	pol.restart_max = 0;
	ck_assert_int_eq(cmd_exit_decide(CMD_RESTART_ALWAYS, false, &pol, NULL, 0, 200),
			 CMD_EXIT_GIVE_UP);
}
END_TEST

START_TEST(test_exit_describe)
{
	char b[96];

	cmd_exit_describe(true, 0, b, sizeof(b));
	ck_assert_str_eq(b, "exited with status 0");
	cmd_exit_describe(true, 3 << 8, b, sizeof(b));
	ck_assert_str_eq(b, "exited with status 3");
	cmd_exit_describe(true, SIGKILL, b, sizeof(b));
	ck_assert_str_eq(b, "killed by signal 9");
	cmd_exit_describe(false, 0, b, sizeof(b));
	ck_assert_str_eq(b, "ended (exit status unknown)");
	/* What a restart cannot help: uvmm's statuses 2, 5 and 6 only. */
	for (int st = 0; st < 256; st++)
		ck_assert_int_eq(cmd_exit_refused(true, st << 8), st == 2 || st == 5 || st == 6);
	ck_assert(!cmd_exit_refused(false, 2 << 8));
	ck_assert(!cmd_exit_refused(true, SIGKILL));
	ck_assert(!cmd_exit_refused(true, 2)); /* signal 2, not status 2 */
}
END_TEST

START_TEST(test_pick_iopartd)
{
	struct cmd_iop iops[3] = {
		{.name = "a", .healthy = true, .expected = true, .nchans = 2},
		{.name = "b", .healthy = true, .expected = true, .nchans = 1},
		{.name = "c", .healthy = true, .expected = false, .nchans = 0},
	};

	/* The healthy expected one with fewer channels; c is not ours. */
	ck_assert_int_eq(cmd_pick_iopartd(iops, 3, NULL), 1);
	ck_assert_int_eq(cmd_pick_iopartd(iops, 3, "b"), 0);
	iops[1].nchans = 2;
	ck_assert_int_eq(cmd_pick_iopartd(iops, 3, NULL), 0); /* a tie: the first named */
	iops[0].healthy = false;
	ck_assert_int_eq(cmd_pick_iopartd(iops, 3, NULL), 1);
	ck_assert_int_eq(cmd_pick_iopartd(iops, 3, "b"), -1);
	iops[1].healthy = false;
	ck_assert_int_eq(cmd_pick_iopartd(iops, 3, NULL), -1);
	ck_assert_int_eq(cmd_pick_iopartd(iops, 0, NULL), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("commandd_def");
	TCase *tc = tcase_create("def");

	tcase_add_test(tc, test_def_parse);
	tcase_add_test(tc, test_def_refused);
	tcase_add_test(tc, test_policy);
	tcase_add_test(tc, test_export_spec);
	tcase_add_test(tc, test_uvmm_argv);
	tcase_add_test(tc, test_uvmm_argv_kernel);
	tcase_add_test(tc, test_exit_cause);
	tcase_add_test(tc, test_exit_decide);
	tcase_add_test(tc, test_exit_describe);
	tcase_add_test(tc, test_pick_iopartd);
	suite_add_tcase(s, tc);
	return uv_check_run(s);
}
