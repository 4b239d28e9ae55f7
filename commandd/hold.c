// SPDX-License-Identifier: GPL-2.0
/*
 * Partitions commandd holds (does not start although opsd wants them
 * running) until their generation changes: a guest that powered itself off
 * under on-failure, a crash under never, a restart policy that gave up, a
 * definition that cannot work. The hold must survive a restart of commandd,
 * or a restart would boot guests that chose to stop. So it is kept in
 * $UV_STATE_DIR/commandd/holds.json, {"NAME": {"generation": G, "state": S,
 * "reason": R}, ...}, rewritten atomically on every change.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commandd.h"
#include "daemon.h"
#include "log.h"

#define HOLDS_MAX (1 << 20)

int cmd_holds_load(struct cmd *c, const char *state_dir)
{
	char dir[4200], err[512], *buf = NULL;
	size_t len;
	int ret;

	if (uv_path_join(dir, sizeof(dir), state_dir, "commandd") ||
	    uv_path_join(c->holds_path, sizeof(c->holds_path), dir, "holds.json")) {
		pr_err("%s: path too long", state_dir);
		return -ENAMETOOLONG;
	}
	if ((ret = uv_dir_ensure(dir, 0750, err, sizeof(err)))) {
		pr_err("%s", err);
		return ret;
	}
	ret = uv_file_read(c->holds_path, HOLDS_MAX, &buf, &len, err, sizeof(err));
	if (ret == -ENOENT)
		return 0;
	c->holds = ret ? NULL : json_tokener_parse(buf);
	free(buf);
	if (!json_object_is_type(c->holds, json_type_object)) {
		/* Lose the holds rather than refuse to run: at worst a held guest boots. */
		pr_warn("%s: %s; starting without holds", c->holds_path,
			ret ? err : "not a JSON object");
		json_object_put(c->holds);
		c->holds = NULL;
	}
	return 0;
}

/* A new record takes the hold it had before commandd restarted. */
void cmd_hold_restore(struct cmd_part *p)
{
	json_object *h, *v;

	if (!json_object_object_get_ex(p->cmd->holds, p->name, &h) ||
	    !json_object_object_get_ex(h, "generation", &v))
		return;
	p->hold = true;
	p->hold_gen = (uint64_t)json_object_get_int64(v);
	if (json_object_object_get_ex(h, "state", &v))
		snprintf(p->state, sizeof(p->state), "%s", json_object_get_string(v));
	if (json_object_object_get_ex(h, "reason", &v))
		snprintf(p->reason, sizeof(p->reason), "%s", json_object_get_string(v));
	pr_info("partition %s: held (%s) until it is started again", p->name, p->state);
}

static void holds_save(struct cmd *c)
{
	json_object *o = json_object_new_object();
	char err[512];
	const char *s;

	for (struct cmd_part *p = c->parts; p; p = p->next) {
		json_object *h;

		if (!p->hold || !p->def)
			continue;
		h = json_object_new_object();
		json_object_object_add(h, "generation",
				       json_object_new_int64((int64_t)p->hold_gen));
		json_object_object_add(h, "state", json_object_new_string(p->state));
		json_object_object_add(h, "reason", json_object_new_string(p->reason));
		json_object_object_add(o, p->name, h);
	}
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
	if (c->holds_path[0] &&
	    uv_file_write_atomic(c->holds_path, s, strlen(s), 0640, err, sizeof(err)))
		pr_warn("%s", err);
	json_object_put(c->holds);
	c->holds = o;
}

void cmd_hold_set(struct cmd_part *p, bool hold)
{
	uint64_t gen = p->def ? p->def->generation : 0;

	if (p->hold == hold && (!hold || p->hold_gen == gen))
		return;
	p->hold = hold;
	p->hold_gen = gen;
	holds_save(p->cmd);
}
