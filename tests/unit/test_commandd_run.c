// SPDX-License-Identifier: GPL-2.0
/*
 * commandd as a process (commandd_rig.h): a partition's start with the
 * right uvmm command line and descriptors, shutdown and destroy, admission
 * refusals and dedicated CPUs, restart policies, and a commandd killed and
 * restarted under a running uvmm, then stopped with SIGTERM.
 */
#include "commandd_rig.h"

static char img[2][160];

static void images(void)
{
	for (int i = 0; i < 2; i++) {
		int fd;

		snprintf(img[i], sizeof(img[i]), "%s/d%d.img", R.dir, i);
		fd = open(img[i], O_WRONLY | O_CREAT, 0644);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(ftruncate(fd, 1 << 20), 0);
		close(fd);
	}
}

static void setup(void)
{
	rig_setup();
	images();
}

static const char *arg(json_object *rec, int i)
{
	json_object *a = jget(rec, "argv");

	ck_assert_int_lt(i, (int)json_object_array_length(a));
	return json_object_get_string(json_object_array_get_idx(a, (size_t)i));
}

/* argv[i] is "vhost-user-fd=FD,channel=DEV": FD, checked to be a socket the uvmm holds. */
static void check_channel_arg(json_object *rec, int i, int dev)
{
	char want[64], key[16];
	int fd = -1, d = -1;

	ck_assert_int_eq(sscanf(arg(rec, i), "vhost-user-fd=%d,channel=%d", &fd, &d), 2);
	ck_assert_int_eq(d, dev);
	snprintf(want, sizeof(want), "vhost-user-fd=%d,channel=%d", fd, dev);
	ck_assert_str_eq(arg(rec, i), want);
	snprintf(key, sizeof(key), "%d", fd);
	ck_assert_msg(!strncmp(jstr(jget(rec, "fds"), key), "socket:", 7), "fd %d is %s", fd,
		      jstr(jget(rec, "fds"), key));
}

/* Partition arg's disks (channels 0 and 1) have their standby on b. */
static bool disks_stood_by(json_object *st, const void *arg)
{
	json_object *a = jget(rig_find(st, "partitions", arg), "channels");

	return json_object_array_length(a) == 3 &&
	       !strcmp(jstr(json_object_array_get_idx(a, 0), "standby"), "b") &&
	       !strcmp(jstr(json_object_array_get_idx(a, 1), "standby"), "b");
}

START_TEST(test_start_shutdown)
{
	char want[256], key[16];
	json_object *a, *rec, *st, *p, *ch;
	pid_t pid;
	int memfd;

	rig_start_suite("1G", true);
	json_object_put(
		api(201, "POST", "/v1/partitions",
		    "{\"name\":\"p1\",\"cpus\":2,\"memory_mib\":64,\"disks\":[{\"path\":\"%s\"},"
		    "{\"path\":\"%s\",\"format\":\"raw\",\"readonly\":true}],"
		    "\"nets\":[{\"tap\":\"uvtap0\"}]}",
		    img[0], img[1]));
	json_object_put(rig_wait_actual("p1", "stopped", 5000));
	rig_action("p1", "start");
	a = rig_wait_actual("p1", "running", 10000);
	pid = (pid_t)jint(a, "pid");
	ck_assert_str_eq(jstr(a, "iopartd"), "a");
	json_object_put(a);

	/* The command line, exactly, and what the descriptors in it are. */
	rec = rig_uvmm_record("p1", pid);
	ck_assert_int_eq(json_object_array_length(jget(rec, "argv")), 20);
	ck_assert_str_eq(arg(rec, 0), R.self);
	ck_assert_str_eq(arg(rec, 1), "run");
	ck_assert_str_eq(arg(rec, 2), "--partition");
	ck_assert_str_eq(arg(rec, 3), "p1");
	ck_assert_str_eq(arg(rec, 4), "--ultravisord");
	snprintf(want, sizeof(want), "%s/ultravisord.sock", R.run);
	ck_assert_str_eq(arg(rec, 5), want);
	ck_assert_str_eq(arg(rec, 6), "--memory-fd");
	memfd = atoi(arg(rec, 7));
	snprintf(key, sizeof(key), "%d", memfd);
	ck_assert_str_eq(jstr(jget(rec, "fds"), key), "/memfd:uv-guest:p1 (deleted)");
	ck_assert_int_eq(jint(rec, "memfd_size"), 64 << 20);
	ck_assert_str_eq(arg(rec, 8), "--memory");
	ck_assert_str_eq(arg(rec, 9), "64M");
	ck_assert_str_eq(arg(rec, 10), "--cpus");
	ck_assert_str_eq(arg(rec, 11), "2");
	ck_assert_str_eq(arg(rec, 12), "--disk");
	check_channel_arg(rec, 13, 0);
	ck_assert_str_eq(arg(rec, 14), "--disk");
	check_channel_arg(rec, 15, 1);
	ck_assert_str_eq(arg(rec, 16), "--net");
	check_channel_arg(rec, 17, 2);
	ck_assert_str_eq(arg(rec, 18), "--console");
	snprintf(want, sizeof(want), "unix:%s/partitions/p1/console.sock", R.run);
	ck_assert_str_eq(arg(rec, 19), want);
	/* Nothing else of commandd's: 0-2, the memory, three channels (and its own link to
	 * ultravisord). */
	ck_assert_int_eq(json_object_object_length(jget(rec, "fds")), 8);
	/* A session of its own (its monitor's), not the test's nor commandd's. */
	ck_assert_int_ne(jint(rec, "sid"), getsid(0));
	ck_assert_int_ne(jint(rec, "sid"), R.cmdd);
	json_object_put(rec);
	snprintf(want, sizeof(want), "%s/partitions/p1/uvmm.log", R.run);
	ck_assert_int_eq(access(want, F_OK), 0);

	/* The exports a was asked to serve; b is the standby. */
	ck_assert_int_eq(rig_count_lines("run/fake-iopartd-a.log", "partition=p1"), 3);
	snprintf(want, sizeof(want), "device=0 move=0 standby=0 fds=1 t=");
	ck_assert_int_eq(rig_count_lines("run/fake-iopartd-a.log", want), 1);
	snprintf(want, sizeof(want), " vhost-user-blk,path=%s\n", img[0]);
	ck_assert_int_eq(rig_count_lines("run/fake-iopartd-a.log", want), 1);
	snprintf(want, sizeof(want), " vhost-user-blk,path=%s,readonly=on,format=raw\n", img[1]);
	ck_assert_int_eq(rig_count_lines("run/fake-iopartd-a.log", want), 1);
	ck_assert_int_eq(rig_count_lines("run/fake-iopartd-a.log", " vhost-user-net,tap=uvtap0\n"),
			 1);
	/* b: a standby for each disk, none for the tap. */
	json_object_put(rig_wait_ctl("commandd.sock", disks_stood_by, "p1", 5000));
	ck_assert_int_eq(rig_count_lines("run/fake-iopartd-b.log", "move=0 standby=1"), 3);
	ck_assert_int_eq(rig_count_lines("run/fake-iopartd-b.log", "tap=uvtap0"), 1);

	/* commandd's view. */
	st = rig_ctl("commandd.sock", "status");
	p = rig_find(st, "partitions", "p1");
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(jstr(p, "desired"), "running");
	ck_assert_str_eq(jstr(p, "actual"), "running");
	ck_assert_int_eq(jint(p, "pid"), pid);
	ck_assert_int_eq(json_object_array_length(jget(p, "channels")), 3);
	ch = json_object_array_get_idx(jget(p, "channels"), 2);
	ck_assert_str_eq(jstr(ch, "iopartd"), "a");
	ck_assert_str_eq(jstr(ch, "standby"), ""); /* the tap: moved on failure */
	ck_assert_str_eq(jstr(ch, "state"), "up");
	ck_assert_str_eq(jstr(json_object_array_get_idx(jget(p, "channels"), 0), "standby"), "b");
	ck_assert_str_eq(jstr(rig_find(st, "iopartds", "a"), "role"), "active");
	ck_assert_str_eq(jstr(rig_find(st, "iopartds", "b"), "role"), "standby");
	json_object_put(st);
	st = rig_ctl("ultravisord.sock", "status");
	ck_assert_int_eq(jint(rig_find(st, "partitions", "p1"), "pid"), pid);
	json_object_put(st);

	/* Shutdown: SIGPWR, the fake powers off (exit 0), stopped and released. */
	rig_action("p1", "shutdown");
	a = rig_wait_actual("p1", "stopped", 5000);
	ck_assert_str_eq(jstr(a, "reason"), "");
	ck_assert_int_eq(jint(a, "pid"), 0);
	json_object_put(a);
	snprintf(want, sizeof(want), "partitions/p1/exit");
	for (int i = 0; i < 100; i++) {
		st = rig_ctl("ultravisord.sock", "status");
		p = rig_find(st, "partitions", "p1");
		json_object_put(st);
		if (!p)
			break;
		rig_sleep_ms(20);
	}
	ck_assert_ptr_null(p);
	snprintf(want, sizeof(want), "run/partitions/p1/exit");
	snprintf(key, sizeof(key), "%d 0", (int)pid);
	ck_assert_int_eq(rig_count_lines(want, key), 1);
	json_object_put(api(204, "DELETE", "/v1/partitions/p1", NULL));
	ck_assert_int_eq(rig_uvmm_count("p1"), 1);
}
END_TEST

/* The fake uvmm pid has its signal handlers (it wrote its record after them). */
static pid_t handling(const char *name, pid_t pid)
{
	json_object_put(rig_uvmm_record(name, pid));
	return pid;
}

/* Waits for name to run under a pid other than old; returns it, ready for signals. */
static pid_t running_anew(const char *name, pid_t old)
{
	for (int i = 0; i < 500; i++) {
		json_object *a = rig_wait_actual(name, "running", 10000);
		pid_t pid = (pid_t)jint(a, "pid");

		json_object_put(a);
		if (pid != old)
			return handling(name, pid);
		rig_sleep_ms(20);
	}
	ck_abort_msg("%s was not restarted", name);
	return 0;
}

/* Starts name and waits for it to run; its uvmm's pid, ready for signals. */
static pid_t start_running(const char *name)
{
	json_object *a;
	pid_t pid;

	rig_action(name, "start");
	a = rig_wait_actual(name, "running", 10000);
	pid = handling(name, (pid_t)jint(a, "pid"));
	json_object_put(a);
	return pid;
}

/* Defines name, 1 CPU and 64 MiB, with more JSON members in extra ("" for none), and starts it. */
static pid_t define_running(const char *name, const char *extra)
{
	json_object_put(api(201, "POST", "/v1/partitions",
			    "{\"name\":\"%s\",\"cpus\":1,\"memory_mib\":64%s}", name, extra));
	return start_running(name);
}

/* commandd runs partition arg, adopted or not. */
static bool cmdd_runs(json_object *st, const void *arg)
{
	json_object *p = rig_find(st, "partitions", arg);

	return p && !strcmp(jstr(p, "phase"), "running");
}

/* Descriptors commandd holds: a start and stop must leave none behind. */
static int cmdd_fds(void)
{
	char path[64];
	struct dirent *e;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)R.cmdd);
	d = opendir(path);
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

START_TEST(test_destroy_timeout)
{
	char path[256];
	json_object *a;
	int64_t t0;
	int nfds;
	FILE *f;

	rig_start_suite("1G", false);
	/* No disk, no net: no iopartd needed. */
	define_running("p2", "");
	t0 = rig_now_us();
	rig_action("p2", "destroy");
	a = rig_wait_actual("p2", "stopped", 5000);
	ck_assert_str_eq(jstr(a, "reason"), "killed");
	ck_assert_int_lt(rig_now_us() - t0, 1500000);
	json_object_put(a);
	rig_sleep_ms(200); /* the release */
	nfds = cmdd_fds();

	/* A guest that ignores the power button: SIGKILL after --shutdown-timeout 2. */
	snprintf(path, sizeof(path), "%s/partitions/p2/fake-mode", R.run);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("ignore-pwr\n", f);
	fclose(f);
	start_running("p2");
	t0 = rig_now_us();
	rig_action("p2", "shutdown");
	json_object_put(rig_wait_actual("p2", "stopping", 2000));
	a = rig_wait_actual("p2", "stopped", 6000);
	ck_assert_str_eq(jstr(a, "reason"), "killed");
	ck_assert_int_ge(rig_now_us() - t0, 1900000);
	json_object_put(a);
	ck_assert_int_eq(rig_uvmm_count("p2"), 2);
	rig_sleep_ms(200);
	ck_assert_int_eq(cmdd_fds(), nfds);
}
END_TEST

START_TEST(test_admission_pinning)
{
	json_object *a, *st, *rec, *hc, *aff;

	rig_start_suite("256M", false);
	json_object_put(api(201, "POST", "/v1/partitions",
			    "{\"name\":\"big\",\"cpus\":1,\"memory_mib\":512}"));
	rig_action("big", "start");
	a = rig_wait_actual("big", "failed", 10000);
	ck_assert_str_eq(jstr(a, "reason"),
			 "admission refused: memory pool: 512 MiB asked, 256 MiB free of 256 MiB");
	json_object_put(a);
	/* Not tried again and again: nothing changed. */
	rig_sleep_ms(1500);
	json_object_put(rig_wait_actual("big", "failed", 10));
	ck_assert_int_eq(rig_count_lines("commandd.log", "partition big: starting"), 1);
	ck_assert_int_eq(rig_uvmm_count("big"), 0);

	/* One that fits runs; when it goes, resources changed: big is tried once more. */
	json_object_put(api(201, "POST", "/v1/partitions",
			    "{\"name\":\"small\",\"cpus\":1,\"memory_mib\":64}"));
	rig_action("small", "start");
	json_object_put(rig_wait_actual("small", "running", 10000));
	rig_action("small", "destroy");
	json_object_put(rig_wait_actual("small", "stopped", 5000));
	rig_sleep_ms(500);
	ck_assert_int_eq(rig_count_lines("commandd.log", "partition big: starting"), 2);
	json_object_put(rig_wait_actual("big", "failed", 10));
	/* A new wish (start again) is a new try too. */
	rig_action("big", "start");
	rig_sleep_ms(500);
	ck_assert_int_eq(rig_count_lines("commandd.log", "partition big: starting"), 3);
	rig_action("big", "shutdown");
	json_object_put(rig_wait_actual("big", "stopped", 5000));

	/* Dedicated CPUs: the uvmm runs on the host CPU ultravisord gave it, alone. */
	json_object_put(api(200, "PUT", "/v1/policy", "{\"cpu_pinning\":\"dedicated\"}"));
	json_object_put(api(201, "POST", "/v1/partitions",
			    "{\"name\":\"pin\",\"cpus\":1,\"memory_mib\":64}"));
	rig_action("pin", "start");
	a = rig_wait_actual("pin", "running", 10000);
	rec = rig_uvmm_record("pin", (pid_t)jint(a, "pid"));
	st = rig_ctl("ultravisord.sock", "status");
	ck_assert(json_object_get_boolean(jget(rig_find(st, "partitions", "pin"), "dedicated")));
	hc = jget(rig_find(st, "partitions", "pin"), "host_cpus");
	aff = jget(rec, "affinity");
	ck_assert_int_eq(json_object_array_length(hc), 1);
	ck_assert_int_eq(json_object_array_length(aff), 1);
	ck_assert_int_eq(json_object_get_int(json_object_array_get_idx(aff, 0)),
			 json_object_get_int(json_object_array_get_idx(hc, 0)));
	json_object_put(st);
	json_object_put(rec);
	json_object_put(a);
}
END_TEST

START_TEST(test_restart_policies)
{
	json_object *a, *st;
	pid_t p1, p2;

	rig_start_suite("1G", false);
	json_object_put(
		api(200, "PUT", "/v1/policy", "{\"restart_max\":2,\"restart_window_s\":60}"));
	p1 = define_running("r1", "");
	/* on-failure (the default): a failing uvmm comes back, twice. */
	kill(p1, SIGUSR1);
	p2 = running_anew("r1", p1);
	kill(p2, SIGUSR1);
	p1 = running_anew("r1", p2);
	st = rig_ctl("commandd.sock", "status");
	ck_assert_int_eq(jint(rig_find(st, "partitions", "r1"), "restarts"), 2);
	json_object_put(st);
	kill(p1, SIGUSR1);
	a = rig_wait_actual("r1", "failed", 5000);
	ck_assert_str_eq(jstr(a, "reason"), "restart policy gave up after 2 restarts within 60 s: "
					    "uvmm exited with status 3");
	json_object_put(a);
	rig_sleep_ms(1000);
	ck_assert_int_eq(rig_uvmm_count("r1"), 3);
	/* start again: a new wish, a new count. */
	rig_action("r1", "start");
	p2 = running_anew("r1", p1);
	ck_assert_int_eq(rig_uvmm_count("r1"), 4);
	/* The guest powers off (exit 0): stopped, not restarted, desired still running. */
	kill(p2, SIGUSR2);
	a = rig_wait_actual("r1", "stopped", 5000);
	ck_assert_str_eq(jstr(a, "reason"), "uvmm exited with status 0: the guest powered off");
	json_object_put(a);
	rig_sleep_ms(1000);
	json_object_put(rig_wait_actual("r1", "stopped", 10));
	ck_assert_int_eq(rig_uvmm_count("r1"), 4);
	a = rig_partition("r1");
	ck_assert_str_eq(jstr(a, "desired"), "running");
	json_object_put(a);
	/* The hold outlives commandd: a new one does not boot the guest that chose to stop. */
	rig_kill(&R.cmdd);
	rig_start_cmdd(NULL);
	rig_sleep_ms(1500);
	a = rig_wait_actual("r1", "stopped", 10);
	ck_assert_str_eq(jstr(a, "reason"), "uvmm exited with status 0: the guest powered off");
	json_object_put(a);
	ck_assert_int_eq(rig_uvmm_count("r1"), 4);
	ck_assert_int_eq(rig_count_lines("commandd.log", "partition r1: held (stopped)"), 1);

	/* always: even a power-off comes back. */
	p1 = define_running("r2", ",\"restart\":\"always\"");
	kill(p1, SIGUSR2);
	running_anew("r2", p1);

	/* never: a crash stays a crash. */
	p1 = define_running("r3", ",\"restart\":\"never\"");
	kill(p1, SIGKILL);
	a = rig_wait_actual("r3", "crashed", 5000);
	ck_assert_str_eq(jstr(a, "reason"), "uvmm killed by signal 9 (restart never)");
	json_object_put(a);
	rig_sleep_ms(1000);
	ck_assert_int_eq(rig_uvmm_count("r3"), 1);
}
END_TEST

START_TEST(test_adopt_sigterm)
{
	json_object *a, *st, *p;
	char path[256];
	pid_t pid, p2;
	int s;

	rig_start_suite("1G", true);
	snprintf(path, sizeof(path), ",\"disks\":[{\"path\":\"%s\"}]", img[0]);
	pid = define_running("ad", path);

	/* kill -9 and a new commandd: the uvmm is adopted, not started twice. */
	rig_kill(&R.cmdd);
	rig_start_cmdd(NULL);
	st = rig_wait_ctl("commandd.sock", cmdd_runs, "ad", 4000);
	p = rig_find(st, "partitions", "ad");
	ck_assert(json_object_get_boolean(jget(p, "adopted")));
	ck_assert_int_eq(jint(p, "pid"), pid);
	ck_assert_int_ne(jint(p, "monitor"), 0);
	ck_assert_str_eq(jstr(p, "iopartd"), "a");
	json_object_put(st);
	rig_sleep_ms(1000);
	ck_assert_int_eq(rig_uvmm_count("ad"), 1);
	ck_assert_int_eq(rig_count_lines("run/fake-iopartd-a.log", NULL), 1);

	/* opsd restarted forgets actual states: commandd's resync tells it again. */
	rig_kill(&R.opsd);
	rig_start_opsd();
	a = rig_wait_actual("ad", "running", 8000);
	ck_assert_int_eq(jint(a, "pid"), pid);
	json_object_put(a);

	/* The adopted uvmm's exit status still reaches commandd (its monitor). */
	kill(pid, SIGUSR2);
	a = rig_wait_actual("ad", "stopped", 5000);
	ck_assert_str_eq(jstr(a, "reason"), "uvmm exited with status 0: the guest powered off");
	json_object_put(a);
	rig_action("ad", "start");
	p2 = running_anew("ad", pid);

	/* SIGTERM: exit 0, its socket and pid file gone, the uvmm left running. */
	s = rig_stop(&R.cmdd);
	ck_assert_msg(WIFEXITED(s) && WEXITSTATUS(s) == 0, "status %#x", s);
	ck_assert_int_eq(kill(p2, 0), 0);
	snprintf(path, sizeof(path), "%s/commandd.sock", R.run);
	ck_assert_int_eq(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/commandd.pid", R.run);
	ck_assert_int_eq(access(path, F_OK), -1);
	rig_sleep_ms(300);
	ck_assert_int_eq(kill(p2, 0), 0);

	/*
	 * It fails (status 3) while no commandd runs: the next one judges the
	 * monitor's record from ultravisord's status, a failure, and restarts it
	 * (restart on-failure). Until 2026-11-26 the status read as 0 there (a
	 * call's arguments read before the record was): "powered off", held.
	 */
	kill(p2, SIGUSR1);
	for (int i = 0; i < 250 && !kill(p2, 0); i++)
		rig_sleep_ms(20);
	rig_start_cmdd(NULL);
	running_anew("ad", p2);
	snprintf(path, sizeof(path), "partition ad: uvmm %d exited with status 3", (int)p2);
	ck_assert_msg(rig_count_lines("commandd.log", path) == 1, "no '%s' in commandd.log", path);
}
END_TEST

/* name's monitor, as commandd's status says. */
static pid_t monitor_of(const char *name)
{
	json_object *st = rig_ctl("commandd.sock", "status");
	pid_t mon = (pid_t)jint(rig_find(st, "partitions", name), "monitor");

	json_object_put(st);
	ck_assert_int_gt(mon, 0);
	return mon;
}

/* A stop of the scope, as systemd does it: SIGPWR to monitor and uvmm, then gone. */
static void scope_stop(pid_t mon, pid_t uvmm)
{
	ck_assert_int_eq(kill(mon, SIGPWR), 0);
	ck_assert_int_eq(kill(uvmm, SIGPWR), 0);
	for (int i = 0; i < 250 && !kill(mon, 0); i++)
		rig_sleep_ms(20);
	ck_assert_int_ne(kill(mon, 0), 0);
}

/* The monitor's exit record of name. */
static void exit_record(const char *name, char *buf, size_t len)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/partitions/%s/exit", R.run, name);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(buf, (int)len, f));
	fclose(f);
}

/*
 * A new commandd that hears from ultravisord before opsd answers (stopped
 * for 0.7 s): the exits it finds wait for opsd's wish to be judged.
 */
static void cmdd_start_opsd_late(void)
{
	ck_assert_int_eq(kill(R.opsd, SIGSTOP), 0);
	rig_start_cmdd(NULL);
	rig_sleep_ms(700);
	ck_assert_int_eq(kill(R.opsd, SIGCONT), 0);
}

/*
 * A stop of the guest's scope (systemctl stop uvmm-NAME.scope, a host's
 * power-off): the monitor records it. Seen by a running commandd, it is an
 * operator's stop: stopped and held, as a power-off by the guest. Found by a
 * commandd that was away (a power-off stops commandd first): not the
 * guest's wish, so it is started again. A guest that powered off by itself
 * while commandd was away stays held.
 */
START_TEST(test_scope_stop)
{
	char rec[64], want[128];
	json_object *a;
	pid_t p1, p2, p3, mon;

	rig_start_suite("1G", false);
	p1 = define_running("h1", "");
	scope_stop(monitor_of("h1"), p1);
	a = rig_wait_actual("h1", "stopped", 5000);
	ck_assert_str_eq(jstr(a, "reason"), "uvmm exited with status 0: the guest powered off");
	json_object_put(a);
	exit_record("h1", rec, sizeof(rec));
	snprintf(want, sizeof(want), "%d 0 scope-stop\n", (int)p1);
	ck_assert_str_eq(rec, want);
	rig_sleep_ms(1000);
	ck_assert_int_eq(rig_uvmm_count("h1"), 1);

	/* Stopped while commandd was away: started again, nothing held. */
	rig_action("h1", "start");
	p2 = running_anew("h1", p1);
	mon = monitor_of("h1");
	ck_assert_int_eq(rig_stop(&R.cmdd), 0);
	scope_stop(mon, p2);
	cmdd_start_opsd_late();
	p3 = running_anew("h1", p2);
	ck_assert_int_eq(rig_uvmm_count("h1"), 3);
	snprintf(want, sizeof(want),
		 "uvmm exited with status 0: its scope was stopped while "
		 "commandd was away (the host's shutdown); started again");
	ck_assert_msg(rig_count_lines("commandd.log", want) == 1, "no '%s' in commandd.log", want);

	/* The guest's own power-off while commandd was away: held. */
	ck_assert_int_eq(rig_stop(&R.cmdd), 0);
	ck_assert_int_eq(kill(p3, SIGUSR2), 0);
	for (int i = 0; i < 250 && !kill(p3, 0); i++)
		rig_sleep_ms(20);
	cmdd_start_opsd_late();
	rig_sleep_ms(1500);
	a = rig_wait_actual("h1", "stopped", 10);
	ck_assert_str_eq(jstr(a, "reason"), "uvmm exited with status 0: the guest powered off");
	json_object_put(a);
	ck_assert_int_eq(rig_uvmm_count("h1"), 3);
}
END_TEST

/* partitions/NAME/fake-mode says what the fake uvmm does. */
static void fake_mode(const char *name, const char *mode)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/partitions/%s", R.run, name);
	mkdir(path, 0750);
	snprintf(path, sizeof(path), "%s/partitions/%s/fake-mode", R.run, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "%s\n", mode);
	fclose(f);
}

/* Waits up to ms for name's actual state and reason to be these. */
static void wait_reason(const char *name, const char *state, const char *reason, unsigned ms)
{
	for (unsigned i = 0;; i += 20) {
		json_object *a = rig_wait_actual(name, state, ms);
		bool same = !strcmp(jstr(a, "reason"), reason);

		if (same || i >= ms)
			ck_assert_msg(same, "%s: reason '%s', wanted '%s'", name, jstr(a, "reason"),
				      reason);
		json_object_put(a);
		if (same)
			return;
		rig_sleep_ms(20);
	}
}

/*
 * Direct kernel boot: --kernel, --initrd, --cmdline on uvmm's command line
 * after --cpus; a kernel that cannot be read fails the start with the reason
 * and no uvmm, held until the next start; a uvmm that refuses its kernel
 * (status 2) has its error line in the reason.
 */
START_TEST(test_kernel_boot)
{
	char kernel[200], initrd[200], body[1024];
	json_object *a, *rec;
	pid_t pid;

	rig_start_suite("1G", true);
	snprintf(kernel, sizeof(kernel), "%s/vmlinuz", R.dir);
	snprintf(initrd, sizeof(initrd), "%s/initrd.img", R.dir);
	close(open(kernel, O_WRONLY | O_CREAT, 0644));
	close(open(initrd, O_WRONLY | O_CREAT, 0644));
	snprintf(body, sizeof(body),
		 ",\"disks\":[{\"path\":\"%s\"}],\"kernel\":\"%s\",\"initrd\":\"%s\","
		 "\"cmdline\":\"console=ttyS0 root=/dev/vda\"",
		 img[0], kernel, initrd);
	pid = define_running("k1", body);
	rec = rig_uvmm_record("k1", pid);
	ck_assert_int_eq(json_object_array_length(jget(rec, "argv")), 22);
	ck_assert_str_eq(arg(rec, 10), "--cpus");
	ck_assert_str_eq(arg(rec, 12), "--kernel");
	ck_assert_str_eq(arg(rec, 13), kernel);
	ck_assert_str_eq(arg(rec, 14), "--initrd");
	ck_assert_str_eq(arg(rec, 15), initrd);
	ck_assert_str_eq(arg(rec, 16), "--cmdline");
	ck_assert_str_eq(arg(rec, 17), "console=ttyS0 root=/dev/vda");
	/* The disk's channel as with the firmware: the guest's virtio disk. */
	ck_assert_str_eq(arg(rec, 18), "--disk");
	check_channel_arg(rec, 19, 0);
	ck_assert_str_eq(arg(rec, 20), "--console");
	json_object_put(rec);
	rig_action("k1", "destroy");
	json_object_put(rig_wait_actual("k1", "stopped", 5000));

	/* The kernel gone: failed with the reason, no uvmm, not tried again by itself. */
	ck_assert_int_eq(unlink(kernel), 0);
	rig_action("k1", "start");
	snprintf(body, sizeof(body), "cannot read kernel %s: No such file or directory", kernel);
	wait_reason("k1", "failed", body, 5000);
	rig_sleep_ms(1500);
	json_object_put(rig_wait_actual("k1", "failed", 10));
	ck_assert_int_eq(rig_uvmm_count("k1"), 1);
	/* An initrd that is a directory. */
	close(open(kernel, O_WRONLY | O_CREAT, 0644));
	ck_assert_int_eq(unlink(initrd), 0);
	ck_assert_int_eq(mkdir(initrd, 0755), 0);
	rig_action("k1", "start");
	snprintf(body, sizeof(body), "initrd %s is not a regular file", initrd);
	wait_reason("k1", "failed", body, 5000);
	ck_assert_int_eq(rig_uvmm_count("k1"), 1);
	/* Put back: the next start runs it. */
	ck_assert_int_eq(rmdir(initrd), 0);
	close(open(initrd, O_WRONLY | O_CREAT, 0644));
	start_running("k1");
	ck_assert_int_eq(rig_uvmm_count("k1"), 2);
	rig_action("k1", "destroy");
	json_object_put(rig_wait_actual("k1", "stopped", 5000));

	/*
	 * uvmm refuses the kernel (exit 2): its own words in the reason, and no
	 * restart under any policy (the same start would fail again).
	 */
	json_object_put(api(200, "PUT", "/v1/policy", "{\"restart_max\":3}"));
	for (int i = 0; i < 3; i++) {
		static const char *const pol[] = {"never", "on-failure", "always"};
		char name[8];

		snprintf(name, sizeof(name), "k%d", i + 2);
		fake_mode(name, "bad-kernel");
		snprintf(body, sizeof(body), ",\"restart\":\"%s\",\"kernel\":\"%s\"", pol[i],
			 kernel);
		json_object_put(api(201, "POST", "/v1/partitions",
				    "{\"name\":\"%s\",\"cpus\":1,\"memory_mib\":64%s}", name,
				    body));
		rig_action(name, "start");
		a = rig_wait_actual(name, "failed", 5000);
		snprintf(body, sizeof(body),
			 "uvmm exited with status 2 (kernel '%s': not a bzImage); not restarted: "
			 "it would fail the same way",
			 kernel);
		ck_assert_str_eq(jstr(a, "reason"), body);
		json_object_put(a);
		/* A restart would have reported "...; restarting" by now. */
		rig_sleep_ms(500);
		a = rig_wait_actual(name, "failed", 10);
		ck_assert_str_eq(jstr(a, "reason"), body);
		json_object_put(a);
	}
}
END_TEST

START_TEST(test_usage)
{
	char *argv[] = {CMDD_BIN, "--iopartd", "a,A", NULL};
	char *argv2[] = {CMDD_BIN, "--shutdown-timeout", "0", NULL};
	char *argv3[] = {CMDD_BIN, "extra", NULL};
	pid_t pid;
	int st;

	pid = rig_spawn(argv, "usage.log", false);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_int_eq(WEXITSTATUS(st), 2);
	pid = rig_spawn(argv2, "usage.log", false);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_int_eq(WEXITSTATUS(st), 2);
	pid = rig_spawn(argv3, "usage.log", false);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_int_eq(WEXITSTATUS(st), 2);
	ck_assert_int_eq(rig_count_lines("usage.log", "--iopartd: 'a,A'"), 1);
	ck_assert_int_eq(rig_count_lines("usage.log", "--shutdown-timeout: '0'"), 1);
	ck_assert_int_eq(rig_count_lines("usage.log", "unexpected argument 'extra'"), 1);
	/* A second commandd on the same directory is refused (1). */
	rig_start_cmdd(NULL);
	{
		char *argv4[] = {CMDD_BIN, NULL};

		pid = rig_spawn(argv4, "second.log", false);
		ck_assert_int_eq(waitpid(pid, &st, 0), pid);
		ck_assert_int_eq(WEXITSTATUS(st), 1);
	}
}
END_TEST

int main(int argc, char **argv)
{
	rig_dispatch(argc, argv);
	return uv_check_run(
		uv_suite("commandd_run", setup, rig_teardown, 120,
			 UV_TESTS(test_usage, test_start_shutdown, test_destroy_timeout,
				  test_admission_pinning, test_restart_policies, test_adopt_sigterm,
				  test_scope_stop, test_kernel_boot)));
}
