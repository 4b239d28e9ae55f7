// SPDX-License-Identifier: GPL-2.0
/*
 * What commandd asks of systemd for its scopes (docs/systemd.md, "Guests in
 * scopes"), decided without systemd: --scope, the unit's name and
 * properties, and for an adopted guest what to move. scope.c does the
 * asking, on its thread.
 *
 * Adoption: a uvmm started by a commandd without scopes (--scope off, an
 * older version) or whose scope could not be made runs in commandd.service's
 * cgroup. When a commandd with scopes adopts it, the thread moves it and its
 * monitor into uvmm-NAME.scope with the same StartTransientUnit as for a new
 * start (PIDs= moves running processes). What needs moving is decided here
 * from /proc/PID/cgroup and /proc/PID/status (cmd_scope_proc_read() is the
 * only function here that looks at the system).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <linux/magic.h>

#include "scope.h"

#define UNIT_SAFE "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789:_.-"

static const char *const mode_names[] = {"auto", "on", "off"};

int cmd_scope_mode_parse(const char *s, enum cmd_scope_mode *m)
{
	for (unsigned i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
		if (!strcmp(s, mode_names[i])) {
			*m = (enum cmd_scope_mode)i;
			return 0;
		}
	return -EINVAL;
}

const char *cmd_scope_mode_name(enum cmd_scope_mode m)
{
	return mode_names[m];
}

bool cmd_scope_wanted(enum cmd_scope_mode m, bool booted, const char *invocation_id)
{
	if (m != CMD_SCOPE_AUTO)
		return m == CMD_SCOPE_ON;
	return booted && invocation_id && invocation_id[0];
}

int cmd_scope_unit_name(const char *name, char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0, cap = len < CMD_SCOPE_UNIT_MAX ? len : CMD_SCOPE_UNIT_MAX;
	const char *pre = "uvmm-", *suf = ".scope";

	if (!name[0])
		return -EINVAL;
	if (strlen(pre) + strlen(suf) >= cap)
		return -ENAMETOOLONG;
	n = (size_t)snprintf(buf, cap, "%s", pre);
	for (const unsigned char *s = (const unsigned char *)name; *s; s++) {
		if (*s && strchr(UNIT_SAFE, *s)) {
			if (n + 1 + strlen(suf) >= cap)
				return -ENAMETOOLONG;
			buf[n++] = (char)*s;
			continue;
		}
		if (n + 4 + strlen(suf) >= cap)
			return -ENAMETOOLONG;
		buf[n++] = '\\';
		buf[n++] = 'x';
		buf[n++] = hex[*s >> 4];
		buf[n++] = hex[*s & 15];
	}
	snprintf(buf + n, cap - n, "%s", suf);
	return 0;
}

int cmd_scope_plan(const char *name, pid_t monitor, const struct cmd_opts *o, const char *self_unit,
		   struct cmd_scope_plan *plan)
{
	int ret;

	memset(plan, 0, sizeof(*plan));
	snprintf(plan->part, sizeof(plan->part), "%s", name);
	if ((ret = cmd_scope_unit_name(name, plan->unit, sizeof(plan->unit))))
		return ret;
	/* D-Bus strings are UTF-8: the escaped name, not the raw bytes. */
	snprintf(plan->description, sizeof(plan->description),
		 "Ultravisor partition %.*s (uvmm and its monitor)",
		 (int)(strlen(plan->unit) - strlen("uvmm-.scope")), plan->unit + strlen("uvmm-"));
	if (monitor > 0)
		plan->pids[plan->npids++] = monitor;
	plan->slice = CMD_SCOPE_SLICE;
	/* Gone once stopped, even after a SIGKILL (failed): the name is free again. */
	plan->collect_mode = "inactive-or-failed";
	plan->kill_signal = SIGPWR;
	plan->send_sigkill = true;
	plan->timeout_stop_usec = (uint64_t)o->shutdown_timeout_s * 1000000ULL;
	snprintf(plan->after[plan->nafter++], sizeof(plan->after[0]), "ultravisord.service");
	for (unsigned i = 0; i < o->niop_names && plan->nafter < CMD_SCOPE_AFTER; i++)
		snprintf(plan->after[plan->nafter++], sizeof(plan->after[0]), "iopartd@%s.service",
			 o->iop_names[i]);
	/*
	 * Stopped after commandd at a power-off: commandd never sees the guests
	 * go, so it neither restarts one (restart always) nor holds one that
	 * powered off; the next boot starts them as opsd wants.
	 */
	if (self_unit && strlen(self_unit) > 8 &&
	    !strcmp(self_unit + strlen(self_unit) - 8, ".service"))
		snprintf(plan->before, sizeof(plan->before), "%s", self_unit);
	return 0;
}

/* Adoption. */

/* Whether the controllers field of a v1 line (text[0..n), comma-separated) names systemd's. */
static bool names_systemd(const char *f, size_t n)
{
	static const char want[] = "name=systemd";
	const size_t wn = sizeof(want) - 1;

	for (const char *end = f + n; f < end;) {
		const char *c = memchr(f, ',', (size_t)(end - f));
		size_t len = c ? (size_t)(c - f) : (size_t)(end - f);

		if (len == wn && !memcmp(f, want, wn))
			return true;
		f += len + 1;
	}
	return false;
}

static int path_copy(const char *s, size_t n, char *path, size_t len)
{
	if (!n || s[0] != '/')
		return -ENOENT;
	if (n >= len)
		return -ENAMETOOLONG;
	memcpy(path, s, n);
	path[n] = 0;
	return 0;
}

int cmd_scope_cgroup_parse(const char *text, char *path, size_t len)
{
	const char *v2 = NULL;
	size_t v2n = 0;

	for (const char *l = text; *l;) {
		const char *nl = strchr(l, '\n'), *end = nl ? nl : l + strlen(l);
		const char *c1 = memchr(l, ':', (size_t)(end - l));
		/* "ID:CONTROLLERS:PATH"; the path may hold ':' (unit names may). */
		const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(end - c1 - 1)) : NULL;

		if (c2 && names_systemd(c1 + 1, (size_t)(c2 - c1 - 1)))
			return path_copy(c2 + 1, (size_t)(end - c2 - 1), path, len);
		if (c2 && c1 - l == 1 && l[0] == '0' && c2 == c1 + 1 && !v2) {
			v2 = c2 + 1;
			v2n = (size_t)(end - v2);
		}
		l = nl ? nl + 1 : end;
	}
	return v2 ? path_copy(v2, v2n, path, len) : -ENOENT;
}

bool cmd_scope_cgroup_in(const char *path, const char *unit)
{
	size_t un = strlen(unit);

	for (const char *s = path; *s;) {
		const char *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);

		if (n == un && !memcmp(s, unit, un))
			return true;
		s += n + (e ? 1 : 0);
	}
	return false;
}

/* Bit SIGPWR of the mask on the line that starts with key: 0/1, or -EINVAL. */
static int status_sigpwr_bit(const char *status, const char *key)
{
	size_t kl = strlen(key);
	const char *l = status;
	unsigned long long mask;
	char *end;

	while (l && strncmp(l, key, kl))
		if ((l = strchr(l, '\n')))
			l++;
	if (!l)
		return -EINVAL;
	errno = 0;
	mask = strtoull(l + kl, &end, 16);
	if (errno || end == l + kl || (*end && *end != '\n'))
		return -EINVAL;
	return (mask >> (SIGPWR - 1)) & 1;
}

int cmd_scope_sigpwr_kept(const char *status)
{
	int ign = status_sigpwr_bit(status, "SigIgn:"), cgt = status_sigpwr_bit(status, "SigCgt:");

	if (ign < 0 || cgt < 0)
		return -EINVAL;
	return ign || cgt;
}

enum cmd_scope_move cmd_scope_proc_verdict(const char *unit, const struct cmd_scope_proc *pr)
{
	char path[CMD_SCOPE_CGROUP_MAX];

	if (!pr->cgroup)
		return CMD_SCOPE_GONE;
	/* A text without systemd's hierarchy: systemd will say what is wrong. */
	if (!cmd_scope_cgroup_parse(pr->cgroup, path, sizeof(path)) &&
	    cmd_scope_cgroup_in(path, unit))
		return CMD_SCOPE_IN;
	/*
	 * Monitors of a commandd before scopes leave SIGPWR at its default: a
	 * stop of the scope would end them with the guest's power button, and
	 * the exit status with them. Left where it is, the monitor records it.
	 */
	if (pr->monitor && pr->status && cmd_scope_sigpwr_kept(pr->status) == 0)
		return CMD_SCOPE_KEEP;
	return CMD_SCOPE_MOVE;
}

int cmd_scope_adopt_plan(const char *name, const struct cmd_scope_proc *uvmm,
			 const struct cmd_scope_proc *monitor, const struct cmd_opts *o,
			 const char *self_unit, struct cmd_scope_plan *plan,
			 enum cmd_scope_move verdict[2])
{
	int ret = cmd_scope_plan(name, 0, o, self_unit, plan);

	if (ret)
		return ret;
	verdict[0] = cmd_scope_proc_verdict(plan->unit, uvmm);
	verdict[1] = monitor && monitor->pid > 0 ? cmd_scope_proc_verdict(plan->unit, monitor)
						 : CMD_SCOPE_GONE;
	/* A uvmm gone is an exit for the loop to see: nothing to move. */
	if (verdict[0] == CMD_SCOPE_GONE)
		return 0;
	/* The monitor first, as for a new start: the parent, then the uvmm. */
	if (verdict[1] == CMD_SCOPE_MOVE)
		plan->pids[plan->npids++] = monitor->pid;
	if (verdict[0] == CMD_SCOPE_MOVE)
		plan->pids[plan->npids++] = uvmm->pid;
	return 0;
}

/* Whether the process of pidfd still runs (it does when there is no pidfd to ask). */
static bool pidfd_running(int pidfd)
{
	struct pollfd pfd = {.fd = pidfd, .events = POLLIN};

	return pidfd < 0 || poll(&pfd, 1, 0) == 0;
}

void cmd_scope_proc_read(pid_t pid, int pidfd, bool monitor, struct cmd_scope_proc *pr,
			 struct cmd_scope_text *t)
{
	memset(pr, 0, sizeof(*pr));
	pr->pid = pid;
	pr->monitor = monitor;
	if (pid <= 0 || !pidfd_running(pidfd))
		return;
	pr->cgroup = cmd_proc_text(pid, "cgroup", t->cgroup, sizeof(t->cgroup));
	if (monitor)
		pr->status = cmd_proc_text(pid, "status", t->status, sizeof(t->status));
	/* Read from the same process, not from one that took its pid since. */
	if (!pidfd_running(pidfd))
		pr->cgroup = pr->status = NULL;
}

/*
 * KVM's kernel threads of a VM. Linux (6.1, Debian 12's) runs a VM's NX
 * huge page recovery in a kernel thread "kvm-nx-lpage-recovery-PID" (PID:
 * the process that made the VM) and puts it in that process's cgroup, so
 * that its CPU time is the VM's. A uvmm moved into its scope leaves it in
 * commandd.service's cgroup, and systemd takes no kernel thread (PIDs= and
 * AttachProcessesToUnit refuse them: "is a kernel thread, refusing"), so it
 * would stay there: accounted to commandd and a "left-over process" at
 * every start of commandd. The kernel lets root move it (it has no
 * PF_NO_SETAFFINITY), into the scope's cgroup, where a uvmm born in its
 * scope has it. A uvmm born in its scope never needs this.
 */
#define PF_KTHREAD_FLAG 0x00200000u /* include/linux/sched.h's PF_KTHREAD */

bool cmd_scope_kvm_thread(const char *stat, pid_t uvmm)
{
	const char *lp = strchr(stat, '('), *rp = strrchr(stat, ')');
	char suffix[24];
	unsigned flags = 0;
	size_t n, sn;

	if (!lp || !rp || rp < lp || sscanf(rp + 1, " %*c %*d %*d %*d %*d %*d %u", &flags) != 1 ||
	    !(flags & PF_KTHREAD_FLAG))
		return false;
	n = (size_t)(rp - lp - 1);
	sn = (size_t)snprintf(suffix, sizeof(suffix), "-%d", (int)uvmm);
	return n > 4 + sn && !strncmp(lp + 1, "kvm-", 4) && !memcmp(lp + 1 + n - sn, suffix, sn);
}

/* Whether /sys/fs/cgroup is cgroup v2's: the paths of /proc/PID/cgroup's 0:: line are under it. */
static bool cgroup2_mounted(void)
{
	struct statfs sf;

	return !statfs("/sys/fs/cgroup", &sf) && sf.f_type == CGROUP2_SUPER_MAGIC;
}

/* One kernel thread into cgroup to: "NAME (pid N)" appended to what. */
static int kthread_move(pid_t pid, const char *stat, const char *to, char *what, size_t len)
{
	const char *lp = strchr(stat, '('), *rp = strrchr(stat, ')');
	size_t w = strlen(what);
	char path[CMD_SCOPE_CGROUP_MAX + 32], num[16];
	int fd, n, ret = 0;

	snprintf(what + w, len - w, "%s%.*s (pid %d)", w ? ", " : "", (int)(rp - lp - 1), lp + 1,
		 (int)pid);
	snprintf(path, sizeof(path), "/sys/fs/cgroup%s/cgroup.procs", to);
	n = snprintf(num, sizeof(num), "%d", (int)pid);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, num, (size_t)n) != n)
		ret = -errno;
	if (fd >= 0)
		close(fd);
	return ret;
}

int cmd_scope_kthreads_move(const char *from, const char *to, pid_t uvmm, char *what, size_t len)
{
	char path[CMD_SCOPE_CGROUP_MAX + 32], procs[4096], stat[512];
	int moved = 0, ret;
	FILE *f;

	what[0] = 0;
	if (!cgroup2_mounted())
		return 0; /* cgroup v1 or hybrid: not these paths */
	snprintf(path, sizeof(path), "/sys/fs/cgroup%s/cgroup.procs", from);
	if (!(f = fopen(path, "re")))
		return 0; /* nothing left there */
	while (fgets(procs, sizeof(procs), f)) {
		pid_t pid = (pid_t)atoi(procs);

		if (pid <= 0 || !cmd_proc_text(pid, "stat", stat, sizeof(stat)) ||
		    !cmd_scope_kvm_thread(stat, uvmm))
			continue;
		if ((ret = kthread_move(pid, stat, to, what, len)) < 0) {
			fclose(f);
			return ret;
		}
		moved++;
	}
	fclose(f);
	return moved;
}
