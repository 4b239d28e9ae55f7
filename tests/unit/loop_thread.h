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

#endif
