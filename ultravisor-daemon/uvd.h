/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UVD_H
#define UVD_H

/*
 * ultravisord: the resource database and channel broker (docs/ultravisord.md).
 * It records and hands out; it decides nothing.
 *
 * db.c       the records (partitions, channels, iopartds) and admission
 * memory.c   the memory pool's default, guest memory (memfd, hugetlb)
 * state.c    state.json: written on every change, read at start
 * ops.c      the control messages that are not about channels
 * channel.c  channel_create / channel_move / channel_standby / channel_inflight
 * standby.c  channel_promoted, standbys lost with their iopartd
 * main.c     options, directories, the event loop
 */

#include <json-c/json.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct ctl_conn;
struct event;
struct event_base;

#define UVD_NAME_MAX	64 /* partition and iopartd names, with the NUL */
#define UVD_DEVICE_MAX	64 /* device indexes per partition: 0..63 */
#define UVD_MEM_MIN_MIB 16
#define UVD_MEM_MAX_MIB 1048576
#define UVD_VCPUS_MAX	255

enum uvd_part_state {
	UVD_PART_RESERVED, /* memory allocated, no uvmm attached yet */
	UVD_PART_RUNNING,  /* a live uvmm is attached */
	UVD_PART_STOPPED,  /* its uvmm exited (seen), or its memory died with ultravisord */
	UVD_PART_CRASHED,  /* its uvmm was gone when ultravisord came back */
};

struct uvd_part {
	struct uvd_part *next;
	struct uvd *owner;
	char name[UVD_NAME_MAX];
	uint64_t memory_mib;
	unsigned vcpus;
	bool hugepages;
	bool dedicated;	     /* host_cpus are this partition's alone */
	cpu_set_t host_cpus; /* dedicated: its own; else the shared set when reserved */
	enum uvd_part_state state;
	pid_t pid;	       /* the attached uvmm; kept after it exits, for reports */
	uint64_t pid_start;    /* its start time (/proc/PID/stat), against pid reuse */
	int memfd;	       /* -1 once lost (restart) */
	int pidfd;	       /* -1 when not watched */
	struct event *pid_ev;  /* pidfd readable: the uvmm exited */
	struct ctl_conn *uvmm; /* the attached uvmm's control connection, if any */
	char reason[128];      /* why stopped/crashed */
};

enum uvd_iop_health {
	UVD_IOP_HEALTHY, /* registered and connected */
	UVD_IOP_DEAD,	 /* its connection ended */
};

struct uvd_iopartd {
	struct uvd_iopartd *next;
	char name[UVD_NAME_MAX];
	enum uvd_iop_health health;
	struct ctl_conn *conn; /* NULL while dead */
	pid_t pid;
	int64_t since; /* CLOCK_REALTIME seconds of the last change */
};

enum uvd_chan_state {
	UVD_CHAN_PENDING, /* adopt_channel sent, no answer yet */
	UVD_CHAN_UP,	  /* the iopartd adopted it */
};

struct uvd_chan {
	struct uvd_chan *next;
	unsigned id;
	char partition[UVD_NAME_MAX];
	unsigned device;
	char iopartd[UVD_NAME_MAX];
	/*
	 * The iopartd holding a standby connection that the uvmm promotes on its
	 * own when the active one goes away ("": none); a move drops it.
	 */
	char standby[UVD_NAME_MAX];
	enum uvd_chan_state state;
	unsigned epoch;		  /* incremented by every move and promotion */
	int inflight_fd;	  /* a dup of the front end's in-flight area, -1 when none */
	json_object *device_spec; /* opaque, handed to the iopartd as it came */
};

/* Roles a connection declares with hello. */
enum uvd_role {
	UVD_ROLE_NONE,
	UVD_ROLE_IOPARTD,
	UVD_ROLE_UVMM,
	UVD_ROLE_COMMANDD,
	UVD_ROLE_OPSD,
	UVD_ROLE_CLIENT
};

#define UVD_EV_IOPARTD_UP     (1u << 0)
#define UVD_EV_IOPARTD_DOWN   (1u << 1)
#define UVD_EV_PARTITION_EXIT (1u << 2)
#define UVD_EV_PROMOTED	      (1u << 3) /* channel_promoted */
#define UVD_EV_STANDBY_LOST   (1u << 4)

/* What ultravisord knows of one control connection. */
struct uvd_peer {
	struct uvd_peer *next;
	struct ctl_conn *conn;
	enum uvd_role role;
	char name[UVD_NAME_MAX];
	unsigned events; /* UVD_EV_* it subscribed to */
	struct uvd_iopartd *iop;
};

struct uvd_pending; /* partition.c */
int uvd_op_partition_reserve(struct uvd *u, struct ctl_conn *c, json_object *msg);
int uvd_op_partition_attach(struct uvd *u, struct ctl_conn *c, json_object *msg);
int uvd_op_partition_release(struct uvd *u, struct ctl_conn *c, json_object *msg);

struct uvd {
	struct event_base *base;
	cpu_set_t cpus; /* host CPUs it may hand out */
	uint64_t pool_mib;
	char state_path[4096];
	struct uvd_part *parts;
	struct uvd_chan *chans;
	struct uvd_iopartd *iops;
	struct uvd_peer *peers;
	struct uvd_pending *pending;
	unsigned next_chan;
	unsigned adopt_timeout_ms;
};

/* db.c */
void uvd_init(struct uvd *u);
void uvd_fini(struct uvd *u);
struct uvd_part *uvd_part_find(struct uvd *u, const char *name);
struct uvd_iopartd *uvd_iop_find(struct uvd *u, const char *name);
struct uvd_chan *uvd_chan_find(struct uvd *u, const char *partition, unsigned device);
struct uvd_chan *uvd_chan_by_id(struct uvd *u, unsigned id);
void uvd_chan_free(struct uvd *u, struct uvd_chan *c);
uint64_t uvd_pool_used(const struct uvd *u);
/* Host CPUs dedicated to some partition. */
void uvd_cpus_dedicated(const struct uvd *u, cpu_set_t *out);
/* [a-z0-9][a-z0-9_.-]{0,62}, as opsd's partition names. */
bool uvd_name_ok(const char *name);
/*
 * Admission: may a partition of this size be reserved? 0 and the host CPUs it
 * gets in *cpus, or -ENOSPC with the reason in err ("memory pool: ...").
 */
int uvd_admit(const struct uvd *u, uint64_t memory_mib, unsigned vcpus, bool dedicated,
	      cpu_set_t *cpus, char *err, size_t errlen);
void uvd_part_free(struct uvd *u, struct uvd_part *p);
const char *uvd_part_state_name(enum uvd_part_state s);
int uvd_part_state_parse(const char *s, enum uvd_part_state *out);
json_object *uvd_cpus_json(const cpu_set_t *set);
/* "0-3,6": the CPUs, each < CPU_SETSIZE; -EINVAL on a malformed list. */
int uvd_cpus_parse(const char *s, cpu_set_t *out);
int uvd_cpus_from_json(json_object *a, cpu_set_t *out);

/* memory.c */
/* 80% of MemTotal, in MiB; 0 when /proc/meminfo cannot say. */
uint64_t uvd_pool_default_mib(void);
/* A sealed memfd of memory_mib MiB, on huge pages when asked; fd or -errno, err says. */
int uvd_memory_alloc(const char *name, uint64_t memory_mib, bool hugepages, char *err,
		     size_t errlen);
/* Start time of pid in clock ticks since boot (0 when unknown). */
uint64_t uvd_pid_start(pid_t pid);
/* A process with this pid (and start time, when known) still exists. */
bool uvd_pid_alive(pid_t pid, uint64_t start);

/* state.c */
json_object *uvd_state_json(const struct uvd *u);
/* Rebuilds the records from a state document; -EINVAL with err on a bad one. */
int uvd_state_apply(struct uvd *u, json_object *doc, char *err, size_t errlen);
/* Writes u->state_path; logs failures (the reply still goes out). */
void uvd_state_save(struct uvd *u);
/*
 * Reads u->state_path at start. A missing file is an empty start; a corrupt
 * one is renamed to state.json.bad, logged, and the start is empty.
 */
int uvd_state_load(struct uvd *u);
/*
 * After a load: a running partition whose uvmm still lives is watched again;
 * one whose uvmm is gone becomes crashed; a reserved one, whose memory died
 * with the old ultravisord, stopped.
 */
void uvd_state_revive(struct uvd *u);

/* ops.c */
int uvd_on_msg(struct ctl_conn *c, json_object *msg, int *fds, int nfds, void *arg);
void uvd_on_close(struct ctl_conn *c, void *arg);
struct uvd_peer *uvd_peer_of(struct uvd *u, struct ctl_conn *c);
void uvd_event(struct uvd *u, unsigned ev, json_object *e);
/* Watches a running partition's uvmm (pidfd); marks it stopped when gone. */
void uvd_part_watch(struct uvd *u, struct uvd_part *p);
void uvd_part_unwatch(struct uvd_part *p);
json_object *uvd_status_json(struct uvd *u);

/* partition.c */
int uvd_op_partition_reserve(struct uvd *u, struct ctl_conn *c, json_object *msg);
int uvd_op_partition_attach(struct uvd *u, struct ctl_conn *c, json_object *msg);
int uvd_op_partition_release(struct uvd *u, struct ctl_conn *c, json_object *msg);

/* channel.c */
int uvd_channel_create(struct uvd *u, struct ctl_conn *c, json_object *msg);
int uvd_channel_move(struct uvd *u, struct ctl_conn *c, json_object *msg);
/* A standby connection to another iopartd, handed to the uvmm (docs/ultravisord.md). */
int uvd_channel_standby(struct uvd *u, struct ctl_conn *c, json_object *msg);
int uvd_channel_inflight(struct uvd *u, struct ctl_conn *c, json_object *msg, int *fds, int nfds);
/* An iopartd's answer to adopt_channel. */
void uvd_channel_adopted(struct uvd *u, struct ctl_conn *c, json_object *reply);
/* A connection ended: fail what waited on it. */
void uvd_channel_conn_gone(struct uvd *u, struct ctl_conn *c);
void uvd_channel_fini(struct uvd *u);
/* An event about ch: its channel, partition, device, iopartd, standby and epoch. */
json_object *uvd_chan_event(const char *name, const struct uvd_chan *ch);

/* standby.c */
/* The uvmm switched channel `device` to its standby. */
int uvd_channel_promoted(struct uvd *u, struct ctl_conn *c, json_object *msg);
/* iop died: the standbys it held are gone; said to subscribers. */
void uvd_standby_lost(struct uvd *u, const struct uvd_iopartd *iop);

#endif
