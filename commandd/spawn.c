// SPDX-License-Identifier: GPL-2.0
/*
 * Processes commandd starts: uvmm and, with --supervise-iopartd, iopartd.
 *
 * A uvmm runs under a small monitor, a fork of commandd in a session of its
 * own (setsid) that does nothing but wait for the uvmm and write its exit
 * status to $UV_RUNTIME_DIR/partitions/NAME/exit before exiting itself. The
 * exit status is the whole point: 0 means the guest powered off, anything
 * else a failure, and only a parent can read it. commandd may be restarted
 * under a running guest; the monitor is not, so the status is never lost,
 * and commandd watches the monitor's exit (a pidfd), which comes after the
 * file is written. The uvmm waits on a pipe before exec until commandd has
 * attached its pid to the partition in ultravisord.
 *
 * Everything after fork() is async-signal-safe: commandd has threads.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commandd.h"
#include "daemon.h"
#include "log.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

int cmd_pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

int cmd_pidfd_signal(int pidfd, int sig)
{
	return syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) ? -errno : 0;
}

int cmd_find_program(const char *subdir, const char *name, char *out, size_t len)
{
	char self[PATH_MAX], *slash, *path, *save = NULL, *dir;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		self[n] = 0;
		slash = strrchr(self, '/');
		if (slash) {
			*slash = 0;
			/* A build tree: BUILD/commandd/commandd and BUILD/SUBDIR/NAME. */
			snprintf(out, len, "%s/../%s/%s", self, subdir, name);
			if (!access(out, X_OK))
				return 0;
		}
	}
	path = strdup(getenv("PATH") ?: "/usr/local/bin:/usr/bin:/bin");
	for (dir = strtok_r(path, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		snprintf(out, len, "%s/%s", dir, name);
		if (dir[0] == '/' && !access(out, X_OK)) {
			free(path);
			return 0;
		}
	}
	free(path);
	snprintf(out, len, "%s", name);
	return -ENOENT;
}

/* What a child does before exec: defaults for every signal, none blocked. */
static void child_signals(void)
{
	struct sigaction sa = {.sa_handler = SIG_DFL};
	sigset_t none;

	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			sigaction(s, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Every fd from 3 up closes on exec, but keep[0..n). */
static void child_fds(const int *keep, unsigned n)
{
	if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC))
		for (int fd = 3; fd < 65536; fd++)
			fcntl(fd, F_SETFD, FD_CLOEXEC);
	for (unsigned i = 0; i < n; i++)
		fcntl(keep[i], F_SETFD, 0);
}

/* stdin from /dev/null, stdout and stderr appended to log. */
static void child_stdio(const char *log)
{
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int out = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);

	if (null >= 0)
		dup2(null, 0);
	if (out >= 0) {
		dup2(out, 1);
		dup2(out, 2);
	}
}

static void child_say(const char *a, const char *b)
{
	if (write(2, a, strlen(a)) < 0 || write(2, b, strlen(b)) < 0 || write(2, "\n", 1) < 0)
		return;
}

/* Decimal of v at the end of buf (async-signal-safe); returns its start. */
static char *fmt_int(char *end, long v)
{
	bool neg = v < 0;
	unsigned long u = neg ? -(unsigned long)v : (unsigned long)v;

	*--end = 0;
	do
		*--end = (char)('0' + u % 10);
	while (u /= 10);
	if (neg)
		*--end = '-';
	return end;
}

/* Appends the decimal of v at buf; returns its length. */
static size_t put_int(char *buf, long v)
{
	char tmp[24], *s = fmt_int(tmp + sizeof(tmp), v);
	size_t n = strlen(s);

	memcpy(buf, s, n);
	return n;
}

struct spawn_plan {
	char **argv;
	const char *log, *exit_path, *exit_tmp;
	char mon_name[16];
	int keep[CMD_DEV_MAX + 1];
	unsigned nkeep;
	const cpu_set_t *cpus; /* NULL: no affinity */
	int go_rd, pid_wr;
};

static __attribute__((noreturn)) void uvmm_child(const struct spawn_plan *sp)
{
	char go = 0;

	while (read(sp->go_rd, &go, 1) < 0 && errno == EINTR)
		;
	if (go != 'g')
		_exit(125); /* commandd went away before attaching it */
	child_stdio(sp->log);
	if (sp->cpus && sched_setaffinity(0, sizeof(*sp->cpus), sp->cpus)) {
		child_say("commandd: sched_setaffinity failed: ", strerror(errno));
		_exit(126);
	}
	child_fds(sp->keep, sp->nkeep);
	child_signals();
	execv(sp->argv[0], sp->argv);
	child_say("commandd: cannot run uvmm: ", sp->argv[0]);
	_exit(127);
}

static __attribute__((noreturn)) void monitor(const struct spawn_plan *sp)
{
	struct sigaction ign = {.sa_handler = SIG_IGN};
	char line[64];
	int st = 0, fd;
	size_t n;
	pid_t u;

	setsid();
	prctl(PR_SET_NAME, sp->mon_name);
	/* commandd's handlers (libevent's SIGCHLD, SIGTERM...) write to fds it no longer has. */
	child_signals();
	sigaction(SIGHUP, &ign, NULL);
	sigaction(SIGINT, &ign, NULL);
	sigaction(SIGTERM, &ign, NULL);
	sigaction(SIGPIPE, &ign, NULL);
	u = fork();
	if (u == 0)
		uvmm_child(sp);
	if (u < 0 || write(sp->pid_wr, &u, sizeof(u)) != sizeof(u))
		_exit(124);
	/* Nothing of commandd's stays open here: sockets, pid file, pipes. */
	if (syscall(SYS_close_range, 3U, ~0U, 0U))
		for (fd = 3; fd < 65536; fd++)
			close(fd);
	while (waitpid(u, &st, 0) < 0 && errno == EINTR)
		;
	/* "PID WSTATUS\n", written whole then renamed: never half a record. */
	n = put_int(line, u);
	line[n++] = ' ';
	n += put_int(line + n, st);
	line[n++] = '\n';
	fd = open(sp->exit_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd >= 0) {
		if (write(fd, line, n) == (ssize_t)n)
			rename(sp->exit_tmp, sp->exit_path);
		close(fd);
	}
	_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}

static int spawn_paths(struct cmd *c, const char *name, char *dir, char *log, char *ex, char *tmp,
		       char *err, size_t errlen)
{
	char parts[PATH_MAX];

	if (uv_path_join(parts, PATH_MAX, c->runtime_dir, "partitions") ||
	    uv_path_join(dir, PATH_MAX, parts, name) ||
	    uv_path_join(log, PATH_MAX, dir, "uvmm.log") ||
	    uv_path_join(ex, PATH_MAX, dir, "exit") ||
	    uv_path_join(tmp, PATH_MAX, dir, "exit.tmp")) {
		snprintf(err, errlen, "%s: path too long", c->runtime_dir);
		return -ENAMETOOLONG;
	}
	return uv_dir_ensure(dir, 0750, err, errlen);
}

int cmd_spawn_uvmm(struct cmd *c, struct cmd_part *p, const struct cmd_uvmm_args *a,
		   struct cmd_spawn *out, char *err, size_t errlen)
{
	char dir[PATH_MAX], log[PATH_MAX], ex[PATH_MAX], tmp[PATH_MAX], buf[16384];
	char *argv[CMD_ARGV_MAX];
	struct spawn_plan sp = {.argv = argv, .log = log, .exit_path = ex, .exit_tmp = tmp};
	int go[2], pp[2], ret;
	pid_t m, u = 0;

	if ((ret = spawn_paths(c, p->name, dir, log, ex, tmp, err, errlen)))
		return ret;
	if (cmd_uvmm_argv(a, argv, buf, sizeof(buf))) {
		snprintf(err, errlen, "uvmm's command line is too long");
		return -ENOSPC;
	}
	unlink(ex);
	/* The kernel keeps 15 bytes of a name: enough to recognise one of ours. */
	snprintf(sp.mon_name, sizeof(sp.mon_name), "uvmon:%.9s", p->name);
	sp.keep[sp.nkeep++] = a->memfd;
	for (unsigned i = 0; i < a->ndisks + a->nnets; i++)
		sp.keep[sp.nkeep++] = a->fds[i];
	sp.cpus = p->dedicated && CPU_COUNT(&p->host_cpus) ? &p->host_cpus : NULL;
	if (pipe2(go, O_CLOEXEC))
		goto fail_errno;
	if (pipe2(pp, O_CLOEXEC)) {
		close(go[0]);
		close(go[1]);
		goto fail_errno;
	}
	sp.go_rd = go[0];
	sp.pid_wr = pp[1];
	m = fork();
	if (m == 0)
		monitor(&sp);
	close(go[0]);
	close(pp[1]);
	if (m > 0)
		while (read(pp[0], &u, sizeof(u)) < 0 && errno == EINTR)
			;
	close(pp[0]);
	if (m < 0 || u <= 0) {
		close(go[1]);
		snprintf(err, errlen, "cannot start uvmm: %s",
			 m < 0 ? strerror(errno) : "fork failed");
		return -ECHILD;
	}
	out->pid = u;
	out->mon_pid = m;
	out->go_fd = go[1];
	out->pidfd = cmd_pidfd_open(u);
	out->mon_pidfd = cmd_pidfd_open(m);
	pr_info("partition %s: uvmm pid %d (monitor %d): %s ...", p->name, (int)u, (int)m, argv[0]);
	return 0;
fail_errno:
	ret = -errno;
	snprintf(err, errlen, "cannot start uvmm: %s", strerror(errno));
	return ret;
}

int cmd_exit_read(struct cmd *c, const char *name, pid_t pid, int *wstatus)
{
	char path[PATH_MAX], rel[PATH_MAX], err[256], *buf;
	long fpid, st;
	size_t len;

	snprintf(rel, sizeof(rel), "partitions/%s/exit", name);
	if (uv_path_join(path, sizeof(path), c->runtime_dir, rel) ||
	    uv_file_read(path, 64, &buf, &len, err, sizeof(err)))
		return -ENOENT;
	if (sscanf(buf, "%ld %ld", &fpid, &st) != 2 || fpid != pid) {
		free(buf);
		return -ENOENT;
	}
	free(buf);
	*wstatus = (int)st;
	return 0;
}

pid_t cmd_monitor_of(pid_t pid)
{
	char path[64], buf[512], *r;
	long ppid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	r = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
	fclose(f);
	if (!r || sscanf(r + 1, " %*c %ld", &ppid) != 1 || ppid <= 1)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/comm", ppid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	r = fgets(buf, sizeof(buf), f);
	fclose(f);
	return r && !strncmp(buf, "uvmon:", 6) ? (pid_t)ppid : 0;
}

int cmd_spawn_iopartd(struct cmd *c, const char *name, pid_t *pid, char *err, size_t errlen)
{
	char dir[PATH_MAX], log[PATH_MAX], file[80];
	char *argv[] = {c->opts.iopartd_bin, "--name", (char *)name, NULL};
	pid_t k;
	int ret;

	snprintf(file, sizeof(file), "iopartd-%s.log", name);
	if (uv_path_join(dir, sizeof(dir), c->runtime_dir, "log") ||
	    uv_path_join(log, sizeof(log), dir, file)) {
		snprintf(err, errlen, "%s: path too long", c->runtime_dir);
		return -ENAMETOOLONG;
	}
	if ((ret = uv_dir_ensure(dir, 0750, err, errlen)))
		return ret;
	k = fork();
	if (k == 0) {
		/* A session of its own: it outlives commandd, as under systemd. */
		setsid();
		child_stdio(log);
		child_fds(NULL, 0);
		child_signals();
		execv(argv[0], argv);
		child_say("commandd: cannot run iopartd: ", argv[0]);
		_exit(127);
	}
	if (k < 0) {
		snprintf(err, errlen, "cannot start iopartd %s: %s", name, strerror(errno));
		return -errno;
	}
	*pid = k;
	return 0;
}
