// SPDX-License-Identifier: GPL-2.0
/* iopartd: an I/O partition serving block, network, rng and console devices over vhost-user. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon.h"
#include "dev.h"
#include "inproc.h"
#include "log.h"
#include "suite.h"

#define IOPARTD_MAX_EXPORTS 64

static const char usage_text[] =
	"NAME\n"
	"    iopartd - I/O partition daemon: virtio devices served over vhost-user\n"
	"\n"
	"SYNOPSIS\n"
	"    iopartd --export SPEC [--export SPEC]... [--log-level LEVEL]\n"
	"    iopartd --name NAME [--ultravisord PATH] [--export SPEC]... [--log-level LEVEL]\n"
	"    iopartd --help | --version\n"
	"\n"
	"DESCRIPTION\n"
	"    Serves each exported device as a vhost-user back end on a unix socket,\n"
	"    all from one event loop. Block I/O goes to raw image files through\n"
	"    io_uring, network frames to tap devices, console output to a pty, a\n"
	"    socket or a file. One front end at a time per export; a front end may\n"
	"    reconnect once the previous one has gone, and requests left in flight\n"
	"    are resubmitted from the in-flight area.\n"
	"\n"
	"    With --name, iopartd is a member of the suite: it registers with\n"
	"    ultravisord and serves the channels ultravisord hands it, each on\n"
	"    the device its spec names. Exports, if any, are served as well.\n"
	"\n"
	"OPTIONS\n"
	"    --name NAME\n"
	"        Suite mode as iopartd NAME ([a-z0-9][a-z0-9_-], at most 31\n"
	"        characters). Pid file $UV_RUNTIME_DIR/iopartd-NAME.pid: a second\n"
	"        iopartd of the same name is refused. READY=1 goes to $NOTIFY_SOCKET\n"
	"        once ultravisord has accepted the registration. While ultravisord\n"
	"        is away (not started yet, restarting), the channels keep running\n"
	"        and iopartd tries to reconnect every 100 ms.\n"
	"    --ultravisord PATH\n"
	"        ultravisord's control socket (default\n"
	"        $UV_RUNTIME_DIR/ultravisord.sock; UV_RUNTIME_DIR defaults to\n"
	"        /run/ultravisor).\n"
	"    --export vhost-user-blk,path=IMG,socket=SOCK[,readonly=on][,direct=on]\n"
	"                          [,num-queues=N][,serial=S][,format=raw|qcow2]\n"
	"        A virtio-blk disk on the image IMG: raw (size a multiple of 512)\n"
	"        or qcow2, detected from the header unless format= says.\n"
	"        readonly=on: the guest cannot write (needed for read-only files).\n"
	"        direct=on: O_DIRECT. num-queues: 1-8 request queues (default 1).\n"
	"        serial: up to 20 characters, returned by GET_ID.\n"
	"    --export vhost-user-net,tap=IFNAME,socket=SOCK[,mac=XX:XX:XX:XX:XX:XX]\n"
	"        A virtio-net device on tap IFNAME (created if absent, with\n"
	"        CAP_NET_ADMIN). Without mac, a random locally administered one.\n"
	"    --export vhost-user-rng,socket=SOCK\n"
	"        A virtio-rng device fed by getrandom().\n"
	"    --export vhost-user-console,socket=SOCK,console=pty|unix:PATH|file:PATH\n"
	"        A virtio-console device (one port: the guest's hvc0). Its host end:\n"
	"        pty, a pseudo-terminal whose /dev/pts path is logged; unix:PATH, a\n"
	"        socket one client at a time attaches to, which first gets the\n"
	"        recent output; file:PATH, output appended to a file, no input.\n"
	"    --log-level err|warn|info|debug\n"
	"        Messages go to stderr with syslog level prefixes under journald.\n"
	"    --help, --version\n"
	"\n"
	"SIGNALS\n"
	"    SIGTERM, SIGINT: stop accepting, finish outstanding I/O, remove the\n"
	"    sockets (and the pid file) and exit 0.\n"
	"\n"
	"EXIT STATUS\n"
	"    0 after a clean shutdown; 1 on a runtime failure (a socket that cannot\n"
	"    be created, another iopartd of the same name); 2 on bad usage, a bad\n"
	"    export spec or a device that cannot be opened.\n";

struct iopartd_export {
	struct iopart_dev dev;
	struct vu_listener *listener;
	struct event_base *base;
};

struct iopartd {
	struct event_base *base;
	unsigned n;
	struct iopartd_export ex[IOPARTD_MAX_EXPORTS];
	struct uv_stop stop;
	/* Suite mode (--name): the pid file and the membership. */
	const char *name, *uvd_sock;
	char pidpath[PATH_MAX];
	int pidfd;
	struct iopart_suite *suite;
};

static void iopartd_accept(void *ctx, int fd)
{
	struct iopartd_export *x = ctx;
	int ret = iopart_dev_serve(&x->dev, x->base, fd);

	if (ret == -EBUSY)
		pr_warn("%s: refusing a second front end while one is connected", x->dev.e.socket);
	else if (ret < 0)
		pr_err("%s: cannot serve: %s", x->dev.e.socket, strerror(-ret));
	else
		pr_info("%s: front end connected", x->dev.e.socket);
}

struct iopartd_cli {
	struct iopartd *d;
	struct iopart_export *ex;
};

static int iopartd_opt(void *ctx, int c, const char *arg)
{
	struct iopartd_cli *p = ctx;
	struct iopartd *d = p->d;
	char err[256];

	switch (c) {
	case 'e':
		if (d->n == IOPARTD_MAX_EXPORTS) {
			pr_err("more than %d exports", IOPARTD_MAX_EXPORTS);
			return 2;
		}
		if (iopart_export_parse(arg, &p->ex[d->n], err, sizeof(err))) {
			pr_err("--export %s: %s", arg, err);
			return 2;
		}
		d->n++;
		return -1;
	case 'n':
		if (!iopart_suite_name_ok(arg)) {
			pr_err("--name: '%s' is not [a-z0-9][a-z0-9_-] of at most %d characters",
			       arg, IOPART_SUITE_NAME_MAX);
			return 2;
		}
		d->name = arg;
		return -1;
	default: /* 'u' */
		if (!*arg) {
			pr_err("--ultravisord: empty path");
			return 2;
		}
		d->uvd_sock = arg;
		return -1;
	}
}

static int iopartd_parse(struct iopartd *d, int argc, char **argv, struct iopart_export *ex)
{
	static const struct option opts[] = {
		{"export", required_argument, NULL, 'e'},
		{"name", required_argument, NULL, 'n'},
		{"ultravisord", required_argument, NULL, 'u'},
		{0},
	};
	struct iopartd_cli p = {d, ex};
	const struct uv_daemon_cli cli = {"iopartd", UV_VERSION, usage_text, opts, iopartd_opt, &p};
	int ret;

	ret = uv_daemon_parse(&cli, argc, argv);
	if (ret >= 0)
		return ret;
	if (d->uvd_sock && !d->name) {
		pr_err("--ultravisord needs --name (see iopartd --help)");
		return 2;
	}
	if (!d->n && !d->name) {
		pr_err("nothing to serve: give at least one --export, or --name to serve "
		       "ultravisord's channels (see iopartd --help)");
		return 2;
	}
	for (unsigned i = 0; i < d->n; i++)
		for (unsigned j = 0; j < i; j++)
			if (!strcmp(ex[i].socket, ex[j].socket)) {
				pr_err("socket %s given to two exports", ex[i].socket);
				return 2;
			}
	return -1;
}

/* Devices first (bad images are usage errors), then sockets. */
static int iopartd_open(struct iopartd *d, const struct iopart_export *ex)
{
	char err[256];

	for (unsigned i = 0; i < d->n; i++) {
		struct iopartd_export *x = &d->ex[i];

		x->base = d->base;
		if (iopart_dev_open(&x->dev, &ex[i], d->base, err, sizeof(err)) < 0) {
			pr_err("%s: %s", iopart_kind_name(ex[i].kind), err);
			return 2;
		}
	}
	for (unsigned i = 0; i < d->n; i++) {
		struct iopartd_export *x = &d->ex[i];

		x->listener =
			vu_listener_new(d->base, ex[i].socket, iopartd_accept, x, err, sizeof(err));
		if (!x->listener) {
			pr_err("%s: %s", ex[i].socket, err);
			return 1;
		}
		pr_info("serving %s on %s", iopart_kind_name(ex[i].kind), ex[i].socket);
	}
	return 0;
}

/*
 * Suite mode, before any device or socket: where ultravisord is, and the pid
 * file, so that a second iopartd of the name stops before touching anything.
 * 0 or the exit status.
 */
static int iopartd_suite_prepare(struct iopartd *d, char *sock, size_t socklen)
{
	struct uv_paths paths;
	char err[512], file[64];

	if (uv_paths_init(&paths, err, sizeof(err))) {
		pr_err("%s", err);
		return 2;
	}
	if (d->uvd_sock)
		snprintf(sock, socklen, "%s", d->uvd_sock);
	else
		uv_path_join(sock, socklen, paths.runtime_dir, "ultravisord.sock");
	if (!*sock || strlen(sock) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		pr_err("ultravisord's socket path %s is too long",
		       d->uvd_sock ? d->uvd_sock : paths.runtime_dir);
		return 2;
	}
	snprintf(file, sizeof(file), "iopartd-%s.pid", d->name);
	if (uv_path_join(d->pidpath, sizeof(d->pidpath), paths.runtime_dir, file)) {
		pr_err("%s/%s: path too long", paths.runtime_dir, file);
		return 2;
	}
	if (uv_dir_ensure(paths.runtime_dir, 0750, err, sizeof(err))) {
		pr_err("%s", err);
		return 1;
	}
	d->pidfd = uv_pidfile_acquire(d->pidpath, err, sizeof(err));
	if (d->pidfd == -EEXIST) {
		pr_err("refusing to run a second iopartd %s: %s", d->name, err);
		return 1;
	}
	if (d->pidfd < 0) {
		pr_err("%s", err);
		return 1;
	}
	return 0;
}

static void iopartd_close(struct iopartd *d)
{
	/* The channels first: their outstanding I/O finishes on the loop's devices. */
	iopart_suite_free(d->suite);
	for (unsigned i = 0; i < d->n; i++) {
		struct iopartd_export *x = &d->ex[i];

		if (x->listener) {
			vu_listener_free(x->listener);
			unlink(x->dev.e.socket);
		}
		if (x->dev.priv)
			iopart_dev_close(&x->dev);
	}
	uv_stop_fini(&d->stop);
	if (d->base)
		event_base_free(d->base);
	uv_pidfile_release(d->pidfd, d->pidpath);
}

int main(int argc, char **argv)
{
	static struct iopart_export ex[IOPARTD_MAX_EXPORTS];
	static struct iopartd d = {.pidfd = -1};
	char sock[PATH_MAX], err[512];
	int ret;

	log_init("iopartd", UV_LOG_INFO);
	ret = iopartd_parse(&d, argc, argv, ex);
	if (ret >= 0)
		return ret;
	if (d.name) {
		ret = iopartd_suite_prepare(&d, sock, sizeof(sock));
		if (ret)
			goto out;
	}
	ret = 1;
	d.base = event_base_new();
	if (!d.base) {
		pr_err("cannot create the event loop");
		goto out;
	}
	if (uv_stop_init(&d.stop, d.base, NULL, NULL)) {
		pr_err("cannot watch signals");
		goto out;
	}
	ret = iopartd_open(&d, ex);
	if (ret)
		goto out;
	iopart_sched_batch();
	if (d.name && iopart_suite_start(&d.suite, d.base, d.name, sock, err, sizeof(err))) {
		pr_err("%s", err);
		ret = 1;
		goto out;
	}
	event_base_dispatch(d.base);
	if (d.name)
		uv_notify("STOPPING=1");
	pr_info("stopped");
out:
	iopartd_close(&d);
	return ret;
}
