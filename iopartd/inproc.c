// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dev.h"
#include "inproc.h"
#include "log.h"
#include "thread.h"

struct iopart_thread {
	struct event_base *base;
	struct iopart_dev dev;
	int stop_pipe[2];
	struct event *stop_ev;
	pthread_t tid;
};

static void inproc_stop_event(evutil_socket_t fd, short what, void *arg)
{
	struct iopart_thread *t = arg;

	(void)fd;
	(void)what;
	event_base_loopbreak(t->base);
}

/*
 * A thread that serves guests' queues does not preempt their vCPUs when it
 * wakes (SCHED_BATCH: no wake-up preemption, same share of the CPU). On a
 * core of its own nothing changes; on a core it shares with the vCPU that
 * kicks it, the vCPU goes on adding requests until it waits (or the next
 * tick), and the thread then serves them all at once: one interrupt and one
 * kick for a batch instead of a VM exit, a context switch and an interrupt
 * per request (docs/bench.md, bench/blk). UV_IOPART_SCHED=normal keeps the
 * default policy; a policy set from outside (chrt, systemd) is left alone.
 */
void iopart_sched_batch(void)
{
	const char *want = getenv("UV_IOPART_SCHED");
	struct sched_param sp = {0};

	if (want && !strcmp(want, "normal"))
		return;
	if (sched_getscheduler(0) == SCHED_OTHER && sched_setscheduler(0, SCHED_BATCH, &sp) < 0)
		pr_warn("cannot use SCHED_BATCH: %s", strerror(errno));
}

static void *inproc_main(void *arg)
{
	struct iopart_thread *t = arg;

	iopart_sched_batch(); /* this thread only: the vCPUs keep theirs */
	event_base_dispatch(t->base);
	return NULL;
}

/* Everything but the thread: so that errors come back before one exists. */
static int inproc_setup(struct iopart_thread *t, const struct iopart_export *e, int *front_fd,
			char *err, size_t errlen)
{
	int sv[2], ret;

	t->base = event_base_new();
	if (!t->base) {
		snprintf(err, errlen, "cannot create an event loop");
		return -ENOMEM;
	}
	ret = iopart_dev_open(&t->dev, e, t->base, err, errlen);
	if (ret < 0)
		return ret;
	if (pipe2(t->stop_pipe, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -errno;
	}
	t->stop_ev = event_new(t->base, t->stop_pipe[0], EV_READ, inproc_stop_event, t);
	if (!t->stop_ev || event_add(t->stop_ev, NULL) < 0) {
		snprintf(err, errlen, "cannot watch the stop pipe");
		return -ENOMEM;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		return -errno;
	}
	ret = iopart_dev_serve(&t->dev, t->base, sv[0]);
	if (ret < 0) {
		close(sv[1]);
		snprintf(err, errlen, "cannot serve the channel: %s", strerror(-ret));
		return ret;
	}
	*front_fd = sv[1];
	return 0;
}

static void inproc_free(struct iopart_thread *t)
{
	if (t->dev.priv)
		iopart_dev_close(&t->dev);
	if (t->stop_ev)
		event_free(t->stop_ev);
	for (int i = 0; i < 2; i++)
		if (t->stop_pipe[i] >= 0)
			close(t->stop_pipe[i]);
	if (t->base)
		event_base_free(t->base);
	free(t);
}

int iopart_thread_start(struct iopart_thread **out, const struct iopart_export *e, int *front_fd,
			char *err, size_t errlen)
{
	struct iopart_thread *t = calloc(1, sizeof(*t));
	sigset_t all, old;
	int ret;

	if (!t) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	t->stop_pipe[0] = t->stop_pipe[1] = -1;
	ret = inproc_setup(t, e, front_fd, err, errlen);
	if (ret < 0)
		goto err;
	/* Signals are the main thread's business. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = -uv_thread_create(&t->tid, inproc_main, t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret < 0) {
		snprintf(err, errlen, "cannot start the I/O thread: %s", strerror(-ret));
		close(*front_fd);
		goto err;
	}
	*out = t;
	return 0;
err:
	inproc_free(t);
	return ret;
}

void iopart_thread_stop(struct iopart_thread *t)
{
	char c = 0;

	if (!t)
		return;
	while (write(t->stop_pipe[1], &c, 1) < 0 && errno == EINTR)
		;
	uv_thread_join(t->tid, NULL);
	inproc_free(t);
}
