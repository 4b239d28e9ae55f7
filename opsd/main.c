// SPDX-License-Identifier: GPL-2.0
/* opsd: the operations partition, the operator's REST API and the keeper of desired state. */
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "opsd.h"

static const char usage_text[] =
	"NAME\n"
	"    opsd - operations daemon: partition definitions, policy, audit log, REST API\n"
	"\n"
	"SYNOPSIS\n"
	"    opsd [--log-level LEVEL] [--group GROUP]\n"
	"    opsd --help | --version\n"
	"\n"
	"DESCRIPTION\n"
	"    Serves the v1 REST API (HTTP/1.1, JSON; see opsd/openapi.yaml) on the\n"
	"    unix socket $UV_RUNTIME_DIR/opsd.sock. Keeps the desired state of every\n"
	"    partition and the policy under $UV_STATE_DIR/opsd, each file replaced\n"
	"    atomically, and appends one line per change to audit.log there before\n"
	"    answering. commandd watches it (GET /v1/partitions?wait=GEN) and reports\n"
	"    actual states back; GET /v1/status asks ultravisord on\n"
	"    $UV_RUNTIME_DIR/ultravisord.sock.\n"
	"\n"
	"    Everyone who can reach the socket may read. Changes are allowed to\n"
	"    root, to opsd's own user and to members of GROUP (peer credentials);\n"
	"    others get 403.\n"
	"\n"
	"OPTIONS\n"
	"    --log-level err|warn|info|debug\n"
	"        Messages go to stderr, with syslog level prefixes under journald.\n"
	"        debug logs every request.\n"
	"    --group GROUP\n"
	"        The group whose members may change things (default ultravisor).\n"
	"    --help, --version\n"
	"\n"
	"ENVIRONMENT\n"
	"    UV_RUNTIME_DIR  sockets and pid file (default /run/ultravisor)\n"
	"    UV_STATE_DIR    persistent state (default /var/lib/ultravisor)\n"
	"    NOTIFY_SOCKET   READY=1 is sent there once the socket listens\n"
	"\n"
	"FILES\n"
	"    $UV_RUNTIME_DIR/opsd.sock, $UV_RUNTIME_DIR/opsd.pid\n"
	"    $UV_STATE_DIR/opsd/partitions/NAME.json, policy.json, generation,\n"
	"    audit.log. A file that does not parse is logged and renamed FILE.bad;\n"
	"    the others load.\n"
	"\n"
	"SIGNALS\n"
	"    SIGTERM, SIGINT: stop, remove the socket and the pid file, exit 0.\n"
	"\n"
	"EXIT STATUS\n"
	"    0 after a clean stop; 1 when it cannot start (directories, socket,\n"
	"    another opsd running); 2 on bad usage.\n";

static int opsd_opt(void *ctx, int c, const char *arg)
{
	struct opsd *d = ctx;

	(void)c; /* 'g', the only one */
	if (!*arg) {
		pr_err("--group: empty group name");
		return 2;
	}
	d->auth.group = arg;
	return -1;
}

static int opsd_parse(struct opsd *d, int argc, char **argv)
{
	static const struct option opts[] = {
		{"group", required_argument, NULL, 'g'},
		{0},
	};
	const struct uv_daemon_cli cli = {"opsd", UV_VERSION, usage_text, opts, opsd_opt, d};

	return uv_daemon_parse(&cli, argc, argv);
}

static int opsd_paths(struct opsd *d, char *pidpath, size_t len, char *err, size_t errlen)
{
	const char *rt = d->paths.runtime_dir;
	int ret;

	ret = uv_paths_init(&d->paths, err, errlen);
	if (ret)
		return ret;
	if (uv_path_join(pidpath, len, rt, "opsd.pid") ||
	    uv_path_join(d->sock_path, sizeof(d->sock_path), rt, "opsd.sock") ||
	    uv_path_join(d->uvd_path, sizeof(d->uvd_path), rt, "ultravisord.sock")) {
		snprintf(err, errlen, "%s: path too long", rt);
		return -ENAMETOOLONG;
	}
	return uv_dir_ensure(rt, 0750, err, errlen);
}

static int opsd_run(struct opsd *d)
{
	char pidpath[PATH_MAX], err[PATH_MAX + 256];
	struct uv_stop stop = {0};
	int pidfd = -1, ret = 1;

	d->listen_fd = -1;
	d->audit.fd = -1;
	TAILQ_INIT(&d->watches);
	TAILQ_INIT(&d->statuses);
	if (opsd_paths(d, pidpath, sizeof(pidpath), err, sizeof(err)) ||
	    (pidfd = uv_pidfile_acquire(pidpath, err, sizeof(err))) < 0) {
		pr_err("%s", err);
		return 1;
	}
	if (opsd_store_open(&d->store, d->paths.state_dir, err, sizeof(err))) {
		pr_err("%s", err);
		goto out_pid;
	}
	if (opsd_audit_open(&d->audit, d->store.dir, err, sizeof(err))) {
		pr_err("%s", err);
		goto out_store;
	}
	d->base = event_base_new();
	if (!d->base || uv_stop_init(&stop, d->base, NULL, NULL)) {
		pr_err("cannot set up the event loop");
		goto out_base;
	}
	if (opsd_http_start(d, err, sizeof(err))) {
		pr_err("%s", err);
		goto out_http;
	}
	pr_info("listening on %s: %zu partitions, generation %llu", d->sock_path, d->store.n,
		(unsigned long long)d->store.generation);
	uv_notify("READY=1");
	event_base_dispatch(d->base);
	uv_notify("STOPPING=1");
	pr_info("stopped");
	ret = 0;
out_http:
	opsd_http_stop(d);
	uv_stop_fini(&stop);
out_base:
	if (d->base)
		event_base_free(d->base);
	opsd_audit_close(&d->audit);
out_store:
	opsd_store_close(&d->store);
out_pid:
	uv_pidfile_release(pidfd, pidpath);
	return ret;
}

int main(int argc, char **argv)
{
	static struct opsd d;
	int ret;

	log_init("opsd", UV_LOG_INFO);
	d.auth.self = geteuid();
	d.auth.group = UV_GROUP;
	ret = opsd_parse(&d, argc, argv);
	if (ret >= 0)
		return ret;
	return opsd_run(&d);
}
