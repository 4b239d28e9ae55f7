/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COMMANDD_SCOPE_H
#define COMMANDD_SCOPE_H

/*
 * Each uvmm in a transient systemd scope of its own, uvmm-NAME.scope, out of
 * commandd.service's cgroup (docs/systemd.md, "Guests in scopes"). The
 * naming and the properties are pure (unit-tested); the D-Bus call runs on a
 * thread of its own (scope.c).
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "commandd.h"

#define CMD_SCOPE_SLICE	   "ultravisor.slice"
#define CMD_SCOPE_UNIT_MAX 256 /* systemd's UNIT_NAME_MAX, with the NUL */
#define CMD_SCOPE_DESC_MAX 320
#define CMD_SCOPE_AFTER	   (1 + CMD_IOPS_MAX) /* ultravisord, the iopartds */

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
	pid_t pid; /* the monitor: the uvmm it starts is born in the scope */
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
 * The plan for partition name's monitor pid: stopped with SIGPWR (the power
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

#endif
