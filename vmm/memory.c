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

int gmem_create(struct gmem *m, uint64_t size, bool hugepages, int fd)
{
	int err;

	memset(m, 0, sizeof(*m));
	/*
	 * A memfd rather than anonymous memory: back ends map the same pages.
	 * Sealed against resizing, which back ends insist on (chan_mem.h).
	 * ultravisord makes it so when it hands us one: it is used as it is.
	 */
	m->fd = fd >= 0 ? fd : chan_memfd_create("uvmm-guest-ram", size, hugepages);
	if (m->fd < 0)
		return m->fd;
	fcntl(m->fd, F_SETFD, FD_CLOEXEC);
	/*
	 * Huge pages are reserved at mmap time, so a host short of them fails
	 * here (ENOMEM) rather than with SIGBUS when the guest touches them.
	 */
	m->host = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | (hugepages ? 0 : MAP_NORESERVE), m->fd, 0);
	if (m->host == MAP_FAILED) {
		err = -errno;
		goto err_close;
	}
	/* Guest memory has no business in a core dump of the VMM. */
	madvise(m->host, size, MADV_DONTDUMP);
	m->size = size;
	m->nr_regions = gmem_layout(size, m->regions);
	return 0;

err_close:
	close(m->fd);
	m->fd = -1;
	return err;
}

void gmem_destroy(struct gmem *m)
{
	if (m->host && m->host != MAP_FAILED)
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
