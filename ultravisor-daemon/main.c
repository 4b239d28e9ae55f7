// SPDX-License-Identifier: GPL-2.0
/* ultravisord: the resource database and channel broker of the suite. */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "ctl_msg.h"
#include "daemon.h"
#include "log.h"
#include "parse.h"
#include "uvd.h"

static const char usage_text[] =
	"NAME\n"
	"    ultravisord - resource database and channel broker of the Ultravisor suite\n"
	"\n"
	"SYNOPSIS\n"
	"    ultravisord [--memory-pool SIZE] [--cpus LIST] [--log-level LEVEL]\n"
	"    ultravisord --help | --version\n"
	"\n"
	"DESCRIPTION\n"
	"    Keeps the host's resources for the partitions: the host CPUs it may\n"
	"    hand out, a memory pool, the registered iopartd instances and their\n"
	"    health, the partitions and their channels. Allocates each guest's\n"
	"    memory (a memfd, on huge pages when asked) and establishes channels by\n"
	"    passing socket ends to the uvmm and the iopartd concerned. It decides\n"
	"    nothing: commandd asks, ultravisord admits or refuses and records.\n"
	"\n"
	"    Control socket: $UV_RUNTIME_DIR/ultravisord.sock (SOCK_SEQPACKET, one\n"
	"    JSON message per packet, docs/ultravisord.md). Pid file:\n"
	"    $UV_RUNTIME_DIR/ultravisord.pid. State: $UV_STATE_DIR/ultravisord/\n"
	"    state.json, written atomically on every change and read at start, so\n"
	"    a restart finds its partitions and channels again; a corrupt state file\n"
	"    is kept as state.json.bad and the start is empty.\n"
	"\n"
	"OPTIONS\n"
	"    --memory-pool SIZE\n"
	"        Guest memory it may hand out, e.g. 8G or 4096M (default: 80% of\n"
	"        MemTotal).\n"
	"    --cpus LIST\n"
	"        Host CPUs it may hand out, e.g. 2-7,10 (default: every CPU it may\n"
	"        run on).\n"
	"    --log-level err|warn|info|debug\n"
	"        Messages go to stderr with syslog level prefixes under journald.\n"
	"    --help, --version\n"
	"\n"
	"ENVIRONMENT\n"
	"    UV_RUNTIME_DIR  sockets and pid files (default /run/ultravisor)\n"
	"    UV_STATE_DIR    persistent state (default /var/lib/ultravisor)\n"
	"    NOTIFY_SOCKET   READY=1 once listening, STOPPING=1 (systemd Type=notify)\n"
	"\n"
	"SIGNALS\n"
	"    SIGTERM, SIGINT: close the socket, remove it and the pid file, exit 0.\n"
	"    Running uvmm and iopartd processes are not touched.\n"
	"\n"
	"EXIT STATUS\n"
	"    0 after a clean shutdown; 1 on a runtime failure (another ultravisord\n"
	"    runs, a directory or the socket cannot be made, an unreadable state\n"
	"    file); 2 on bad usage.\n";

struct uvd_opts {
	uint64_t pool_mib;
	cpu_set_t cpus;
	bool have_cpus;
};

static int opts_cpus(const char *arg, struct uvd_opts *o)
{
	cpu_set_t mine, extra;

	if (uvd_cpus_parse(arg, &o->cpus)) {
		pr_err("--cpus: '%s' is not a CPU list such as 0-3,6", arg);
		return 2;
	}
	if (sched_getaffinity(0, sizeof(mine), &mine) == 0) {
		CPU_XOR(&extra, &o->cpus, &mine);
		CPU_AND(&extra, &extra, &o->cpus);
		for (int c = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &extra)) {
				pr_err("--cpus: CPU %d is not online or not ours to give", c);
				return 2;
			}
	}
	o->have_cpus = true;
	return -1;
}

static int opts_one(void *ctx, int c, const char *arg)
{
	struct uvd_opts *o = ctx;
	uint64_t bytes;

	if (c == 'c')
		return opts_cpus(arg, o);
	/* 'm' */
	if (parse_size(arg, &bytes) || (bytes >> 20) < UVD_MEM_MIN_MIB) {
		pr_err("--memory-pool: '%s' is not a size of at least %d MiB", arg,
		       UVD_MEM_MIN_MIB);
		return 2;
	}
	o->pool_mib = bytes >> 20;
	return -1;
}

static int opts_parse(int argc, char **argv, struct uvd_opts *o)
{
	static const struct option opts[] = {
		{"memory-pool", required_argument, NULL, 'm'},
		{"cpus", required_argument, NULL, 'c'},
		{0},
	};
	const struct uv_daemon_cli cli = {"ultravisord", UV_VERSION, usage_text, opts, opts_one, o};

	return uv_daemon_parse(&cli, argc, argv);
}

/* Directories, the pid file, the state: everything before the socket. 0 or exit status. */
static int uvd_prepare(struct uvd *u, const struct uv_paths *paths, char *pidpath, int *pidfd)
{
	char dir[PATH_MAX], err[512] = "state directory path too long";

	if (uv_dir_ensure(paths->runtime_dir, 0750, err, sizeof(err))) {
		pr_err("%s", err);
		return 1;
	}
	uv_path_join(pidpath, PATH_MAX, paths->runtime_dir, "ultravisord.pid");
	*pidfd = uv_pidfile_acquire(pidpath, err, sizeof(err));
	if (*pidfd < 0) {
		pr_err("%s", err);
		return 1;
	}
	if (uv_path_join(dir, sizeof(dir), paths->state_dir, "ultravisord") ||
	    uv_dir_ensure(dir, 0750, err, sizeof(err)) ||
	    uv_path_join(u->state_path, sizeof(u->state_path), dir, "state.json")) {
		pr_err("%s", err);
		return 1;
	}
	if (uvd_state_load(u))
		return 1;
	uvd_state_revive(u);
	if (uvd_pool_used(u) > u->pool_mib)
		pr_warn("the recorded partitions hold %llu MiB, more than the pool's %llu MiB: "
			"nothing more is admitted until some are released",
			(unsigned long long)uvd_pool_used(u), (unsigned long long)u->pool_mib);
	uvd_state_save(u);
	return 0;
}

static int uvd_run(struct uvd *u, const struct uv_paths *paths)
{
	static const struct ctl_ops ops = {.on_msg = uvd_on_msg, .on_close = uvd_on_close};
	char sock[PATH_MAX], pidpath[PATH_MAX], err[512];
	struct ctl_server *srv = NULL;
	struct uv_stop stop;
	int pidfd = -1, ret;

	ret = uvd_prepare(u, paths, pidpath, &pidfd);
	if (ret)
		goto out;
	ret = 1;
	if (uv_stop_init(&stop, u->base, NULL, NULL)) {
		pr_err("cannot watch SIGTERM and SIGINT");
		goto out;
	}
	if (uv_path_join(sock, sizeof(sock), paths->runtime_dir, "ultravisord.sock")) {
		pr_err("%s/ultravisord.sock: path too long", paths->runtime_dir);
		goto out_stop;
	}
	srv = ctl_server_new(u->base, sock, &ops, u, err, sizeof(err));
	if (!srv) {
		pr_err("%s", err);
		goto out_stop;
	}
	pr_info("listening on %s: pool %llu MiB (%llu used), %d host CPUs", sock,
		(unsigned long long)u->pool_mib, (unsigned long long)uvd_pool_used(u),
		CPU_COUNT(&u->cpus));
	uv_notify("READY=1");
	event_base_dispatch(u->base);
	uv_notify("STOPPING=1");
	ctl_server_free(srv);
	ret = 0;
out_stop:
	uv_stop_fini(&stop);
out:
	uvd_fini(u);
	uv_pidfile_release(pidfd, pidpath);
	return ret;
}

int main(int argc, char **argv)
{
	struct uvd_opts o = {0};
	struct uv_paths paths;
	struct uvd u;
	char err[512];
	int ret;

	log_init("ultravisord", UV_LOG_INFO);
	ret = opts_parse(argc, argv, &o);
	if (ret >= 0)
		return ret;
	if (uv_paths_init(&paths, err, sizeof(err))) {
		pr_err("%s", err);
		return 2;
	}
	uvd_init(&u);
	u.pool_mib = o.pool_mib ? o.pool_mib : uvd_pool_default_mib();
	if (!u.pool_mib) {
		pr_err("cannot read MemTotal from /proc/meminfo: give --memory-pool");
		return 1;
	}
	if (o.have_cpus)
		u.cpus = o.cpus;
	else if (sched_getaffinity(0, sizeof(u.cpus), &u.cpus)) {
		pr_err("sched_getaffinity: %s", strerror(errno));
		return 1;
	}
	u.base = event_base_new();
	if (!u.base) {
		pr_err("cannot create the event loop");
		return 1;
	}
	ret = uvd_run(&u, &paths);
	event_base_free(u.base);
	return ret;
}
