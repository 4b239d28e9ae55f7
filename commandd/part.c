// SPDX-License-Identifier: GPL-2.0
/*
 * A partition's life as commandd drives it: the record, the actual state
 * reported to opsd, reconcile (what to do about the wish), stop (SIGPWR,
 * then SIGKILL), exit (restart policy), release, adoption after a restart.
 * The start is start.c.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "commandd.h"
#include "ctl_msg.h"
#include "daemon.h"
#include "log.h"

#define RELEASE_TRIES  20
#define RELEASE_GAP_MS 250
#define CALL_MS	       10000

static void part_retry_cb(evutil_socket_t fd, short what, void *arg);
static void part_stop_cb(evutil_socket_t fd, short what, void *arg);

struct cmd_part *cmd_part_get(struct cmd *c, const char *name, bool create)
{
	struct cmd_part *p;

	for (p = c->parts; p; p = p->next)
		if (!strcmp(p->name, name))
			return p;
	if (!create || !(p = calloc(1, sizeof(*p))))
		return NULL;
	p->cmd = c;
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->memfd = p->go_fd = p->pid_fd = p->pidfd = p->watch_fd = -1;
	p->log_off = -1;
	for (unsigned i = 0; i < CMD_DEV_MAX; i++)
		p->fe[i] = -1;
	p->stop_timer = evtimer_new(c->base, part_stop_cb, p);
	p->retry_timer = evtimer_new(c->base, part_retry_cb, p);
	if (!p->stop_timer || !p->retry_timer) {
		if (p->stop_timer)
			event_free(p->stop_timer);
		free(p);
		return NULL;
	}
	p->next = c->parts;
	c->parts = p;
	cmd_hold_restore(p);
	return p;
}

void cmd_part_maybe_free(struct cmd_part *p)
{
	struct cmd *c = p->cmd;

	if (p->def || p->phase != CMD_IDLE || p->busy || p->reserved ||
	    evtimer_pending(p->retry_timer, NULL) || evtimer_pending(p->stop_timer, NULL))
		return;
	for (struct cmd_part **pp = &c->parts; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	event_free(p->stop_timer);
	event_free(p->retry_timer);
	free(p);
}

const char *cmd_part_iopartd(const struct cmd_part *p)
{
	return p->nchans ? p->chans[0].iopartd : "";
}

/* The first channel's standby, as its iopartd is the first channel's. */
static const char *part_standby(const struct cmd_part *p)
{
	return p->phase == CMD_RUNNING && p->nchans ? p->chans[0].standby : "";
}

static void report_send(struct cmd_part *p)
{
	const char *iop = p->phase == CMD_RUNNING ? cmd_part_iopartd(p) : "";
	const char *sb = part_standby(p);
	pid_t pid = p->phase == CMD_RUNNING || p->phase == CMD_STOPPING ? p->pid : 0;
	json_object *b;

	if (!p->state[0])
		return;
	if (p->rep_sent && !strcmp(p->rep_state, p->state) && !strcmp(p->rep_reason, p->reason) &&
	    p->rep_pid == pid && !strcmp(p->rep_iop, iop) && !strcmp(p->rep_standby, sb))
		return;
	snprintf(p->rep_state, sizeof(p->rep_state), "%s", p->state);
	snprintf(p->rep_reason, sizeof(p->rep_reason), "%s", p->reason);
	snprintf(p->rep_iop, sizeof(p->rep_iop), "%s", iop);
	snprintf(p->rep_standby, sizeof(p->rep_standby), "%s", sb);
	p->rep_pid = pid;
	p->rep_sent = true;
	if (!p->def || !p->cmd->opsc)
		return; /* opsd does not know it: nobody to tell */
	b = json_object_new_object();
	json_object_object_add(b, "state", json_object_new_string(p->state));
	json_object_object_add(b, "pid", json_object_new_int((int)pid));
	json_object_object_add(b, "iopartd", json_object_new_string(iop));
	json_object_object_add(b, "standby", json_object_new_string(sb));
	json_object_object_add(b, "reason", json_object_new_string(p->reason));
	p->rep_seq = opsc_report(p->cmd->opsc, p->name, b);
}

void cmd_report(struct cmd_part *p, const char *state, const char *reason)
{
	if (strcmp(p->state, state) || strcmp(p->reason, reason))
		pr_info("partition %s: %s%s%s", p->name, state, reason[0] ? ": " : "", reason);
	snprintf(p->state, sizeof(p->state), "%s", state);
	snprintf(p->reason, sizeof(p->reason), "%s", reason);
	report_send(p);
}

void cmd_report_again(struct cmd_part *p)
{
	report_send(p);
}

void cmd_report_check(struct cmd_part *p, uint64_t rep_done)
{
	/* A list asked for before our last report was answered cannot have it. */
	if (!p->def || !p->rep_sent || p->rep_seq > rep_done)
		return;
	if (strcmp(p->def->actual, p->rep_state) || p->def->actual_pid != p->rep_pid) {
		pr_debug("partition %s: opsd says %s, we said %s: again", p->name, p->def->actual,
			 p->rep_state);
		p->rep_sent = false;
		report_send(p);
	}
}

bool cmd_part_wanted(const struct cmd_part *p)
{
	return p->def && p->def->run;
}

void cmd_part_close_start(struct cmd_part *p)
{
	if (p->memfd >= 0)
		close(p->memfd);
	p->memfd = -1;
	for (unsigned i = 0; i < CMD_DEV_MAX; i++) {
		if (p->fe[i] >= 0)
			close(p->fe[i]);
		p->fe[i] = -1;
	}
	if (p->go_fd >= 0)
		close(p->go_fd);
	p->go_fd = -1;
	if (p->pid_ev)
		event_free(p->pid_ev);
	p->pid_ev = NULL;
	if (p->pid_fd >= 0)
		close(p->pid_fd);
	p->pid_fd = -1;
}

void cmd_schedule(struct event *ev, unsigned ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	evtimer_add(ev, &tv);
}

static void part_kill(struct cmd_part *p)
{
	int ret = p->pidfd >= 0 ? cmd_pidfd_signal(p->pidfd, SIGKILL)
				: (kill(p->pid, SIGKILL) ? -errno : 0);

	p->killed = true;
	if (ret && ret != -ESRCH)
		pr_warn("partition %s: SIGKILL to uvmm %d: %s", p->name, (int)p->pid,
			strerror(-ret));
}

static void stop_begin(struct cmd_part *p)
{
	bool destroy = p->def && p->def->destroy;
	int ret;

	p->phase = CMD_STOPPING;
	p->stop_asked = true;
	p->killed = false;
	cmd_report(p, "stopping", "");
	if (destroy) {
		pr_info("partition %s: destroy: SIGKILL to uvmm %d", p->name, (int)p->pid);
		return part_kill(p);
	}
	pr_info("partition %s: shutdown: SIGPWR to uvmm %d, SIGKILL in %u s", p->name, (int)p->pid,
		p->cmd->opts.shutdown_timeout_s);
	ret = p->pidfd >= 0 ? cmd_pidfd_signal(p->pidfd, SIGPWR)
			    : (kill(p->pid, SIGPWR) ? -errno : 0);
	if (ret && ret != -ESRCH)
		pr_warn("partition %s: SIGPWR: %s", p->name, strerror(-ret));
	cmd_schedule(p->stop_timer, p->cmd->opts.shutdown_timeout_s * 1000);
}

static void part_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cmd_part *p = arg;

	(void)fd;
	(void)what;
	cmd_part_reconcile(p);
	cmd_part_maybe_free(p);
}

static void part_stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cmd_part *p = arg;

	(void)fd;
	(void)what;
	if (p->phase == CMD_STOPPING && !p->killed) {
		pr_warn("partition %s: no power-off in %u s: SIGKILL", p->name,
			p->cmd->opts.shutdown_timeout_s);
		part_kill(p);
	} else if (p->phase == CMD_RELEASING && !p->busy) {
		cmd_part_release(p); /* again: see released() */
	}
}

static void released(struct cmd *c, void *arg, json_object *rep, int *fds, int nfds,
		     const char *err)
{
	struct cmd_part *p = arg;

	(void)fds;
	(void)nfds;
	p->busy--;
	if (err && rep && strstr(err, "stop it first") && ++p->release_tries < RELEASE_TRIES) {
		/* ultravisord has not seen the exit yet (the retry timer may hold a back-off). */
		cmd_schedule(p->stop_timer, RELEASE_GAP_MS);
		return;
	}
	p->phase = CMD_IDLE;
	p->release_tries = 0;
	if (!err || (rep && strstr(err, "no partition"))) {
		p->reserved = false;
		if (!err)
			pr_debug("partition %s: released", p->name);
		cmd_resources_changed(c);
	} else {
		pr_warn("partition %s: partition_release: %s", p->name, err);
	}
	cmd_part_reconcile(p);
	cmd_part_maybe_free(p);
}

void cmd_part_release(struct cmd_part *p)
{
	json_object *req = ctl_request("partition_release");

	p->phase = CMD_RELEASING;
	json_object_object_add(req, "name", json_object_new_string(p->name));
	if (uvdc_call(p->cmd, req, NULL, 0, CALL_MS, released, p) == 0) {
		p->busy++;
		return;
	}
	/* ultravisord is away: the status after the reconnect finds the record. */
	p->phase = CMD_IDLE;
}

void cmd_resources_changed(struct cmd *c)
{
	for (struct cmd_part *p = c->parts; p; p = p->next)
		if (p->blocked && p->phase == CMD_IDLE) {
			p->blocked = false;
			event_active(p->retry_timer, EV_TIMEOUT, 0);
		}
}

/* A restart counts toward restart_max; older ones than the window are forgotten. */
static void part_count_restart(struct cmd_part *p, int64_t now)
{
	unsigned j = 0;

	for (unsigned i = 0; i < p->nrestarts; i++)
		if (p->restarts[i] > now - (int64_t)p->cmd->policy.restart_window_s)
			p->restarts[j++] = p->restarts[i];
	p->nrestarts = j;
	if (p->nrestarts == CMD_RESTARTS_KEPT)
		memmove(p->restarts, p->restarts + 1, --p->nrestarts * sizeof(p->restarts[0]));
	p->restarts[p->nrestarts++] = now;
	p->restart_total++;
}

static void exit_unasked(struct cmd_part *p, bool clean, bool refused, const char *desc)
{
	const struct cmd_policy *pol = &p->cmd->policy;
	int64_t now = cmd_now_ms() / 1000;
	char why[CMD_REASON_MAX];

	/* As systemd's RestartPreventExitStatus=: the same start would fail again. */
	if (refused) {
		snprintf(why, sizeof(why), "uvmm %s; not restarted: it would fail the same way",
			 desc);
		cmd_report(p, "failed", why);
		cmd_hold_set(p, true);
		return;
	}
	switch (cmd_exit_decide(p->def->restart, clean, pol, p->restarts, p->nrestarts, now)) {
	case CMD_EXIT_RESTART:
		part_count_restart(p, now);
		snprintf(why, sizeof(why), "uvmm %s; restarting (restart %s)", desc,
			 cmd_restart_name(p->def->restart));
		cmd_report(p, clean ? "stopped" : "crashed", why);
		return;
	case CMD_EXIT_STOPPED:
		snprintf(why, sizeof(why), "uvmm %s: the guest powered off", desc);
		cmd_report(p, "stopped", why);
		break;
	case CMD_EXIT_CRASHED:
		snprintf(why, sizeof(why), "uvmm %s (restart never)", desc);
		cmd_report(p, "crashed", why);
		break;
	case CMD_EXIT_GIVE_UP:
		snprintf(why, sizeof(why),
			 "restart policy gave up after %u restarts within %u s: uvmm %s",
			 pol->restart_max, pol->restart_window_s, desc);
		cmd_report(p, "failed", why);
		break;
	}
	cmd_hold_set(p, true);
}

/*
 * "exited with status 2 (cannot open kernel '/x': No such file or directory)":
 * uvmm's first error line since it started, so that the reason says why.
 */
static void exit_describe(struct cmd_part *p, bool known, int wstatus, char *desc, size_t len)
{
	char cause[144];
	size_t n;

	cmd_exit_describe(known, wstatus, desc, len);
	if (!known || !WIFEXITED(wstatus) || !WEXITSTATUS(wstatus) ||
	    !cmd_exit_cause_read(p->cmd, p->name, p->log_off, cause, sizeof(cause)))
		return;
	n = strlen(desc);
	snprintf(desc + n, len - n, " (%s)", cause);
}

static void part_unwatch(struct cmd_part *p)
{
	if (p->watch_ev)
		event_free(p->watch_ev);
	p->watch_ev = NULL;
	if (p->watch_fd >= 0)
		close(p->watch_fd);
	if (p->pidfd >= 0)
		close(p->pidfd);
	p->watch_fd = p->pidfd = -1;
}

/*
 * host_stop: it ended while no commandd watched, and its monitor recorded a
 * stop of its scope. That is the host's power-off (commandd stops first) or
 * an operator's systemctl stop: not the guest's wish, so nothing is held and
 * opsd's wish starts it again.
 */
static void part_exited(struct cmd_part *p, bool known, int wstatus, bool host_stop)
{
	bool clean = known && WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0;
	bool refused = cmd_exit_refused(known, wstatus);
	bool starting = p->phase == CMD_STARTING;
	char desc[192], why[CMD_REASON_MAX];

	exit_describe(p, known, wstatus, desc, sizeof(desc));
	pr_info("partition %s: uvmm %d %s", p->name, (int)p->pid, desc);
	part_unwatch(p);
	evtimer_del(p->stop_timer);
	p->exited_pid = p->pid;
	p->pid = p->mon_pid = 0;
	p->adopted = false;
	if (starting) {
		snprintf(why, sizeof(why), "%s", p->start_err[0] ? p->start_err : desc);
		p->reserved = true;
		return cmd_start_fail(p, why, refused ? CMD_FAIL_DEFINITION : CMD_FAIL_RETRY);
	}
	p->phase = CMD_IDLE;
	if (p->stop_asked) {
		p->stop_asked = false;
		cmd_report(p, "stopped", p->killed ? "killed" : "");
	} else if (host_stop && !refused && cmd_part_wanted(p)) {
		/* desc is short here (a status or signal): the bound is the compiler's. */
		snprintf(why, sizeof(why),
			 "uvmm %.160s: its scope was stopped while commandd was away (the host's "
			 "shutdown); started again",
			 desc);
		cmd_report(p, "stopped", why);
	} else if (cmd_part_wanted(p)) {
		exit_unasked(p, clean, refused, desc);
	} else {
		snprintf(why, sizeof(why), "uvmm %s", desc);
		cmd_report(p, "stopped", why);
	}
	p->killed = false;
	p->nchans = 0;
	cmd_iop_count(p->cmd);
	p->reserved = true;
	cmd_part_release(p);
}

void cmd_part_ended(struct cmd_part *p, bool away)
{
	bool scope_stop = false, known;
	int st = 0;

	/*
	 * Its definition and the restart policy judge the exit: at a start of
	 * commandd, ultravisord's status may come before opsd's answer.
	 */
	if (!p->cmd->have_desired) {
		part_unwatch(p);
		p->ended_early = true;
		p->ended_away |= away;
		return;
	}
	away |= p->ended_away;
	p->ended_early = p->ended_away = false;
	/* Read first: the order of a call's arguments is not C's to promise. */
	known = cmd_exit_read(p->cmd, p->name, p->pid, &st, &scope_stop) == 0;
	part_exited(p, known, st, away && scope_stop);
}

void cmd_parts_judge_early(struct cmd *c)
{
	for (struct cmd_part *p = c->parts; p; p = p->next)
		if (p->ended_early)
			cmd_part_ended(p, false);
}

void cmd_part_watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cmd_part *p = arg;

	(void)fd;
	(void)what;
	if (p->mon_pid > 0)
		waitpid(p->mon_pid, NULL, WNOHANG); /* ours unless adopted; ECHILD is fine */
	cmd_part_ended(p, false);
}

void cmd_part_adopt(struct cmd_part *p, pid_t pid)
{
	pid_t mon = cmd_monitor_of(pid);

	p->pid = pid;
	p->mon_pid = mon;
	p->pidfd = cmd_pidfd_open(pid);
	p->watch_fd = mon ? cmd_pidfd_open(mon) : dup(p->pidfd);
	p->phase = CMD_RUNNING;
	p->adopted = true;
	p->log_off = -1; /* its log's part is not known: no cause quoted from it */
	if (p->pidfd < 0 || p->watch_fd < 0 || cmd_part_watch(p)) {
		/* Gone between ultravisord's status and now. */
		cmd_part_ended(p, true);
		return;
	}
	pr_info("partition %s: adopted running uvmm %d%s", p->name, (int)pid,
		mon ? "" : " (no monitor: its exit status will be unknown)");
	cmd_report(p, "running", "");
}

void cmd_part_reconcile(struct cmd_part *p)
{
	struct cmd *c = p->cmd;

	if (!c->uvd_ready || !c->have_desired)
		return;
	switch (p->phase) {
	case CMD_STARTING:
	case CMD_RELEASING:
		return; /* each step looks at the wish when it completes */
	case CMD_RUNNING:
		if (!cmd_part_wanted(p))
			stop_begin(p);
		return;
	case CMD_STOPPING:
		if (p->def && p->def->destroy && !p->killed)
			part_kill(p);
		return;
	case CMD_IDLE:
		break;
	}
	if (!cmd_part_wanted(p)) {
		cmd_hold_set(p, false);
		p->blocked = false;
		evtimer_del(p->retry_timer);
		if (p->def && strcmp(p->state, "stopped"))
			cmd_report(p, "stopped", "");
		else
			report_send(p); /* once, when nothing was said yet */
		return;
	}
	if ((p->hold && p->hold_gen == p->def->generation) ||
	    (p->blocked && p->blocked_gen == p->def->generation)) {
		report_send(p);
		return;
	}
	if (p->hold || p->blocked) {
		/* A new wish: a clean slate. */
		cmd_hold_set(p, false);
		p->blocked = false;
		p->nrestarts = 0;
		p->backoff_ms = 0;
		evtimer_del(p->retry_timer);
	}
	if (evtimer_pending(p->retry_timer, NULL))
		return;
	cmd_part_start(p);
}

void cmd_reconcile_all(struct cmd *c)
{
	struct cmd_part *p, *next;

	for (p = c->parts; p; p = next) {
		next = p->next;
		cmd_part_reconcile(p);
		cmd_part_maybe_free(p);
	}
}
