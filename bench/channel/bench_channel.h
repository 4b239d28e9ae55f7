/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UV_BENCH_CHANNEL_H
#define UV_BENCH_CHANNEL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "chan_mem.h"
#include "virtq.h"
#include "virtq_driver.h"

#define RAM_GPA	 0x40000000ULL
#define RAM_SIZE (8ULL << 20)
#define DATA_OFF (1ULL << 20)
#define FEATURES ((1ULL << VIRTIO_F_EVENT_IDX) | (1ULL << VIRTIO_F_INDIRECT_DESC))

struct bench {
	unsigned num, qd, batch;
	double seconds;
	bool indirect;
	int memfd;
	uint8_t *ram;	     /* the driver's mapping */
	struct chan_mem mem; /* the device's own mapping of the same memfd */
	struct virtq_driver drv;
	struct virtq vq;
	int kickfd, callfd;
	volatile bool stop;
	uint64_t done, kicks, calls, timeouts; /* counted by the driver */
	double dev_cpu;
};

double bench_now(clockid_t clk);
/* The guest: keeps qd requests in flight for b->seconds; returns the wall time. */
double bench_drive(struct bench *b, double *cpu);
/* The null device's work on one request: reads the header, writes the status. */
bool bench_serve(const struct virtq_elem *e);
void bench_report(struct bench *b, const char *phase, const char *what, double t, double cpu);
/* Driver here, the back end behind vu_front/vu_back over a socketpair. */
void phase_vhost_user(struct bench *b);

#endif
