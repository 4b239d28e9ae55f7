/* SPDX-License-Identifier: GPL-2.0 */
#ifndef OPSD_POLICY_H
#define OPSD_POLICY_H

/* The operator's policy for commandd (docs/control-plane.md, "Policy"). */

#include <json-c/json.h>
#include <stddef.h>

#include "partition.h"

#define OPSD_RESTART_MAX_MAX 1000
#define OPSD_WINDOW_MAX_S    86400

enum opsd_pinning { OPSD_PIN_NONE, OPSD_PIN_DEDICATED };
/* auto: standbys, and moves where none; move: moves only; manual: neither. */
enum opsd_failover { OPSD_FAILOVER_AUTO, OPSD_FAILOVER_MANUAL, OPSD_FAILOVER_MOVE };

struct opsd_policy {
	enum opsd_restart restart_default;
	int restart_max; /* restarts within restart_window_s before "failed" */
	int restart_window_s;
	enum opsd_pinning cpu_pinning;
	enum opsd_failover failover;
};

void opsd_policy_default(struct opsd_policy *p);
/*
 * Applies the members of o to p: any subset of the policy's keys (a PUT
 * changes what it names and keeps the rest); an unknown key or a bad value
 * refuses the whole object and leaves p untouched.
 */
int opsd_policy_apply(struct opsd_policy *p, json_object *o, char *err, size_t errlen);
json_object *opsd_policy_to_json(const struct opsd_policy *p);

#endif
