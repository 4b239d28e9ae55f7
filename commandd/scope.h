/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COMMANDD_SCOPE_H
#define COMMANDD_SCOPE_H

/*
 * Each uvmm in a transient systemd scope of its own, uvmm-NAME.scope, out of
 * commandd.service's cgroup (docs/systemd.md, "Guests in scopes"). The
 * naming, the properties and what an adoption moves are pure (scope_plan.c,
 * unit-tested); the D-Bus calls run on a thread of its own (scope.c).
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "commandd.h"

#define CMD_SCOPE_SLICE	     "ultravisor.slice"
#define CMD_SCOPE_UNIT_MAX   256 /* systemd's UNIT_NAME_MAX, with the NUL */
#define CMD_SCOPE_DESC_MAX   320
#define CMD_SCOPE_AFTER	     (1 + CMD_IOPS_MAX) /* ultravisord, the iopartds */
#define CMD_SCOPE_PIDS	     2			/* a partition's monitor and uvmm */
#define CMD_SCOPE_CGROUP_MAX 4096

/* --scope auto|on|off; -EINVAL for anything else. */
int cmd_scope_mode_parse(const char *s, enum cmd_scope_mode *m);
const char *cmd_scope_mode_name(enum cmd_scope_mode m);
/* auto: scopes when systemd is the init (booted) and runs us as a unit (invocation id). */
bool cmd_scope_wanted(enum cmd_scope_mode m, bool booted, const char *invocation_id);

/*
 * "uvmm-NAME.scope". Bytes of NAME outside [A-Za-z0-9:_.-] become "\xNN"
 * as systemd-escape writes them (opsd's names need none). -EINVAL: an empty
 * name; -ENAMETOOLONG: longer than a unit name may be (or than len).
 */
int cmd_scope_unit_name(const char *name, char *buf, size_t len);

/* What StartTransientUnit is given for one partition. */
struct cmd_scope_plan {
	char part[CMD_NAME_MAX];
	char unit[CMD_SCOPE_UNIT_MAX];
	char description[CMD_SCOPE_DESC_MAX];
	/*
	 * PIDs=: a new start's monitor (the uvmm it starts is born in the
	 * scope), or an adopted uvmm and its monitor (moved there).
	 */
	pid_t pids[CMD_SCOPE_PIDS];
	unsigned npids;
	const char *slice;
	const char *collect_mode;
	int kill_signal;
	bool send_sigkill;
	uint64_t timeout_stop_usec;
	char after[CMD_SCOPE_AFTER][CMD_NAME_MAX + 16];
	unsigned nafter;
	char before[CMD_SCOPE_UNIT_MAX]; /* commandd's own unit, or "" */
};

/*
 * The plan for partition name's monitor pid (0: no PIDs yet): stopped with SIGPWR (the power
 * button) and SIGKILL after the shutdown timeout, ordered after ultravisord
 * and the iopartds of o and before self_unit (commandd's unit, may be NULL).
 */
int cmd_scope_plan(const char *name, pid_t monitor, const struct cmd_opts *o, const char *self_unit,
		   struct cmd_scope_plan *plan);

/* The thread that makes the scopes. NULL when scopes are off. */
struct cmd_scoper *cmd_scoper_new(const struct cmd_opts *o);
void cmd_scoper_free(struct cmd_scoper *s);
/*
 * Queues the scope of name's monitor and returns at once. gate_fd is the
 * write end of the pipe the monitor waits on before it starts the uvmm: the
 * thread writes a byte and closes it when the scope is there, or could not be
 * made (a warning says why; the uvmm then stays in commandd's cgroup).
 */
void cmd_scoper_add(struct cmd_scoper *s, const char *name, pid_t monitor, int gate_fd);
/*
 * Queues an adopted partition's uvmm (pidfd: its pidfd) and monitor (0 and
 * -1: none) and returns at once; the descriptors are duplicated. The thread
 * moves into uvmm-NAME.scope those that are not there yet (scope_plan.c);
 * a failure is a warning, and they stay where they are.
 */
void cmd_scoper_adopt(struct cmd_scoper *s, const char *name, pid_t uvmm, int pidfd, pid_t monitor,
		      int mon_pidfd);

/* Adoption (scope_plan.c): what to move, from /proc (pure but for cmd_scope_proc_read). */

/*
 * The cgroup in the text of /proc/PID/cgroup: systemd's own hierarchy
 * ("N:name=systemd:PATH", cgroup v1 or hybrid) if there is one, else cgroup
 * v2's "0::PATH". -ENOENT: neither; -ENAMETOOLONG: longer than len.
 */
int cmd_scope_cgroup_parse(const char *text, char *path, size_t len);
/* Whether cgroup path is unit's own or below it (a component is the unit's name). */
bool cmd_scope_cgroup_in(const char *path, const char *unit);
/*
 * From /proc/PID/status's text: 1 when SIGPWR is ignored or caught (SigIgn or
 * SigCgt has it: a monitor that outlives its scope's SIGPWR), 0 when it is
 * left at its default (it would kill), -EINVAL without both lines.
 */
int cmd_scope_sigpwr_kept(const char *status);

/* An adopted process as /proc shows it. */
struct cmd_scope_proc {
	pid_t pid;
	bool monitor;
	const char *cgroup; /* its /proc/PID/cgroup; NULL: gone */
	const char *status; /* a monitor's /proc/PID/status; NULL: not read */
};
struct cmd_scope_text {
	char cgroup[CMD_SCOPE_CGROUP_MAX];
	char status[4096];
};
enum cmd_scope_move {
	CMD_SCOPE_MOVE, /* outside its scope: moved in */
	CMD_SCOPE_IN,	/* there already */
	CMD_SCOPE_GONE, /* exited, or none */
	CMD_SCOPE_KEEP, /* a monitor that SIGPWR would kill: left where it is */
};
enum cmd_scope_move cmd_scope_proc_verdict(const char *unit, const struct cmd_scope_proc *pr);
/*
 * The plan that moves partition name's adopted uvmm and its monitor (NULL or
 * pid 0: none) into its scope, with verdict[0] the uvmm's and verdict[1] the
 * monitor's. plan->npids is 0 when nothing is to be moved: both there
 * already, or the uvmm gone. Errors as cmd_scope_plan's.
 */
int cmd_scope_adopt_plan(const char *name, const struct cmd_scope_proc *uvmm,
			 const struct cmd_scope_proc *monitor, const struct cmd_opts *o,
			 const char *self_unit, struct cmd_scope_plan *plan,
			 enum cmd_scope_move verdict[2]);
/*
 * What /proc says of pid into pr (texts in t): its cgroup, and a monitor's
 * status. pidfd (or -1) is the same process: what was read of a pid that
 * ended meanwhile (and may have been reused) is dropped, pr->cgroup NULL.
 */
void cmd_scope_proc_read(pid_t pid, int pidfd, bool monitor, struct cmd_scope_proc *pr,
			 struct cmd_scope_text *t);
/*
 * From /proc/PID/stat's text: a kernel thread KVM made for uvmm's VM
 * ("kvm-...-UVMM", like kvm-nx-lpage-recovery-812), which Linux puts in the
 * cgroup the uvmm had when it made the VM.
 */
bool cmd_scope_kvm_thread(const char *stat, pid_t uvmm);
/*
 * Moves uvmm's KVM threads from cgroup from into cgroup to (v2 paths, as
 * /proc/PID/cgroup writes them) through /sys/fs/cgroup: systemd takes no
 * kernel thread. The number moved, with their names in what ("NAME (pid
 * N), ..."), or -errno when one could not be (what ends with its name);
 * 0 without cgroup v2 at /sys/fs/cgroup.
 */
int cmd_scope_kthreads_move(const char *from, const char *to, pid_t uvmm, char *what, size_t len);

#endif
