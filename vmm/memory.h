/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UVMM_MEMORY_H
#define UVMM_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Guest RAM is mapped once and cut into at most two guest-physical
 * regions: below the PCI hole and from 4 GiB up. It is a memfd when a
 * vhost-user back end (in another process or in-process) must map the same
 * pages, else private anonymous memory.
 */
#define GMEM_MAX_REGIONS 2

struct gmem_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t offset; /* in the memfd */
};

struct gmem {
	int fd; /* -1: anonymous memory, nothing to share */
	uint8_t *host;
	uint64_t size;
	unsigned nr_regions;
	struct gmem_region regions[GMEM_MAX_REGIONS];
};

/* Smallest and largest guest we accept. */
#define GMEM_MIN_SIZE (64ULL << 20)
#define GMEM_MAX_SIZE (1ULL << 40)

/* Fills regions[] for size bytes of RAM; pure, for the e820 map too. */
unsigned gmem_layout(uint64_t size, struct gmem_region regions[GMEM_MAX_REGIONS]);
#define GMEM_HUGE_PAGE (2ULL << 20)

#define GMEM_SHARED  1U /* a memfd, to hand to back ends */
#define GMEM_HUGETLB 2U /* a memfd of the default huge page size (2 MiB on x86) */

/*
 * flags: GMEM_*; neither: private anonymous memory (m->fd is -1).
 * fd >= 0: RAM is that memfd (already size bytes and sealed), which m takes
 * over, even on failure.
 */
int gmem_create(struct gmem *m, uint64_t size, unsigned flags, int fd);
void gmem_destroy(struct gmem *m);
/* Registers the regions as KVM memory slots. */
int gmem_register(const struct gmem *m, int vm_fd);
/* Host address of [gpa, gpa + len) if it lies inside one region, else NULL. */
void *gmem_hva(const struct gmem *m, uint64_t gpa, uint64_t len);
/* End of RAM in guest-physical space (exclusive). */
uint64_t gmem_top(const struct gmem *m);

#endif
