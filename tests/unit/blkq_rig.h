/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UV_TEST_BLKQ_RIG_H
#define UV_TEST_BLKQ_RIG_H

/* A blk device's queue 0 driven by a bare virtq driver: test_blk.c and qcow2_util.h. */
#include <stdint.h>
#include <string.h>

#include "blk.h"
#include "chan_mem.h"
#include "uvcheck.h"
#include "virtq_driver.h"

/* Guest RAM is ram (size bytes at gpa, zeroed here); the driver's rings are in it. */
static inline void blkq_start(struct blk_dev *dev, uint8_t *ram, size_t size, uint64_t gpa,
			      unsigned qnum, struct chan_mem *mem, struct virtq_driver *drv,
			      struct virtq *vq)
{
	memset(ram, 0, size);
	chan_mem_init(mem);
	ck_assert_int_eq(chan_mem_add_host(mem, gpa, size, gpa, ram), 0);
	ck_assert_int_eq(virtq_driver_init(drv, ram, gpa, qnum, 0, 0), 0);
	ck_assert_int_eq(
		virtq_setup(vq, mem, qnum, drv->desc_gpa, drv->avail_gpa, drv->used_gpa, 0, 0), 0);
	ck_assert_int_eq(blk_queue_start(dev, 0, vq, &ioq_direct_ops, vq), 0);
}

#endif
