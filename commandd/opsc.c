// SPDX-License-Identifier: GPL-2.0
/*
 * The opsd client. HTTP goes through common/uvhttp.c, which blocks, so it
 * runs on two threads of its own and the event loop never waits for opsd:
 *
 *   watch   GET /v1/partitions?wait=GEN, then GET /v1/policy, in a loop: the
 *           long poll that wakes commandd on every change of desired state
 *   worker  a queue of the other requests: actual-state reports (PUT, in
 *           order) and full resyncs (GET of policy and partitions)
 *
 * A report supersedes any report on the same partition still queued (only
 * the newest state matters, and a burst of starts must not queue one PUT per
 * step of every partition). Reports carry a sequence number; a list tells
 * which reports had been answered before it was asked for (rep_done), so
 * that commandd does not take opsd's copy for stale while its report is on
 * the way.
 *
 * Each thread keeps its HTTP/1.1 connection to opsd open across requests
 * (a uvhttp_conn); one that opsd closed, e.g. by restarting, is replaced
 * without an error. Results go back to the loop through a queue and an
 * eventfd. A thread and a blocking request are simpler than driving
 * libcurl's multi interface from libevent (socket and timer callbacks for
 * every transfer), and a long poll that waits for up to 30 s needs nothing
 * faster. Stopping takes at most about a second: libcurl's progress
 * callback checks the stop flag.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "commandd.h"
#include "log.h"
#include "uvhttp.h"

#define OPSC_QUEUE_MAX	4096  /* reports beyond are dropped: the next resync repairs */
#define OPSC_RETRY_MS	1000  /* after a failure, before asking again */
#define OPSC_TIMEOUT_MS 10000 /* an ordinary request */
#define OPSC_POLL_MS	45000 /* opsd holds a long poll for at most 30 s */

enum req_kind { REQ_REPORT, REQ_RESYNC };
enum res_kind { RES_DESIRED, RES_DOWN, RES_REPORT_FAILED };

struct opsc_req {
	struct opsc_req *next;
	enum req_kind kind;
	char name[CMD_NAME_MAX];
	char *body;
	uint64_t seq; /* of a report */
};

struct opsc_res {
	struct opsc_res *next;
	enum res_kind kind;
	json_object *policy, *list;
	bool from_watch;
	uint64_t rep_done; /* reports answered before the list was asked for */
	char msg[512];
};

struct opsc {
	struct cmd *c;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct opsc_req *reqs, **reqs_tail;
	unsigned nreqs;
	bool resync_queued;
	uint64_t rep_seq;  /* the last report queued (the loop's) */
	uint64_t rep_done; /* every report up to this one has been answered (or failed) */
	struct opsc_res *res, **res_tail;
	int efd;
	struct event *ev;
	int stop; /* read by libcurl's progress callback without the lock */
	/* Each thread's own kept-alive connection: not a connect and accept per request. */
	struct uvhttp_conn *watch_http, *work_http;
	pthread_t watch, worker;
	bool watch_on, worker_on;
};

static bool opsc_stopped(void *arg)
{
	return __atomic_load_n(&((struct opsc *)arg)->stop, __ATOMIC_ACQUIRE);
}

static void opsc_post(struct opsc *o, struct opsc_res *r)
{
	uint64_t one = 1;

	pthread_mutex_lock(&o->lock);
	*o->res_tail = r;
	o->res_tail = &r->next;
	pthread_mutex_unlock(&o->lock);
	if (write(o->efd, &one, sizeof(one)) < 0)
		pr_debug("opsd client: eventfd: %s", strerror(errno));
}

static void opsc_post_msg(struct opsc *o, enum res_kind kind, const char *msg)
{
	struct opsc_res *r = calloc(1, sizeof(*r));

	if (!r)
		return;
	r->kind = kind;
	snprintf(r->msg, sizeof(r->msg), "%.500s", msg);
	opsc_post(o, r);
}

/* Sleeps ms or until stopped (or, for the worker, until a request comes). */
static void opsc_nap(struct opsc *o, unsigned ms, bool wake_on_req)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&o->lock);
	while (!o->stop && !(wake_on_req && o->reqs))
		if (pthread_cond_timedwait(&o->cond, &o->lock, &ts) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&o->lock);
}

/* GET path as a JSON object; NULL with err on any failure. */
static json_object *opsc_get(struct opsc *o, struct uvhttp_conn *h, const char *path,
			     long timeout_ms, char *err, size_t errlen)
{
	struct uvhttp_opts opts = {
		.timeout_ms = timeout_ms, .cancel = opsc_stopped, .cancel_arg = o};
	struct uvhttp_reply r;
	json_object *doc = NULL;

	if (uvhttp_conn_request(h, "GET", path, NULL, &opts, &r, err, errlen))
		return NULL;
	if (r.status != 200)
		uvhttp_reply_error(&r, "opsd", err, errlen);
	else if (!(doc = json_tokener_parse(r.body)) ||
		 !json_object_is_type(doc, json_type_object)) {
		snprintf(err, errlen, "opsd answered %s with something that is not a JSON object",
			 path);
		json_object_put(doc);
		doc = NULL;
	}
	uvhttp_reply_fini(&r);
	return doc;
}

/*
 * Partitions, then policy; posts them, or the failure. Returns the
 * generation or -1. The policy is read after the list: a change of policy
 * bumps the generation, so what a long poll woke up for is in it.
 */
static int64_t opsc_fetch(struct opsc *o, struct uvhttp_conn *h, int64_t wait_gen, bool from_watch)
{
	struct opsc_res *r;
	json_object *pol = NULL, *list, *g;
	char err[512], path[64];
	uint64_t done = __atomic_load_n(&o->rep_done, __ATOMIC_ACQUIRE);
	int64_t gen;

	if (wait_gen >= 0)
		snprintf(path, sizeof(path), "/v1/partitions?wait=%" PRId64, wait_gen);
	else
		snprintf(path, sizeof(path), "/v1/partitions");
	list = opsc_get(o, h, path, wait_gen >= 0 ? OPSC_POLL_MS : OPSC_TIMEOUT_MS, err,
			sizeof(err));
	if (list && (!json_object_object_get_ex(list, "generation", &g) ||
		     !json_object_is_type(g, json_type_int)))
		snprintf(err, sizeof(err), "opsd's partition list has no generation");
	else if (list)
		pol = opsc_get(o, h, "/v1/policy", OPSC_TIMEOUT_MS, err, sizeof(err));
	if (!pol) {
		json_object_put(list);
		opsc_post_msg(o, RES_DOWN, err);
		return -1;
	}
	gen = json_object_get_int64(g);
	r = calloc(1, sizeof(*r));
	if (!r) {
		json_object_put(pol);
		json_object_put(list);
		return -1;
	}
	r->kind = RES_DESIRED;
	r->policy = pol;
	r->list = list;
	r->from_watch = from_watch;
	r->rep_done = done;
	opsc_post(o, r);
	return gen;
}

static void *opsc_watch(void *arg)
{
	struct opsc *o = arg;
	int64_t gen = -1;

	while (!opsc_stopped(o)) {
		gen = opsc_fetch(o, o->watch_http, gen, true);
		if (gen < 0 && !opsc_stopped(o))
			opsc_nap(o, OPSC_RETRY_MS, false);
	}
	return NULL;
}

static void opsc_put(struct opsc *o, struct opsc_req *q)
{
	struct uvhttp_opts opts = {
		.timeout_ms = OPSC_TIMEOUT_MS, .cancel = opsc_stopped, .cancel_arg = o};
	char path[128], err[512], msg[700];
	struct uvhttp_reply r;

	snprintf(path, sizeof(path), "/v1/partitions/%s/actual", q->name);
	if (uvhttp_conn_request(o->work_http, "PUT", path, q->body, &opts, &r, err, sizeof(err))) {
		snprintf(msg, sizeof(msg), "report on %s: %s", q->name, err);
		opsc_post_msg(o, RES_REPORT_FAILED, msg);
		return;
	}
	if (r.status != 200) {
		uvhttp_reply_error(&r, "opsd", err, sizeof(err));
		snprintf(msg, sizeof(msg), "report on %s: %s", q->name, err);
		opsc_post_msg(o, RES_REPORT_FAILED, msg);
	}
	uvhttp_reply_fini(&r);
}

static void *opsc_work(void *arg)
{
	struct opsc *o = arg;
	struct opsc_req *q;

	while (!opsc_stopped(o)) {
		pthread_mutex_lock(&o->lock);
		q = o->reqs;
		if (q) {
			o->reqs = q->next;
			if (!o->reqs)
				o->reqs_tail = &o->reqs;
			o->nreqs--;
			if (q->kind == REQ_RESYNC)
				o->resync_queued = false;
		}
		pthread_mutex_unlock(&o->lock);
		if (!q) {
			opsc_nap(o, 1000, true);
			continue;
		}
		if (q->kind == REQ_REPORT) {
			opsc_put(o, q);
			/* FIFO, and a superseded report leaves the queue: in order. */
			__atomic_store_n(&o->rep_done, q->seq, __ATOMIC_RELEASE);
		} else {
			opsc_fetch(o, o->work_http, -1, false);
		}
		free(q->body);
		free(q);
	}
	return NULL;
}

/* Drops a queued report on q's partition: q, newer, goes to the tail instead. Locked. */
static void opsc_supersede(struct opsc *o, const struct opsc_req *q)
{
	for (struct opsc_req **pp = &o->reqs; *pp; pp = &(*pp)->next) {
		struct opsc_req *old = *pp;

		if (old->kind != REQ_REPORT || strcmp(old->name, q->name))
			continue;
		*pp = old->next;
		if (o->reqs_tail == &old->next)
			o->reqs_tail = pp;
		o->nreqs--;
		free(old->body);
		free(old);
		return; /* there is never more than one */
	}
}

/* false: dropped (and freed), the queue is full. */
static bool opsc_enqueue(struct opsc *o, struct opsc_req *q)
{
	pthread_mutex_lock(&o->lock);
	if (q->kind == REQ_REPORT)
		opsc_supersede(o, q);
	if (o->nreqs >= OPSC_QUEUE_MAX || (q->kind == REQ_RESYNC && o->resync_queued)) {
		pthread_mutex_unlock(&o->lock);
		if (q->kind == REQ_REPORT)
			pr_warn("opsd does not keep up: report on %s dropped", q->name);
		free(q->body);
		free(q);
		return false;
	}
	if (q->kind == REQ_RESYNC)
		o->resync_queued = true;
	*o->reqs_tail = q;
	o->reqs_tail = &q->next;
	o->nreqs++;
	pthread_cond_broadcast(&o->cond);
	pthread_mutex_unlock(&o->lock);
	return true;
}

uint64_t opsc_report(struct opsc *o, const char *name, json_object *body)
{
	struct opsc_req *q = calloc(1, sizeof(*q));
	uint64_t seq = ++o->rep_seq;

	if (q) {
		q->kind = REQ_REPORT;
		q->seq = seq;
		snprintf(q->name, sizeof(q->name), "%s", name);
		q->body = strdup(json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN));
	}
	json_object_put(body);
	if (q && q->body)
		return opsc_enqueue(o, q) ? seq : 0;
	free(q);
	return 0; /* lost: opsd's copy tells after the next list */
}

void opsc_resync(struct opsc *o)
{
	struct opsc_req *q = calloc(1, sizeof(*q));

	if (q) {
		q->kind = REQ_RESYNC;
		opsc_enqueue(o, q);
	}
}

/* On the loop: what the threads found. */
static void opsc_results(evutil_socket_t fd, short what, void *arg)
{
	struct opsc *o = arg;
	struct opsc_res *r, *next;
	uint64_t n;

	(void)what;
	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		pr_debug("opsd client: eventfd: %s", strerror(errno));
	pthread_mutex_lock(&o->lock);
	r = o->res;
	o->res = NULL;
	o->res_tail = &o->res;
	pthread_mutex_unlock(&o->lock);
	for (; r; r = next) {
		next = r->next;
		if (r->kind == RES_DESIRED) {
			if (!o->c->opsd_up)
				pr_info("opsd answers");
			o->c->opsd_up = true;
			cmd_on_desired(o->c, r->policy, r->list, r->from_watch, r->rep_done);
		} else if (r->kind == RES_DOWN) {
			if (o->c->opsd_up || !o->c->have_desired)
				pr_warn("%s; retrying every %d ms", r->msg, OPSC_RETRY_MS);
			/* The last list stands: nothing is stopped for want of opsd. */
			o->c->opsd_up = false;
		} else {
			pr_warn("%s", r->msg);
		}
		json_object_put(r->policy);
		json_object_put(r->list);
		free(r);
	}
}

struct opsc *opsc_new(struct cmd *c, const char *sock)
{
	struct opsc *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->c = c;
	o->efd = -1;
	pthread_mutex_init(&o->lock, NULL);
	pthread_cond_init(&o->cond, NULL);
	o->reqs_tail = &o->reqs;
	o->res_tail = &o->res;
	o->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	o->watch_http = uvhttp_conn_new(sock, "opsd");
	o->work_http = uvhttp_conn_new(sock, "opsd");
	if (o->efd < 0 || !o->watch_http || !o->work_http)
		goto fail;
	o->ev = event_new(c->base, o->efd, EV_READ | EV_PERSIST, opsc_results, o);
	if (!o->ev || event_add(o->ev, NULL))
		goto fail;
	o->watch_on = !pthread_create(&o->watch, NULL, opsc_watch, o);
	o->worker_on = !pthread_create(&o->worker, NULL, opsc_work, o);
	if (o->watch_on && o->worker_on)
		return o;
fail:
	opsc_free(o);
	return NULL;
}

void opsc_free(struct opsc *o)
{
	if (!o)
		return;
	pthread_mutex_lock(&o->lock);
	__atomic_store_n(&o->stop, 1, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&o->cond);
	pthread_mutex_unlock(&o->lock);
	if (o->watch_on)
		pthread_join(o->watch, NULL);
	if (o->worker_on)
		pthread_join(o->worker, NULL);
	while (o->reqs) {
		struct opsc_req *q = o->reqs;

		o->reqs = q->next;
		free(q->body);
		free(q);
	}
	while (o->res) {
		struct opsc_res *r = o->res;

		o->res = r->next;
		json_object_put(r->policy);
		json_object_put(r->list);
		free(r);
	}
	uvhttp_conn_free(o->watch_http);
	uvhttp_conn_free(o->work_http);
	if (o->ev)
		event_free(o->ev);
	if (o->efd >= 0)
		close(o->efd);
	pthread_cond_destroy(&o->cond);
	pthread_mutex_destroy(&o->lock);
	free(o);
}
