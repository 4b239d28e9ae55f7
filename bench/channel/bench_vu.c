// SPDX-License-Identifier: GPL-2.0
/*
 * The vhost-user phase: the same driver, and the null device behind the real
 * back end (vu_back on a libevent loop in its own thread), connected by
 * vu_front over a socketpair, with an in-flight area. What iopartd does,
 * minus the block I/O.
 */
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_channel.h"
#include "vu_back.h"
#include "vu_front.h"

struct vu_bench {
	struct bench *b;
	struct event_base *base;
	int broken;
};

static void null_kick(void *dev, struct vu_back *back, unsigned idx, struct virtq *vq)
{
	static struct virtq_elem e;
	struct vu_bench *vb = dev;
	int r;

	/* Poll until empty with kicks off; re-enable, and poll again if more came. */
	do {
		virtq_disable_notify(vq);
		while ((r = vu_back_pop(back, idx, &e)) == 1) {
			if (!bench_serve(&e)) {
				r = -EIO;
				break;
			}
			vu_back_complete(back, idx, e.head, 1);
		}
		if (r < 0) {
			vb->broken = 1;
			vu_back_needs_reset(back, idx);
			return;
		}
	} while (virtq_enable_notify(vq));
}

static uint64_t null_features(void *dev)
{
	(void)dev;
	return 0;
}

static uint16_t null_num_queues(void *dev)
{
	(void)dev;
	return 1;
}

static const struct vu_dev_ops null_ops = {
	.features = null_features,
	.num_queues = null_num_queues,
	.queue_kick = null_kick,
};

static void *loop_main(void *arg)
{
	struct vu_bench *vb = arg;
	double c0 = bench_now(CLOCK_THREAD_CPUTIME_ID);

	event_base_loop(vb->base, EVLOOP_NO_EXIT_ON_EMPTY);
	vb->b->dev_cpu = bench_now(CLOCK_THREAD_CPUTIME_ID) - c0;
	return NULL;
}

/* What uvmm does when it connects a disk: features, memory, in-flight area, ring. */
static int front_connect(struct bench *b, struct vu_front *f, struct vu_inflight_area *area)
{
	struct vu_mem_region r = {
		.gpa = RAM_GPA, .size = RAM_SIZE, .uaddr = (uintptr_t)b->ram, .fd = b->memfd};
	struct vu_vring v = {
		.num = b->num,
		.desc_uaddr = (uintptr_t)b->drv.desc,
		.avail_uaddr = (uintptr_t)b->drv.avail,
		.used_uaddr = (uintptr_t)b->drv.used,
		.kick_fd = b->kickfd,
		.call_fd = b->callfd,
	};
	int ret;

	if ((ret = vu_front_handshake(f)) ||
	    (ret = vu_front_set_features(f, (1ULL << VIRTIO_F_VERSION_1) | FEATURES)) ||
	    (ret = vu_front_set_mem_table(f, &r, 1)) ||
	    (ret = vu_front_get_inflight(f, 1, (uint16_t)b->num, area)) ||
	    (ret = vu_front_set_inflight(f, area)) || (ret = vu_front_vring_setup(f, 0, &v)) ||
	    (ret = vu_front_vring_enable(f, 0, true)))
		fprintf(stderr, "bench-channel: vhost-user: %s\n", f->err);
	return ret;
}

void phase_vhost_user(struct bench *b)
{
	struct vu_bench vb = {.b = b};
	struct vu_inflight_area area = {.fd = -1};
	struct vu_back *back = NULL;
	struct vu_front f;
	pthread_t th;
	double t, cpu;
	int sv[2] = {-1, -1};

	vu_front_init(&f);
	evthread_use_pthreads();
	b->kickfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	b->callfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vb.base = event_base_new();
	if (b->kickfd < 0 || b->callfd < 0 || !vb.base ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		perror("phase vhost-user");
		goto out;
	}
	back = vu_back_new(vb.base, sv[1], &null_ops, &vb, "bench");
	sv[1] = -1; /* vu_back owns it, even on failure */
	if (!back || pthread_create(&th, NULL, loop_main, &vb))
		goto out;
	vu_front_attach(&f, sv[0]);
	sv[0] = -1;
	if (front_connect(b, &f, &area) == 0) {
		t = bench_drive(b, &cpu);
		event_base_loopbreak(vb.base);
		pthread_join(th, NULL);
		bench_report(b, "vhost_user", "vu_front/vu_back, socketpair", t, cpu);
	} else {
		event_base_loopbreak(vb.base);
		pthread_join(th, NULL);
	}
	if (vb.broken)
		fprintf(stderr, "bench-channel: the back end found the queue broken\n");
out:
	if (back)
		vu_back_free(back);
	vu_front_close(&f);
	if (area.fd >= 0)
		close(area.fd);
	for (int i = 0; i < 2; i++)
		if (sv[i] >= 0)
			close(sv[i]);
	if (vb.base)
		event_base_free(vb.base);
	if (b->kickfd >= 0)
		close(b->kickfd);
	if (b->callfd >= 0)
		close(b->callfd);
}
