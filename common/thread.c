// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "thread.h"

static size_t thread_guard(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

int uv_thread_create(pthread_t *t, void *(*fn)(void *), void *arg)
{
	size_t guard = thread_guard(), len = UV_THREAD_STACK + guard;
	pthread_attr_t attr;
	uint8_t *base;
	int err;

	base = mmap(NULL, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (base == MAP_FAILED)
		return errno;
	/* Its own flags also keep it from merging with a neighbour into a 2 MiB block. */
	madvise(base, len, MADV_NOHUGEPAGE);
	if (mprotect(base, guard, PROT_NONE)) {
		err = errno;
		goto err_unmap;
	}
	err = pthread_attr_init(&attr);
	if (err)
		goto err_unmap;
	err = pthread_attr_setstack(&attr, base + guard, UV_THREAD_STACK);
	if (!err)
		err = pthread_create(t, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	if (err)
		goto err_unmap;
	return 0;

err_unmap:
	munmap(base, len);
	return err;
}

int uv_thread_join(pthread_t t, void **ret)
{
	size_t guard = thread_guard(), size = 0;
	pthread_attr_t attr;
	void *stack = NULL;
	int err;

	/* The stack uv_thread_create gave it, asked before the join ends the thread. */
	if (!pthread_getattr_np(t, &attr)) {
		if (pthread_attr_getstack(&attr, &stack, &size))
			stack = NULL;
		pthread_attr_destroy(&attr);
	}
	err = pthread_join(t, ret);
	if (!err && stack)
		munmap((uint8_t *)stack - guard, size + guard);
	return err;
}
