// SPDX-License-Identifier: GPL-2.0
/*
 * Guest RAM's backing (vmm/memory.c): private anonymous memory when nothing
 * shares it, a sealed memfd when back ends map it, a given memfd taken over;
 * the mapping is what /proc/self/smaps says it is, 2 MiB-aligned.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "chan_mem.h"
#include "memory.h"
#include "uvcheck.h"

#define SIZE (64ULL << 20)

/* The smaps header line of the mapping at addr, without its address range. */
static void smaps_name(const void *addr, char *name, size_t len)
{
	unsigned long lo, hi, want = (unsigned long)addr;
	char line[512];
	FILE *f = fopen("/proc/self/smaps", "r");

	ck_assert_ptr_nonnull(f);
	name[0] = 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && lo == want) {
			snprintf(name, len, "%s", line);
			break;
		}
	fclose(f);
	ck_assert_msg(name[0], "no mapping at %p", addr);
}

START_TEST(test_gmem_anon)
{
	struct gmem m;
	char name[512];

	ck_assert_int_eq(gmem_create(&m, SIZE, 0, -1), 0);
	ck_assert_int_eq(m.fd, -1);
	ck_assert_uint_eq(m.size, SIZE);
	/* 2 MiB-aligned, or KVM cannot map it with huge nested pages. */
	ck_assert_uint_eq((uintptr_t)m.host % GMEM_HUGE_PAGE, 0);
	ck_assert_uint_eq(m.nr_regions, 1);
	smaps_name(m.host, name, sizeof(name));
	/* Anonymous: no file (a memfd's line names /memfd:...). */
	ck_assert_msg(!strstr(name, "memfd:"), "%s", name);
	m.host[SIZE - 1] = 1;
	ck_assert_ptr_eq(gmem_hva(&m, SIZE - 1, 1), m.host + SIZE - 1);
	gmem_destroy(&m);
	ck_assert_int_eq(m.fd, -1);
	ck_assert_ptr_null(m.host);
}
END_TEST

START_TEST(test_gmem_shared)
{
	struct gmem m;
	char name[512];
	int fd;

	ck_assert_int_eq(gmem_create(&m, SIZE, GMEM_SHARED, -1), 0);
	ck_assert_int_ge(m.fd, 0);
	ck_assert_int_eq(fcntl(m.fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	ck_assert_int_eq(lseek(m.fd, 0, SEEK_END), (off_t)SIZE);
	ck_assert_uint_eq((uintptr_t)m.host % GMEM_HUGE_PAGE, 0);
	smaps_name(m.host, name, sizeof(name));
	ck_assert_msg(strstr(name, "uvmm-guest-ram"), "%s", name);
	gmem_destroy(&m);

	/* A given memfd is used as it is. */
	fd = chan_memfd_create("given-ram", SIZE, false);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(gmem_create(&m, SIZE, 0, fd), 0);
	ck_assert_int_eq(m.fd, fd);
	smaps_name(m.host, name, sizeof(name));
	ck_assert_msg(strstr(name, "given-ram"), "%s", name);
	gmem_destroy(&m);
}
END_TEST

int main(void)
{
	return uv_check_run(
		uv_suite("gmem", NULL, NULL, 30, UV_TESTS(test_gmem_anon, test_gmem_shared)));
}
