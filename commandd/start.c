// SPDX-License-Identifier: GPL-2.0
/*
 * A partition's start, step by step, each an asynchronous ultravisord call
 * whose callback checks whether the wish changed meanwhile:
 * partition_reserve (admission), channel_create per device on the chosen
 * iopartd, the uvmm spawned (waiting), partition_attach of its pid, then the
 * uvmm let go. A failure says whether to try again, and when.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "commandd.h"
#include "ctl_msg.h"
#include "log.h"

#define RETRY_MIN_MS 1000
#define RETRY_MAX_MS 30000
#define CALL_MS	     10000
#define CREATE_MS    15000 /* ultravisord waits up to 5 s for the iopartd */

void cmd_start_fail(struct cmd_part *p, const char *why, enum cmd_fail kind)
{
	uint64_t gen = p->def ? p->def->generation : 0;
	char reason[CMD_REASON_MAX];

	cmd_part_close_start(p);
	p->start_err[0] = 0;
	p->nchans = 0;
	if (kind == CMD_FAIL_RETRY) {
		p->backoff_ms = p->backoff_ms ? p->backoff_ms * 2 : RETRY_MIN_MS;
		if (p->backoff_ms > RETRY_MAX_MS)
			p->backoff_ms = RETRY_MAX_MS;
		snprintf(reason, sizeof(reason), "%.200s; trying again in %u s", why,
			 p->backoff_ms / 1000);
		cmd_schedule(p->retry_timer, p->backoff_ms);
	} else {
		snprintf(reason, sizeof(reason), "%s", why);
		p->blocked = kind == CMD_FAIL_RESOURCES;
		p->blocked_gen = gen;
	}
	p->phase = CMD_IDLE;
	cmd_report(p, "failed", reason);
	if (kind == CMD_FAIL_DEFINITION)
		cmd_hold_set(p, true); /* after the report: the hold keeps its state */
	if (p->reserved)
		cmd_part_release(p);
}

static void start_abort(struct cmd_part *p)
{
	pr_info("partition %s: start abandoned, it is no longer wanted", p->name);
	cmd_part_close_start(p);
	p->nchans = 0;
	p->phase = CMD_IDLE;
	if (p->reserved)
		cmd_part_release(p);
	else
		cmd_part_reconcile(p);
}

static void start_attached(struct cmd *c, void *arg, json_object *rep, int *fds, int nfds,
			   const char *err)
{
	struct cmd_part *p = arg;

	(void)c;
	(void)rep;
	(void)fds;
	(void)nfds;
	p->busy--;
	if (err) {
		/* The uvmm exits (125) on the closed pipe; its exit ends the start. */
		snprintf(p->start_err, sizeof(p->start_err), "partition_attach: %s", err);
		close(p->go_fd);
		p->go_fd = -1;
		return;
	}
	if (write(p->go_fd, "g", 1) != 1)
		pr_warn("partition %s: cannot release uvmm: %s", p->name, strerror(errno));
	close(p->go_fd);
	p->go_fd = -1;
	p->phase = CMD_RUNNING;
	p->backoff_ms = 0;
	pr_debug("partition %s: attached, %.1f ms after the start began", p->name,
		 (double)(cmd_now_us() - p->start_us) / 1000.0);
	cmd_iop_count(c);
	cmd_report(p, "running", "");
	/* Refused until the uvmm attached itself; asked again every 500 ms till then. */
	cmd_standby_check(c);
	cmd_part_reconcile(p);
}

int cmd_part_watch(struct cmd_part *p)
{
	p->watch_ev = event_new(p->cmd->base, p->watch_fd, EV_READ, cmd_part_watch_cb, p);
	return p->watch_ev && !event_add(p->watch_ev, NULL) ? 0 : -ENOMEM;
}

/* The uvmm's pid came (or the monitor failed): attach it, then let it go. */
static void start_pid_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cmd_part *p = arg;
	struct cmd *c = p->cmd;
	json_object *req;
	pid_t pid;
	int ret;

	(void)what;
	ret = cmd_spawn_pid(fd, &pid);
	if (ret == -EAGAIN)
		return;
	event_free(p->pid_ev);
	p->pid_ev = NULL;
	close(p->pid_fd);
	p->pid_fd = -1;
	if (ret) {
		/* The monitor exits (124) and its watch ends the start; without one, now. */
		snprintf(p->start_err, sizeof(p->start_err),
			 "cannot start uvmm: its monitor failed");
		if (!p->watch_ev)
			cmd_start_fail(p, "cannot start uvmm: its monitor failed", CMD_FAIL_RETRY);
		return;
	}
	p->pid = pid;
	p->pidfd = cmd_pidfd_open(pid);
	if (p->pidfd < 0)
		pr_warn("partition %s: no pidfd for uvmm %d", p->name, (int)pid);
	pr_info("partition %s: uvmm pid %d (monitor %d), %.1f ms after the start began", p->name,
		(int)pid, (int)p->mon_pid, (double)(cmd_now_us() - p->start_us) / 1000.0);
	req = ctl_request("partition_attach");
	json_object_object_add(req, "name", json_object_new_string(p->name));
	json_object_object_add(req, "pid", json_object_new_int((int)pid));
	if (uvdc_call(c, req, NULL, 0, CALL_MS, start_attached, p) == 0) {
		p->busy++;
		return;
	}
	/* The uvmm exits (125) on the closed pipe; its exit ends the start. */
	snprintf(p->start_err, sizeof(p->start_err), "ultravisord is not reachable");
	close(p->go_fd);
	p->go_fd = -1;
}

/*
 * Forks the monitor and goes back to the loop: the pid comes on a pipe the
 * loop watches (start_pid_cb), so other starts, replies and failover events
 * are not held up while the monitor starts the uvmm.
 */
static void start_spawn(struct cmd_part *p)
{
	struct cmd *c = p->cmd;
	struct cmd_uvmm_args a = {
		.uvmm = c->opts.uvmm,
		.name = p->name,
		.uvd_sock = c->uvd_sock,
		.memfd = p->memfd,
		.memory_mib = p->def->memory_mib,
		.cpus = p->def->cpus,
		.kernel = p->def->kernel,
		.initrd = p->def->initrd,
		.cmdline = p->def->cmdline,
		.ndisks = p->def->ndisks,
		.nnets = p->def->nnets,
	};
	char console[4200], err[512];
	struct cmd_spawn s;

	snprintf(console, sizeof(console), "%s/partitions/%s/console.sock", c->runtime_dir,
		 p->name);
	a.console = console;
	memcpy(a.fds, p->fe, sizeof(a.fds));
	if (cmd_spawn_uvmm(c, p, &a, &s, err, sizeof(err)))
		return cmd_start_fail(p, err, CMD_FAIL_RETRY);
	/* The monitor has its copies; ultravisord keeps the memory. */
	cmd_part_close_start(p);
	p->go_fd = s.go_fd;
	p->pid_fd = s.pid_fd;
	p->mon_pid = s.mon_pid;
	p->log_off = s.log_off;
	p->watch_fd = s.mon_pidfd;
	if (p->watch_fd < 0 || cmd_part_watch(p))
		pr_err("partition %s: cannot watch uvmm's monitor %d: its exit goes unseen",
		       p->name, (int)p->mon_pid);
	p->pid_ev = event_new(c->base, p->pid_fd, EV_READ | EV_PERSIST, start_pid_cb, p);
	if (!p->pid_ev || event_add(p->pid_ev, NULL)) {
		/* Closing go and pid makes the monitor and the uvmm exit. */
		snprintf(p->start_err, sizeof(p->start_err), "cannot watch uvmm's monitor");
		if (!p->watch_ev)
			return cmd_start_fail(p, "cannot watch uvmm's monitor", CMD_FAIL_RETRY);
		cmd_part_close_start(p);
	}
}

static enum cmd_fail chan_fail_kind(json_object *rep, const char *err)
{
	if (!rep)
		return CMD_FAIL_RETRY;
	if (strstr(err, "is down") || strstr(err, "never registered"))
		return CMD_FAIL_RESOURCES;
	return CMD_FAIL_DEFINITION;
}

static void start_chan(struct cmd *c, void *arg, json_object *rep, int *fds, int nfds,
		       const char *err)
{
	struct cmd_chan *ch = arg;
	struct cmd_part *p = ch->part;
	json_object *v;

	(void)c;
	p->busy--;
	p->chan_wait--;
	if (err && !p->start_err[0]) {
		snprintf(p->start_err, sizeof(p->start_err), "channel %u: %s", ch->device, err);
		p->start_kind = chan_fail_kind(rep, err);
	} else if (!err && nfds == 1) {
		p->fe[ch->device] = fds[0];
		fds[0] = -1;
		if (json_object_object_get_ex(rep, "channel", &v))
			ch->id = json_object_get_int(v);
	}
	if (p->chan_wait)
		return;
	if (p->start_err[0]) {
		char why[CMD_REASON_MAX];

		snprintf(why, sizeof(why), "%s", p->start_err);
		return cmd_start_fail(p, why, p->start_kind);
	}
	if (!cmd_part_wanted(p))
		return start_abort(p);
	start_spawn(p);
}

static void start_channels(struct cmd_part *p, int iop)
{
	struct cmd *c = p->cmd;
	char spec[4200], err[256];
	json_object *req, *s;

	p->nchans = p->def->ndisks + p->def->nnets;
	p->chan_wait = p->nchans;
	for (unsigned i = 0; i < p->nchans; i++) {
		struct cmd_chan *ch = &p->chans[i];

		*ch = (struct cmd_chan){.part = p, .device = i, .id = -1};
		snprintf(ch->iopartd, sizeof(ch->iopartd), "%s", c->iops[iop].name);
		cmd_export_spec(p->def, i, spec, sizeof(spec), err, sizeof(err));
		req = ctl_request("channel_create");
		s = json_object_new_object();
		json_object_object_add(s, "export", json_object_new_string(spec));
		json_object_object_add(req, "partition", json_object_new_string(p->name));
		json_object_object_add(req, "device", json_object_new_int((int)i));
		json_object_object_add(req, "iopartd", json_object_new_string(ch->iopartd));
		json_object_object_add(req, "spec", s);
		if (uvdc_call(c, req, NULL, 0, CREATE_MS, start_chan, ch) == 0) {
			p->busy++;
			continue;
		}
		/* Not connected: the calls already sent fail the same way soon. */
		p->chan_wait--;
		snprintf(p->start_err, sizeof(p->start_err), "ultravisord is not reachable");
		p->start_kind = CMD_FAIL_RETRY;
	}
	if (!p->chan_wait)
		cmd_start_fail(p, p->start_err, CMD_FAIL_RETRY);
}

static void start_reserved(struct cmd *c, void *arg, json_object *rep, int *fds, int nfds,
			   const char *err)
{
	struct cmd_part *p = arg;
	json_object *hc;
	int iop;

	p->busy--;
	if (err) {
		if (rep && strstr(err, "admission refused"))
			return cmd_start_fail(p, err, CMD_FAIL_RESOURCES);
		/* A record left from before (a crash mid-start): release, then again. */
		p->reserved = rep && strstr(err, "exists");
		return cmd_start_fail(p, err, CMD_FAIL_RETRY);
	}
	p->reserved = true;
	if (nfds != 1)
		return cmd_start_fail(p, "partition_reserve gave no memory", CMD_FAIL_RETRY);
	p->memfd = fds[0];
	fds[0] = -1;
	CPU_ZERO(&p->host_cpus);
	if (json_object_object_get_ex(rep, "host_cpus", &hc))
		for (size_t i = 0; i < json_object_array_length(hc); i++) {
			int cpu = json_object_get_int(json_object_array_get_idx(hc, i));

			if (cpu >= 0 && cpu < CPU_SETSIZE)
				CPU_SET(cpu, &p->host_cpus);
		}
	p->dedicated = json_object_get_boolean(json_object_object_get(rep, "dedicated"));
	if (!cmd_part_wanted(p))
		return start_abort(p);
	if (!p->def->ndisks && !p->def->nnets)
		return start_spawn(p);
	iop = cmd_pick_iopartd(c->iops, c->niops, NULL);
	if (iop < 0)
		return cmd_start_fail(p, "no healthy iopartd to serve its channels",
				      CMD_FAIL_RESOURCES);
	start_channels(p, iop);
}

/*
 * A kernel or initrd that cannot be read fails the start before anything is
 * reserved, with the reason, instead of a uvmm that exits 2 and a restart
 * policy that tries it again (the uvmm runs as commandd does: what we can
 * open, it can). O_NONBLOCK: a FIFO there must not hold the loop.
 */
static int start_boot_file(const char *what, const char *path, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	if (!path)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		snprintf(err, errlen, "cannot read %s %.400s: %s", what, path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s %.400s is not a regular file", what, path);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

void cmd_part_start(struct cmd_part *p)
{
	struct cmd *c = p->cmd;
	struct cmd_def *d = p->def;
	char spec[4200], err[512];
	json_object *req;

	for (unsigned i = 0; i < d->ndisks; i++)
		if (cmd_export_spec(d, i, spec, sizeof(spec), err, sizeof(err)))
			return cmd_start_fail(p, err, CMD_FAIL_DEFINITION);
	/* Held until a new start, as for an image the iopartd refuses. */
	if (start_boot_file("kernel", d->kernel, err, sizeof(err)) ||
	    start_boot_file("initrd", d->initrd, err, sizeof(err)))
		return cmd_start_fail(p, err, CMD_FAIL_DEFINITION);
	if (access(c->opts.uvmm, X_OK)) {
		snprintf(err, sizeof(err), "cannot run uvmm %.400s: %s", c->opts.uvmm,
			 strerror(errno));
		return cmd_start_fail(p, err, CMD_FAIL_RETRY);
	}
	if ((d->ndisks || d->nnets) && cmd_pick_iopartd(c->iops, c->niops, NULL) < 0)
		return cmd_start_fail(p, "no healthy iopartd to serve its channels",
				      CMD_FAIL_RESOURCES);
	p->phase = CMD_STARTING;
	p->start_err[0] = 0;
	p->start_us = cmd_now_us();
	cmd_report(p, "starting", "");
	req = ctl_request("partition_reserve");
	json_object_object_add(req, "name", json_object_new_string(p->name));
	json_object_object_add(req, "memory_mib", json_object_new_int64((int64_t)d->memory_mib));
	json_object_object_add(req, "cpus", json_object_new_int((int)d->cpus));
	json_object_object_add(req, "hugepages", json_object_new_boolean(d->hugepages));
	json_object_object_add(req, "dedicated", json_object_new_boolean(c->policy.dedicated));
	if (uvdc_call(c, req, NULL, 0, CALL_MS, start_reserved, p) == 0)
		p->busy++;
	else
		cmd_start_fail(p, "ultravisord is not reachable", CMD_FAIL_RETRY);
}
