// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "chan_mem.h"

void chan_mem_init(struct chan_mem *m)
{
	memset(m, 0, sizeof(*m));
}

/* [a, a + alen) and [b, b + blen) intersect; neither wraps. */
static bool range_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static int chan_mem_check(const struct chan_mem *m, uint64_t gpa, uint64_t size, uint64_t uaddr)
{
	if (!size || gpa + size < gpa || uaddr + size < uaddr)
		return -EINVAL;
	if (m->nr == CHAN_MEM_MAX_REGIONS)
		return -E2BIG;
	for (unsigned i = 0; i < m->nr; i++) {
		if (range_overlap(gpa, size, m->r[i].gpa, m->r[i].size) ||
		    range_overlap(uaddr, size, m->r[i].uaddr, m->r[i].size))
			return -EINVAL;
	}
	return 0;
}

int chan_mem_add_host(struct chan_mem *m, uint64_t gpa, uint64_t size, uint64_t uaddr, void *host)
{
	int ret = chan_mem_check(m, gpa, size, uaddr);

	if (ret)
		return ret;
	if (!host)
		return -EINVAL;
	m->r[m->nr++] = (struct chan_mem_region){
		.gpa = gpa, .size = size, .uaddr = uaddr, .host = host, .fd = -1};
	return 0;
}

int chan_mem_add_fd(struct chan_mem *m, uint64_t gpa, uint64_t size, uint64_t uaddr, int fd,
		    uint64_t mmap_offset)
{
	long page = sysconf(_SC_PAGESIZE);
	uint64_t delta, len;
	void *p;
	int ret = chan_mem_check(m, gpa, size, uaddr);

	if (ret)
		return ret;
	/* mmap wants a page-aligned offset; the region may start mid-page. */
	delta = mmap_offset % (uint64_t)page;
	len = size + delta;
	if (len < size || mmap_offset + size < mmap_offset)
		return -EINVAL;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd,
		 (off_t)(mmap_offset - delta));
	if (p == MAP_FAILED)
		return -errno;
	m->r[m->nr++] = (struct chan_mem_region){
		.gpa = gpa,
		.size = size,
		.uaddr = uaddr,
		.host = (uint8_t *)p + delta,
		.map_base = p,
		.map_len = len,
		.fd = fd,
	};
	return 0;
}

void chan_mem_clear(struct chan_mem *m)
{
	for (unsigned i = 0; i < m->nr; i++) {
		if (m->r[i].map_base)
			munmap(m->r[i].map_base, m->r[i].map_len);
		if (m->r[i].fd >= 0)
			close(m->r[i].fd);
	}
	chan_mem_init(m);
}

/* Region holding [addr, addr + len), addr being a gpa or (by_uaddr) a user address. */
static const struct chan_mem_region *chan_mem_find(const struct chan_mem *m, uint64_t addr,
						   uint64_t len, bool by_uaddr)
{
	for (unsigned i = 0; i < m->nr; i++) {
		const struct chan_mem_region *r = &m->r[i];
		uint64_t start = by_uaddr ? r->uaddr : r->gpa;

		/* Written so that nothing can overflow: addr - start < size first. */
		if (addr >= start && addr - start < r->size && len <= r->size - (addr - start))
			return r;
	}
	return NULL;
}

void *chan_mem_gpa(const struct chan_mem *m, uint64_t gpa, uint64_t len)
{
	const struct chan_mem_region *r = chan_mem_find(m, gpa, len, false);

	return r ? r->host + (gpa - r->gpa) : NULL;
}

void *chan_mem_uva(const struct chan_mem *m, uint64_t uaddr, uint64_t len)
{
	const struct chan_mem_region *r = chan_mem_find(m, uaddr, len, true);

	return r ? r->host + (uaddr - r->uaddr) : NULL;
}
