// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "field.h"
#include "policy.h"

static const char *const pinning_names[] = {"none", "dedicated"};
static const char *const failover_names[] = {"auto", "manual", "move"};

void opsd_policy_default(struct opsd_policy *p)
{
	*p = (struct opsd_policy){
		.restart_default = OPSD_RESTART_ON_FAILURE,
		.restart_max = 5,
		.restart_window_s = 60,
		.cpu_pinning = OPSD_PIN_NONE,
		.failover = OPSD_FAILOVER_AUTO,
	};
}

static int policy_member(struct opsd_policy *p, const char *key, json_object *val, char *err,
			 size_t errlen)
{
	int64_t x = 0;
	int ret, e = 0;

	if (!strcmp(key, "restart_default")) {
		ret = OPSD_FIELD_ENUM(val, key, opsd_restart_names, &e, err, errlen);
		p->restart_default = e;
	} else if (!strcmp(key, "restart_max")) {
		ret = opsd_field_int(val, key, 0, OPSD_RESTART_MAX_MAX, &x, err, errlen);
		p->restart_max = x;
	} else if (!strcmp(key, "restart_window_s")) {
		ret = opsd_field_int(val, key, 1, OPSD_WINDOW_MAX_S, &x, err, errlen);
		p->restart_window_s = x;
	} else if (!strcmp(key, "cpu_pinning")) {
		ret = OPSD_FIELD_ENUM(val, key, pinning_names, &e, err, errlen);
		p->cpu_pinning = e;
	} else if (!strcmp(key, "failover")) {
		ret = OPSD_FIELD_ENUM(val, key, failover_names, &e, err, errlen);
		p->failover = e;
	} else {
		ret = opsd_field_unknown(key, err, errlen);
	}
	return ret;
}

int opsd_policy_apply(struct opsd_policy *p, json_object *o, char *err, size_t errlen)
{
	struct opsd_policy n = *p;

	if (!json_object_is_type(o, json_type_object)) {
		snprintf(err, errlen, "the body must be a JSON object");
		return -EINVAL;
	}
	json_object_object_foreach(o, key, val)
	{
		int ret = policy_member(&n, key, val, err, errlen);

		if (ret)
			return ret;
	}
	*p = n;
	return 0;
}

json_object *opsd_policy_to_json(const struct opsd_policy *p)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "restart_default",
			       json_object_new_string(opsd_restart_names[p->restart_default]));
	json_object_object_add(o, "restart_max", json_object_new_int(p->restart_max));
	json_object_object_add(o, "restart_window_s", json_object_new_int(p->restart_window_s));
	json_object_object_add(o, "cpu_pinning",
			       json_object_new_string(pinning_names[p->cpu_pinning]));
	json_object_object_add(o, "failover", json_object_new_string(failover_names[p->failover]));
	return o;
}
