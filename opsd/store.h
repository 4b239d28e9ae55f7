/* SPDX-License-Identifier: GPL-2.0 */
#ifndef OPSD_STORE_H
#define OPSD_STORE_H

/*
 * opsd's desired state, in memory and on disk under $UV_STATE_DIR/opsd:
 * partitions/NAME.json (one file each), policy.json, and generation (the
 * state generation, saved when a delete or a policy change would otherwise
 * leave no file carrying it). Every file is replaced atomically, and the
 * memory changes only once the disk has, so a failed write loses nothing and
 * a kill -9 leaves the old or the new state.
 */

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "partition.h"
#include "policy.h"

struct opsd_store {
	char dir[PATH_MAX];	   /* $UV_STATE_DIR/opsd */
	char pdir[PATH_MAX];	   /* .../partitions */
	struct opsd_partition **v; /* sorted by name */
	size_t n, cap;
	uint64_t generation; /* bumped by every change of desired state or policy */
	struct opsd_policy policy;
};

/*
 * Creates the directories (0750) and loads what is there. A damaged file is
 * logged and renamed NAME.bad (so the next start does not trip on it again);
 * the rest loads. Fails only when the directories cannot be made or read.
 */
int opsd_store_open(struct opsd_store *s, const char *state_dir, char *err, size_t errlen);
void opsd_store_close(struct opsd_store *s);

struct opsd_partition *opsd_store_find(const struct opsd_store *s, const char *name);

/* The changes. Each returns 0, or a negative errno with a one-line reason. */
/* Takes p on success. -EEXIST: the name is taken. */
int opsd_store_create(struct opsd_store *s, struct opsd_partition *p, char *err, size_t errlen);
int opsd_store_set_intent(struct opsd_store *s, struct opsd_partition *p, enum opsd_desired desired,
			  enum opsd_stop_mode mode, char *err, size_t errlen);
/* -EBUSY while it should or does run. Frees p on success. */
int opsd_store_delete(struct opsd_store *s, struct opsd_partition *p, char *err, size_t errlen);
int opsd_store_set_policy(struct opsd_store *s, const struct opsd_policy *pol, char *err,
			  size_t errlen);

#endif
