// SPDX-License-Identifier: GPL-2.0
/*
 * The threads that serve queues run SCHED_BATCH (they do not preempt the
 * vCPUs that kick them, see iopart_sched_batch()): the in-process thread
 * does, the thread that starts it keeps its policy, UV_IOPART_SCHED=normal
 * opts out, and a policy set from outside is left alone.
 */
#include <dirent.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "inproc.h"
#include "uvcheck.h"

/* Threads of this process with the given policy (field 41 of /proc/.../stat). */
static int threads_with_policy(int policy)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d))) {
		char path[300], buf[1024], *p;
		FILE *f;
		int field = 3, pol = -1;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/stat", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
		fclose(f);
		/* After "pid (comm)", fields from 3 on, space separated. */
		for (p = p ? strtok(p + 2, " ") : NULL; p; p = strtok(NULL, " "), field++)
			if (field == 41) {
				pol = atoi(p);
				break;
			}
		n += pol == policy;
	}
	closedir(d);
	return n;
}

static struct iopart_thread *start_rng(int *fd)
{
	struct iopart_thread *t;
	struct iopart_export e;
	char err[256];

	iopart_export_init_rng(&e);
	ck_assert_msg(iopart_thread_start(&t, &e, fd, err, sizeof(err)) == 0, "%s", err);
	/* The thread sets its policy first thing: give it a moment to run. */
	for (int i = 0; i < 100 && !threads_with_policy(SCHED_BATCH); i++)
		usleep(1000);
	return t;
}

START_TEST(test_sched_inproc_batch)
{
	struct iopart_thread *t;
	int fd;

	unsetenv("UV_IOPART_SCHED");
	ck_assert_int_eq(threads_with_policy(SCHED_BATCH), 0);
	t = start_rng(&fd);
	ck_assert_int_eq(threads_with_policy(SCHED_BATCH), 1);
	ck_assert_int_eq(sched_getscheduler(0), SCHED_OTHER); /* ours: unchanged */
	iopart_thread_stop(t);
	close(fd);
}
END_TEST

START_TEST(test_sched_opt_out)
{
	struct iopart_thread *t;
	int fd;

	setenv("UV_IOPART_SCHED", "normal", 1);
	t = start_rng(&fd);
	ck_assert_int_eq(threads_with_policy(SCHED_BATCH), 0);
	iopart_thread_stop(t);
	close(fd);
	unsetenv("UV_IOPART_SCHED");
}
END_TEST

/* Set from outside (chrt, a unit's CPUSchedulingPolicy): kept. */
START_TEST(test_sched_outside_policy)
{
	struct sched_param sp = {0};

	ck_assert_int_eq(sched_setscheduler(0, SCHED_IDLE, &sp), 0);
	iopart_sched_batch();
	ck_assert_int_eq(sched_getscheduler(0), SCHED_IDLE);
	ck_assert_int_eq(sched_setscheduler(0, SCHED_OTHER, &sp), 0);
}
END_TEST

START_TEST(test_sched_self)
{
	unsetenv("UV_IOPART_SCHED");
	iopart_sched_batch();
	ck_assert_int_eq(sched_getscheduler(0), SCHED_BATCH);
}
END_TEST

int main(void)
{
	return uv_check_run(uv_suite("iopartd_sched", NULL, NULL, 30,
				     UV_TESTS(test_sched_inproc_batch, test_sched_opt_out,
					      test_sched_outside_policy, test_sched_self)));
}
