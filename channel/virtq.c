// SPDX-License-Identifier: GPL-2.0
/*
 * Device side of a split virtqueue. The driver (a possibly hostile guest)
 * owns the descriptor table and the avail ring and may rewrite them while we
 * read: each descriptor is copied once and only the copy is used, every
 * index is bounded before use, every address goes through the memory table,
 * and the walk of one chain is bounded by the table it walks.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "virtq.h"

#define VRING_AVAIL_F_NO_INTERRUPT 1
#define VRING_USED_F_NO_NOTIFY	   1

uint64_t virtq_desc_size(unsigned num)
{
	return (uint64_t)num * sizeof(struct virtq_desc);
}

uint64_t virtq_avail_size(unsigned num)
{
	/* flags, idx, ring[num], used_event */
	return 6 + 2 * (uint64_t)num;
}

uint64_t virtq_used_size(unsigned num)
{
	/* flags, idx, ring[num], avail_event */
	return 6 + (uint64_t)num * sizeof(struct virtq_used_elem);
}

uint64_t virtq_inflight_size(unsigned num)
{
	uint64_t sz =
		sizeof(struct virtq_inflight) + (uint64_t)num * sizeof(struct virtq_inflight_desc);

	return (sz + 63) & ~(uint64_t)63;
}

static uint16_t *virtq_used_event(struct virtq *vq)
{
	return &vq->avail->ring[vq->num];
}

static uint16_t *virtq_avail_event(struct virtq *vq)
{
	return (uint16_t *)&vq->used->ring[vq->num];
}

/* The driver wants an event when new_idx moved past event since old (2.7.7.2). */
static bool vring_need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

static int virtq_break(struct virtq *vq, enum virtq_error err)
{
	if (!vq->broken) {
		vq->broken = true;
		vq->error = err;
	}
	return -EIO;
}

static bool is_aligned(const void *p, uintptr_t align)
{
	return ((uintptr_t)p & (align - 1)) == 0;
}

int virtq_setup_host(struct virtq *vq, const struct chan_mem *mem, unsigned num, void *desc,
		     void *avail, void *used, uint64_t features, uint16_t base)
{
	if (!num || num > VIRTQ_MAX_SIZE || (num & (num - 1)))
		return -EINVAL;
	if (!desc || !avail || !used)
		return -EINVAL;
	/* Also covers a region whose host mapping is oddly placed. */
	if (!is_aligned(desc, 16) || !is_aligned(avail, 2) || !is_aligned(used, 4))
		return -EINVAL;
	memset(vq, 0, sizeof(*vq));
	vq->mem = mem;
	vq->num = (uint16_t)num;
	vq->desc = desc;
	vq->avail = avail;
	vq->used = used;
	vq->last_avail = base;
	vq->shadow_avail = base;
	vq->used_idx = base;
	vq->event_idx = features & (1ULL << VIRTIO_F_EVENT_IDX);
	vq->indirect = features & (1ULL << VIRTIO_F_INDIRECT_DESC);
	/* A previous back end may have left kicks off. */
	if (vq->event_idx)
		__atomic_store_n(virtq_avail_event(vq), base, __ATOMIC_RELAXED);
	else
		__atomic_store_n(&vq->used->flags, 0, __ATOMIC_RELAXED);
	return 0;
}

int virtq_setup(struct virtq *vq, const struct chan_mem *mem, unsigned num, uint64_t desc_gpa,
		uint64_t avail_gpa, uint64_t used_gpa, uint64_t features, uint16_t base)
{
	void *desc, *avail, *used;

	if (!num || num > VIRTQ_MAX_SIZE || (num & (num - 1)))
		return -EINVAL;
	if ((desc_gpa & 15) || (avail_gpa & 1) || (used_gpa & 3))
		return -EINVAL;
	desc = chan_mem_gpa(mem, desc_gpa, virtq_desc_size(num));
	avail = chan_mem_gpa(mem, avail_gpa, virtq_avail_size(num));
	used = chan_mem_gpa(mem, used_gpa, virtq_used_size(num));
	return virtq_setup_host(vq, mem, num, desc, avail, used, features, base);
}

/*
 * One copy of a descriptor. The barrier keeps the compiler from reading the
 * guest's copy again later instead of ours.
 */
static void desc_read(struct virtq_desc *d, const struct virtq_desc *table, unsigned i)
{
	memcpy(d, &table[i], sizeof(*d));
	__asm__ volatile("" ::: "memory");
}

struct chain_walk {
	const struct virtq_desc *table;
	unsigned size;	/* entries in table */
	unsigned seen;	/* descriptors taken from table */
	uint64_t total; /* bytes in the chain */
	bool indirect;
};

/* Switches the walk to the indirect table d points to. */
static int walk_indirect(struct virtq *vq, struct chain_walk *w, const struct virtq_desc *d)
{
	const void *table;

	if (!vq->indirect || w->indirect || (d->flags & VIRTQ_DESC_F_NEXT))
		return VIRTQ_ERR_INDIRECT;
	if (!d->len || d->len % sizeof(struct virtq_desc) ||
	    d->len / sizeof(struct virtq_desc) > VIRTQ_MAX_IOV)
		return VIRTQ_ERR_INDIRECT;
	table = chan_mem_gpa(vq->mem, d->addr, d->len);
	if (!table)
		return VIRTQ_ERR_ADDR;
	w->table = table;
	w->size = d->len / sizeof(struct virtq_desc);
	w->seen = 0;
	w->indirect = true;
	return VIRTQ_OK;
}

/* Adds the buffer d to e: readable ones first, no readable after a writable. */
static int walk_buffer(struct virtq *vq, struct chain_walk *w, const struct virtq_desc *d,
		       struct virtq_elem *e)
{
	void *p;

	if (e->out_num + e->in_num >= VIRTQ_MAX_IOV)
		return VIRTQ_ERR_TOO_LONG;
	if (!(d->flags & VIRTQ_DESC_F_WRITE) && e->in_num)
		return VIRTQ_ERR_ORDER;
	w->total += d->len;
	if (w->total > UINT32_MAX)
		return VIRTQ_ERR_LEN;
	p = chan_mem_gpa(vq->mem, d->addr, d->len);
	if (!p)
		return VIRTQ_ERR_ADDR;
	e->iov[e->out_num + e->in_num] = (struct iovec){.iov_base = p, .iov_len = d->len};
	if (d->flags & VIRTQ_DESC_F_WRITE)
		e->in_num++;
	else
		e->out_num++;
	return VIRTQ_OK;
}

/* Maps the chain starting at head into e; returns a virtq_error. */
static int virtq_map_chain(struct virtq *vq, uint16_t head, struct virtq_elem *e)
{
	struct chain_walk w = {.table = vq->desc, .size = vq->num};
	struct virtq_desc d;
	unsigned i = head;
	int err;

	e->head = head;
	e->out_num = e->in_num = 0;
	if (head >= vq->num)
		return VIRTQ_ERR_HEAD;
	for (;;) {
		/* A chain can use each entry of its table once at most. */
		if (++w.seen > w.size)
			return VIRTQ_ERR_LOOP;
		desc_read(&d, w.table, i);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			err = walk_indirect(vq, &w, &d);
			if (err)
				return err;
			i = 0;
			continue;
		}
		err = walk_buffer(vq, &w, &d, e);
		if (err)
			return err;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return VIRTQ_OK;
		i = d.next;
		if (i >= w.size)
			return VIRTQ_ERR_NEXT;
	}
}

static void inflight_mark(struct virtq *vq, uint16_t head)
{
	struct virtq_inflight_desc *s;

	if (!vq->inflight)
		return;
	s = &vq->inflight->desc[head];
	__atomic_store_n(&s->counter, ++vq->inflight_counter, __ATOMIC_RELAXED);
	/* Release: a reader of the area that sees inflight sees the counter. */
	__atomic_store_n(&s->inflight, 1, __ATOMIC_RELEASE);
}

int virtq_pop_head(struct virtq *vq, uint16_t head, struct virtq_elem *e)
{
	int err;

	if (vq->broken)
		return -EIO;
	err = virtq_map_chain(vq, head, e);
	if (err)
		return virtq_break(vq, err);
	/* A resubmitted request keeps its age. */
	if (vq->inflight && !vq->inflight->desc[head].inflight)
		inflight_mark(vq, head);
	return 1;
}

int virtq_pop(struct virtq *vq, struct virtq_elem *e)
{
	uint16_t head;
	int err;

	if (vq->broken)
		return -EIO;
	if (vq->last_avail == vq->shadow_avail) {
		/* Acquire: ring entries are read after the index that covers them. */
		uint16_t idx = __atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE);

		if ((uint16_t)(idx - vq->last_avail) > vq->num)
			return virtq_break(vq, VIRTQ_ERR_AVAIL_IDX);
		vq->shadow_avail = idx;
		if (idx == vq->last_avail)
			return 0;
	}
	head = __atomic_load_n(&vq->avail->ring[vq->last_avail & (vq->num - 1)], __ATOMIC_RELAXED);
	err = virtq_map_chain(vq, head, e);
	if (err)
		return virtq_break(vq, err);
	vq->last_avail++;
	inflight_mark(vq, head);
	if (vq->event_idx && !vq->notify_off)
		__atomic_store_n(virtq_avail_event(vq), vq->last_avail, __ATOMIC_RELAXED);
	return 1;
}

/* vhost-user's algorithm: the batch list and used_idx let a successor undo a torn push. */
static void inflight_push(struct virtq *vq, uint16_t head)
{
	struct virtq_inflight *in = vq->inflight;

	__atomic_store_n(&in->desc[head].next, in->last_batch_head, __ATOMIC_RELAXED);
	__atomic_store_n(&in->last_batch_head, head, __ATOMIC_RELEASE);
}

void virtq_push(struct virtq *vq, uint16_t head, uint32_t len)
{
	struct virtq_used_elem *u;

	if (vq->broken || head >= vq->num)
		return;
	if (vq->inflight)
		inflight_push(vq, head);
	u = &vq->used->ring[vq->used_idx & (vq->num - 1)];
	__atomic_store_n(&u->id, head, __ATOMIC_RELAXED);
	__atomic_store_n(&u->len, len, __ATOMIC_RELAXED);
	vq->used_idx++;
	/* Release: the driver that sees the index sees the element. */
	__atomic_store_n(&vq->used->idx, vq->used_idx, __ATOMIC_RELEASE);
	/* After 65536 pushes without a notify check, signalled_used means nothing. */
	if (vq->used_idx == vq->signalled_used)
		vq->signalled_used_valid = false;
	if (vq->inflight) {
		__atomic_store_n(&vq->inflight->desc[head].inflight, 0, __ATOMIC_RELEASE);
		__atomic_store_n(&vq->inflight->used_idx, vq->used_idx, __ATOMIC_RELEASE);
	}
}

bool virtq_need_notify(struct virtq *vq)
{
	uint16_t old, event;
	bool valid;

	if (vq->broken)
		return false;
	/* The used idx store must be visible before we read what the driver wants. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!vq->event_idx)
		return !(__atomic_load_n(&vq->avail->flags, __ATOMIC_RELAXED) &
			 VRING_AVAIL_F_NO_INTERRUPT);
	old = vq->signalled_used;
	valid = vq->signalled_used_valid;
	vq->signalled_used = vq->used_idx;
	vq->signalled_used_valid = true;
	if (!valid)
		return true;
	event = __atomic_load_n(virtq_used_event(vq), __ATOMIC_RELAXED);
	return vring_need_event(event, vq->used_idx, old);
}

void virtq_disable_notify(struct virtq *vq)
{
	vq->notify_off = true;
	if (vq->broken)
		return;
	/* With EVENT_IDX, an avail_event left behind already stops kicks. */
	if (!vq->event_idx)
		__atomic_store_n(&vq->used->flags, VRING_USED_F_NO_NOTIFY, __ATOMIC_RELAXED);
}

bool virtq_enable_notify(struct virtq *vq)
{
	uint16_t idx;

	vq->notify_off = false;
	if (vq->broken)
		return false;
	if (vq->event_idx)
		__atomic_store_n(virtq_avail_event(vq), vq->last_avail, __ATOMIC_RELAXED);
	else
		__atomic_store_n(&vq->used->flags, 0, __ATOMIC_RELAXED);
	/* Publish the request for kicks before looking for buffers added meanwhile. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	idx = __atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE);
	return idx != vq->last_avail;
}

static void inflight_init(struct virtq *vq, struct virtq_inflight *area)
{
	memset(area, 0, virtq_inflight_size(vq->num));
	area->version = 1;
	area->desc_num = vq->num;
	area->used_idx = vq->used_idx;
	vq->inflight = area;
	vq->inflight_counter = 0;
}

/*
 * A predecessor died between publishing used->idx and clearing its last
 * batch: those requests were completed, so they are not in flight. The
 * area may be garbage, so the walk is bounded and every index checked.
 */
static void inflight_fix_last_batch(struct virtq *vq, struct virtq_inflight *area, uint16_t used)
{
	unsigned batch = (uint16_t)(used - area->used_idx);
	uint16_t h = area->last_batch_head;

	if (batch > vq->num)
		batch = vq->num;
	for (unsigned k = 0; k < batch && h < vq->num; k++) {
		area->desc[h].inflight = 0;
		h = area->desc[h].next;
	}
	area->used_idx = used;
}

int virtq_inflight_attach(struct virtq *vq, struct virtq_inflight *area, bool fresh)
{
	unsigned inuse = 0;
	uint64_t max = 0;
	uint16_t used;

	if (!area) {
		vq->inflight = NULL;
		return 0;
	}
	/* Version 0: a zeroed area nobody has used yet. */
	if (fresh || !area->version) {
		inflight_init(vq, area);
		return 0;
	}
	if (area->version != 1 || area->desc_num != vq->num)
		return -EINVAL;
	used = __atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE);
	if (area->used_idx != used)
		inflight_fix_last_batch(vq, area, used);
	for (unsigned i = 0; i < vq->num; i++) {
		if (area->desc[i].inflight != 1) {
			area->desc[i].inflight = 0;
			continue;
		}
		inuse++;
		if (area->desc[i].counter > max)
			max = area->desc[i].counter;
	}
	vq->inflight = area;
	vq->inflight_counter = max;
	/*
	 * Every request ever taken is either used or in flight, so this is
	 * where the avail ring resumes whatever base the front end guessed.
	 */
	vq->used_idx = used;
	vq->last_avail = vq->shadow_avail = (uint16_t)(used + inuse);
	vq->signalled_used_valid = false;
	if (vq->event_idx)
		__atomic_store_n(virtq_avail_event(vq), vq->last_avail, __ATOMIC_RELAXED);
	return 0;
}

struct inflight_ent {
	uint64_t counter;
	uint16_t head;
};

static int inflight_ent_cmp(const void *a, const void *b)
{
	const struct inflight_ent *x = a, *y = b;

	if (x->counter != y->counter)
		return x->counter < y->counter ? -1 : 1;
	return (int)x->head - (int)y->head;
}

unsigned virtq_inflight_resubmit(struct virtq *vq, uint16_t *heads, unsigned max)
{
	struct inflight_ent *ents;
	unsigned n = 0;

	if (!vq->inflight || !max)
		return 0;
	/* Sort a private snapshot: the area is shared and may change under qsort. */
	ents = malloc(vq->num * sizeof(*ents));
	if (!ents)
		return 0;
	for (unsigned i = 0; i < vq->num; i++) {
		const struct virtq_inflight_desc *s = &vq->inflight->desc[i];

		if (__atomic_load_n(&s->inflight, __ATOMIC_ACQUIRE) == 1)
			ents[n++] = (struct inflight_ent){
				.counter = __atomic_load_n(&s->counter, __ATOMIC_RELAXED),
				.head = (uint16_t)i};
	}
	qsort(ents, n, sizeof(*ents), inflight_ent_cmp);
	if (n > max)
		n = max;
	for (unsigned i = 0; i < n; i++)
		heads[i] = ents[i].head;
	free(ents);
	return n;
}

const char *virtq_strerror(enum virtq_error err)
{
	static const char *const msg[] = {
		[VIRTQ_OK] = "no error",
		[VIRTQ_ERR_AVAIL_IDX] = "avail index moved more than the queue size",
		[VIRTQ_ERR_HEAD] = "head index out of range",
		[VIRTQ_ERR_NEXT] = "next index out of range",
		[VIRTQ_ERR_LOOP] = "descriptor loop",
		[VIRTQ_ERR_ADDR] = "buffer outside guest memory",
		[VIRTQ_ERR_LEN] = "bad buffer length",
		[VIRTQ_ERR_INDIRECT] = "bad indirect descriptor table",
		[VIRTQ_ERR_ORDER] = "readable buffer after a writable one",
		[VIRTQ_ERR_TOO_LONG] = "descriptor chain too long",
	};

	if ((unsigned)err >= sizeof(msg) / sizeof(msg[0]) || !msg[err])
		return "unknown error";
	return msg[err];
}
