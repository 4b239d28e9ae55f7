// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "virtq_driver.h"

#define VRING_AVAIL_F_NO_INTERRUPT 1
#define VRING_USED_F_NO_NOTIFY	   1
/* chain_len of a head published by virtq_driver_add_raw(). */
#define CHAIN_RAW UINT16_MAX

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* Offsets of the used ring and the indirect tables; the avail ring follows desc. */
static uint64_t used_off(unsigned num)
{
	/* Own cache lines for what the device writes. */
	return align_up(virtq_desc_size(num) + virtq_avail_size(num), 64);
}

static uint64_t indirect_off(unsigned num)
{
	return align_up(used_off(num) + virtq_used_size(num), 64);
}

size_t virtq_driver_size(unsigned num, unsigned indirect_max)
{
	return indirect_off(num) + (uint64_t)num * indirect_max * sizeof(struct virtq_desc);
}

int virtq_driver_init(struct virtq_driver *d, void *mem, uint64_t gpa, unsigned num,
		      unsigned indirect_max, uint64_t features)
{
	uint8_t *p = mem;

	if (!num || num > VIRTQ_MAX_SIZE || (num & (num - 1)) || ((uintptr_t)mem & 15) ||
	    (gpa & 15) || indirect_max > VIRTQ_MAX_IOV)
		return -EINVAL;
	memset(d, 0, sizeof(*d));
	d->free_next = calloc(num, sizeof(*d->free_next));
	d->chain_len = calloc(num, sizeof(*d->chain_len));
	d->token = calloc(num, sizeof(*d->token));
	if (!d->free_next || !d->chain_len || !d->token) {
		virtq_driver_free(d);
		return -ENOMEM;
	}
	memset(mem, 0, virtq_driver_size(num, indirect_max));
	d->num = num;
	d->desc = mem;
	d->avail = (struct virtq_avail *)(p + virtq_desc_size(num));
	d->used = (struct virtq_used *)(p + used_off(num));
	d->desc_gpa = gpa;
	d->avail_gpa = gpa + virtq_desc_size(num);
	d->used_gpa = gpa + used_off(num);
	d->indirect_max = indirect_max;
	if (indirect_max) {
		d->indirect = (struct virtq_desc *)(p + indirect_off(num));
		d->indirect_gpa = gpa + indirect_off(num);
	}
	d->event_idx = features & (1ULL << VIRTIO_F_EVENT_IDX);
	for (unsigned i = 0; i < num; i++)
		d->free_next[i] = (uint16_t)(i + 1);
	d->num_free = num;
	return 0;
}

void virtq_driver_free(struct virtq_driver *d)
{
	free(d->free_next);
	free(d->chain_len);
	free(d->token);
	d->free_next = d->chain_len = NULL;
	d->token = NULL;
}

static void publish(struct virtq_driver *d, uint16_t head)
{
	__atomic_store_n(&d->avail->ring[d->avail_idx & (d->num - 1)], head, __ATOMIC_RELAXED);
	d->avail_idx++;
	/* Release: the device that sees the index sees the entry and the chain. */
	__atomic_store_n(&d->avail->idx, d->avail_idx, __ATOMIC_RELEASE);
}

static void fill_chain(struct virtq_desc *table, const struct virtq_buf *bufs, unsigned n,
		       const uint16_t *idx)
{
	for (unsigned k = 0; k < n; k++) {
		uint16_t flags = bufs[k].write ? VIRTQ_DESC_F_WRITE : 0;

		if (k + 1 < n)
			flags |= VIRTQ_DESC_F_NEXT;
		table[idx[k]] = (struct virtq_desc){
			.addr = bufs[k].gpa,
			.len = bufs[k].len,
			.flags = flags,
			.next = k + 1 < n ? idx[k + 1] : 0,
		};
	}
}

/* Takes n descriptors off the free list; they stay linked in free_next. */
static uint16_t take_free(struct virtq_driver *d, unsigned n, uint16_t *idx)
{
	uint16_t head = d->free_head;
	uint16_t i = head;

	for (unsigned k = 0; k < n; k++) {
		if (idx)
			idx[k] = i;
		i = d->free_next[i];
	}
	d->free_head = i;
	d->num_free -= n;
	d->chain_len[head] = (uint16_t)n;
	return head;
}

static int add_indirect(struct virtq_driver *d, const struct virtq_buf *bufs, unsigned n,
			void *token)
{
	uint16_t head, idx[VIRTQ_MAX_IOV];
	struct virtq_desc *table;

	if (n > d->indirect_max || !d->num_free)
		return n > d->indirect_max ? -EINVAL : -ENOSPC;
	head = take_free(d, 1, NULL);
	table = d->indirect + (size_t)head * d->indirect_max;
	for (unsigned k = 0; k < n; k++)
		idx[k] = (uint16_t)k;
	fill_chain(table, bufs, n, idx);
	d->desc[head] = (struct virtq_desc){
		.addr = d->indirect_gpa + (uint64_t)head * d->indirect_max * sizeof(*table),
		.len = n * sizeof(*table),
		.flags = VIRTQ_DESC_F_INDIRECT,
	};
	d->token[head] = token;
	publish(d, head);
	return head;
}

int virtq_driver_add(struct virtq_driver *d, const struct virtq_buf *bufs, unsigned n,
		     bool indirect, void *token)
{
	uint16_t head, idx[VIRTQ_MAX_IOV];

	if (!n || n > VIRTQ_MAX_IOV)
		return -EINVAL;
	if (indirect)
		return add_indirect(d, bufs, n, token);
	if (n > d->num_free)
		return -ENOSPC;
	head = take_free(d, n, idx);
	fill_chain(d->desc, bufs, n, idx);
	d->token[head] = token;
	publish(d, head);
	return head;
}

void virtq_driver_add_raw(struct virtq_driver *d, uint16_t head)
{
	if (head < d->num)
		d->chain_len[head] = CHAIN_RAW;
	publish(d, head);
}

/* The other side wants an event when new_idx moved past event since old. */
static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

bool virtq_driver_kick_needed(struct virtq_driver *d)
{
	uint16_t old = d->kicked_avail, new_idx = d->avail_idx;

	/* The avail idx store must be visible before we read what the device wants. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	d->kicked_avail = new_idx;
	if (old == new_idx)
		return false;
	if (d->event_idx)
		return need_event(
			__atomic_load_n((uint16_t *)&d->used->ring[d->num], __ATOMIC_RELAXED),
			new_idx, old);
	return !(__atomic_load_n(&d->used->flags, __ATOMIC_RELAXED) & VRING_USED_F_NO_NOTIFY);
}

static void put_free(struct virtq_driver *d, uint16_t head)
{
	uint16_t last = head;

	for (unsigned k = 1; k < d->chain_len[head]; k++)
		last = d->free_next[last];
	d->free_next[last] = d->free_head;
	d->free_head = head;
	d->num_free += d->chain_len[head];
}

int virtq_driver_get_used(struct virtq_driver *d, uint32_t *len, void **token)
{
	struct virtq_used_elem *u;
	uint16_t idx = __atomic_load_n(&d->used->idx, __ATOMIC_ACQUIRE);
	uint32_t id;

	if (idx == d->last_used)
		return 0;
	u = &d->used->ring[d->last_used & (d->num - 1)];
	id = __atomic_load_n(&u->id, __ATOMIC_RELAXED);
	*len = __atomic_load_n(&u->len, __ATOMIC_RELAXED);
	d->last_used++;
	if (id >= d->num || !d->chain_len[id])
		return -EIO;
	*token = d->token[id];
	if (d->chain_len[id] != CHAIN_RAW)
		put_free(d, (uint16_t)id);
	d->chain_len[id] = 0;
	d->token[id] = NULL;
	return 1;
}

void virtq_driver_disable_cb(struct virtq_driver *d)
{
	/* With EVENT_IDX a used_event left behind already stops interrupts. */
	if (!d->event_idx)
		__atomic_store_n(&d->avail->flags, VRING_AVAIL_F_NO_INTERRUPT, __ATOMIC_RELAXED);
}

bool virtq_driver_enable_cb(struct virtq_driver *d)
{
	if (d->event_idx)
		__atomic_store_n(&d->avail->ring[d->num], d->last_used, __ATOMIC_RELAXED);
	else
		__atomic_store_n(&d->avail->flags, 0, __ATOMIC_RELAXED);
	/* Publish the request before looking for entries used meanwhile. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return __atomic_load_n(&d->used->idx, __ATOMIC_ACQUIRE) != d->last_used;
}
