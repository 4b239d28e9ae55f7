// SPDX-License-Identifier: GPL-2.0
/*
 * uv_thread_create/uv_thread_join (common/thread.c): the thread runs on a
 * UV_THREAD_STACK stack marked against huge pages, and the join frees it.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "thread.h"
#include "uvcheck.h"

struct probe {
	uintptr_t local;
	void *stack;
	size_t size;
};

static void *probe_main(void *arg)
{
	struct probe *p = arg;
	pthread_attr_t attr;
	int here = 0;

	p->local = (uintptr_t)&here;
	ck_assert_int_eq(pthread_getattr_np(pthread_self(), &attr), 0);
	ck_assert_int_eq(pthread_attr_getstack(&attr, &p->stack, &p->size), 0);
	pthread_attr_destroy(&attr);
	return p;
}

/* The VmFlags line of the mapping that holds addr, from /proc/self/smaps. */
static bool nohugepage(uintptr_t addr)
{
	char line[512];
	unsigned long lo, hi;
	bool in = false, nh = false;
	FILE *f = fopen("/proc/self/smaps", "r");

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' '))
			in = addr >= lo && addr < hi;
		else if (in && !strncmp(line, "VmFlags:", 8))
			nh = strstr(line, " nh") != NULL;
	}
	fclose(f);
	return nh;
}

START_TEST(test_thread_stack)
{
	unsigned char vec;
	struct probe p = {0};
	pthread_t t;
	void *ret = NULL;

	ck_assert_int_eq(uv_thread_create(&t, probe_main, &p), 0);
	ck_assert_int_eq(pthread_kill(t, 0), 0);
	/* Marked while it runs: read it before the join frees it. */
	while (!__atomic_load_n(&p.local, __ATOMIC_ACQUIRE))
		usleep(1000);
	ck_assert_int_eq(uv_thread_join(t, &ret), 0);
	ck_assert_ptr_eq(ret, &p);
	ck_assert_uint_eq(p.size, UV_THREAD_STACK);
	ck_assert(p.local >= (uintptr_t)p.stack && p.local < (uintptr_t)p.stack + p.size);
	/* Gone after the join: mincore says ENOMEM for an unmapped range. */
	ck_assert_int_eq(mincore(p.stack, (size_t)sysconf(_SC_PAGESIZE), &vec), -1);
	ck_assert_int_eq(errno, ENOMEM);
}
END_TEST

static void *wait_main(void *arg)
{
	volatile int *go = arg;

	while (!*go)
		usleep(1000);
	return NULL;
}

START_TEST(test_thread_nohugepage)
{
	volatile int go = 0;
	pthread_attr_t attr;
	void *stack;
	size_t size;
	pthread_t t;

	ck_assert_int_eq(uv_thread_create(&t, wait_main, (void *)&go), 0);
	ck_assert_int_eq(pthread_getattr_np(t, &attr), 0);
	ck_assert_int_eq(pthread_attr_getstack(&attr, &stack, &size), 0);
	pthread_attr_destroy(&attr);
	ck_assert(nohugepage((uintptr_t)stack + size - 1));
	go = 1;
	ck_assert_int_eq(uv_thread_join(t, NULL), 0);
}
END_TEST

int main(void)
{
	return uv_check_run(uv_suite("thread", NULL, NULL, 30,
				     UV_TESTS(test_thread_stack, test_thread_nohugepage)));
}
