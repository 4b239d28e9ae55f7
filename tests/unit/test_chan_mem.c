// SPDX-License-Identifier: GPL-2.0
#include <check.h>

#include "uvcheck.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "chan_mem.h"

static struct chan_mem m;
static uint8_t buf[3][4096];

static void setup(void)
{
	chan_mem_init(&m);
	/* gpa 0x1000 and 0x2000 adjacent; user addresses elsewhere and reversed. */
	ck_assert_int_eq(chan_mem_add_host(&m, 0x1000, 0x1000, 0x7000, buf[0]), 0);
	ck_assert_int_eq(chan_mem_add_host(&m, 0x2000, 0x1000, 0x6000, buf[1]), 0);
}

static void teardown(void)
{
	chan_mem_clear(&m);
}

START_TEST(test_translate)
{
	ck_assert_ptr_eq(chan_mem_gpa(&m, 0x1000, 1), buf[0]);
	ck_assert_ptr_eq(chan_mem_gpa(&m, 0x2010, 16), buf[1] + 0x10);
	ck_assert_ptr_eq(chan_mem_uva(&m, 0x7000, 0x1000), buf[0]);
	ck_assert_ptr_eq(chan_mem_uva(&m, 0x6ff0, 16), buf[1] + 0xff0);
}
END_TEST

START_TEST(test_gpa_is_not_uaddr)
{
	/* The two address spaces never mix. */
	ck_assert_ptr_null(chan_mem_uva(&m, 0x1000, 1));
	ck_assert_ptr_null(chan_mem_gpa(&m, 0x7000, 1));
}
END_TEST

START_TEST(test_exact_boundaries)
{
	ck_assert_ptr_eq(chan_mem_gpa(&m, 0x1fff, 1), buf[0] + 0xfff);
	ck_assert_ptr_eq(chan_mem_gpa(&m, 0x1000, 0x1000), buf[0]);
	ck_assert_ptr_null(chan_mem_gpa(&m, 0x1000, 0x1001));
	ck_assert_ptr_null(chan_mem_gpa(&m, 0xfff, 1));
	ck_assert_ptr_null(chan_mem_gpa(&m, 0x3000, 1));
	ck_assert_ptr_null(chan_mem_gpa(&m, 0x2fff, 2));
	/* Adjacent regions are still two: no range may straddle them. */
	ck_assert_ptr_null(chan_mem_gpa(&m, 0x1ff0, 0x20));
	ck_assert_ptr_null(chan_mem_uva(&m, 0x6ff0, 0x20));
	/* Zero length: inside a region only. */
	ck_assert_ptr_eq(chan_mem_gpa(&m, 0x1800, 0), buf[0] + 0x800);
	ck_assert_ptr_null(chan_mem_gpa(&m, 0x3000, 0));
}
END_TEST

START_TEST(test_wraparound_lookups)
{
	ck_assert_ptr_null(chan_mem_gpa(&m, 0x1001, UINT64_MAX));
	ck_assert_ptr_null(chan_mem_gpa(&m, UINT64_MAX, 0x1002));
	ck_assert_ptr_null(chan_mem_gpa(&m, UINT64_MAX - 0xfff, 0x2000));
	ck_assert_ptr_null(chan_mem_uva(&m, 0x7001, UINT64_MAX - 0x7000));
}
END_TEST

START_TEST(test_add_rejects)
{
	/* Overlapping in gpa, in uaddr, empty, wrapping. */
	ck_assert_int_eq(chan_mem_add_host(&m, 0x1800, 0x1000, 0x10000, buf[2]), -EINVAL);
	ck_assert_int_eq(chan_mem_add_host(&m, 0x0, 0x1001, 0x10000, buf[2]), -EINVAL);
	ck_assert_int_eq(chan_mem_add_host(&m, 0x10000, 0x1000, 0x6800, buf[2]), -EINVAL);
	ck_assert_int_eq(chan_mem_add_host(&m, 0x10000, 0x1000, 0x5001, buf[2]), -EINVAL);
	ck_assert_int_eq(chan_mem_add_host(&m, 0x10000, 0, 0x10000, buf[2]), -EINVAL);
	ck_assert_int_eq(chan_mem_add_host(&m, UINT64_MAX - 0x10, 0x1000, 0x10000, buf[2]),
			 -EINVAL);
	ck_assert_int_eq(chan_mem_add_host(&m, 0x10000, 0x1000, UINT64_MAX - 0x10, buf[2]),
			 -EINVAL);
	ck_assert_int_eq(chan_mem_add_host(&m, 0x10000, 0x1000, 0x10000, NULL), -EINVAL);
	ck_assert_uint_eq(m.nr, 2);
	/* Touching is not overlapping. */
	ck_assert_int_eq(chan_mem_add_host(&m, 0x0, 0x1000, 0x5000, buf[2]), 0);
	ck_assert_ptr_eq(chan_mem_gpa(&m, 0xfff, 1), buf[2] + 0xfff);
}
END_TEST

START_TEST(test_full_table)
{
	for (unsigned i = m.nr; i < CHAN_MEM_MAX_REGIONS; i++)
		ck_assert_int_eq(
			chan_mem_add_host(&m, 0x100000ULL * i, 0x1000, 0x100000ULL * i, buf[2]), 0);
	ck_assert_int_eq(chan_mem_add_host(&m, 0x10000000ULL, 0x1000, 0x10000000ULL, buf[2]),
			 -E2BIG);
	ck_assert_ptr_eq(chan_mem_gpa(&m, 0x100000ULL * (CHAN_MEM_MAX_REGIONS - 1) + 8, 8),
			 buf[2] + 8);
}
END_TEST

START_TEST(test_fd_region)
{
	long page = sysconf(_SC_PAGESIZE);
	int fd = memfd_create("test_chan_mem", MFD_CLOEXEC);
	uint8_t *p;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 4 * page), 0);
	/* A region starting mid-page of the file. */
	ck_assert_int_eq(chan_mem_add_fd(&m, 0x100000, 2 * page, 0x200000, fd, page + 0x100), 0);
	p = chan_mem_gpa(&m, 0x100000, 2 * page);
	ck_assert_ptr_nonnull(p);
	p[0] = 0x5a;
	ck_assert_int_eq(pwrite(fd, "\x77", 1, page + 0x101), 1);
	ck_assert_uint_eq(p[1], 0x77);
	ck_assert_ptr_eq(chan_mem_uva(&m, 0x200000 + 2 * page - 1, 1), p + 2 * page - 1);
	ck_assert_ptr_null(chan_mem_gpa(&m, 0x100000, 2 * page + 1));
	chan_mem_clear(&m);
	ck_assert_uint_eq(m.nr, 0);
	ck_assert_int_eq(fcntl(fd, F_GETFD), -1); /* the table closed it */
	ck_assert_ptr_null(chan_mem_gpa(&m, 0x100000, 1));
}
END_TEST

START_TEST(test_memfd_sealed)
{
	int fd = chan_memfd_create("sealed", 8192, false);
	int unsealed = memfd_create("unsealed", MFD_CLOEXEC);
	FILE *plain = tmpfile();

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fcntl(fd, F_GET_SEALS) & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL),
			 F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	ck_assert_int_eq(ftruncate(fd, 4096), -1); /* cannot shrink: that is the point */
	ck_assert_int_eq(chan_memfd_check(fd, 0, 8192), 0);
	ck_assert_int_eq(chan_memfd_check(fd, 4096, 4096), 0);
	ck_assert_int_eq(chan_memfd_check(fd, 4096, 4097), -ERANGE);
	ck_assert_int_eq(chan_memfd_check(fd, UINT64_MAX - 10, 20), -ERANGE);
	/* Unsealed memfds and plain files could be truncated under a mapping. */
	ck_assert_int_ge(unsealed, 0);
	ck_assert_int_eq(ftruncate(unsealed, 8192), 0);
	ck_assert_int_eq(chan_memfd_check(unsealed, 0, 4096), -EPERM);
	ck_assert_ptr_nonnull(plain);
	ck_assert_int_eq(ftruncate(fileno(plain), 8192), 0);
	ck_assert_int_eq(chan_memfd_check(fileno(plain), 0, 4096), -EPERM);
	ck_assert_ptr_nonnull(strstr(chan_memfd_strerror(-EPERM), "sealed"));
	fclose(plain);
	close(unsealed);
	close(fd);
}
END_TEST

START_TEST(test_fd_region_rejects)
{
	int fd = memfd_create("test_chan_mem", MFD_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(chan_mem_add_fd(&m, 0x1800, 0x1000, 0x100000, fd, 0), -EINVAL);
	ck_assert_int_eq(chan_mem_add_fd(&m, 0x100000, 0x1000, 0x100000, fd, UINT64_MAX - 0x10),
			 -EINVAL);
	/* Still ours after a failure. */
	ck_assert_int_eq(fcntl(fd, F_GETFD), FD_CLOEXEC);
	close(fd);
}
END_TEST

int main(void)
{
	return uv_check_run(
		uv_suite("chan_mem", setup, teardown, 0,
			 UV_TESTS(test_translate, test_gpa_is_not_uaddr, test_exact_boundaries,
				  test_wraparound_lookups, test_add_rejects, test_full_table,
				  test_fd_region, test_fd_region_rejects, test_memfd_sealed)));
}
