// SPDX-License-Identifier: GPL-2.0
/* The routes of the v1 API (docs/control-plane.md) and their handlers, but GET /v1/status. */
#include <errno.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "opsd.h"

#define API_AUDIT_DEFAULT 100

enum api_route {
	R_NONE,
	R_PARTITIONS,
	R_PARTITION,
	R_START,
	R_SHUTDOWN,
	R_DESTROY,
	R_ACTUAL,
	R_STATUS,
	R_POLICY,
	R_AUDIT,
};

#define M_GET  (EVHTTP_REQ_GET | EVHTTP_REQ_HEAD)
#define M_POST EVHTTP_REQ_POST

static const struct {
	unsigned methods;
	const char *allow; /* the Allow header of a 405 */
	const char *param; /* the query parameter it takes, if any */
} api_routes[] = {
	[R_PARTITIONS] = {M_GET | M_POST, "GET, HEAD, POST", "wait"},
	[R_PARTITION] = {M_GET | EVHTTP_REQ_DELETE, "GET, HEAD, DELETE", NULL},
	[R_START] = {M_POST, "POST", NULL},
	[R_SHUTDOWN] = {M_POST, "POST", NULL},
	[R_DESTROY] = {M_POST, "POST", NULL},
	[R_ACTUAL] = {EVHTTP_REQ_PUT, "PUT", NULL},
	[R_STATUS] = {M_GET, "GET, HEAD", NULL},
	[R_POLICY] = {M_GET | EVHTTP_REQ_PUT, "GET, HEAD, PUT", NULL},
	[R_AUDIT] = {M_GET, "GET, HEAD", "limit"},
};

/* name gets the NAME of /v1/partitions/NAME[/...] (unchecked, at most OPSD_NAME_MAX). */
static enum api_route api_route(const char *path, char *name)
{
	static const struct {
		const char *word;
		enum api_route route;
	} actions[] = {
		{"start", R_START},
		{"shutdown", R_SHUTDOWN},
		{"destroy", R_DESTROY},
		{"actual", R_ACTUAL},
	};
	const char *slash;
	size_t len;

	if (strncmp(path, "/v1/", 4))
		return R_NONE;
	path += 4;
	if (!strcmp(path, "partitions"))
		return R_PARTITIONS;
	if (!strcmp(path, "status"))
		return R_STATUS;
	if (!strcmp(path, "policy"))
		return R_POLICY;
	if (!strcmp(path, "audit"))
		return R_AUDIT;
	if (strncmp(path, "partitions/", 11))
		return R_NONE;
	path += 11;
	slash = strchr(path, '/');
	len = slash ? (size_t)(slash - path) : strlen(path);
	if (!len || len > OPSD_NAME_MAX)
		return R_NONE;
	memcpy(name, path, len);
	name[len] = 0;
	if (!slash)
		return R_PARTITION;
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (!strcmp(slash + 1, actions[i].word))
			return actions[i].route;
	return R_NONE;
}

/* A query parameter the route does not take is refused like an unknown field. */
static bool api_params_ok(struct opsd_req *r, const char *allowed)
{
	struct evkeyval *kv;

	TAILQ_FOREACH(kv, &r->params, next)
	{
		if (!allowed || strcmp(kv->key, allowed)) {
			opsd_reply_error(r->req, 400, "unknown query parameter '%.64s'", kv->key);
			return false;
		}
	}
	return true;
}

/* A decimal integer in [min, max], no sign, no spaces; -1 when it is not. */
static int api_param_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t x = 0;

	if (!*s || strlen(s) > 19)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		x = x * 10 + (*s - '0');
	}
	if (x < min || x > max)
		return -1;
	*out = x;
	return 0;
}

json_object *opsd_api_list(struct opsd *d)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array();

	for (size_t i = 0; i < d->store.n; i++)
		json_object_array_add(a, opsd_partition_to_json(d->store.v[i]));
	json_object_object_add(o, "generation", json_object_new_int64(d->store.generation));
	json_object_object_add(o, "partitions", a);
	return o;
}

void opsd_api_changed(struct opsd *d)
{
	struct opsd_held *h;
	json_object *list;

	if (TAILQ_EMPTY(&d->watches))
		return;
	list = opsd_api_list(d);
	while ((h = TAILQ_FIRST(&d->watches)))
		opsd_held_reply(h, 200, json_object_get(list));
	json_object_put(list);
}

static void api_watch_expire(struct opsd_held *h)
{
	opsd_held_reply(h, 200, opsd_api_list(h->d));
}

/*
 * With wait=GEN, the reply waits until the generation is no longer GEN. A GEN
 * above ours comes from before a restart that lost deletes: answered at once.
 */
static void api_list(struct opsd_req *r)
{
	const char *w = evhttp_find_header(&r->params, "wait");
	struct timeval tv = {OPSD_WAIT_S, 0};
	uint64_t gen;

	if (!w) {
		opsd_reply(r->req, 200, opsd_api_list(r->d));
		return;
	}
	if (api_param_uint(w, 0, INT64_MAX, &gen)) {
		opsd_reply_error(r->req, 400, "'wait' must be a generation (an integer >= 0)");
		return;
	}
	if (gen != r->d->store.generation) {
		opsd_reply(r->req, 200, opsd_api_list(r->d));
		return;
	}
	opsd_held_new(r, &r->d->watches, &tv, api_watch_expire, NULL, NULL);
}

static void api_create(struct opsd_req *r)
{
	struct opsd *d = r->d;
	struct opsd_partition *p;
	char err[512], loc[128];
	json_object *o;
	int ret;

	if (!opsd_req_may_change(r) || !(o = opsd_req_body(r)))
		return;
	p = opsd_partition_from_create(o, d->store.policy.restart_default, err, sizeof(err));
	json_object_put(o);
	if (!p) {
		opsd_reply_error(r->req, 400, "%s", err);
		return;
	}
	ret = opsd_store_create(&d->store, p, err, sizeof(err));
	if (ret) {
		opsd_partition_free(p);
		opsd_reply_error(r->req, ret == -EEXIST ? 409 : 500, "%s", err);
		return;
	}
	pr_info("partition '%s' created by uid %u", p->name, (unsigned)r->cred.uid);
	opsd_req_audit(r, 201, p->name);
	snprintf(loc, sizeof(loc), "/v1/partitions/%s", p->name);
	evhttp_add_header(evhttp_request_get_output_headers(r->req), "Location", loc);
	opsd_reply(r->req, 201, opsd_partition_to_json(p));
	opsd_api_changed(d);
}

static struct opsd_partition *api_find(struct opsd_req *r, const char *name)
{
	struct opsd_partition *p =
		opsd_name_valid(name) ? opsd_store_find(&r->d->store, name) : NULL;

	if (!p)
		opsd_reply_error(r->req, 404, "no partition '%s'", name);
	return p;
}

static void api_delete(struct opsd_req *r, struct opsd_partition *p)
{
	char err[512], name[OPSD_NAME_MAX + 1];
	int ret;

	strcpy(name, p->name);
	ret = opsd_store_delete(&r->d->store, p, err, sizeof(err));
	if (ret) {
		opsd_reply_error(r->req, ret == -EBUSY ? 409 : 500, "%s", err);
		return;
	}
	pr_info("partition '%s' deleted by uid %u", name, (unsigned)r->cred.uid);
	opsd_req_audit(r, 204, name);
	opsd_reply(r->req, 204, NULL);
	opsd_api_changed(r->d);
}

static void api_intent(struct opsd_req *r, struct opsd_partition *p, enum api_route route)
{
	enum opsd_desired want = route == R_START ? OPSD_DESIRED_RUNNING : OPSD_DESIRED_STOPPED;
	/* A start keeps the stop mode; it only matters once the partition is to stop. */
	enum opsd_stop_mode mode = route == R_START	? p->intent.stop_mode
				   : route == R_DESTROY ? OPSD_STOP_DESTROY
							: OPSD_STOP_SHUTDOWN;
	char err[512];

	if (opsd_store_set_intent(&r->d->store, p, want, mode, err, sizeof(err))) {
		opsd_reply_error(r->req, 500, "%s", err);
		return;
	}
	pr_info("partition '%s': %s by uid %u", p->name, strrchr(r->path, '/') + 1,
		(unsigned)r->cred.uid);
	opsd_req_audit(r, 202, p->name);
	opsd_reply(r->req, 202, opsd_partition_to_json(p));
	opsd_api_changed(r->d);
}

/* commandd's report: memory only, no generation, no audit (it is not a wish). */
static void api_actual(struct opsd_req *r, struct opsd_partition *p)
{
	struct opsd_actual a;
	json_object *o = opsd_req_body(r);
	char err[512];

	if (!o)
		return;
	if (opsd_actual_parse(o, &a, err, sizeof(err))) {
		json_object_put(o);
		opsd_reply_error(r->req, 400, "%s", err);
		return;
	}
	json_object_put(o);
	if (a.state != p->actual.state)
		pr_info("partition '%s' is %s%s%s", p->name, opsd_state_names[a.state],
			a.reason && *a.reason ? ": " : "", a.reason ? a.reason : "");
	opsd_actual_clear(&p->actual);
	p->actual = a;
	opsd_reply(r->req, 200, opsd_partition_to_json(p));
}

static void api_policy_put(struct opsd_req *r)
{
	struct opsd_policy pol = r->d->store.policy;
	json_object *o = opsd_req_body(r);
	char err[512];

	if (!o)
		return;
	if (opsd_policy_apply(&pol, o, err, sizeof(err))) {
		json_object_put(o);
		opsd_reply_error(r->req, 400, "%s", err);
		return;
	}
	json_object_put(o);
	if (opsd_store_set_policy(&r->d->store, &pol, err, sizeof(err))) {
		opsd_reply_error(r->req, 500, "%s", err);
		return;
	}
	pr_info("policy changed by uid %u", (unsigned)r->cred.uid);
	opsd_req_audit(r, 200, NULL);
	opsd_reply(r->req, 200, opsd_policy_to_json(&r->d->store.policy));
	opsd_api_changed(r->d);
}

static void api_audit(struct opsd_req *r)
{
	const char *l = evhttp_find_header(&r->params, "limit");
	uint64_t limit = API_AUDIT_DEFAULT;
	json_object *recs, *o;
	char err[PATH_MAX + 64];

	if (l && api_param_uint(l, 1, OPSD_AUDIT_LIMIT_MAX, &limit)) {
		opsd_reply_error(r->req, 400, "'limit' must be an integer from 1 to %d",
				 OPSD_AUDIT_LIMIT_MAX);
		return;
	}
	recs = opsd_audit_tail(&r->d->audit, limit, err, sizeof(err));
	if (!recs) {
		opsd_reply_error(r->req, 500, "%s", err);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "records", recs);
	opsd_reply(r->req, 200, o);
}

static void api_partition(struct opsd_req *r, enum api_route route, const char *name)
{
	bool read = r->method & M_GET;
	struct opsd_partition *p;

	if (!read && !opsd_req_may_change(r))
		return;
	p = api_find(r, name);
	if (!p)
		return;
	if (route == R_PARTITION && read)
		opsd_reply(r->req, 200, opsd_partition_to_json(p));
	else if (route == R_PARTITION)
		api_delete(r, p);
	else if (route == R_ACTUAL)
		api_actual(r, p);
	else
		api_intent(r, p, route);
}

void opsd_api_dispatch(struct opsd_req *r)
{
	char name[OPSD_NAME_MAX + 1] = "";
	enum api_route route = api_route(r->path, name);
	bool read = r->method & M_GET;

	if (route == R_NONE) {
		opsd_reply_error(r->req, 404, "no such resource '%.200s'", r->path);
		return;
	}
	if (!(api_routes[route].methods & r->method)) {
		evhttp_add_header(evhttp_request_get_output_headers(r->req), "Allow",
				  api_routes[route].allow);
		opsd_reply_error(r->req, 405, "%s is not allowed on %s (allowed: %s)",
				 r->method_name, r->path, api_routes[route].allow);
		return;
	}
	if (!api_params_ok(r, api_routes[route].param))
		return;
	switch (route) {
	case R_PARTITIONS:
		if (read)
			api_list(r);
		else
			api_create(r);
		break;
	case R_STATUS:
		opsd_status_get(r);
		break;
	case R_POLICY:
		if (read)
			opsd_reply(r->req, 200, opsd_policy_to_json(&r->d->store.policy));
		else if (opsd_req_may_change(r))
			api_policy_put(r);
		break;
	case R_AUDIT:
		api_audit(r);
		break;
	default:
		api_partition(r, route, name);
		break;
	}
}
