// SPDX-License-Identifier: GPL-2.0
/* commandd: the decision maker of the suite. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "commandd.h"
#include "ctl_msg.h"
#include "daemon.h"
#include "log.h"
#include "scope.h"

#define TICK_S 5 /* the full resync with opsd and ultravisord */

static const char usage_text[] =
	"NAME\n"
	"    commandd - the decision maker of the Ultravisor suite\n"
	"\n"
	"SYNOPSIS\n"
	"    commandd [--uvmm PATH] [--iopartd NAME,...] [--supervise-iopartd]\n"
	"             [--iopartd-bin PATH] [--shutdown-timeout SEC] [--scope auto|on|off]\n"
	"             [--log-level LEVEL]\n"
	"    commandd --help | --version\n"
	"\n"
	"DESCRIPTION\n"
	"    Reconciles the desired state kept by opsd (partitions to run or stop,\n"
	"    policy) with the actual state kept by ultravisord: reserves memory and\n"
	"    CPUs (admission), chooses the iopartd serving each channel and creates\n"
	"    the channels, starts each partition's uvmm in a session of its own,\n"
	"    stops it (SIGPWR, the ACPI power button; SIGKILL for destroy or after\n"
	"    the timeout), restarts it per restart policy, moves channels to the\n"
	"    other iopartd when one dies, and reports the actual state to opsd.\n"
	"\n"
	"    Desired state: GET /v1/partitions?wait=GEN on $UV_RUNTIME_DIR/opsd.sock\n"
	"    (a long poll, on a thread of its own) and a full resync every 5 s.\n"
	"    Actual state: ultravisord's status and events on\n"
	"    $UV_RUNTIME_DIR/ultravisord.sock. A restart of commandd adopts the\n"
	"    running uvmm processes; it never restarts them. See docs/commandd.md.\n"
	"\n"
	"    Control socket: $UV_RUNTIME_DIR/commandd.sock (op \"status\": its view).\n"
	"    Pid file: $UV_RUNTIME_DIR/commandd.pid. Per partition:\n"
	"    $UV_RUNTIME_DIR/partitions/NAME/ (uvmm.log, console.sock, exit).\n"
	"\n"
	"OPTIONS\n"
	"    --uvmm PATH\n"
	"        The uvmm to run (default: ../vmm/uvmm beside commandd in a build\n"
	"        tree, else uvmm from PATH).\n"
	"    --iopartd NAME,...\n"
	"        The iopartds that serve channels (default a,b).\n"
	"    --supervise-iopartd\n"
	"        Start a dead iopartd again (iopartd --name NAME, output appended to\n"
	"        $UV_RUNTIME_DIR/log/iopartd-NAME.log): for running without systemd.\n"
	"    --iopartd-bin PATH\n"
	"        The iopartd that --supervise-iopartd runs (default: as for uvmm).\n"
	"    --shutdown-timeout SEC\n"
	"        How long a shutdown waits for the guest to power off before SIGKILL\n"
	"        (default 60); also the stop timeout of the partitions' scopes.\n"
	"    --scope auto|on|off\n"
	"        Put each uvmm (with its monitor) into a transient systemd scope of\n"
	"        its own, uvmm-NAME.scope in ultravisor.slice, with the system\n"
	"        manager's StartTransientUnit over D-Bus, before the uvmm starts:\n"
	"        its tasks and memory are accounted there, not to commandd, and\n"
	"        stopping the scope (systemctl stop, the host's power-off) presses\n"
	"        the guest's power button (KillSignal=SIGPWR), then SIGKILL after\n"
	"        the shutdown timeout. Ordered after ultravisord and the iopartds and\n"
	"        before commandd's own unit, so that a power-off stops the guests\n"
	"        while their disks are still served. auto (the default): when\n"
	"        systemd runs commandd as a unit ($INVOCATION_ID set on a system\n"
	"        booted with systemd). A scope that cannot be made is a warning; the\n"
	"        uvmm starts anyway, in commandd's cgroup. Running guests adopted at\n"
	"        a start of commandd that are not in their scope (started without\n"
	"        scopes, or their scope failed) are moved into it (PIDs=).\n"
	"    --log-level err|warn|info|debug\n"
	"        Messages go to stderr with syslog level prefixes under journald.\n"
	"    --help, --version\n"
	"\n"
	"ENVIRONMENT\n"
	"    UV_RUNTIME_DIR  sockets, pid files, partitions' runtime files\n"
	"                    (default /run/ultravisor)\n"
	"    UV_STATE_DIR    persistent state: commandd/holds.json, the partitions\n"
	"                    held until started again (default /var/lib/ultravisor)\n"
	"    NOTIFY_SOCKET   READY=1 once listening, STOPPING=1 (systemd Type=notify)\n"
	"    INVOCATION_ID   set by systemd for its units: --scope auto makes scopes\n"
	"\n"
	"SIGNALS\n"
	"    SIGTERM, SIGINT: close the sockets, remove commandd.sock and the pid\n"
	"    file, exit 0. Running uvmm and iopartd processes are not touched.\n"
	"\n"
	"EXIT STATUS\n"
	"    0 after a clean shutdown; 1 on a runtime failure (another commandd\n"
	"    runs, a directory or the socket cannot be made); 2 on bad usage.\n";

/* iopartd's own rule for --name: [a-z0-9][a-z0-9_-]{0,30}. */
static bool iop_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 31 || !strchr("abcdefghijklmnopqrstuvwxyz0123456789", s[0]))
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

static int opts_iopartds(const char *arg, struct cmd_opts *o)
{
	char *s = strdup(arg), *save = NULL, *tok;

	o->niop_names = 0;
	for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!iop_name_ok(tok) || o->niop_names == CMD_IOPS_MAX) {
			pr_err("--iopartd: '%s' is not a list of at most %d iopartd names "
			       "([a-z0-9][a-z0-9_-]{0,30})",
			       arg, CMD_IOPS_MAX);
			free(s);
			return 2;
		}
		for (unsigned i = 0; i < o->niop_names; i++)
			if (!strcmp(o->iop_names[i], tok)) {
				pr_err("--iopartd: '%s' twice", tok);
				free(s);
				return 2;
			}
		snprintf(o->iop_names[o->niop_names++], CMD_NAME_MAX, "%s", tok);
	}
	free(s);
	if (!o->niop_names) {
		pr_err("--iopartd: no name given");
		return 2;
	}
	return -1;
}

static int opts_path(const char *opt, const char *arg, char *out, size_t len)
{
	char abs[PATH_MAX];

	if (!arg[0]) {
		pr_err("%s: empty path", opt);
		return 2;
	}
	snprintf(out, len, "%s", realpath(arg, abs) ? abs : arg);
	return -1;
}

static int opts_one(void *ctx, int c, const char *arg)
{
	struct cmd_opts *o = ctx;
	char *end;
	long v;

	switch (c) {
	case 'u':
		return opts_path("--uvmm", arg, o->uvmm, sizeof(o->uvmm));
	case 'b':
		return opts_path("--iopartd-bin", arg, o->iopartd_bin, sizeof(o->iopartd_bin));
	case 'i':
		return opts_iopartds(arg, o);
	case 's':
		o->supervise = true;
		return -1;
	case 'S':
		if (cmd_scope_mode_parse(arg, &o->scope)) {
			pr_err("--scope: '%s' is not auto, on or off", arg);
			return 2;
		}
		return -1;
	default: /* 't' */
		errno = 0;
		v = strtol(arg, &end, 10);
		if (errno || *end || end == arg || v < 1 || v > 86400) {
			pr_err("--shutdown-timeout: '%s' is not a number of seconds in [1, 86400]",
			       arg);
			return 2;
		}
		o->shutdown_timeout_s = (unsigned)v;
		return -1;
	}
}

static int opts_parse(int argc, char **argv, struct cmd_opts *o)
{
	static const struct option opts[] = {
		{"uvmm", required_argument, NULL, 'u'},
		{"iopartd", required_argument, NULL, 'i'},
		{"iopartd-bin", required_argument, NULL, 'b'},
		{"supervise-iopartd", no_argument, NULL, 's'},
		{"shutdown-timeout", required_argument, NULL, 't'},
		{"scope", required_argument, NULL, 'S'},
		{0},
	};
	const struct uv_daemon_cli cli = {"commandd", UV_VERSION, usage_text, opts, opts_one, o};

	return uv_daemon_parse(&cli, argc, argv);
}

static void on_sigchld(evutil_socket_t fd, short what, void *arg)
{
	int st;
	pid_t pid;

	(void)fd;
	(void)what;
	/* Monitors are reaped here too; their pidfds have told already or will. */
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
		cmd_child_exited(arg, pid, st);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct cmd *c = arg;

	(void)fd;
	(void)what;
	if (c->uvd)
		uvdc_status(c);
	opsc_resync(c->opsc);
	cmd_supervise_check(c);
	cmd_failover_pending(c);
}

static void on_sup_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	cmd_supervise_check(arg);
}

static void on_fo_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	cmd_failover_pending(arg);
}

static int cmd_events(struct cmd *c)
{
	struct timeval tv = {TICK_S, 0};

	c->tick = event_new(c->base, -1, EV_PERSIST, on_tick, c);
	c->sigchld = evsignal_new(c->base, SIGCHLD, on_sigchld, c);
	c->sup_timer = evtimer_new(c->base, on_sup_timer, c);
	c->fo_timer = evtimer_new(c->base, on_fo_timer, c);
	if (!c->tick || !c->sigchld || !c->sup_timer || !c->fo_timer || event_add(c->tick, &tv) ||
	    evsignal_add(c->sigchld, NULL))
		return -ENOMEM;
	return 0;
}

static void cmd_free_parts(struct cmd *c)
{
	while (c->parts) {
		struct cmd_part *p = c->parts;

		c->parts = p->next;
		/* A start cut short: the uvmm waiting for its go exits by itself. */
		if (p->memfd >= 0)
			close(p->memfd);
		for (unsigned i = 0; i < CMD_DEV_MAX; i++)
			if (p->fe[i] >= 0)
				close(p->fe[i]);
		if (p->go_fd >= 0)
			close(p->go_fd);
		if (p->pid_ev)
			event_free(p->pid_ev);
		if (p->pid_fd >= 0)
			close(p->pid_fd);
		if (p->pidfd >= 0)
			close(p->pidfd);
		if (p->watch_ev)
			event_free(p->watch_ev);
		if (p->watch_fd >= 0)
			close(p->watch_fd);
		event_free(p->stop_timer);
		event_free(p->retry_timer);
		if (p->def) {
			cmd_def_fini(p->def);
			free(p->def);
		}
		free(p);
	}
}

static const struct ctl_ops ctl_ops = {.on_msg = cmd_ctl_msg};

/* --scope: the thread that puts each new uvmm into a scope, when wanted. */
static void cmd_scopes_start(struct cmd *c)
{
	const char *inv = getenv("INVOCATION_ID");

	if (!cmd_scope_wanted(c->opts.scope, sd_booted() > 0, inv)) {
		pr_info("--scope %s: uvmm processes stay in commandd's cgroup%s",
			cmd_scope_mode_name(c->opts.scope),
			c->opts.scope == CMD_SCOPE_AUTO ? " (not run by systemd)" : "");
		return;
	}
	c->scoper = cmd_scoper_new(&c->opts);
	if (c->scoper)
		pr_info("--scope %s: each uvmm in a scope uvmm-NAME.scope of %s",
			cmd_scope_mode_name(c->opts.scope), CMD_SCOPE_SLICE);
	else
		pr_warn("cannot start the scope thread: uvmm processes stay in commandd's cgroup");
}

static int cmd_run(struct cmd *c, const struct uv_paths *paths)
{
	char sock[PATH_MAX], pidpath[PATH_MAX], opsd[PATH_MAX], err[512];
	struct uv_stop stop;
	int pidfd, ret = 1;

	if (uv_dir_ensure(paths->runtime_dir, 0750, err, sizeof(err))) {
		pr_err("%s", err);
		return 1;
	}
	uv_path_join(pidpath, sizeof(pidpath), paths->runtime_dir, "commandd.pid");
	pidfd = uv_pidfile_acquire(pidpath, err, sizeof(err));
	if (pidfd < 0) {
		pr_err("%s", err);
		return 1;
	}
	if (uv_path_join(sock, sizeof(sock), paths->runtime_dir, "commandd.sock") ||
	    uv_path_join(opsd, sizeof(opsd), paths->runtime_dir, "opsd.sock") ||
	    uv_path_join(c->uvd_sock, sizeof(c->uvd_sock), paths->runtime_dir,
			 "ultravisord.sock")) {
		pr_err("%s: path too long", paths->runtime_dir);
		goto out_pid;
	}
	if (cmd_holds_load(c, paths->state_dir))
		goto out_pid;
	if (uv_stop_init(&stop, c->base, NULL, NULL) || cmd_events(c)) {
		pr_err("cannot set up the event loop");
		goto out_pid;
	}
	c->srv = ctl_server_new(c->base, sock, &ctl_ops, c, err, sizeof(err));
	if (!c->srv) {
		pr_err("%s", err);
		goto out_stop;
	}
	c->opsc = opsc_new(c, opsd);
	if (!c->opsc || uvdc_init(c)) {
		pr_err("cannot start the opsd and ultravisord clients");
		goto out_srv;
	}
	cmd_scopes_start(c);
	pr_info("listening on %s; uvmm %s; iopartds %s%s", sock, c->opts.uvmm, c->opts.iop_names[0],
		c->opts.supervise ? " and more, supervised" : " and more");
	uv_notify("READY=1");
	event_base_dispatch(c->base);
	uv_notify("STOPPING=1");
	pr_info("stopping; running uvmm processes are left as they are");
	ret = 0;
	/* Monitors still at their gate go on without a scope. */
	cmd_scoper_free(c->scoper);
	c->scoper = NULL;
out_srv:
	opsc_free(c->opsc);
	c->opsc = NULL;
	uvdc_fini(c);
	ctl_server_free(c->srv);
out_stop:
	uv_stop_fini(&stop);
out_pid:
	uv_pidfile_release(pidfd, pidpath);
	return ret;
}

static void cmd_fini(struct cmd *c)
{
	cmd_free_parts(c);
	if (c->tick)
		event_free(c->tick);
	if (c->sigchld)
		event_free(c->sigchld);
	if (c->sup_timer)
		event_free(c->sup_timer);
	if (c->fo_timer)
		event_free(c->fo_timer);
	json_object_put(c->holds);
	if (c->uvd_timer)
		event_free(c->uvd_timer);
	event_base_free(c->base);
}

int main(int argc, char **argv)
{
	static struct cmd c; /* large: per-partition records are on the heap, not this */
	struct uv_paths paths;
	char err[512];
	int ret;

	log_init("commandd", UV_LOG_INFO);
	/* 0-2 open, so that no socket or memfd passed to a uvmm gets one of them. */
	while (fcntl(0, F_GETFD) < 0 || fcntl(1, F_GETFD) < 0 || fcntl(2, F_GETFD) < 0)
		if (open("/dev/null", O_RDWR) < 0)
			return 1;
	c.opts.shutdown_timeout_s = 60;
	c.opts.niop_names = 2;
	strcpy(c.opts.iop_names[0], "a");
	strcpy(c.opts.iop_names[1], "b");
	ret = opts_parse(argc, argv, &c.opts);
	if (ret >= 0)
		return ret;
	if (uv_paths_init(&paths, err, sizeof(err))) {
		pr_err("%s", err);
		return 2;
	}
	snprintf(c.runtime_dir, sizeof(c.runtime_dir), "%s", paths.runtime_dir);
	if (!c.opts.uvmm[0] && cmd_find_program("vmm", "uvmm", c.opts.uvmm, sizeof(c.opts.uvmm)))
		pr_warn("no uvmm beside commandd nor in PATH: partitions fail to start until one "
			"is installed (or give --uvmm)");
	if (!c.opts.iopartd_bin[0] &&
	    cmd_find_program("iopartd", "iopartd", c.opts.iopartd_bin,
			     sizeof(c.opts.iopartd_bin)) &&
	    c.opts.supervise)
		pr_warn("no iopartd beside commandd nor in PATH (give --iopartd-bin)");
	cmd_policy_default(&c.policy);
	cmd_group_lookup(&c);
	for (unsigned i = 0; i < c.opts.niop_names; i++)
		cmd_iop_get(&c, c.opts.iop_names[i], true)->expected = true;
	if (curl_global_init(CURL_GLOBAL_NOTHING)) {
		pr_err("cannot initialise libcurl");
		return 1;
	}
	c.base = event_base_new();
	if (!c.base) {
		pr_err("cannot create the event loop");
		return 1;
	}
	ret = cmd_run(&c, &paths);
	cmd_fini(&c);
	curl_global_cleanup();
	return ret;
}
