/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COMMANDD_H
#define COMMANDD_H

/*
 * commandd: the decision maker (docs/commandd.md). It reconciles the desired
 * state (opsd) with the actual state (ultravisord): starts and stops uvmm
 * processes, chooses the iopartd of each channel, fails channels over,
 * restarts per policy, pins CPUs.
 *
 * def.c       opsd's partitions and policy as records; the pure decisions
 * opsc.c      the opsd client: two threads doing blocking HTTP, results to the loop
 * uvdc.c      the ultravisord client: asynchronous calls and events on the loop
 * spawn.c     uvmm (through a monitor that records its exit) and iopartd processes
 * part.c      a partition's life: reconcile, stop, exit, restart policy, adoption
 * start.c     a partition's start, step by step
 * failover.c  iopartds, channel moves, supervision
 * status.c    ultravisord's status and events, opsd's list
 * hold.c      partitions held until started again, kept across restarts
 * ctl.c       commandd.sock
 * scope.c     each uvmm in a transient systemd scope (scope.h)
 * main.c      options, directories, the event loop
 */

#include <json-c/json.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct ctl_conn;
struct ctl_server;
struct event;
struct event_base;

#define CMD_NAME_MAX	  64 /* partition and iopartd names, with the NUL */
#define CMD_DISKS_MAX	  16
#define CMD_NETS_MAX	  8
#define CMD_DEV_MAX	  (CMD_DISKS_MAX + CMD_NETS_MAX)
#define CMD_IOPS_MAX	  8
#define CMD_REASON_MAX	  256
#define CMD_RESTARTS_KEPT 1001 /* restart_max is at most 1000 */

enum cmd_restart { CMD_RESTART_ON_FAILURE, CMD_RESTART_ALWAYS, CMD_RESTART_NEVER };

struct cmd_policy {
	enum cmd_restart restart_default;
	unsigned restart_max;
	unsigned restart_window_s;
	bool dedicated;	       /* cpu_pinning: dedicated */
	bool failover_auto;    /* failover: auto or move */
	bool failover_standby; /* failover: auto (standbys, moves where none) */
};

struct cmd_disk {
	char *path;
	char format[8]; /* "", "raw", "qcow2" */
	bool readonly;
};

/* A partition as opsd defines it (one list item of GET /v1/partitions). */
struct cmd_def {
	char name[CMD_NAME_MAX];
	unsigned cpus;
	uint64_t memory_mib;
	bool hugepages;
	unsigned ndisks, nnets;
	struct cmd_disk disks[CMD_DISKS_MAX];
	char taps[CMD_NETS_MAX][16];
	char *kernel, *initrd, *cmdline; /* direct kernel boot; NULL: the firmware's */
	enum cmd_restart restart;
	bool run;	     /* desired: running */
	bool destroy;	     /* stop_mode: destroy */
	uint64_t generation; /* of its last change */
	char actual[16];     /* opsd's copy of our report, to notice a lost one */
	int actual_pid;
};

/* def.c: the pure part, unit-tested on its own. */
void cmd_policy_default(struct cmd_policy *p);
int cmd_policy_parse(json_object *o, struct cmd_policy *p, char *err, size_t errlen);
/* One partition of opsd's list; -EINVAL with err on a malformed one. */
int cmd_def_parse(json_object *o, enum cmd_restart dflt, struct cmd_def *d, char *err,
		  size_t errlen);
void cmd_def_fini(struct cmd_def *d);
const char *cmd_restart_name(enum cmd_restart r);
/* Device i's export for the iopartd: "vhost-user-blk,path=IMG,readonly=on". -EINVAL: unusable path.
 */
int cmd_export_spec(const struct cmd_def *d, unsigned dev, char *buf, size_t len, char *err,
		    size_t errlen);

/* What the restart policy says about an exit that nobody asked for. */
enum cmd_exit_verdict {
	CMD_EXIT_RESTART, /* start it again */
	CMD_EXIT_STOPPED, /* the guest powered off: actual stopped, no restart */
	CMD_EXIT_CRASHED, /* a failure and a policy that does not restart: crashed */
	CMD_EXIT_GIVE_UP, /* restart_max within restart_window_s: failed */
};
/* clean: exit status 0. times[0..n) are the earlier restarts' CLOCK_MONOTONIC seconds. */
enum cmd_exit_verdict cmd_exit_decide(enum cmd_restart r, bool clean, const struct cmd_policy *pol,
				      const int64_t *times, unsigned n, int64_t now);
/*
 * An exit that a restart cannot help: uvmm's status 2 (it refused its
 * configuration: a kernel that is not one, a bad option), 5 and 6 (its
 * firmware found nothing to boot on the disks, or the boot failed).
 */
bool cmd_exit_refused(bool known, int wstatus);
/* "exited with status 3", "killed by signal 9"; known false: "ended (exit status unknown)". */
void cmd_exit_describe(bool known, int wstatus, char *buf, size_t len);
/*
 * What a uvmm said of its failure: the text of the first "PROG: error: TEXT"
 * line in text[0..len) (its log since it started), cut to fit buf. False
 * when there is none.
 */
bool cmd_exit_cause(const char *text, size_t len, char *buf, size_t buflen);

struct cmd_iop {
	char name[CMD_NAME_MAX];
	bool healthy;
	bool expected; /* named by --iopartd */
	pid_t pid;     /* the registered process (0: none known) */
	unsigned nchans;
	/* --supervise-iopartd */
	pid_t child;	     /* the one we started, until reaped */
	int64_t next_spawn;  /* CLOCK_MONOTONIC ms before which we do not start another */
	unsigned backoff_ms; /* grows while it keeps dying young */
	int64_t spawned_at;
};

/* The healthy expected iopartd with fewest channels, not named skip; -1 when none. */
int cmd_pick_iopartd(const struct cmd_iop *iops, unsigned n, const char *skip);

/* The uvmm command line (argv strings in buf), fds as given. */
struct cmd_uvmm_args {
	const char *uvmm;
	const char *name;
	const char *uvd_sock;
	const char *console;
	int memfd;
	uint64_t memory_mib;
	unsigned cpus;
	const char *kernel, *initrd, *cmdline; /* NULL: not given */
	unsigned ndisks, nnets;
	int fds[CMD_DEV_MAX]; /* disks then nets: devices 0..ndisks+nnets-1 */
};
#define CMD_ARGV_MAX (22 + 2 * CMD_DEV_MAX)
/* Fills argv (NULL-terminated) with pointers into buf; -ENOSPC when buf is short. */
int cmd_uvmm_argv(const struct cmd_uvmm_args *a, char **argv, char *buf, size_t len);

/* The daemon's state. */
enum cmd_phase {
	CMD_IDLE,      /* no uvmm, nothing reserved */
	CMD_STARTING,  /* reserve, channels, spawn, attach in flight */
	CMD_RUNNING,   /* its uvmm runs */
	CMD_STOPPING,  /* asked to stop, waiting for the exit */
	CMD_RELEASING, /* partition_release in flight */
};

struct cmd_part;

struct cmd_chan {
	struct cmd_part *part;
	unsigned device;
	int id; /* ultravisord's channel number, -1 before it is known */
	char iopartd[CMD_NAME_MAX];
	bool pending;	     /* its iopartd is dead: waits for a move */
	bool moving;	     /* channel_move in flight */
	int64_t down_at_us;  /* when its iopartd went down: failover latency */
	int64_t grace_until; /* ms: a dead iopartd found at rebuild may still come back */
	unsigned push_tries; /* moves again because no uvmm was attached to take the last */
	/* standby.c: the iopartd its uvmm switches to on failure ("": none yet). */
	char standby[CMD_NAME_MAX];
	bool standby_req; /* channel_standby in flight */
	bool no_standby;  /* its kind cannot have one (a tap): moved on failure */
	bool promoting;	  /* its iopartd died: waiting for the uvmm's switch until grace_until */
	int64_t standby_retry;	/* ms: not asked again before */
	unsigned standby_tries; /* refusals in a row: the next ask backs off */
};

struct cmd;

enum cmd_fail {
	CMD_FAIL_RETRY,	     /* transient: try again after a back-off */
	CMD_FAIL_RESOURCES,  /* admission, no iopartd: again when resources change */
	CMD_FAIL_DEFINITION, /* the definition cannot work: again when it changes */
};

struct cmd_part {
	struct cmd_part *next;
	struct cmd *cmd;
	char name[CMD_NAME_MAX];
	struct cmd_def *def; /* NULL: opsd does not know it (deleted, or not seen yet) */
	enum cmd_phase phase;
	unsigned busy; /* ultravisord calls in flight that carry this record */
	bool seen;     /* in opsd's last list */

	/* A start in progress. */
	int memfd;
	int fe[CMD_DEV_MAX]; /* front ends of the channels, -1 when none */
	unsigned ndev, chan_wait;
	char start_err[CMD_REASON_MAX];
	enum cmd_fail start_kind; /* of start_err */
	cpu_set_t host_cpus;
	bool dedicated;
	int go_fd;  /* releases the spawned uvmm once attached */
	int pid_fd; /* the monitor tells the uvmm's pid on it */
	struct event *pid_ev;
	int64_t start_us; /* when the start began: its time in the log */
	int64_t log_off;  /* uvmm.log's size when its uvmm was spawned; -1: unknown (adopted) */
	bool reserved;	  /* ultravisord has a record of it (to release) */
	unsigned release_tries;

	/* Its uvmm. */
	pid_t pid, mon_pid;
	pid_t exited_pid; /* the last uvmm whose exit was handled: never twice */
	int pidfd;	  /* the uvmm: signals */
	int watch_fd;	  /* the monitor when there is one, else the uvmm: its exit */
	struct event *watch_ev;
	bool adopted; /* found running at a (re)start of commandd */
	/* Ended before opsd's wish was known: judged once it is (away: while we were). */
	bool ended_early, ended_away;
	struct event *stop_timer;
	bool killed;
	bool stop_asked; /* we stopped it: its exit is no failure */
	struct cmd_chan chans[CMD_DEV_MAX];
	unsigned nchans;

	/* Decisions. */
	bool hold; /* do not start again until the generation changes */
	uint64_t hold_gen;
	bool blocked; /* refused for resources: retry when they change */
	uint64_t blocked_gen;
	int64_t restarts[CMD_RESTARTS_KEPT];
	unsigned nrestarts;
	unsigned restart_total;
	struct event *retry_timer;
	unsigned backoff_ms;

	/* The actual state as reported (and to report). */
	char state[16];
	char reason[CMD_REASON_MAX];
	char rep_state[16];
	char rep_reason[CMD_REASON_MAX];
	pid_t rep_pid;
	char rep_iop[CMD_NAME_MAX], rep_standby[CMD_NAME_MAX];
	bool rep_sent;
	uint64_t rep_seq; /* opsc's number of the last report sent */
};

struct opsc;
struct cmd_scoper;

/* --scope: each uvmm in a systemd scope of its own (scope.h). */
enum cmd_scope_mode { CMD_SCOPE_AUTO, CMD_SCOPE_ON, CMD_SCOPE_OFF };

struct cmd_opts {
	char uvmm[4096];
	char iopartd_bin[4096];
	bool supervise;
	unsigned shutdown_timeout_s;
	char iop_names[CMD_IOPS_MAX][CMD_NAME_MAX];
	unsigned niop_names;
	enum cmd_scope_mode scope;
};

struct cmd {
	struct event_base *base;
	struct cmd_opts opts;
	char runtime_dir[4096];
	gid_t gid; /* UV_GROUP's, or -1 */
	char uvd_sock[4200];
	struct cmd_policy policy;
	bool have_policy, have_desired, have_status;
	uint64_t generation;
	struct cmd_part *parts;
	struct cmd_iop iops[CMD_IOPS_MAX];
	unsigned niops;
	struct opsc *opsc;
	struct cmd_scoper *scoper; /* NULL: no scopes (--scope, not under systemd) */
	bool opsd_up;
	char holds_path[4300];
	json_object *holds; /* what holds.json says */

	/* ultravisord */
	struct ctl_conn *uvd;
	bool uvd_ready; /* hello, subscribe and the first status answered */
	struct event *uvd_timer;
	struct uvdc_call *calls;
	struct event *tick;	 /* the periodic resync */
	struct event *sup_timer; /* the next iopartd start that had to wait */
	struct event *fo_timer;	 /* the next channel move that had to wait */
	struct event *sigchld;
	struct ctl_server *srv;
	bool stopping;

	/* counters for status */
	unsigned moves_in_flight;
	bool sup_after_moves; /* an iopartd start put off until the moves are answered */
	unsigned moves, moves_failed;
	double last_failover_ms, max_failover_ms;
	unsigned iop_restarts;
};

/* uvdc.c */
/*
 * A reply (err NULL), a refusal (rep the reply, err its "error"), or a
 * failure (rep NULL, err why). The callback keeps an fd by setting it to -1.
 */
typedef void (*uvdc_cb)(struct cmd *c, void *arg, json_object *rep, int *fds, int nfds,
			const char *err);
/* Sends req (consumed) with fds (duplicated); -ENOTCONN when not connected (cb never runs). */
int uvdc_call(struct cmd *c, json_object *req, const int *fds, int nfds, unsigned timeout_ms,
	      uvdc_cb cb, void *arg);
int uvdc_init(struct cmd *c);
/* Asks ultravisord's status; the answer goes to cmd_on_uvd_status. */
void uvdc_status(struct cmd *c);
void uvdc_fini(struct cmd *c);

/* opsc.c */
struct opsc *opsc_new(struct cmd *c, const char *sock);
void opsc_free(struct opsc *o);
/*
 * PUT /v1/partitions/NAME/actual, queued (body consumed), superseding a
 * report on NAME still queued. Returns its sequence number (see cmd_on_desired).
 */
uint64_t opsc_report(struct opsc *o, const char *name, json_object *body);
/* A full GET of policy and partitions, besides the long poll. */
void opsc_resync(struct opsc *o);

/* part.c */
struct cmd_part *cmd_part_get(struct cmd *c, const char *name, bool create);
void cmd_part_reconcile(struct cmd_part *p);
void cmd_reconcile_all(struct cmd *c);
void cmd_report(struct cmd_part *p, const char *state, const char *reason);
/* The same state again: sent only when what the report shows (its standby, say) changed. */
void cmd_report_again(struct cmd_part *p);
/*
 * Sends the report again when opsd's copy differs (lost report, opsd
 * restart) and is not older than the report (rep_done: see cmd_on_desired).
 */
void cmd_report_check(struct cmd_part *p, uint64_t rep_done);
void cmd_part_release(struct cmd_part *p);
void cmd_part_adopt(struct cmd_part *p, pid_t pid);
/*
 * Its uvmm (p->pid) ended: judged by the exit status its monitor recorded.
 * away: it ended while no commandd watched (found so at a start).
 */
void cmd_part_ended(struct cmd_part *p, bool away);
/* The exits cmd_part_ended put off until opsd's wish came: judged now. */
void cmd_parts_judge_early(struct cmd *c);
/* Resources came free (a release, an iopartd up): blocked partitions may try again. */
void cmd_resources_changed(struct cmd *c);
void cmd_part_maybe_free(struct cmd_part *p);
const char *cmd_part_iopartd(const struct cmd_part *p);

/* part.c, start.c: the pieces they share */
bool cmd_part_wanted(const struct cmd_part *p);
void cmd_part_close_start(struct cmd_part *p);
void cmd_schedule(struct event *ev, unsigned ms);
void cmd_part_start(struct cmd_part *p);
void cmd_start_fail(struct cmd_part *p, const char *why, enum cmd_fail kind);
int cmd_part_watch(struct cmd_part *p);
void cmd_part_watch_cb(int fd, short what, void *arg);

/* hold.c: holds survive a restart of commandd */
int cmd_holds_load(struct cmd *c, const char *state_dir);
void cmd_hold_restore(struct cmd_part *p);
/* Holds (until the generation changes) or releases p, saving the change. */
void cmd_hold_set(struct cmd_part *p, bool hold);

/* spawn.c */
struct cmd_spawn {
	pid_t mon_pid;
	int mon_pidfd;
	int pid_fd;	 /* the monitor writes the uvmm's pid here (non-blocking) */
	int go_fd;	 /* write 'g' to let it exec; close to make it exit */
	int64_t log_off; /* where the uvmm's output starts in its uvmm.log */
};
/* Forks the monitor, which starts the uvmm; never waits for either. */
int cmd_spawn_uvmm(struct cmd *c, struct cmd_part *p, const struct cmd_uvmm_args *a,
		   struct cmd_spawn *out, char *err, size_t errlen);
/* The uvmm's pid from pid_fd: 0, -EAGAIN (not yet), -ECHILD (the monitor could not start it). */
int cmd_spawn_pid(int pid_fd, pid_t *pid);
/* UV_GROUP's gid into c->gid, once: new partition directories get it. */
void cmd_group_lookup(struct cmd *c);
/* The third word of a monitor's exit record when its scope was stopped. */
#define CMD_EXIT_SCOPE_STOP "scope-stop"
/*
 * The exit the monitor recorded for pid: 0, *wstatus and *scope_stop (the
 * monitor got its scope's SIGPWR: the host stopped the guest), or -ENOENT.
 */
int cmd_exit_read(struct cmd *c, const char *name, pid_t pid, int *wstatus, bool *scope_stop);
/* cmd_exit_cause() of name's uvmm.log from byte from on: false when none, or from < 0. */
bool cmd_exit_cause_read(struct cmd *c, const char *name, int64_t from, char *buf, size_t len);
/* /proc/PID/NAME into buf (NUL-terminated, cut to fit); NULL when it cannot be read. */
const char *cmd_proc_text(pid_t pid, const char *name, char *buf, size_t len);
/* Our monitor of the running uvmm pid (its parent), or 0 when it has none. */
pid_t cmd_monitor_of(pid_t pid);
int cmd_spawn_iopartd(struct cmd *c, const char *name, pid_t *pid, char *err, size_t errlen);
/* The path of a sibling program: BINDIR/../SUBDIR/NAME in a build tree, else from PATH. */
int cmd_find_program(const char *subdir, const char *name, char *out, size_t len);
int cmd_pidfd_open(pid_t pid);
int cmd_pidfd_signal(int pidfd, int sig);

/* failover.c */
struct cmd_iop *cmd_iop_get(struct cmd *c, const char *name, bool create);
void cmd_iop_up(struct cmd *c, const char *name, pid_t pid);
void cmd_iop_down(struct cmd *c, const char *name);
/* Moves pending channels that may go somewhere now. */
void cmd_failover_pending(struct cmd *c);
/* One more failover of ch: counted, and timed from its iopartd_down (ms; -1: untimed). */
double cmd_failover_done(struct cmd *c, const struct cmd_chan *ch);
/* {op, partition, device, iopartd} for ultravisord about channel ch. */
json_object *cmd_chan_request(const char *op, const struct cmd_chan *ch, const char *iopartd);

/* standby.c */
/* Asks for a standby for every running channel that has none. */
void cmd_standby_check(struct cmd *c);
/* ch's iopartd died at t0_us: true when its standby takes over (promoting set). */
bool cmd_standby_take(struct cmd *c, struct cmd_chan *ch, int64_t t0_us);
/* Channels whose switch did not come in time are pending a move. */
void cmd_standby_deadlines(struct cmd *c);
/* Moves in flight or switches awaited: an iopartd start waits. */
bool cmd_failover_busy(const struct cmd *c);
/* ultravisord's events channel_promoted and standby_lost. */
void cmd_chan_promoted(struct cmd *c, json_object *ev);
void cmd_standby_lost(struct cmd *c, json_object *ev);
void cmd_iop_count(struct cmd *c);
void cmd_supervise_check(struct cmd *c);
void cmd_child_exited(struct cmd *c, pid_t pid, int wstatus);

/* status.c */
/* ultravisord's status: iopartds, channels, partitions to adopt or clean up. */
void cmd_on_uvd_status(struct cmd *c, json_object *st);
void cmd_on_event(struct cmd *c, json_object *ev);
/*
 * opsd's partitions and policy (from the long poll or a resync), asked for
 * once every report up to rep_done had been answered.
 */
void cmd_on_desired(struct cmd *c, json_object *policy, json_object *list, bool from_watch,
		    uint64_t rep_done);
json_object *cmd_status_json(struct cmd *c);
int cmd_ctl_msg(struct ctl_conn *cc, json_object *msg, int *fds, int nfds, void *arg);

int64_t cmd_now_ms(void);
int64_t cmd_now_us(void);

#endif
