/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UVMM_BUS_H
#define UVMM_BUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * A bus maps address ranges (port I/O or MMIO) to devices. Registration
 * happens before the vCPUs start; lookups afterwards are lock-free reads of
 * a sorted array. Devices do their own locking.
 */
struct bus_ops {
	/* offset is relative to the range's base; len is 1, 2, 4 or 8. */
	void (*read)(void *opaque, uint64_t offset, void *data, unsigned len);
	void (*write)(void *opaque, uint64_t offset, const void *data, unsigned len);
};

struct bus_range {
	uint64_t base;
	uint64_t len;
	const struct bus_ops *ops;
	void *opaque;
};

struct bus {
	struct bus_range *ranges;
	unsigned nr, cap;
};

void bus_init(struct bus *bus);
void bus_exit(struct bus *bus);
/* Returns 0, -EEXIST on overlap, -ENOMEM. */
int bus_register(struct bus *bus, uint64_t base, uint64_t len, const struct bus_ops *ops,
		 void *opaque);
/*
 * Dispatches an access. An access to no device reads as all ones and
 * writes are dropped, as on a PC; returns false in that case.
 */
bool bus_access(const struct bus *bus, uint64_t addr, void *data, unsigned len, bool is_write);

#endif
