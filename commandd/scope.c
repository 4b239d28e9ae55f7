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
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
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
#define SD_E_UNIT_EXISTS "org.freedesktop.systemd1.UnitExists"
#define UNIT_SAFE	 "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789:_.-"

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
	plan->pid = monitor;
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

/* The thread and its queue. */

struct scope_req {
	struct scope_req *next;
	struct cmd_scope_plan plan;
	int gate;
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
	    (r = sd_bus_message_append(m, "(sv)", "PIDs", "au", 1, (uint32_t)p->pid)) < 0 ||
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

static void scope_make(struct cmd_scoper *s, const struct cmd_scope_plan *p)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	const char *what = "";
	uint64_t t0 = now_usec();
	char job[256];
	int r = 0;

	for (unsigned tries = 0;; tries++) {
		sd_bus_error_free(&err);
		if ((r = bus_get(s, &what)) < 0)
			break;
		what = "StartTransientUnit";
		r = scope_call(s, p, job, &err);
		if (r >= 0 || tries >= EXISTS_TRIES)
			break;
		if (sd_bus_error_has_name(&err, SD_E_UNIT_EXISTS))
			scope_exists_wait(s, p->unit);
		else if (sd_bus_is_open(s->bus) > 0 || tries)
			break; /* a refusal, or a new connection failing too */
	}
	if (r >= 0) {
		what = "its start job";
		r = scope_job_wait(s, job);
	}
	if (r >= 0 && strcmp(s->result, "done")) {
		pr_warn("partition %s: %s did not start (job %s): its uvmm stays in commandd's "
			"cgroup",
			p->part, p->unit, s->result);
	} else if (r < 0) {
		pr_warn("partition %s: no scope %s: %s: %s: its uvmm stays in commandd's cgroup",
			p->part, p->unit, what,
			sd_bus_error_is_set(&err) ? err.message : strerror(-r));
	} else {
		pr_debug("partition %s: monitor %d in %s (%.1f ms)", p->part, (int)p->pid, p->unit,
			 (double)(now_usec() - t0) / 1000.0);
	}
	sd_bus_error_free(&err);
}

/* The monitor goes on: the uvmm starts in the scope, or where the monitor is. */
static void gate_open(int fd)
{
	if (write(fd, "s", 1) < 0)
		pr_debug("scope gate: %s",
			 strerror(errno)); /* the monitor is gone: nothing waits */
	close(fd);
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
		if (!s->stop) {
			pthread_mutex_unlock(&s->lock);
			scope_make(s, &r->plan);
			pthread_mutex_lock(&s->lock);
		}
		gate_open(r->gate);
		free(r);
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
	r->gate = gate_fd;
	r->next = NULL;
	pthread_mutex_lock(&s->lock);
	*s->tail = r;
	s->tail = &r->next;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}
