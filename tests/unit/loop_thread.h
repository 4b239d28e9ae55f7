/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UV_TEST_LOOP_THREAD_H
#define UV_TEST_LOOP_THREAD_H

/*
 * A libevent loop run by a thread of the test (a stub server, a console),
 * stopped through a pipe: event_base_loopbreak() from another thread would
 * need libevent's thread locking.
 */
#include <event2/event.h>
#include <pthread.h>
#include <semaphore.h>
#include <unistd.h>

#include "uvcheck.h"

struct loop_thread {
	struct event_base *base;
	pthread_t thread;
	int stop[2];
};

static inline void loop_thread_break(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

static inline void *loop_thread_main(void *arg)
{
	event_base_dispatch(arg);
	return NULL;
}

/* Runs base (set up already, the caller's to free) until loop_thread_stop. */
static inline void loop_thread_start(struct loop_thread *t, struct event_base *base)
{
	t->base = base;
	ck_assert(!pipe(t->stop));
	ck_assert_int_eq(event_base_once(base, t->stop[0], EV_READ, loop_thread_break, base, NULL),
			 0);
	ck_assert_int_eq(pthread_create(&t->thread, NULL, loop_thread_main, base), 0);
}

static inline void loop_thread_stop(struct loop_thread *t)
{
	ck_assert_int_eq(write(t->stop[1], "x", 1), 1);
	pthread_join(t->thread, NULL);
	close(t->stop[0]);
	close(t->stop[1]);
}

struct loop_thread_call_ctx {
	void (*fn)(void *);
	void *arg;
	sem_t done;
};

static inline void loop_thread_call_cb(evutil_socket_t fd, short what, void *arg)
{
	struct loop_thread_call_ctx *c = arg;

	(void)fd;
	(void)what;
	c->fn(c->arg);
	sem_post(&c->done);
}

/*
 * Runs fn(arg) on the loop's thread and waits for it: objects that live on a
 * loop (a vu_back) are only touched there. Needs evthread_use_pthreads().
 */
static inline void loop_thread_call(struct loop_thread *t, void (*fn)(void *), void *arg)
{
	struct loop_thread_call_ctx c = {.fn = fn, .arg = arg};
	struct timeval tv = {0, 0};

	sem_init(&c.done, 0, 0);
	ck_assert_int_eq(event_base_once(t->base, -1, EV_TIMEOUT, loop_thread_call_cb, &c, &tv), 0);
	sem_wait(&c.done);
	sem_destroy(&c.done);
}

#endif
