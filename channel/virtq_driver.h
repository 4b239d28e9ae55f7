/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UV_VIRTQ_DRIVER_H
#define UV_VIRTQ_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtq.h"

/*
 * The DRIVER side of a split virtqueue over plain host memory: what a guest's
 * virtio driver does, for tests, fuzz helpers and benchmarks. The caller owns
 * one buffer standing for guest memory at guest-physical address gpa; the
 * driver lays out the rings in it (descriptor table, avail ring, used ring,
 * then one indirect table per head when indirect_max > 0):
 *
 *	size = virtq_driver_size(num, indirect_max);
 *	mem = aligned_alloc(4096, size);	// or part of a bigger "guest RAM"
 *	virtq_driver_init(&drv, mem, gpa, num, indirect_max, features);
 *	virtq_setup(&vq, &chan_mem, num, drv.desc_gpa, drv.avail_gpa, drv.used_gpa, features, 0);
 *
 * Buffers are given by guest-physical address; they must lie in memory the
 * device's chan_mem table knows. Single-threaded: one thread drives, any
 * number of devices (threads, processes) may serve.
 */
struct virtq_buf {
	uint64_t gpa;
	uint32_t len;
	bool write; /* device writes it */
};

struct virtq_driver {
	unsigned num;
	struct virtq_desc *desc;
	struct virtq_avail *avail;
	struct virtq_used *used;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	/* Per-head indirect tables (indirect_max entries each), or NULL. */
	struct virtq_desc *indirect;
	uint64_t indirect_gpa;
	unsigned indirect_max;
	bool event_idx;
	uint16_t avail_idx;    /* next avail entry to fill (published at once) */
	uint16_t kicked_avail; /* avail idx at the last kick decision */
	uint16_t last_used;    /* next used entry to read */
	unsigned num_free;
	uint16_t free_head;
	/* Private, so a device scribbling over the table cannot corrupt them. */
	uint16_t *free_next;
	uint16_t *chain_len; /* descriptors of the chain at each head; 0 = free */
	void **token;
};

/* Bytes of memory the rings (and indirect tables) take. */
size_t virtq_driver_size(unsigned num, unsigned indirect_max);
/*
 * Lays the rings out in mem (at least virtq_driver_size() bytes, 16-byte
 * aligned, standing at guest-physical gpa) and zeroes them. features: EVENT_IDX
 * is honoured. Returns 0, -EINVAL (num not a power of two up to
 * VIRTQ_MAX_SIZE, misaligned mem or gpa) or -ENOMEM.
 */
int virtq_driver_init(struct virtq_driver *d, void *mem, uint64_t gpa, unsigned num,
		      unsigned indirect_max, uint64_t features);
void virtq_driver_free(struct virtq_driver *d);

/*
 * Adds a request of n buffers (readable ones first) and makes it available.
 * indirect: put the chain in the head's indirect table (n <= indirect_max).
 * Returns the head, -ENOSPC when the ring has too few free descriptors, or
 * -EINVAL. token comes back from virtq_driver_get_used().
 */
int virtq_driver_add(struct virtq_driver *d, const struct virtq_buf *bufs, unsigned n,
		     bool indirect, void *token);
/*
 * Makes head available as it stands in the descriptor table, with no check:
 * tests write hostile chains into d->desc themselves and publish them here.
 */
void virtq_driver_add_raw(struct virtq_driver *d, uint16_t head);
/* Whether the device wants a kick for what was added since the last call. */
bool virtq_driver_kick_needed(struct virtq_driver *d);
/*
 * Takes the next used request. Returns 1 with *len (bytes written by the
 * device) and *token set, 0 when there is none, -EIO when the device returned
 * a head that is not in flight.
 */
int virtq_driver_get_used(struct virtq_driver *d, uint32_t *len, void **token);
/* Interrupt suppression: enable returns true when used entries are pending. */
void virtq_driver_disable_cb(struct virtq_driver *d);
bool virtq_driver_enable_cb(struct virtq_driver *d);

#endif
