/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COMMANDD_FAKES_H
#define COMMANDD_FAKES_H

/*
 * The test program as commandd's children (included by commandd_rig.h):
 *
 *   PROG run --partition NAME --ultravisord SOCK --memory-fd FD ...
 *       a fake uvmm: attaches to ultravisord as the real one does, writes
 *       what it got (argv, its fds, session, CPU affinity) to
 *       partitions/NAME/fake-PID.json, logs each channel_moved and
 *       channel_standby pushed to it (keeping their front ends), and waits.
 *       When a channel's back end closes and it holds a standby, it switches
 *       to that as the real one does: channel_promoted to ultravisord, logged
 *       as "promoted DEVICE EPOCH". SIGPWR or SIGUSR2: exit 0 (the guest powered off); SIGUSR1:
 *       exit 3. partitions/NAME/fake-mode "ignore-pwr": SIGPWR is ignored;
 *       "bad-kernel": as uvmm refusing its --kernel, one error line on
 *       stderr and exit 2 before attaching.
 *   PROG --name X
 *       a fake iopartd: pid file iopartd-X.pid, hello to ultravisord, every
 *       adopt_channel answered ok and logged to fake-iopartd-X.log with a
 *       CLOCK_MONOTONIC time stamp. Both reconnect when ultravisord restarts,
 *       as the real ones do.
 *
 * Both leave with _exit: nothing of the sanitizers' exit work applies.
 */
#include <poll.h>
#include <sched.h>

static volatile sig_atomic_t fake_sig;

static inline void fake_on_signal(int sig)
{
	fake_sig = sig;
}

/* The test is over (its directory removed): a fake outliving it leaves. */
static inline void fake_orphan_check(void)
{
	if (access(getenv("UV_RUNTIME_DIR"), F_OK))
		_exit(0);
}

static inline void fake_append(const char *file, const char *line)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", getenv("UV_RUNTIME_DIR"), file);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd >= 0) {
		if (write(fd, line, strlen(line)) < 0)
			_exit(90);
		close(fd);
	}
}

static inline json_object *fake_fds(void)
{
	json_object *o = json_object_new_object();
	char path[300], target[256];
	struct dirent *e;
	DIR *d = opendir("/proc/self/fd");

	while (d && (e = readdir(d))) {
		ssize_t n;

		if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = 0;
		json_object_object_add(o, e->d_name, json_object_new_string(target));
	}
	if (d)
		closedir(d);
	return o;
}

static inline void fake_uvmm_record(int argc, char **argv, const char *name, int memfd)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array();
	char path[256], err[256];
	cpu_set_t cpus;
	struct stat sb;
	const char *s;

	for (int i = 0; i < argc; i++)
		json_object_array_add(a, json_object_new_string(argv[i]));
	json_object_object_add(o, "argv", a);
	json_object_object_add(o, "pid", json_object_new_int(getpid()));
	json_object_object_add(o, "sid", json_object_new_int(getsid(0)));
	json_object_object_add(o, "fds", fake_fds());
	json_object_object_add(o, "memfd_size",
			       json_object_new_int64(fstat(memfd, &sb) ? -1 : (int64_t)sb.st_size));
	a = json_object_new_array();
	if (!sched_getaffinity(0, sizeof(cpus), &cpus))
		for (int c = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &cpus))
				json_object_array_add(a, json_object_new_int(c));
	json_object_object_add(o, "affinity", a);
	snprintf(path, sizeof(path), "%s/partitions/%s/fake-%d.json", getenv("UV_RUNTIME_DIR"),
		 name, (int)getpid());
	s = json_object_to_json_string(o);
	if (uv_file_write_atomic(path, s, strlen(s), 0644, err, sizeof(err)))
		_exit(91);
	json_object_put(o);
}

/* Attaches as the real uvmm does; the connection, or -1 (the test then sees no moves). */
static inline int fake_uvmm_attach(const char *sock, const char *name)
{
	json_object *req, *rep;
	char err[256];
	int fd = ctl_connect(sock, err, sizeof(err));

	if (fd < 0)
		return -1;
	req = ctl_request("hello");
	json_object_object_add(req, "role", json_object_new_string("uvmm"));
	json_object_object_add(req, "name", json_object_new_string(name));
	if (ctl_call(fd, req, &rep, NULL, NULL, 5000, err, sizeof(err)) == 0)
		json_object_put(rep);
	json_object_put(req);
	req = ctl_request("partition_attach");
	json_object_object_add(req, "name", json_object_new_string(name));
	if (ctl_call(fd, req, &rep, NULL, NULL, 5000, err, sizeof(err)) == 0)
		json_object_put(rep);
	json_object_put(req);
	return fd;
}

#define FAKE_DEVS 8

/* The fake uvmm's channels: front ends by device, and standbys with their epochs. */
struct fake_chans {
	int active[FAKE_DEVS], standby[FAKE_DEVS], epoch[FAKE_DEVS];
};

static inline void fake_uvmm_log(const char *name, const char *line)
{
	char file[128];

	snprintf(file, sizeof(file), "partitions/%s/moves-%d.log", name, (int)getpid());
	fake_append(file, line);
}

/* Keeps fd as *slot (closing what it held). */
static inline void fake_keep(int *slot, int fd)
{
	if (*slot >= 0)
		close(*slot);
	*slot = fd;
}

/* A message from ultravisord; -1 when it went away (a restart: attach again). */
static inline int fake_uvmm_moved(int fd, const char *name, struct fake_chans *fc)
{
	int fds[CTL_MAX_FDS], nfds = 0, dev;
	char err[256], line[256];
	const char *op;
	json_object *m;

	if (ctl_recv(fd, &m, fds, &nfds, err, sizeof(err)))
		return -1;
	op = json_object_get_string(json_object_object_get(m, "op"));
	dev = json_object_get_int(json_object_object_get(m, "device"));
	if (!ctl_is_reply(m) && (!strcmp(op, "channel_moved") || !strcmp(op, "channel_standby"))) {
		bool moved = !strcmp(op, "channel_moved");

		snprintf(line, sizeof(line), "%s %d %s %d fds=%d\n", moved ? "moved" : "standby",
			 dev,
			 json_object_get_string(
				 json_object_object_get(m, moved ? "iopartd" : "standby")),
			 json_object_get_int(json_object_object_get(m, "epoch")), nfds);
		fake_uvmm_log(name, line);
		if (nfds == 1 && dev >= 0 && dev < FAKE_DEVS) {
			fake_keep(moved ? &fc->active[dev] : &fc->standby[dev], fds[0]);
			if (moved)
				fake_keep(&fc->standby[dev], -1); /* a move drops the standby */
			else
				fc->epoch[dev] =
					json_object_get_int(json_object_object_get(m, "epoch"));
			nfds = 0;
		}
	}
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	json_object_put(m);
	return 0;
}

/* Device dev's back end closed: its standby, if any, takes over. */
static inline void fake_uvmm_lost(int ctl, const char *name, struct fake_chans *fc, int dev)
{
	char line[128];
	json_object *m;

	fake_keep(&fc->active[dev], -1);
	if (fc->standby[dev] < 0)
		return;
	fc->active[dev] = fc->standby[dev];
	fc->standby[dev] = -1;
	snprintf(line, sizeof(line), "promoted %d %d\n", dev, fc->epoch[dev]);
	fake_uvmm_log(name, line);
	m = ctl_request("channel_promoted");
	json_object_object_add(m, "partition", json_object_new_string(name));
	json_object_object_add(m, "device", json_object_new_int(dev));
	json_object_object_add(m, "epoch", json_object_new_int(fc->epoch[dev]));
	if (ctl >= 0)
		ctl_send(ctl, m, NULL, 0);
	json_object_put(m);
}

/* The front ends commandd gave it: --disk vhost-user-fd=N,channel=D. */
static inline void fake_uvmm_chans(int argc, char **argv, struct fake_chans *fc)
{
	for (int i = 0; i < FAKE_DEVS; i++)
		fc->active[i] = fc->standby[i] = -1;
	for (int i = 2; i < argc; i++) {
		const char *f = strstr(argv[i], "vhost-user-fd="), *c = strstr(argv[i], "channel=");
		int dev = c ? atoi(c + 8) : -1;

		if (f && dev >= 0 && dev < FAKE_DEVS)
			fc->active[dev] = atoi(f + 14);
	}
}

/* Polls the control connection and every channel; false when the control one ended. */
static inline bool fake_uvmm_poll(int ctl, const char *name, struct fake_chans *fc)
{
	struct pollfd pfd[1 + 2 * FAKE_DEVS];
	int n = 1;

	pfd[0] = (struct pollfd){.fd = ctl, .events = POLLIN};
	for (int i = 0; i < FAKE_DEVS; i++) {
		pfd[n++] = (struct pollfd){.fd = fc->active[i], .events = POLLIN};
		pfd[n++] = (struct pollfd){.fd = fc->standby[i], .events = POLLIN};
	}
	if (poll(pfd, n, 100) <= 0)
		return true;
	/* Nothing is ever sent on a channel here: readable is its end. */
	for (int i = 0; i < FAKE_DEVS; i++) {
		if (pfd[2 + 2 * i].revents)
			fake_keep(&fc->standby[i], -1);
		if (pfd[1 + 2 * i].revents)
			fake_uvmm_lost(ctl, name, fc, i);
	}
	return !pfd[0].revents || !fake_uvmm_moved(ctl, name, fc);
}

/* The value of option opt in argv, or "". */
static inline const char *fake_arg(int argc, char **argv, const char *opt)
{
	for (int i = 2; i + 1 < argc; i++)
		if (!strcmp(argv[i], opt))
			return argv[i + 1];
	return "";
}

static inline int fake_uvmm(int argc, char **argv)
{
	const char *name = NULL, *sock = NULL;
	char mode[256], marker[64], *buf = NULL;
	struct fake_chans fc;
	int memfd = -1, ctl;
	bool ignore_pwr;
	size_t len;

	for (int i = 2; i + 1 < argc; i++) {
		if (!strcmp(argv[i], "--partition"))
			name = argv[i + 1];
		else if (!strcmp(argv[i], "--ultravisord"))
			sock = argv[i + 1];
		else if (!strcmp(argv[i], "--memory-fd"))
			memfd = atoi(argv[i + 1]);
	}
	if (!name || !sock)
		_exit(2);
	signal(SIGPWR, fake_on_signal);
	signal(SIGUSR1, fake_on_signal);
	signal(SIGUSR2, fake_on_signal);
	signal(SIGTERM, fake_on_signal);
	snprintf(marker, sizeof(marker), "fake-uvmm-%d", (int)getpid());
	fake_append(marker, "");
	snprintf(mode, sizeof(mode), "%s/partitions/%s/fake-mode", getenv("UV_RUNTIME_DIR"), name);
	ignore_pwr = !uv_file_read(mode, 64, &buf, &len, mode, sizeof(mode)) &&
		     strstr(buf, "ignore-pwr");
	if (buf && strstr(buf, "bad-kernel")) {
		fprintf(stderr, "uvmm: info: starting\nuvmm: error: kernel '%s': not a bzImage\n",
			fake_arg(argc, argv, "--kernel"));
		_exit(2);
	}
	free(buf);
	fake_uvmm_chans(argc, argv, &fc);
	/* The record says it is attached: a move from now on is pushed to it. */
	ctl = fake_uvmm_attach(sock, name);
	fake_uvmm_record(argc, argv, name, memfd);
	for (;;) {
		if (fake_sig == SIGUSR1)
			_exit(3);
		if (fake_sig == SIGUSR2 || fake_sig == SIGTERM ||
		    (fake_sig == SIGPWR && !ignore_pwr))
			_exit(0);
		fake_sig = 0;
		if (ctl < 0) {
			/* As the real one: ultravisord restarted, attach again. */
			fake_orphan_check();
			rig_sleep_ms(50);
			ctl = fake_uvmm_attach(sock, name);
		} else if (!fake_uvmm_poll(ctl, name, &fc)) {
			close(ctl);
			ctl = -1;
		}
	}
}

static inline void fake_iopartd_adopt(int fd, json_object *m, int *fds, int nfds, const char *name)
{
	json_object *r = ctl_reply_ok(m), *spec = json_object_object_get(m, "spec"), *x;
	char line[4400], file[64];
	const char *exp = "-";

	if (json_object_object_get_ex(spec, "export", &x))
		exp = json_object_get_string(x);
	snprintf(line, sizeof(line),
		 "adopt channel=%d partition=%s device=%d move=%d standby=%d fds=%d t=%lld %s\n",
		 json_object_get_int(json_object_object_get(m, "channel")),
		 json_object_get_string(json_object_object_get(m, "partition")),
		 json_object_get_int(json_object_object_get(m, "device")),
		 json_object_get_boolean(json_object_object_get(m, "move")),
		 json_object_get_boolean(json_object_object_get(m, "as_standby")), nfds,
		 (long long)rig_now_us(), exp);
	/* The back end stays open, as a real one would keep it; the in-flight area need not. */
	for (int i = 1; i < nfds; i++)
		close(fds[i]);
	snprintf(file, sizeof(file), "fake-iopartd-%s.log", name);
	fake_append(file, line);
	/* As the real one: a tap cannot be held by two processes. */
	if (json_object_get_boolean(json_object_object_get(m, "as_standby")) &&
	    !strncmp(exp, "vhost-user-net", 14)) {
		json_object_put(r);
		r = ctl_reply_err(m, "vhost-user-net: only one process can hold it: no standby");
		close(fds[0]);
	}
	ctl_send(fd, r, NULL, 0); /* a failure shows as the connection's end */
	json_object_put(r);
}

/* Connects and says hello as iopartd name; the connection, or -1. */
static inline int fake_iopartd_hello(const char *name)
{
	char path[256], err[256];
	json_object *req, *rep;
	int fd;

	snprintf(path, sizeof(path), "%s/ultravisord.sock", getenv("UV_RUNTIME_DIR"));
	fd = ctl_connect(path, err, sizeof(err));
	if (fd < 0)
		return -1;
	req = ctl_request("hello");
	json_object_object_add(req, "role", json_object_new_string("iopartd"));
	json_object_object_add(req, "name", json_object_new_string(name));
	if (ctl_call(fd, req, &rep, NULL, NULL, 5000, err, sizeof(err))) {
		close(fd);
		fd = -1;
	} else {
		json_object_put(rep);
	}
	json_object_put(req);
	return fd;
}

static inline int fake_iopartd(const char *name)
{
	char path[256], err[256];
	int fd = -1, fds[CTL_MAX_FDS], nfds;
	json_object *m;

	snprintf(path, sizeof(path), "%s/iopartd-%s.pid", getenv("UV_RUNTIME_DIR"), name);
	if (uv_pidfile_acquire(path, err, sizeof(err)) < 0)
		_exit(1);
	for (;;) {
		/* As the real one: ultravisord away, the channels stay; hello again. */
		while (fd < 0) {
			fd = fake_iopartd_hello(name);
			if (fd < 0) {
				fake_orphan_check();
				rig_sleep_ms(20);
			}
		}
		if (ctl_recv(fd, &m, fds, &nfds, err, sizeof(err))) {
			close(fd);
			fd = -1;
			continue;
		}
		if (!strcmp(json_object_get_string(json_object_object_get(m, "op")),
			    "adopt_channel"))
			fake_iopartd_adopt(fd, m, fds, nfds, name);
		else
			for (int i = 0; i < nfds; i++)
				close(fds[i]);
		json_object_put(m);
	}
}

/* Called first in main: the program is commandd's child rather than the test. */
static inline void rig_dispatch(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "run"))
		_exit(fake_uvmm(argc, argv));
	if (argc == 3 && !strcmp(argv[1], "--name"))
		_exit(fake_iopartd(argv[2]));
}

#endif
