// SPDX-License-Identifier: GPL-2.0
/*
 * The firmware's own string functions (guest-firmware/lib/string.c), built
 * here under other names so that they do not replace libc's in this test.
 */
#include <stdint.h>
#include <string.h>

#include "uvcheck.h"

#define FW_FREESTANDING
#define memcpy	fwlib_memcpy
#define memmove fwlib_memmove
#define memset	fwlib_memset
#define memcmp	fwlib_memcmp
#define strlen	fwlib_strlen
#define strcmp	fwlib_strcmp
#define strncmp fwlib_strncmp
#include "../../guest-firmware/lib/string.c"
#undef memcpy
#undef memmove
#undef memset
#undef memcmp
#undef strlen
#undef strcmp
#undef strncmp

static int sgn(int v)
{
	return (v > 0) - (v < 0);
}

START_TEST(copy_and_fill)
{
	uint8_t a[64], b[64];

	for (int i = 0; i < 64; i++)
		a[i] = (uint8_t)i;
	ck_assert_ptr_eq(fwlib_memcpy(b, a, 64), b);
	ck_assert(!memcmp(a, b, 64));
	ck_assert_ptr_eq(fwlib_memset(b, 0xa5, 10), b);
	ck_assert_uint_eq(b[9], 0xa5);
	ck_assert_uint_eq(b[10], 10);
	/* Overlapping both ways. */
	fwlib_memmove(a + 1, a, 10);
	ck_assert_uint_eq(a[1], 0);
	ck_assert_uint_eq(a[10], 9);
	fwlib_memmove(a, a + 1, 10);
	ck_assert_uint_eq(a[0], 0);
	ck_assert_uint_eq(a[9], 9);
	ck_assert_uint_eq(a[10], 9);
}
END_TEST

START_TEST(compare)
{
	static const char *const s[] = {"", "a", "ab", "abc", "abd", "b", "\xff", "A"};

	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		ck_assert_uint_eq(fwlib_strlen(s[i]), strlen(s[i]));
		for (size_t j = 0; j < sizeof(s) / sizeof(s[0]); j++) {
			ck_assert_int_eq(sgn(fwlib_strcmp(s[i], s[j])), sgn(strcmp(s[i], s[j])));
			ck_assert_int_eq(sgn(fwlib_strncmp(s[i], s[j], 2)),
					 sgn(strncmp(s[i], s[j], 2)));
			ck_assert_int_eq(sgn(fwlib_memcmp(s[i], s[j], 1)),
					 sgn(memcmp(s[i], s[j], 1)));
		}
	}
	ck_assert_int_eq(fwlib_strncmp("abc", "abd", 0), 0);
}
END_TEST

int main(void)
{
	return uv_check_run(uv_suite("fw_string", NULL, NULL, 0, UV_TESTS(copy_and_fill, compare)));
}
