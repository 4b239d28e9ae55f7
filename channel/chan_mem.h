/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UV_CHAN_MEM_H
#define UV_CHAN_MEM_H

#include <stdbool.h>
#include <stdint.h>

/*
 * The memory table of a channel: guest RAM as the back end sees it. Each
 * region is known by its guest-physical address (descriptors use those) and
 * by the front end's user address (vring addresses use those). Every
 * translation checks that the whole range lies inside one region, so a guest
 * can never point a back end outside its own RAM.
 */
#define CHAN_MEM_MAX_REGIONS 8

struct chan_mem_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t uaddr; /* front end's user address of gpa */
	uint8_t *host;	/* our address of gpa */
	void *map_base; /* what to munmap; NULL when not ours */
	uint64_t map_len;
	int fd; /* owned; -1 when not ours */
};

struct chan_mem {
	unsigned nr;
	struct chan_mem_region r[CHAN_MEM_MAX_REGIONS];
};

void chan_mem_init(struct chan_mem *m);
/*
 * Maps size bytes of fd from mmap_offset (shared, read-write) as the region
 * at gpa. Takes ownership of fd on success. Returns 0, -EINVAL for a region
 * that is empty, wraps or overlaps another, -E2BIG when the table is full,
 * or mmap's -errno.
 */
int chan_mem_add_fd(struct chan_mem *m, uint64_t gpa, uint64_t size, uint64_t uaddr, int fd,
		    uint64_t mmap_offset);
/* Adds a region that is already mapped at host (in-process use, tests). */
int chan_mem_add_host(struct chan_mem *m, uint64_t gpa, uint64_t size, uint64_t uaddr, void *host);
/* Unmaps and closes what the table owns; leaves it empty. */
void chan_mem_clear(struct chan_mem *m);
/* Host address of [gpa, gpa + len) if it lies inside one region, else NULL. */
void *chan_mem_gpa(const struct chan_mem *m, uint64_t gpa, uint64_t len);
/* The same for a front-end user address. */
void *chan_mem_uva(const struct chan_mem *m, uint64_t uaddr, uint64_t len);

/*
 * Memory shared over a channel is a memfd sealed against shrinking and
 * growing. chan_memfd_create() makes one of size bytes (huge pages on
 * request) and returns its fd or -errno. chan_memfd_check() is what a back
 * end asks of a received fd before mapping [off, off + len): 0, -EPERM when
 * it is not sealed against shrinking, -ERANGE when it is too short;
 * chan_memfd_strerror() words those for a log line.
 */
int chan_memfd_create(const char *name, uint64_t size, bool hugepages);
int chan_memfd_check(int fd, uint64_t off, uint64_t len);
const char *chan_memfd_strerror(int err);

#endif
