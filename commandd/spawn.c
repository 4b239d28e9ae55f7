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
 * The event loop pays for one fork (the monitor) and nothing else: the
 * uvmm's pid comes back on a pipe that the loop watches (cmd_spawn_pid),
 * and the monitor starts the uvmm as posix_spawn does (clone with CLONE_VM
 * and CLONE_VFORK on a stack of its own), so commandd's memory is not
 * copied a second time. The uvmm child writes its own pid before it waits
 * for its go: the monitor stays suspended until the exec. iopartd needs no
 * monitor and is posix_spawn'ed.
 *
 * Under systemd the monitor first waits on a third pipe, its gate, until
 * scope.c's thread has put it into uvmm-NAME.scope (or could not): the
 * uvmm it then starts is born in the scope. The loop only queues that work.
 *
 * Everything after fork() is async-signal-safe: commandd has threads.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commandd.h"
#include "daemon.h"
#include "log.h"
#include "scope.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define CHILD_STACK (256 * 1024) /* the uvmm child's, until it execs: sanitizers' frames too */

extern char **environ;

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
	int gate_rd; /* -1: no scope to wait for */
};

/* The uvmm, on the monitor's memory until exec (CLONE_VM): touches nothing of it. */
static int uvmm_child(void *arg)
{
	const struct spawn_plan *sp = arg;
	pid_t self = (pid_t)syscall(SYS_getpid);
	char go = 0;

	/* Ours to tell: the monitor is suspended until we exec or die. */
	if (write(sp->pid_wr, &self, sizeof(self)) != sizeof(self))
		_exit(124);
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

/*
 * Set when the monitor gets SIGPWR. commandd presses the power button by
 * signalling the uvmm alone; only a stop of the whole scope (systemctl stop,
 * the host's power-off) signals the monitor too. The flag is the monitor
 * process's own: one per process, as a signal is.
 */
static volatile sig_atomic_t mon_scope_stop;

static void monitor_on_sigpwr(int sig)
{
	(void)sig;
	mon_scope_stop = 1;
}

/*
 * "PID WSTATUS[ scope-stop]\n", written whole then renamed: never half a
 * record. The third word tells commandd the host stopped the guest.
 */
static void monitor_record(const struct spawn_plan *sp, pid_t u, int st)
{
	static const char tag[] = " " CMD_EXIT_SCOPE_STOP;
	char line[64];
	size_t n;
	int fd;

	n = put_int(line, u);
	line[n++] = ' ';
	n += put_int(line + n, st);
	if (mon_scope_stop) {
		memcpy(line + n, tag, sizeof(tag) - 1);
		n += sizeof(tag) - 1;
	}
	line[n++] = '\n';
	fd = open(sp->exit_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		return;
	if (write(fd, line, n) == (ssize_t)n)
		rename(sp->exit_tmp, sp->exit_path);
	close(fd);
}

/* Closes every fd from 3 up but keep[0..n) (async-signal-safe; sorts keep). */
static void close_all_but(int *keep, unsigned n)
{
	unsigned lo = 3;

	for (unsigned i = 1; i < n; i++)
		for (unsigned j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
			int t = keep[j];

			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	for (unsigned i = 0; i <= n; i++) {
		unsigned hi = i < n ? (unsigned)keep[i] : ~0U;

		if (i < n && keep[i] < 3)
			continue;
		if (hi > lo && syscall(SYS_close_range, lo, hi - 1, 0U))
			for (unsigned fd = lo; fd < hi && fd < 65536; fd++)
				close((int)fd);
		lo = hi + 1;
	}
}

/* Until scope.c's thread has made the scope (a byte) or given up (end of file). */
static void monitor_gate(int fd)
{
	char b;

	while (read(fd, &b, 1) < 0 && errno == EINTR)
		;
	close(fd);
}

static __attribute__((noreturn)) void monitor(const struct spawn_plan *sp)
{
	int keep[CMD_DEV_MAX + 4], nkeep;
	struct sigaction ign = {.sa_handler = SIG_IGN}, pwr = {.sa_handler = monitor_on_sigpwr};
	int st = 0, fd;
	char *stack;
	pid_t u;

	setsid();
	prctl(PR_SET_NAME, sp->mon_name);
	/* commandd's handlers (libevent's SIGCHLD, SIGTERM...) write to fds it no longer has. */
	child_signals();
	sigaction(SIGHUP, &ign, NULL);
	sigaction(SIGINT, &ign, NULL);
	sigaction(SIGTERM, &ign, NULL);
	sigaction(SIGPIPE, &ign, NULL);
	/*
	 * Its scope's stop signals every process in it: the uvmm's power
	 * button, and for us only a note that the host stopped the guest.
	 */
	sigaction(SIGPWR, &pwr, NULL);
	/* Nothing of commandd's stays open here (sockets, its pid file) but the uvmm's. */
	memcpy(keep, sp->keep, sp->nkeep * sizeof(keep[0]));
	nkeep = (int)sp->nkeep;
	keep[nkeep++] = sp->go_rd;
	keep[nkeep++] = sp->pid_wr;
	if (sp->gate_rd >= 0)
		keep[nkeep++] = sp->gate_rd;
	close_all_but(keep, (unsigned)nkeep);
	if (sp->gate_rd >= 0)
		monitor_gate(sp->gate_rd);
	stack = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED)
		_exit(124);
	/* Returns once the uvmm has exec'd (or died): it has said its pid itself. */
	u = clone(uvmm_child, stack + CHILD_STACK, CLONE_VM | CLONE_VFORK | SIGCHLD, (void *)sp);
	if (u < 0)
		_exit(124);
	munmap(stack, CHILD_STACK);
	if (syscall(SYS_close_range, 3U, ~0U, 0U))
		for (fd = 3; fd < 65536; fd++)
			close(fd);
	while (waitpid(u, &st, 0) < 0 && errno == EINTR)
		;
	monitor_record(sp, u, st);
	_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}

/*
 * partitions/NAME, made 0750 with group UV_GROUP as uv_dir_ensure does, but
 * with the group looked up once (c->gid): a lookup walks NSS (files, userdb
 * directories) for every new partition, on the loop.
 */
static int part_dir(struct cmd *c, const char *dir, char *err, size_t errlen)
{
	struct stat st;

	if (mkdir(dir, 0750) == 0) {
		if (chmod(dir, 0750) || (c->gid != (gid_t)-1 && chown(dir, (uid_t)-1, c->gid)))
			pr_debug("%s: chmod/chown: %s", dir, strerror(errno));
		return 0;
	}
	if (errno == ENOENT) /* partitions/ itself, the first time */
		return uv_dir_ensure(dir, 0750, err, errlen);
	if (errno != EEXIST || stat(dir, &st) || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: %s", dir,
			 errno == EEXIST ? "not a directory" : strerror(errno));
		return -ENOTDIR;
	}
	return 0;
}

void cmd_group_lookup(struct cmd *c)
{
	struct group gr, *res = NULL;
	char buf[4096];

	c->gid =
		getgrnam_r(UV_GROUP, &gr, buf, sizeof(buf), &res) || !res ? (gid_t)-1 : res->gr_gid;
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
	return part_dir(c, dir, err, errlen);
}

/*
 * Forks the monitor and returns: the uvmm's pid comes later on out->pid_fd
 * (cmd_spawn_pid), when the monitor has started it.
 */
int cmd_spawn_uvmm(struct cmd *c, struct cmd_part *p, const struct cmd_uvmm_args *a,
		   struct cmd_spawn *out, char *err, size_t errlen)
{
	/* buf: the paths of uvmm, its kernel and initrd (4 KiB each), a 2 KiB cmdline, sockets. */
	char dir[PATH_MAX], log[PATH_MAX], ex[PATH_MAX], tmp[PATH_MAX], buf[32768];
	struct stat lst;
	char *argv[CMD_ARGV_MAX];
	struct spawn_plan sp = {
		.argv = argv, .log = log, .exit_path = ex, .exit_tmp = tmp, .gate_rd = -1};
	int go[2], pp[2], gate[2] = {-1, -1}, ret;
	pid_t m;

	if ((ret = spawn_paths(c, p->name, dir, log, ex, tmp, err, errlen)))
		return ret;
	if (cmd_uvmm_argv(a, argv, buf, sizeof(buf))) {
		snprintf(err, errlen, "uvmm's command line is too long");
		return -ENOSPC;
	}
	unlink(ex);
	/* What this uvmm writes to its log comes after: its error, if it fails. */
	out->log_off = stat(log, &lst) ? 0 : (int64_t)lst.st_size;
	/* The kernel keeps 15 bytes of a name: enough to recognise one of ours. */
	snprintf(sp.mon_name, sizeof(sp.mon_name), "uvmon:%.9s", p->name);
	sp.keep[sp.nkeep++] = a->memfd;
	for (unsigned i = 0; i < a->ndisks + a->nnets; i++)
		sp.keep[sp.nkeep++] = a->fds[i];
	sp.cpus = p->dedicated && CPU_COUNT(&p->host_cpus) ? &p->host_cpus : NULL;
	if (pipe2(go, O_CLOEXEC))
		goto fail_errno;
	if (pipe2(pp, O_CLOEXEC | O_NONBLOCK)) {
		ret = -errno;
		close(go[0]);
		close(go[1]);
		goto fail;
	}
	/* No gate, no scope: the start goes on as without systemd. */
	if (c->scoper && pipe2(gate, O_CLOEXEC)) {
		pr_warn("partition %s: no scope: pipe: %s", p->name, strerror(errno));
		gate[0] = gate[1] = -1;
	}
	sp.go_rd = go[0];
	sp.pid_wr = pp[1];
	sp.gate_rd = gate[0];
	m = fork();
	if (m == 0)
		monitor(&sp);
	ret = -errno;
	close(go[0]);
	close(pp[1]);
	if (gate[0] >= 0)
		close(gate[0]);
	if (m < 0) {
		close(go[1]);
		close(pp[0]);
		if (gate[1] >= 0)
			close(gate[1]);
		snprintf(err, errlen, "cannot start uvmm's monitor: %s", strerror(-ret));
		return ret;
	}
	if (gate[1] >= 0)
		cmd_scoper_add(c->scoper, p->name, m, gate[1]);
	out->mon_pid = m;
	out->mon_pidfd = cmd_pidfd_open(m);
	out->go_fd = go[1];
	out->pid_fd = pp[0];
	pr_debug("partition %s: monitor %d: %s ...", p->name, (int)m, argv[0]);
	return 0;
fail_errno:
	ret = -errno;
fail:
	snprintf(err, errlen, "cannot start uvmm: %s", strerror(-ret));
	return ret;
}

int cmd_spawn_pid(int pid_fd, pid_t *pid)
{
	ssize_t n;

	*pid = 0;
	do
		n = read(pid_fd, pid, sizeof(*pid));
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return -EAGAIN;
	/* A pipe write of 4 bytes is atomic: all or nothing (EOF: the monitor failed). */
	return n == sizeof(*pid) && *pid > 0 ? 0 : -ECHILD;
}

int cmd_exit_read(struct cmd *c, const char *name, pid_t pid, int *wstatus, bool *scope_stop)
{
	char path[PATH_MAX], rel[PATH_MAX], err[256], word[16] = "", *buf;
	long fpid, st;
	size_t len;

	snprintf(rel, sizeof(rel), "partitions/%s/exit", name);
	if (uv_path_join(path, sizeof(path), c->runtime_dir, rel) ||
	    uv_file_read(path, 64, &buf, &len, err, sizeof(err)))
		return -ENOENT;
	/* Records of monitors before the third word have two. */
	if (sscanf(buf, "%ld %ld %15s", &fpid, &st, word) < 2 || fpid != pid) {
		free(buf);
		return -ENOENT;
	}
	free(buf);
	*wstatus = (int)st;
	*scope_stop = !strcmp(word, CMD_EXIT_SCOPE_STOP);
	return 0;
}

bool cmd_exit_cause_read(struct cmd *c, const char *name, int64_t from, char *buf, size_t len)
{
	char path[PATH_MAX], rel[PATH_MAX], text[4096];
	ssize_t n;
	int fd;

	if (from < 0)
		return false;
	snprintf(rel, sizeof(rel), "partitions/%s/uvmm.log", name);
	if (uv_path_join(path, sizeof(path), c->runtime_dir, rel))
		return false;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return false;
	/* The first error is the cause, and comes first: 4 KiB of the log is plenty. */
	n = pread(fd, text, sizeof(text), (off_t)from);
	close(fd);
	return n > 0 && cmd_exit_cause(text, (size_t)n, buf, len);
}

const char *cmd_proc_text(pid_t pid, const char *name, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return NULL;
	buf[n] = 0;
	return buf;
}

pid_t cmd_monitor_of(pid_t pid)
{
	char buf[512];
	const char *r;
	long ppid = 0;

	r = cmd_proc_text(pid, "stat", buf, sizeof(buf)) ? strrchr(buf, ')') : NULL;
	if (!r || sscanf(r + 1, " %*c %ld", &ppid) != 1 || ppid <= 1)
		return 0;
	r = cmd_proc_text((pid_t)ppid, "comm", buf, sizeof(buf));
	return r && !strncmp(buf, "uvmon:", 6) ? (pid_t)ppid : 0;
}

/* Every signal back to its default, none blocked, a session of its own, stdio as uvmm's. */
static int iop_spawn_setup(posix_spawnattr_t *at, posix_spawn_file_actions_t *fa, const char *log)
{
	sigset_t all, none;
	int ret;

	sigfillset(&all);
	sigemptyset(&none);
	if ((ret = posix_spawnattr_setflags(at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF |
							POSIX_SPAWN_SETSIGMASK)) ||
	    (ret = posix_spawnattr_setsigdefault(at, &all)) ||
	    (ret = posix_spawnattr_setsigmask(at, &none)) ||
	    (ret = posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDONLY, 0)) ||
	    (ret = posix_spawn_file_actions_addopen(fa, 1, log, O_WRONLY | O_CREAT | O_APPEND,
						    0640)) ||
	    (ret = posix_spawn_file_actions_adddup2(fa, 1, 2)) ||
	    (ret = posix_spawn_file_actions_addclosefrom_np(fa, 3)))
		return -ret;
	return 0;
}

int cmd_spawn_iopartd(struct cmd *c, const char *name, pid_t *pid, char *err, size_t errlen)
{
	char dir[PATH_MAX], log[PATH_MAX], file[80];
	char *argv[] = {c->opts.iopartd_bin, "--name", (char *)name, NULL};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	int ret;

	snprintf(file, sizeof(file), "iopartd-%s.log", name);
	if (uv_path_join(dir, sizeof(dir), c->runtime_dir, "log") ||
	    uv_path_join(log, sizeof(log), dir, file)) {
		snprintf(err, errlen, "%s: path too long", c->runtime_dir);
		return -ENAMETOOLONG;
	}
	if ((ret = uv_dir_ensure(dir, 0750, err, errlen)))
		return ret;
	if ((ret = -posix_spawnattr_init(&at)))
		goto fail;
	if ((ret = -posix_spawn_file_actions_init(&fa)))
		goto fail_attr;
	/* A session of its own: it outlives commandd, as under systemd. */
	ret = iop_spawn_setup(&at, &fa, log);
	if (!ret)
		ret = -posix_spawn(pid, argv[0], &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
fail_attr:
	posix_spawnattr_destroy(&at);
fail:
	if (ret)
		snprintf(err, errlen, "cannot start iopartd %s (%s): %s", name, argv[0],
			 strerror(-ret));
	return ret;
}
