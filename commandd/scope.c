// SPDX-License-Identifier: GPL-2.0
/*
 * Each uvmm in a transient systemd scope of its own, uvmm-NAME.scope in
 * ultravisor.slice, made with the system manager's StartTransientUnit
 * (docs/systemd.md). The scope holds the partition's monitor, which starts
 * the uvmm only once the scope is there, so the uvmm is born in it: its
 * tasks and memory are the scope's, never commandd.service's, and a restart
 * of commandd finds nothing of the guests in its own cgroup. Stopping the
 * scope (systemctl stop, the host's power-off) sends SIGPWR, the power
 * button, to the uvmm (the monitor ignores it) and SIGKILL after commandd's
 * --shutdown-timeout; the ordering after ultravisord and the iopartds makes
 * a power-off stop the guests while their disks are still served.
 *
 * The D-Bus client is sd-bus from libsystemd (Debian's libsystemd-dev), the
 * documented API for talking to systemd; the unit's properties are those of
 * org.freedesktop.systemd1(5). It runs on a thread of its own, with blocking
 * calls, as opsc.c does for HTTP: StartTransientUnit may wait for systemd
 * (a daemon-reload, a busy manager), and knowing that the monitor is in the
 * scope means waiting for the job's JobRemoved signal too. Driving sd-bus
 * from libevent instead (sd_bus_get_fd, _get_events and _get_timeout
 * re-armed after every sd_bus_process, a state machine per request) would
 * spare one thread for much more code, and the loop has nothing to wait
 * for: the monitor waits on a pipe (its gate) that the thread writes to and
 * closes. The loop's cost of a start stays one fork (spawn.c).
 *
 * A guest adopted by a restarted commandd and found out of its scope (a
 * commandd without scopes started it, or its scope could not be made) is
 * moved into it by the same StartTransientUnit, PIDs= the running uvmm and
 * its monitor: what to move is scope_plan.c's decision, from /proc. The
 * names and properties are decided there too, without systemd.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-login.h>

#include "log.h"
#include "scope.h"

#define CALL_USEC	 (5 * 1000000ULL) /* StartTransientUnit's reply */
#define JOB_USEC	 (5 * 1000000ULL) /* the start job, after the reply */
#define EXISTS_TRIES	 20		  /* a scope of the name still going away */
#define EXISTS_GAP_USEC	 100000
#define SD_DEST		 "org.freedesktop.systemd1"
#define SD_PATH		 "/org/freedesktop/systemd1"
#define SD_MANAGER	 "org.freedesktop.systemd1.Manager"
#define SD_UNIT		 "org.freedesktop.systemd1.Unit"
#define SD_E_UNIT_EXISTS "org.freedesktop.systemd1.UnitExists"

/* The thread and its queue. */

struct scope_req {
	struct scope_req *next;
	struct cmd_scope_plan plan;
	bool adopt;
	int gate; /* a new start's monitor waits on it; -1 for an adoption */
	/* An adoption: the uvmm and its monitor (0: none), and their pidfds (or -1). */
	pid_t uvmm, mon;
	int uvmm_fd, mon_fd;
};

struct cmd_scoper {
	const struct cmd_opts *opts;
	char self_unit[CMD_SCOPE_UNIT_MAX];
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct scope_req *reqs, **tail;
	bool stop;
	/* The thread's own. */
	sd_bus *bus;
	sd_bus_slot *match;
	const char *job; /* the start job waited for */
	char result[32]; /* its JobRemoved result, "" until then */
};

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000;
}

static int on_job_removed(sd_bus_message *m, void *arg, sd_bus_error *e)
{
	struct cmd_scoper *s = arg;
	const char *path, *unit, *result;
	uint32_t id;

	(void)e;
	if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0)
		return 0;
	if (s->job && !strcmp(path, s->job))
		snprintf(s->result, sizeof(s->result), "%s", result);
	return 0;
}

static void bus_drop(struct cmd_scoper *s)
{
	s->match = sd_bus_slot_unref(s->match);
	s->bus = sd_bus_flush_close_unref(s->bus);
}

static int bus_get(struct cmd_scoper *s, const char **what)
{
	int r;

	if (s->bus && sd_bus_is_open(s->bus) > 0)
		return 0;
	bus_drop(s);
	*what = "cannot connect to the system bus";
	if ((r = sd_bus_open_system(&s->bus)) < 0)
		return r;
	/* Every call of ours is bounded, property reads included (the default is 25 s). */
	sd_bus_set_method_call_timeout(s->bus, CALL_USEC);
	/* Before any call: the job's end may come right after the reply. */
	*what = "cannot watch systemd's jobs";
	r = sd_bus_match_signal(s->bus, &s->match, SD_DEST, SD_PATH, SD_MANAGER, "JobRemoved",
				on_job_removed, s);
	if (r < 0)
		bus_drop(s);
	return r;
}

static int append_units(sd_bus_message *m, const char *prop, const char *const *units, unsigned n)
{
	int r;

	if ((r = sd_bus_message_open_container(m, 'r', "sv")) < 0 ||
	    (r = sd_bus_message_append(m, "s", prop)) < 0 ||
	    (r = sd_bus_message_open_container(m, 'v', "as")) < 0 ||
	    (r = sd_bus_message_open_container(m, 'a', "s")) < 0)
		return r;
	for (unsigned i = 0; i < n; i++)
		if ((r = sd_bus_message_append(m, "s", units[i])) < 0)
			return r;
	if ((r = sd_bus_message_close_container(m)) < 0 ||
	    (r = sd_bus_message_close_container(m)) < 0)
		return r;
	return sd_bus_message_close_container(m);
}

/* The "au" of plan's pids. */
static int pids_array(sd_bus_message *m, const struct cmd_scope_plan *p)
{
	uint32_t pids[CMD_SCOPE_PIDS];

	for (unsigned i = 0; i < p->npids; i++)
		pids[i] = (uint32_t)p->pids[i];
	return sd_bus_message_append_array(m, 'u', pids, p->npids * sizeof(pids[0]));
}

static int append_pids(sd_bus_message *m, const struct cmd_scope_plan *p)
{
	int r;

	if ((r = sd_bus_message_open_container(m, 'r', "sv")) < 0 ||
	    (r = sd_bus_message_append(m, "s", "PIDs")) < 0 ||
	    (r = sd_bus_message_open_container(m, 'v', "au")) < 0 || (r = pids_array(m, p)) < 0 ||
	    (r = sd_bus_message_close_container(m)) < 0)
		return r;
	return sd_bus_message_close_container(m);
}

/* StartTransientUnit(name, mode, properties, aux): the properties of plan. */
static int append_props(sd_bus_message *m, const struct cmd_scope_plan *p)
{
	const char *after[CMD_SCOPE_AFTER], *before = p->before;
	int r;

	for (unsigned i = 0; i < p->nafter; i++)
		after[i] = p->after[i];
	if ((r = sd_bus_message_append(m, "ss", p->unit, "fail")) < 0 ||
	    (r = sd_bus_message_open_container(m, 'a', "(sv)")) < 0 ||
	    (r = sd_bus_message_append(m, "(sv)", "Description", "s", p->description)) < 0 ||
	    (r = append_pids(m, p)) < 0 ||
	    (r = sd_bus_message_append(m, "(sv)", "Slice", "s", p->slice)) < 0 ||
	    (r = sd_bus_message_append(m, "(sv)", "CollectMode", "s", p->collect_mode)) < 0 ||
	    (r = sd_bus_message_append(m, "(sv)", "KillSignal", "i", (int32_t)p->kill_signal)) <
		    0 ||
	    (r = sd_bus_message_append(m, "(sv)", "SendSIGKILL", "b", (int)p->send_sigkill)) < 0 ||
	    (r = sd_bus_message_append(m, "(sv)", "TimeoutStopUSec", "t", p->timeout_stop_usec)) <
		    0 ||
	    (r = append_units(m, "After", after, p->nafter)) < 0 ||
	    (before[0] && (r = append_units(m, "Before", &before, 1)) < 0) ||
	    (r = sd_bus_message_close_container(m)) < 0)
		return r;
	return sd_bus_message_append(m, "a(sa(sv))", 0);
}

/* One StartTransientUnit; the job's object path in job (len 256). */
static int scope_call(struct cmd_scoper *s, const struct cmd_scope_plan *p, char *job,
		      sd_bus_error *err)
{
	sd_bus_message *m = NULL, *reply = NULL;
	const char *path;
	int r;

	r = sd_bus_message_new_method_call(s->bus, &m, SD_DEST, SD_PATH, SD_MANAGER,
					   "StartTransientUnit");
	if (r >= 0)
		r = append_props(m, p);
	if (r >= 0)
		r = sd_bus_call(s->bus, m, CALL_USEC, err, &reply);
	if (r >= 0 && (r = sd_bus_message_read(reply, "o", &path)) >= 0)
		snprintf(job, 256, "%s", path);
	sd_bus_message_unref(reply);
	sd_bus_message_unref(m);
	return r;
}

/* Until the JobRemoved of job: 0 with s->result, or -ETIMEDOUT. */
static int scope_job_wait(struct cmd_scoper *s, const char *job)
{
	uint64_t end = now_usec() + JOB_USEC, now;
	int r = 0;

	s->job = job;
	s->result[0] = 0;
	while (!s->result[0]) {
		if ((r = sd_bus_process(s->bus, NULL)) < 0)
			break;
		if (r > 0)
			continue;
		if ((now = now_usec()) >= end) {
			r = -ETIMEDOUT;
			break;
		}
		if ((r = sd_bus_wait(s->bus, end - now)) < 0 && r != -EINTR)
			break;
	}
	s->job = NULL;
	return s->result[0] ? 0 : r;
}

/* A scope of that name still stopping (its last monitor just exited): wait for it to go. */
static void scope_exists_wait(struct cmd_scoper *s, const char *unit)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;

	/* A failed one (SIGKILLed at its timeout) goes once reset. */
	sd_bus_call_method(s->bus, SD_DEST, SD_PATH, SD_MANAGER, "ResetFailedUnit", &err, NULL, "s",
			   unit);
	sd_bus_error_free(&err);
	usleep(EXISTS_GAP_USEC);
}

/* Whether unit is active (or on its way there): one that is going away is waited for. */
static bool scope_active(struct cmd_scoper *s, const char *unit)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	char *path = NULL, *state = NULL;
	bool on = false;

	if (sd_bus_path_encode(SD_PATH "/unit", unit, &path) >= 0 &&
	    sd_bus_get_property_string(s->bus, SD_DEST, path, SD_UNIT, "ActiveState", &err,
				       &state) >= 0)
		on = !strcmp(state, "active") || !strcmp(state, "activating") ||
		     !strcmp(state, "reloading");
	sd_bus_error_free(&err);
	free(state);
	free(path);
	return on;
}

/*
 * AttachProcessesToUnit: into a scope of the name that runs already. systemd
 * 252 (Debian 12) moves processes only into a delegated unit, which ours are
 * not: its refusal ends in the caller's warning.
 */
static int scope_attach(struct cmd_scoper *s, const struct cmd_scope_plan *p, sd_bus_error *err)
{
	sd_bus_message *m = NULL, *reply = NULL;
	int r;

	r = sd_bus_message_new_method_call(s->bus, &m, SD_DEST, SD_PATH, SD_MANAGER,
					   "AttachProcessesToUnit");
	if (r >= 0 && (r = sd_bus_message_append(m, "ss", p->unit, "")) >= 0)
		r = pids_array(m, p);
	if (r >= 0)
		r = sd_bus_call(s->bus, m, CALL_USEC, err, &reply);
	sd_bus_message_unref(reply);
	sd_bus_message_unref(m);
	return r;
}

/*
 * StartTransientUnit, again while a scope of the name exists: a failed one is
 * reset, one going away waited for; into one that runs (an adoption only),
 * the processes are attached. 0 and the job in job; 1: attached (no job).
 */
static int scope_start(struct cmd_scoper *s, const struct cmd_scope_plan *p, bool adopt, char *job,
		       char *why, size_t len)
{
	sd_bus_error err = SD_BUS_ERROR_NULL, aerr = SD_BUS_ERROR_NULL;
	const char *what = "";
	int r;

	for (unsigned tries = 0;; tries++) {
		sd_bus_error_free(&err);
		if ((r = bus_get(s, &what)) < 0)
			break;
		what = "StartTransientUnit";
		r = scope_call(s, p, job, &err);
		if (r >= 0) {
			r = 0; /* a job to wait for (1 would say there is none) */
			break;
		}
		if (tries >= EXISTS_TRIES)
			break;
		if (!sd_bus_error_has_name(&err, SD_E_UNIT_EXISTS)) {
			if (sd_bus_is_open(s->bus) > 0 || tries)
				break; /* a refusal, or a new connection failing too */
			continue;
		}
		if (adopt && scope_active(s, p->unit)) {
			sd_bus_error_free(&aerr);
			if (scope_attach(s, p, &aerr) >= 0) {
				r = 1;
				break;
			}
		}
		scope_exists_wait(s, p->unit);
	}
	if (r < 0 && sd_bus_error_is_set(&aerr))
		snprintf(why, len, "it exists and runs, and AttachProcessesToUnit: %s",
			 aerr.message);
	else if (r < 0)
		snprintf(why, len, "%s: %s", what,
			 sd_bus_error_is_set(&err) ? err.message : strerror(-r));
	sd_bus_error_free(&err);
	sd_bus_error_free(&aerr);
	return r;
}

/* p's processes into its scope: 0, or < 0 and why. */
static int scope_make(struct cmd_scoper *s, const struct cmd_scope_plan *p, bool adopt, char *why,
		      size_t len)
{
	char job[256];
	int r = scope_start(s, p, adopt, job, why, len);

	if (r)
		return r < 0 ? r : 0;
	if ((r = scope_job_wait(s, job)) < 0) {
		snprintf(why, len, "its start job: %s", strerror(-r));
		return r;
	}
	if (strcmp(s->result, "done")) {
		snprintf(why, len, "its start job: %s", s->result);
		return -EIO;
	}
	return 0;
}

static void scope_new(struct cmd_scoper *s, const struct cmd_scope_plan *p)
{
	uint64_t t0 = now_usec();
	char why[320];

	if (scope_make(s, p, false, why, sizeof(why)) < 0)
		pr_warn("partition %s: no scope %s: %s: its uvmm stays in commandd's cgroup",
			p->part, p->unit, why);
	else
		pr_debug("partition %s: monitor %d in %s (%.1f ms)", p->part, (int)p->pids[0],
			 p->unit, (double)(now_usec() - t0) / 1000.0);
}

/* "uvmm 812 and its monitor 811": what plan moves, for the log. */
static void adopt_what(const struct scope_req *r, char *buf, size_t len)
{
	bool uv = false, mon = false;

	for (unsigned i = 0; i < r->plan.npids; i++) {
		uv |= r->plan.pids[i] == r->uvmm;
		mon |= r->plan.pids[i] == r->mon;
	}
	if (uv && mon)
		snprintf(buf, len, "uvmm %d and its monitor %d", (int)r->uvmm, (int)r->mon);
	else if (uv)
		snprintf(buf, len, "uvmm %d", (int)r->uvmm);
	else
		snprintf(buf, len, "the monitor %d of uvmm %d", (int)r->mon, (int)r->uvmm);
}

/* The moved uvmm's KVM threads after it, from its old cgroup (text: its /proc/PID/cgroup then). */
static void adopt_kthreads(const struct scope_req *r, const char *text, struct cmd_scope_text *t)
{
	char from[CMD_SCOPE_CGROUP_MAX], to[CMD_SCOPE_CGROUP_MAX], what[256];
	struct cmd_scope_proc now;
	int n;

	if (cmd_scope_cgroup_parse(text, from, sizeof(from)))
		return;
	cmd_scope_proc_read(r->uvmm, r->uvmm_fd, false, &now, t);
	if (!now.cgroup || cmd_scope_cgroup_parse(now.cgroup, to, sizeof(to)) ||
	    !cmd_scope_cgroup_in(to, r->plan.unit))
		return; /* gone, or not where systemd said: nothing to follow */
	n = cmd_scope_kthreads_move(from, to, r->uvmm, what, sizeof(what));
	if (n < 0)
		pr_warn("partition %s: KVM's %s stays in %s: %s", r->plan.part, what, from,
			strerror(-n));
	else if (n > 0)
		pr_info("partition %s: KVM's %s moved into %s too", r->plan.part, what,
			r->plan.unit);
}

/* An adopted partition: what is not in its scope yet is moved there (scope_plan.c). */
static void scope_adopt(struct cmd_scoper *s, struct scope_req *r)
{
	struct cmd_scope_text *t = malloc(2 * sizeof(*t));
	struct cmd_scope_proc uv, mon;
	enum cmd_scope_move v[2];
	char what[96], why[320], from[CMD_SCOPE_CGROUP_MAX] = "?", name[CMD_NAME_MAX];
	uint64_t t0 = now_usec();

	if (!t) {
		pr_warn("partition %s: its scope not looked at: out of memory", r->plan.part);
		return;
	}
	cmd_scope_proc_read(r->uvmm, r->uvmm_fd, false, &uv, &t[0]);
	cmd_scope_proc_read(r->mon, r->mon_fd, true, &mon, &t[1]);
	/* The plan is made anew (not from its own name: it is cleared first). */
	snprintf(name, sizeof(name), "%s", r->plan.part);
	if (cmd_scope_adopt_plan(name, &uv, &mon, s->opts, s->self_unit[0] ? s->self_unit : NULL,
				 &r->plan, v))
		goto out; /* cmd_scoper_adopt made this plan already */
	if (v[1] == CMD_SCOPE_KEEP)
		pr_info("partition %s: monitor %d would die of SIGPWR (a commandd without "
			"scopes started it): it stays out of %s, so that a stop of the scope "
			"leaves it to record the uvmm's exit",
			r->plan.part, (int)r->mon, r->plan.unit);
	if (!r->plan.npids) {
		pr_debug("partition %s: uvmm %d %s", r->plan.part, (int)r->uvmm,
			 v[0] == CMD_SCOPE_GONE ? "is gone" : "is in its scope");
		goto out;
	}
	/* Where the first of them is (the monitor's, when it moves: where the uvmm was born). */
	cmd_scope_cgroup_parse(v[1] == CMD_SCOPE_MOVE ? mon.cgroup : uv.cgroup, from, sizeof(from));
	adopt_what(r, what, sizeof(what));
	if (scope_make(s, &r->plan, true, why, sizeof(why)) < 0) {
		pr_warn("partition %s: %s not moved into %s: %s: it stays in %s", r->plan.part,
			what, r->plan.unit, why, from);
		goto out;
	}
	pr_info("partition %s: %s moved from %s into %s (%.1f ms)", r->plan.part, what, from,
		r->plan.unit, (double)(now_usec() - t0) / 1000.0);
	if (v[0] == CMD_SCOPE_MOVE)
		adopt_kthreads(r, uv.cgroup, &t[1]); /* t[0] holds uv.cgroup */
out:
	free(t);
}

/* The monitor goes on: the uvmm starts in the scope, or where the monitor is. */
static void gate_open(int fd)
{
	if (write(fd, "s", 1) < 0)
		pr_debug("scope gate: %s",
			 strerror(errno)); /* the monitor is gone: nothing waits */
	close(fd);
}

static void req_free(struct scope_req *r)
{
	if (r->gate >= 0)
		gate_open(r->gate);
	if (r->uvmm_fd >= 0)
		close(r->uvmm_fd);
	if (r->mon_fd >= 0)
		close(r->mon_fd);
	free(r);
}

static void *scoper_main(void *arg)
{
	struct cmd_scoper *s = arg;
	struct scope_req *r;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		while (!s->stop && !s->reqs)
			pthread_cond_wait(&s->cond, &s->lock);
		if (!(r = s->reqs))
			break;
		if (!(s->reqs = r->next))
			s->tail = &s->reqs;
		/* A stop lets the queued monitors go and drops the adoptions. */
		if (!s->stop) {
			pthread_mutex_unlock(&s->lock);
			if (r->adopt)
				scope_adopt(s, r);
			else
				scope_new(s, &r->plan);
			pthread_mutex_lock(&s->lock);
		}
		req_free(r);
	}
	pthread_mutex_unlock(&s->lock);
	bus_drop(s);
	return NULL;
}

struct cmd_scoper *cmd_scoper_new(const struct cmd_opts *o)
{
	struct cmd_scoper *s = calloc(1, sizeof(*s));
	char *unit = NULL;

	if (!s)
		return NULL;
	s->opts = o;
	s->tail = &s->reqs;
	if (sd_pid_get_unit(0, &unit) >= 0)
		snprintf(s->self_unit, sizeof(s->self_unit), "%s", unit);
	free(unit);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	if (pthread_create(&s->thread, NULL, scoper_main, s)) {
		pthread_cond_destroy(&s->cond);
		pthread_mutex_destroy(&s->lock);
		free(s);
		return NULL;
	}
	return s;
}

void cmd_scoper_free(struct cmd_scoper *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	/* At most the call in progress (CALL_USEC + JOB_USEC); the rest are let go at once. */
	pthread_join(s->thread, NULL);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static void req_queue(struct cmd_scoper *s, struct scope_req *r)
{
	r->next = NULL;
	pthread_mutex_lock(&s->lock);
	*s->tail = r;
	s->tail = &r->next;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

void cmd_scoper_add(struct cmd_scoper *s, const char *name, pid_t monitor, int gate_fd)
{
	struct scope_req *r = malloc(sizeof(*r));
	int ret;

	if (!r) {
		pr_warn("partition %s: no scope: out of memory", name);
		return gate_open(gate_fd);
	}
	ret = cmd_scope_plan(name, monitor, s->opts, s->self_unit[0] ? s->self_unit : NULL,
			     &r->plan);
	if (ret) {
		pr_warn("partition %s: no scope: the name makes no unit name (%s)", name,
			strerror(-ret));
		free(r);
		return gate_open(gate_fd);
	}
	r->adopt = false;
	r->gate = gate_fd;
	r->uvmm = r->mon = 0;
	r->uvmm_fd = r->mon_fd = -1;
	req_queue(s, r);
}

void cmd_scoper_adopt(struct cmd_scoper *s, const char *name, pid_t uvmm, int pidfd, pid_t monitor,
		      int mon_pidfd)
{
	struct scope_req *r = malloc(sizeof(*r));
	int ret;

	if (!r) {
		pr_warn("partition %s: its scope not looked at: out of memory", name);
		return;
	}
	ret = cmd_scope_plan(name, 0, s->opts, NULL, &r->plan);
	if (ret) {
		pr_warn("partition %s: no scope: the name makes no unit name (%s)", name,
			strerror(-ret));
		free(r);
		return;
	}
	r->adopt = true;
	r->gate = -1;
	r->uvmm = uvmm;
	r->mon = monitor > 0 ? monitor : 0;
	/* Ours for the thread: the loop closes its own when the uvmm ends. */
	r->uvmm_fd = pidfd >= 0 ? fcntl(pidfd, F_DUPFD_CLOEXEC, 3) : -1;
	r->mon_fd = r->mon && mon_pidfd >= 0 ? fcntl(mon_pidfd, F_DUPFD_CLOEXEC, 3) : -1;
	req_queue(s, r);
}
