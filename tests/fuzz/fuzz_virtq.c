// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for the device side of a split virtqueue. The input is a
 * few parameters and then an image of guest RAM holding the rings, indirect
 * tables and buffers. Each run serves the queue until it is empty or broken,
 * touching every byte of every buffer it was given: ASan catches any
 * translation that points outside the (exactly sized) RAM allocation.
 *
 * Input layout:
 *	0	num_log2 (low 4 bits, capped to 8), feature bits: 0x10 EVENT_IDX,
 *		0x20 INDIRECT_DESC, 0x40 in-flight area, 0x80 area from a "previous"
 *		back end (taken from the image) instead of a fresh one
 *	1..2	base (little endian)
 *	3	push policy: bit 0 push in reverse, bit 1 notify suppression
 *		dance, bits 2..7 pushes held back before a flush
 *	4..	RAM image (zero-padded to RAM_SIZE); rings at fixed offsets
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chan_mem.h"
#include "virtq.h"

#define RAM_GPA	  0x10000ULL
#define RAM_SIZE  0x10000ULL
#define DESC_OFF  0x0000
#define AVAIL_OFF 0x1000
#define USED_OFF  0x2000
#define INFL_OFF  0x3000 /* the image of a previous back end's in-flight area */
/* A second, small region right after a hole: chains may span regions. */
#define RAM2_GPA  0x30000ULL
#define RAM2_SIZE 0x1000ULL

static struct virtq_elem elem;

static void check_and_touch(const struct virtq_elem *e, const uint8_t *ram, const uint8_t *ram2)
{
	if (e->out_num + e->in_num > VIRTQ_MAX_IOV)
		__builtin_trap();
	for (unsigned i = 0; i < e->out_num + e->in_num; i++) {
		volatile uint8_t *p = e->iov[i].iov_base;
		size_t len = e->iov[i].iov_len;
		const uint8_t *b = (const uint8_t *)p;
		bool in1 = b >= ram && b + len <= ram + RAM_SIZE;
		bool in2 = b >= ram2 && b + len <= ram2 + RAM2_SIZE;

		if (!in1 && !in2)
			__builtin_trap();
		for (size_t k = 0; k < len; k++) {
			if (i < e->out_num)
				(void)p[k];
			else
				p[k] = (uint8_t)k;
		}
	}
}

struct pending {
	uint16_t heads[VIRTQ_MAX_SIZE];
	unsigned n;
};

static void flush(struct virtq *vq, struct pending *pd, bool reverse)
{
	for (unsigned i = 0; i < pd->n; i++)
		virtq_push(vq, pd->heads[reverse ? pd->n - 1 - i : i], i);
	pd->n = 0;
	(void)virtq_need_notify(vq);
}

static void serve(struct virtq *vq, uint8_t policy, const uint8_t *ram, const uint8_t *ram2)
{
	static struct pending pd;
	unsigned hold = policy >> 2, rounds = 0;
	uint16_t heads[256];
	unsigned n;

	pd.n = 0;
	n = virtq_inflight_resubmit(vq, heads, 256);
	for (unsigned i = 0; i < n; i++) {
		if (virtq_pop_head(vq, heads[i], &elem) != 1)
			return;
		check_and_touch(&elem, ram, ram2);
		pd.heads[pd.n++] = elem.head;
	}
	/* The image does not change, so the ring empties within num pops. */
	for (;;) {
		int ret;

		if (policy & 2)
			virtq_disable_notify(vq);
		while ((ret = virtq_pop(vq, &elem)) == 1) {
			check_and_touch(&elem, ram, ram2);
			pd.heads[pd.n++] = elem.head;
			if (pd.n > hold)
				flush(vq, &pd, policy & 1);
		}
		if (ret < 0 || !(policy & 2) || !virtq_enable_notify(vq) || ++rounds > 4)
			break;
	}
	flush(vq, &pd, policy & 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *ram, *ram2;
	struct virtq_inflight *area = NULL;
	struct chan_mem mem;
	struct virtq vq;
	unsigned num;
	uint64_t features = 0;
	uint16_t base;
	uint8_t p0, policy;

	if (size < 4)
		return 0;
	p0 = data[0];
	base = (uint16_t)(data[1] | data[2] << 8);
	policy = data[3];
	data += 4;
	size -= 4;
	num = 1u << ((p0 & 15) > 8 ? 8 : (p0 & 15));
	if (p0 & 0x10)
		features |= 1ULL << VIRTIO_F_EVENT_IDX;
	if (p0 & 0x20)
		features |= 1ULL << VIRTIO_F_INDIRECT_DESC;

	/* Exact sizes, so ASan's redzones sit right at the ends of guest RAM. */
	ram = malloc(RAM_SIZE);
	ram2 = malloc(RAM2_SIZE);
	if (!ram || !ram2)
		abort();
	memset(ram, 0, RAM_SIZE);
	memcpy(ram, data, size < RAM_SIZE ? size : RAM_SIZE);
	memset(ram2, 0, RAM2_SIZE);
	if (size > RAM_SIZE)
		memcpy(ram2, data + RAM_SIZE,
		       size - RAM_SIZE < RAM2_SIZE ? size - RAM_SIZE : RAM2_SIZE);
	chan_mem_init(&mem);
	if (chan_mem_add_host(&mem, RAM_GPA, RAM_SIZE, RAM_GPA, ram) ||
	    chan_mem_add_host(&mem, RAM2_GPA, RAM2_SIZE, RAM2_GPA, ram2))
		abort();
	if (virtq_setup(&vq, &mem, num, RAM_GPA + DESC_OFF, RAM_GPA + AVAIL_OFF, RAM_GPA + USED_OFF,
			features, base))
		abort();
	if (p0 & 0x40) {
		area = malloc(virtq_inflight_size(num));
		if (!area)
			abort();
		memcpy(area, ram + INFL_OFF, virtq_inflight_size(num));
		if (virtq_inflight_attach(&vq, area, !(p0 & 0x80)))
			goto out;
	}
	serve(&vq, policy, ram, ram2);
	if (vq.broken && !virtq_strerror(vq.error))
		__builtin_trap();
out:
	free(area);
	free(ram2);
	free(ram);
	return 0;
}
