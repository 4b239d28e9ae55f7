/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UV_CHECK_H
#define UV_CHECK_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

/* A NULL-ended list of tests (START_TEST names) for uv_tcase and uv_suite. */
#define UV_TESTS(...) ((const TTest *const[]){__VA_ARGS__, NULL})

/*
 * Adds a test case to s: its checked fixture (setup, teardown: either may be
 * NULL), its timeout in seconds (0: Check's default) and its tests. Returns
 * it, for loop tests and unchecked fixtures.
 */
static inline TCase *uv_tcase(Suite *s, const char *name, void (*setup)(void),
			      void (*teardown)(void), double timeout_s, const TTest *const *tests)
{
	TCase *tc = tcase_create(name);

	if (setup || teardown)
		tcase_add_checked_fixture(tc, setup, teardown);
	if (timeout_s > 0)
		tcase_set_timeout(tc, timeout_s);
	for (; *tests; tests++)
		tcase_add_test(tc, *tests);
	suite_add_tcase(s, tc);
	return tc;
}

/* A suite of one test case of the same name, as most test programs are. */
static inline Suite *uv_suite(const char *name, void (*setup)(void), void (*teardown)(void),
			      double timeout_s, const TTest *const *tests)
{
	Suite *s = suite_create(name);

	uv_tcase(s, name, setup, teardown, timeout_s, tests);
	return s;
}

/* A test's scratch directory: dir (len >= 32) becomes a new /tmp/NAME.XXXXXX. */
static inline void uv_tmpdir(char *dir, size_t len, const char *name)
{
	snprintf(dir, len, "/tmp/%s.XXXXXX", name);
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

/* Removes it and everything below, unless UV_TEST_KEEP is set (to look at it). */
static inline void uv_rmtree(const char *dir)
{
	char cmd[4200];

	if (!dir[0] || getenv("UV_TEST_KEEP"))
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Runs a suite the way every unit test program does; returns main's status. */
static inline int uv_check_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
