/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UV_TEST_VU_GUEST_H
#define UV_TEST_VU_GUEST_H

/*
 * The guest side of a vhost-user channel in a test, as uvmm has it: guest
 * RAM (a memfd, mapped), one virtq driven from here with its rings in that
 * RAM, the kick and call eventfds, the front end and its in-flight area.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "uvcheck.h"
#include "virtq_driver.h"
#include "vu_front.h"

struct vu_guest {
	struct vu_front f;
	struct virtq_driver drv;
	uint8_t *ram;
	size_t ram_size;
	int memfd, kick, call;
	int calls; /* interrupts seen, for tests that count them */
	struct vu_inflight_area area;
};

/* memfd (taken) of ram_size bytes; the queue of qnum entries at ring_gpa. */
static inline void vu_guest_init(struct vu_guest *g, int memfd, size_t ram_size, uint64_t ring_gpa,
				 unsigned qnum, uint64_t features)
{
	memset(g, 0, sizeof(*g));
	ck_assert_int_ge(memfd, 0);
	g->memfd = memfd;
	g->ram_size = ram_size;
	g->ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	ck_assert(g->ram != MAP_FAILED);
	ck_assert_int_eq(virtq_driver_init(&g->drv, g->ram + ring_gpa, ring_gpa, qnum, 0, features),
			 0);
	g->kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	g->call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ck_assert(g->kick >= 0 && g->call >= 0);
	g->area.fd = -1;
	vu_front_init(&g->f);
}

#define ck_vu_guest(g, call) ck_assert_msg((call) == 0, "%s: %s", #call, (g)->f.err)

/*
 * After the handshake and the features: the RAM as one region from GPA 0,
 * the in-flight area (a fresh one when fresh, else the one kept from before:
 * a reconnect), queue 0 from used index base, enabled.
 */
static inline void vu_guest_setup(struct vu_guest *g, unsigned qnum, uint16_t base, bool fresh)
{
	struct vu_mem_region m = {
		.gpa = 0, .size = g->ram_size, .uaddr = (uintptr_t)g->ram, .fd = g->memfd};
	struct vu_vring v = {
		.num = qnum,
		.desc_uaddr = (uintptr_t)g->drv.desc,
		.avail_uaddr = (uintptr_t)g->drv.avail,
		.used_uaddr = (uintptr_t)g->drv.used,
		.base = base,
		.kick_fd = g->kick,
		.call_fd = g->call,
	};

	ck_vu_guest(g, vu_front_set_mem_table(&g->f, &m, 1));
	if (fresh)
		ck_vu_guest(g, vu_front_get_inflight(&g->f, 1, qnum, &g->area));
	ck_vu_guest(g, vu_front_set_inflight(&g->f, &g->area));
	ck_vu_guest(g, vu_front_vring_setup(&g->f, 0, &v));
	ck_vu_guest(g, vu_front_vring_enable(&g->f, 0, true));
}

static inline void vu_guest_free(struct vu_guest *g)
{
	vu_front_close(&g->f);
	virtq_driver_free(&g->drv);
	munmap(g->ram, g->ram_size);
	close(g->memfd);
	close(g->kick);
	close(g->call);
	if (g->area.fd >= 0)
		close(g->area.fd);
}

#endif
