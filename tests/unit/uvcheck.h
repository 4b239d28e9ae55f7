/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UV_CHECK_H
#define UV_CHECK_H

#include <check.h>
#include <stdlib.h>

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
