// SPDX-License-Identifier: GPL-2.0
/* unix_listen(): a dead server's socket is replaced, a live one or a file is not. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "unix_sock.h"
#include "uvcheck.h"

static char dir[64], path[128];

static void setup(void)
{
	strcpy(dir, "/tmp/test_unix_sock.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s", dir);
}

static void teardown(void)
{
	unlink(path);
	rmdir(dir);
}

START_TEST(test_fresh_and_stale)
{
	char err[256];
	int fd = unix_listen(path, 1, err, sizeof(err));

	ck_assert_msg(fd >= 0, "%s", err);
	/* Closed without unlink, as after kill -9: the file stays, nobody serves it. */
	close(fd);
	ck_assert_int_eq(access(path, F_OK), 0);
	fd = unix_listen(path, 1, err, sizeof(err));
	ck_assert_msg(fd >= 0, "stale socket not replaced: %s", err);
	close(fd);
}
END_TEST

START_TEST(test_live_refused)
{
	char err[256];
	int fd = unix_listen(path, 1, err, sizeof(err));

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(unix_listen(path, 1, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "another server listens there"));
	close(fd);
}
END_TEST

START_TEST(test_not_a_socket)
{
	char err[256], longp[200];
	int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);

	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(unix_listen(path, 1, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "not a socket"));
	ck_assert_int_eq(access(path, F_OK), 0); /* a file that is not ours stays */
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = 0;
	ck_assert_int_eq(unix_listen(longp, 1, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "too long"));
}
END_TEST

int main(void)
{
	return uv_check_run(
		uv_suite("unix_sock", setup, teardown, 0,
			 UV_TESTS(test_fresh_and_stale, test_live_refused, test_not_a_socket)));
}
