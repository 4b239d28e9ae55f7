/* SPDX-License-Identifier: GPL-2.0 */
#ifndef OPSD_PARTITION_H
#define OPSD_PARTITION_H

/*
 * A partition's definition, desired state and last reported actual state, and
 * their JSON forms (docs/control-plane.md, "opsd REST API (v1)"). Parsers
 * refuse with a one-line reason naming the field, worded for the API's error.
 */

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OPSD_NAME_MAX	   63
#define OPSD_MAX_DISKS	   16
#define OPSD_MAX_NETS	   8
#define OPSD_CPUS_MAX	   255
#define OPSD_MEM_MIN_MIB   64 /* uvmm refuses less */
#define OPSD_MEM_MAX_MIB   1048576
#define OPSD_DEFAULT_CPUS  1 /* uvmm's defaults */
#define OPSD_DEFAULT_MIB   512
#define OPSD_IFNAME_MAX	   15
#define OPSD_IOPARTD_MAX   32
#define OPSD_REASON_MAX	   1024
#define OPSD_DISK_PATH_MAX 4095
#define OPSD_BOOT_PATH_MAX 4095 /* kernel, initrd */
/* x86 Linux's COMMAND_LINE_SIZE less its NUL; uvmm refuses more than the kernel's cmdline_size. */
#define OPSD_CMDLINE_MAX 2047

enum opsd_restart { OPSD_RESTART_ON_FAILURE, OPSD_RESTART_ALWAYS, OPSD_RESTART_NEVER };
enum opsd_desired { OPSD_DESIRED_STOPPED, OPSD_DESIRED_RUNNING };
enum opsd_stop_mode { OPSD_STOP_SHUTDOWN, OPSD_STOP_DESTROY };
enum opsd_format { OPSD_FORMAT_DETECT, OPSD_FORMAT_RAW, OPSD_FORMAT_QCOW2 };
enum opsd_state {
	OPSD_STATE_UNKNOWN,
	OPSD_STATE_STOPPED,
	OPSD_STATE_STARTING,
	OPSD_STATE_RUNNING,
	OPSD_STATE_STOPPING,
	OPSD_STATE_CRASHED,
	OPSD_STATE_FAILED,
};

struct opsd_disk {
	char *path;
	enum opsd_format format;
	bool readonly;
};

struct opsd_net {
	char tap[OPSD_IFNAME_MAX + 1];
};

/* What commandd last reported; memory only, "unknown" after a restart. */
struct opsd_actual {
	enum opsd_state state;
	int64_t pid;
	char iopartd[OPSD_IOPARTD_MAX + 1];
	char standby[OPSD_IOPARTD_MAX + 1]; /* the iopartd its uvmm switches to on failure */
	char *reason;
};

/* The fields a start, shutdown or destroy changes, saved and restored as one. */
struct opsd_intent {
	enum opsd_desired desired;
	enum opsd_stop_mode stop_mode;
	uint64_t generation; /* the state generation of the last change */
};

struct opsd_partition {
	char name[OPSD_NAME_MAX + 1];
	unsigned cpus;
	unsigned memory_mib;
	bool hugepages;
	unsigned ndisks;
	struct opsd_disk disks[OPSD_MAX_DISKS];
	unsigned nnets;
	struct opsd_net nets[OPSD_MAX_NETS];
	/* Direct kernel boot; NULL: uvmm's firmware boots the first disk. */
	char *kernel, *initrd, *cmdline;
	enum opsd_restart restart;
	struct opsd_intent intent;
	struct opsd_actual actual;
};

/* Name tables, indexed by the enums above; -1 when s names none. */
extern const char *const opsd_restart_names[3];
extern const char *const opsd_state_names[7];
int opsd_enum_parse(const char *const *names, size_t n, const char *s);
#define OPSD_ENUM_PARSE(table, s) opsd_enum_parse(table, sizeof(table) / sizeof(table[0]), s)

bool opsd_name_valid(const char *name);

/*
 * A create request: name, cpus, memory_mib, hugepages, disks, nets, kernel,
 * initrd, cmdline, restart; anything else is refused (initrd and cmdline
 * only with kernel). restart_dflt fills an absent "restart".
 * Returns a new partition (desired stopped, actual unknown) or NULL with the
 * reason in err.
 */
struct opsd_partition *opsd_partition_from_create(json_object *o, enum opsd_restart restart_dflt,
						  char *err, size_t errlen);
/* A saved definition (opsd_partition_to_file's form); NULL with err when damaged. */
struct opsd_partition *opsd_partition_from_file(json_object *o, char *err, size_t errlen);
void opsd_partition_free(struct opsd_partition *p);

/* The API's form (definition, intent, actual) and the saved form (no actual). */
json_object *opsd_partition_to_json(const struct opsd_partition *p);
json_object *opsd_partition_to_file(const struct opsd_partition *p);

/*
 * A PUT .../actual body: state (required), pid, iopartd, reason. Fills out
 * (whose reason is malloc'd; free with opsd_actual_clear) or refuses.
 */
int opsd_actual_parse(json_object *o, struct opsd_actual *out, char *err, size_t errlen);
void opsd_actual_clear(struct opsd_actual *a);
/* Actual states in which a partition may not be deleted. */
bool opsd_actual_active(const struct opsd_actual *a);

#endif
