// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "chan_mem.h"
#include "layout.h"
#include "log.h"
#include "memory.h"

unsigned gmem_layout(uint64_t size, struct gmem_region regions[GMEM_MAX_REGIONS])
{
	uint64_t low = size < LAYOUT_MMIO32_BASE ? size : LAYOUT_MMIO32_BASE;

	regions[0] = (struct gmem_region){.gpa = 0, .size = low, .offset = 0};
	if (size == low)
		return 1;
	regions[1] = (struct gmem_region){
		.gpa = LAYOUT_HIGH_RAM,
		.size = size - low,
		.offset = low,
	};
	return 2;
}

/*
 * A mapping of size bytes at a 2 MiB-aligned address. KVM maps guest RAM
 * with 2 MiB nested pages only where the host address and the guest address
 * agree modulo 2 MiB and a huge page backs it: unaligned, every 2 MiB of
 * the guest straddles two host ones and each 4 KiB page costs a fault.
 */
static void *gmem_map(uint64_t size, int flags, int fd)
{
	size_t span = size + GMEM_HUGE_PAGE;
	uint8_t *area, *at, *end;

	area = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (area == MAP_FAILED)
		return MAP_FAILED;
	at = (uint8_t *)(((uintptr_t)area + GMEM_HUGE_PAGE - 1) & ~(uintptr_t)(GMEM_HUGE_PAGE - 1));
	end = at + size;
	if (mmap(at, size, PROT_READ | PROT_WRITE, flags | MAP_FIXED, fd, 0) == MAP_FAILED) {
		int err = errno;

		munmap(area, span);
		errno = err;
		return MAP_FAILED;
	}
	if (at > area)
		munmap(area, (size_t)(at - area));
	if (area + span > end)
		munmap(end, (size_t)(area + span - end));
	return at;
}

/*
 * Private anonymous memory: nothing else maps it. THP backs it in 2 MiB
 * pages where the host allows (enabled=always or madvise), and each of
 * those is one nested-page fault instead of 512.
 */
static int gmem_anon(struct gmem *m, uint64_t size)
{
	m->host = gmem_map(size, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1);
	return m->host == MAP_FAILED ? -errno : 0;
}

static int gmem_memfd(struct gmem *m, uint64_t size, bool hugepages, int fd)
{
	/*
	 * Back ends map the same pages. Sealed against resizing, which back
	 * ends insist on (chan_mem.h). ultravisord makes it so when it hands
	 * us one: it is used as it is.
	 */
	m->fd = fd >= 0 ? fd : chan_memfd_create("uvmm-guest-ram", size, hugepages);
	if (m->fd < 0)
		return m->fd;
	fcntl(m->fd, F_SETFD, FD_CLOEXEC);
	/*
	 * Huge pages are reserved at mmap time, so a host short of them fails
	 * here (ENOMEM) rather than with SIGBUS when the guest touches them.
	 */
	m->host = gmem_map(size, MAP_SHARED | (hugepages ? 0 : MAP_NORESERVE), m->fd);
	if (m->host == MAP_FAILED) {
		int err = -errno;

		close(m->fd);
		m->fd = -1;
		return err;
	}
	return 0;
}

int gmem_create(struct gmem *m, uint64_t size, unsigned flags, int fd)
{
	bool memfd = fd >= 0 || (flags & (GMEM_SHARED | GMEM_HUGETLB));
	int err;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	err = memfd ? gmem_memfd(m, size, flags & GMEM_HUGETLB, fd) : gmem_anon(m, size);
	if (err) {
		m->host = NULL;
		return err;
	}
	/* Guest memory has no business in a core dump of the VMM. */
	madvise(m->host, size, MADV_DONTDUMP);
	/* A memfd takes it only with shmem_enabled=advise (or always): docs/uvmm.md. */
	if (!(flags & GMEM_HUGETLB))
		madvise(m->host, size, MADV_HUGEPAGE);
	m->size = size;
	m->nr_regions = gmem_layout(size, m->regions);
	return 0;
}

void gmem_destroy(struct gmem *m)
{
	if (m->host)
		munmap(m->host, m->size);
	if (m->fd >= 0)
		close(m->fd);
	memset(m, 0, sizeof(*m));
	m->fd = -1;
}

int gmem_register(const struct gmem *m, int vm_fd)
{
	for (unsigned i = 0; i < m->nr_regions; i++) {
		const struct gmem_region *r = &m->regions[i];
		struct kvm_userspace_memory_region kr = {
			.slot = i,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uint64_t)(uintptr_t)(m->host + r->offset),
		};

		if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &kr) < 0)
			return -errno;
	}
	return 0;
}

void *gmem_hva(const struct gmem *m, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < m->nr_regions; i++) {
		const struct gmem_region *r = &m->regions[i];

		if (gpa >= r->gpa && gpa - r->gpa <= r->size && len <= r->size - (gpa - r->gpa))
			return m->host + r->offset + (gpa - r->gpa);
	}
	return NULL;
}

uint64_t gmem_top(const struct gmem *m)
{
	const struct gmem_region *r = &m->regions[m->nr_regions - 1];

	return r->gpa + r->size;
}
