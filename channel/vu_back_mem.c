// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "vu_back_int.h"

static bool vu_back_same_table(struct vu_back *b, const struct vhost_user_memory *mem)
{
	if (mem->nregions != b->mem.nr)
		return false;
	for (unsigned i = 0; i < mem->nregions; i++) {
		const struct vhost_user_region *r = &mem->regions[i];
		const struct chan_mem_region *o = &b->mem.r[i];

		if (r->gpa != o->gpa || r->size != o->size || r->uaddr != o->uaddr)
			return false;
	}
	return true;
}

int vu_back_set_mem_table(struct vu_back *b, struct vhost_user_msg *m)
{
	const struct vhost_user_memory *mem = &m->payload.memory;
	struct chan_mem nm;
	int ret = 0;

	/* Running rings point into the old mappings; a front end may resend the same table. */
	if (vu_back_any_started(b))
		return vu_back_same_table(b, mem) ? 0 : -EBUSY;
	chan_mem_init(&nm);
	for (unsigned i = 0; i < mem->nregions; i++) {
		const struct vhost_user_region *r = &mem->regions[i];

		ret = chan_memfd_check(m->fds[i], r->mmap_offset, r->size);
		if (ret) {
			pr_err("%s: memory region %u refused: %s", b->name, i,
			       chan_memfd_strerror(ret));
			ret = -EINVAL;
			break;
		}
		ret = chan_mem_add_fd(&nm, r->gpa, r->size, r->uaddr, m->fds[i], r->mmap_offset);
		if (ret) {
			pr_err("%s: memory region %u: %s", b->name, i, strerror(-ret));
			break;
		}
		m->fds[i] = -1;
	}
	if (ret) {
		chan_mem_clear(&nm);
		return ret;
	}
	chan_mem_clear(&b->mem);
	b->mem = nm;
	return 0;
}

void vu_back_drop_inflight(struct vu_back *b)
{
	if (b->inflight_map)
		munmap(b->inflight_map, b->inflight_len);
	b->inflight_map = NULL;
	b->inflight = NULL;
	b->inflight_nq = b->inflight_qs = 0;
}

int vu_back_map_inflight(struct vu_back *b, int fd, const struct vhost_user_inflight *in)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t need = in->num_queues * virtq_inflight_size(in->queue_size);
	uint64_t delta = in->mmap_offset % page;
	void *p;
	int err;

	if (in->num_queues > b->nq || in->mmap_size < need)
		return -EINVAL;
	err = chan_memfd_check(fd, in->mmap_offset, in->mmap_size);
	if (err) {
		pr_err("%s: in-flight area refused: %s", b->name, chan_memfd_strerror(err));
		return -EINVAL;
	}
	if (vu_back_any_started(b))
		return -EBUSY;
	p = mmap(NULL, in->mmap_size + delta, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 (off_t)(in->mmap_offset - delta));
	if (p == MAP_FAILED)
		return -errno;
	vu_back_drop_inflight(b);
	b->inflight_map = p;
	b->inflight_len = in->mmap_size + delta;
	b->inflight = (uint8_t *)p + delta;
	b->inflight_nq = in->num_queues;
	b->inflight_qs = in->queue_size;
	return 0;
}

int vu_back_get_inflight(struct vu_back *b, struct vhost_user_msg *m)
{
	struct vhost_user_inflight in = m->payload.inflight;
	struct vhost_user_msg r;
	int fd, ret;

	in.mmap_size = in.num_queues * virtq_inflight_size(in.queue_size);
	in.mmap_offset = 0;
	fd = chan_memfd_create("uv-inflight", in.mmap_size, false);
	if (fd < 0)
		return fd;
	/* Ours too, so that tracking works even if SET_INFLIGHT_FD never comes. */
	ret = vu_back_map_inflight(b, fd, &in);
	if (ret)
		goto out;
	vu_msg_init(&r, VHOST_USER_GET_INFLIGHT_FD, sizeof(in));
	r.payload.inflight = in;
	r.nfds = 1;
	r.fds[0] = fd;
	vu_back_send(b, &r);
out:
	close(fd);
	return ret;
}
