// SPDX-License-Identifier: GPL-2.0
/*
 * bench-channel: requests per second through the virtqueue engine, no KVM.
 * A synthetic driver (virtq_driver) in a shared memfd "guest RAM" sends
 * virtio-blk-like requests (header, 4 KiB data, status: three descriptors)
 * to a null device that completes each at once.
 *
 *   engine:  driver and device in one thread, in batches (the engine's cost)
 *   eventfd: driver and device in two threads with eventfd kicks and calls
 *	      and EVENT_IDX suppression, as a vhost-user back end runs
 *
 * Prints human-readable lines and "result.<phase>.<key>=<value>" lines for
 * bench/channel/run. Figures are measured, never asserted.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "chan_mem.h"
#include "bench_channel.h"

double bench_now(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Guest RAM twice mapped, the rings in it, the device's queue on them. */
static int bench_setup(struct bench *b)
{
	int fd, ret;

	b->memfd = chan_memfd_create("bench-channel", RAM_SIZE, false);
	if (b->memfd < 0)
		return b->memfd;
	b->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, b->memfd, 0);
	if (b->ram == MAP_FAILED)
		return -errno;
	fd = dup(b->memfd);
	if (fd < 0)
		return -errno;
	chan_mem_init(&b->mem);
	ret = chan_mem_add_fd(&b->mem, RAM_GPA, RAM_SIZE, 0x7f0000000000ULL, fd, 0);
	if (ret) {
		close(fd);
		return ret;
	}
	ret = virtq_driver_init(&b->drv, b->ram, RAM_GPA, b->num, 4, FEATURES);
	if (ret)
		return ret;
	return virtq_setup(&b->vq, &b->mem, b->num, b->drv.desc_gpa, b->drv.avail_gpa,
			   b->drv.used_gpa, FEATURES, 0);
}

static void bench_teardown(struct bench *b)
{
	virtq_driver_free(&b->drv);
	chan_mem_clear(&b->mem);
	if (b->ram && b->ram != MAP_FAILED)
		munmap(b->ram, RAM_SIZE);
	if (b->memfd >= 0)
		close(b->memfd);
}

/* Request slot i: 16-byte header and status in one page, 4 KiB of data. */
static int add_request(struct bench *b, unsigned i)
{
	uint64_t slot = RAM_GPA + DATA_OFF + (uint64_t)i * 8192;
	struct virtq_buf bufs[3] = {
		{.gpa = slot, .len = 16},
		{.gpa = slot + 4096, .len = 4096, .write = true},
		{.gpa = slot + 16, .len = 1, .write = true},
	};

	return virtq_driver_add(&b->drv, bufs, 3, b->indirect, (void *)(uintptr_t)i);
}

bool bench_serve(const struct virtq_elem *e)
{
	uint8_t *status;

	if (!e->out_num || !e->in_num || e->iov[0].iov_len < 16)
		return false;
	status = e->iov[e->out_num + e->in_num - 1].iov_base;
	*status = ((const uint8_t *)e->iov[0].iov_base)[0] ? 1 : 0;
	return true;
}

/* The null device: look at the header, write the status, complete. */
static unsigned device_drain(struct bench *b, struct virtq_elem *e)
{
	unsigned n = 0;

	while (virtq_pop(&b->vq, e) == 1) {
		if (!bench_serve(e))
			return n;
		virtq_push(&b->vq, e->head, 1);
		n++;
	}
	return n;
}

static unsigned driver_reap(struct bench *b, unsigned *free_slots, unsigned *nfree)
{
	unsigned n = 0;
	uint32_t len;
	void *tok;

	while (virtq_driver_get_used(&b->drv, &len, &tok) == 1) {
		free_slots[(*nfree)++] = (unsigned)(uintptr_t)tok;
		n++;
	}
	return n;
}

static void phase_engine(struct bench *b)
{
	static struct virtq_elem e;
	unsigned free_slots[VIRTQ_MAX_SIZE], nfree = 0;
	double t0, t, c0;
	uint64_t done = 0;

	for (unsigned i = 0; i < b->qd; i++)
		free_slots[nfree++] = i;
	t0 = bench_now(CLOCK_MONOTONIC);
	c0 = bench_now(CLOCK_THREAD_CPUTIME_ID);
	do {
		for (unsigned k = 0; k < 1000; k++) {
			for (unsigned i = 0; i < b->batch && nfree; i++)
				add_request(b, free_slots[--nfree]);
			(void)virtq_driver_kick_needed(&b->drv);
			device_drain(b, &e);
			(void)virtq_need_notify(&b->vq);
			done += driver_reap(b, free_slots, &nfree);
		}
		t = bench_now(CLOCK_MONOTONIC) - t0;
	} while (t < b->seconds);
	c0 = bench_now(CLOCK_THREAD_CPUTIME_ID) - c0;
	printf("engine:  1 thread, batch %u: %.2f M req/s (%.0f ns per request, driver included)\n",
	       b->batch, done / t / 1e6, c0 / done * 1e9);
	printf("result.engine.rps=%.0f\n", done / t);
	printf("result.engine.per_core_rps=%.0f\n", done / c0);
}

static void efd_signal(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		perror("eventfd write");
}

/* Waits for fd (at most 100 ms, so a stop is noticed); returns the count it consumed. */
static uint64_t efd_wait(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	uint64_t v = 0;

	if (poll(&p, 1, 100) == 1 && read(fd, &v, sizeof(v)) < 0)
		perror("eventfd read");
	return v;
}

/* The back end: what a vhost-user device does on its loop. */
static void *device_thread(void *arg)
{
	static struct virtq_elem e;
	struct bench *b = arg;
	double c0 = bench_now(CLOCK_THREAD_CPUTIME_ID);

	while (!b->stop) {
		do {
			virtq_disable_notify(&b->vq);
			if (device_drain(b, &e) && virtq_need_notify(&b->vq))
				efd_signal(b->callfd);
		} while (virtq_enable_notify(&b->vq));
		efd_wait(b->kickfd);
	}
	b->dev_cpu = bench_now(CLOCK_THREAD_CPUTIME_ID) - c0;
	return NULL;
}

double bench_drive(struct bench *b, double *cpu)
{
	unsigned free_slots[VIRTQ_MAX_SIZE], nfree = 0;
	double t0, t, c0;

	for (unsigned i = 0; i < b->qd; i++)
		free_slots[nfree++] = i;
	t0 = bench_now(CLOCK_MONOTONIC);
	c0 = bench_now(CLOCK_THREAD_CPUTIME_ID);
	do {
		/* Keep qd requests in flight, kick when the device asks for it. */
		while (nfree)
			add_request(b, free_slots[--nfree]);
		if (virtq_driver_kick_needed(&b->drv)) {
			efd_signal(b->kickfd);
			b->kicks++;
		}
		virtq_driver_disable_cb(&b->drv);
		b->done += driver_reap(b, free_slots, &nfree);
		if (!nfree && !virtq_driver_enable_cb(&b->drv)) {
			uint64_t v = efd_wait(b->callfd);

			b->calls += v;
			/* Used entries pending after a silent wait: a lost interrupt. */
			if (!v && __atomic_load_n(&b->drv.used->idx, __ATOMIC_ACQUIRE) !=
					  b->drv.last_used)
				b->timeouts++;
		}
		t = bench_now(CLOCK_MONOTONIC) - t0;
	} while (t < b->seconds);
	*cpu = bench_now(CLOCK_THREAD_CPUTIME_ID) - c0;
	return t;
}

void bench_report(struct bench *b, const char *phase, const char *what, double t, double cpu)
{
	printf("%s: %s, qd %u: %.2f M req/s; back-end core %.0f%% busy: "
	       "%.2f M req/s per back-end core; %.3f kicks, %.3f calls per request\n",
	       phase, what, b->qd, b->done / t / 1e6, 100 * b->dev_cpu / t,
	       b->done / b->dev_cpu / 1e6, (double)b->kicks / b->done, (double)b->calls / b->done);
	if (b->timeouts)
		printf("%s: %lu waits for a call timed out with requests completed (lost "
		       "interrupts)\n",
		       phase, (unsigned long)b->timeouts);
	printf("result.%s.rps=%.0f\n", phase, b->done / t);
	printf("result.%s.per_core_rps=%.0f\n", phase, b->done / b->dev_cpu);
	printf("result.%s.both_cores_rps=%.0f\n", phase, b->done / (b->dev_cpu + cpu));
	printf("result.%s.driver_cpu=%.3f\nresult.%s.device_cpu=%.3f\n", phase, cpu / t, phase,
	       b->dev_cpu / t);
}

static void phase_eventfd(struct bench *b)
{
	double t, cpu;
	pthread_t th;

	b->kickfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	b->callfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (b->kickfd < 0 || b->callfd < 0 || pthread_create(&th, NULL, device_thread, b)) {
		perror("phase eventfd");
		return;
	}
	t = bench_drive(b, &cpu);
	b->stop = true;
	efd_signal(b->kickfd);
	pthread_join(th, NULL);
	bench_report(b, "eventfd", "2 threads, eventfd", t, cpu);
	close(b->kickfd);
	close(b->callfd);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench-channel [--seconds S] [--num N] [--qd N] [--batch N] "
		   "[--indirect] [--only engine|eventfd|vhost-user]\n");
}

static int run_phase(struct bench *proto, void (*phase)(struct bench *))
{
	struct bench b = *proto;
	int ret = bench_setup(&b);

	if (ret) {
		fprintf(stderr, "bench-channel: setup: %s\n", strerror(-ret));
		bench_teardown(&b);
		return 1;
	}
	phase(&b);
	if (b.vq.broken)
		fprintf(stderr, "bench-channel: queue broke: %s\n", virtq_strerror(b.vq.error));
	bench_teardown(&b);
	return b.vq.broken;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"seconds", 1, NULL, 's'},  {"num", 1, NULL, 'n'},
		{"qd", 1, NULL, 'q'},	    {"batch", 1, NULL, 'b'},
		{"indirect", 0, NULL, 'i'}, {"only", 1, NULL, 'o'},
		{"help", 0, NULL, 'h'},	    {0},
	};
	struct bench b = {.num = 256, .qd = 64, .batch = 32, .seconds = 3, .memfd = -1};
	const char *only = NULL;
	int c, ret = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			b.seconds = atof(optarg);
			break;
		case 'n':
			b.num = (unsigned)atoi(optarg);
			break;
		case 'q':
			b.qd = (unsigned)atoi(optarg);
			break;
		case 'b':
			b.batch = (unsigned)atoi(optarg);
			break;
		case 'i':
			b.indirect = true;
			break;
		case 'o':
			only = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	/* Each request takes 3 descriptors (1 indirect), and 8 KiB of slots. */
	if (b.seconds <= 0 || !b.num || b.num > VIRTQ_MAX_SIZE || (b.num & (b.num - 1)) || !b.qd ||
	    b.qd * (b.indirect ? 1 : 3) > b.num || (uint64_t)b.qd * 8192 > RAM_SIZE - DATA_OFF ||
	    !b.batch ||
	    (only && strcmp(only, "engine") && strcmp(only, "eventfd") &&
	     strcmp(only, "vhost-user"))) {
		usage(stderr);
		return 2;
	}
	printf("bench-channel: ring %u, %s descriptors, %.1f s per phase\n", b.num,
	       b.indirect ? "indirect" : "direct", b.seconds);
	if (!only || !strcmp(only, "engine"))
		ret |= run_phase(&b, phase_engine);
	if (!only || !strcmp(only, "eventfd"))
		ret |= run_phase(&b, phase_eventfd);
	if (!only || !strcmp(only, "vhost-user"))
		ret |= run_phase(&b, phase_vhost_user);
	return ret;
}
