/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UV_THREAD_H
#define UV_THREAD_H

#include <pthread.h>

/*
 * The threads a VMM starts (vCPUs, device and I/O threads) run on stacks
 * of their own making, marked MADV_NOHUGEPAGE. With transparent huge pages
 * "always" (the nested L1's setting), glibc's stacks, which sit next to each
 * other and to guest RAM's alignment slack, sometimes held a whole 2 MiB
 * block, and its first touch made it a 2 MiB page: bench/boot saw uvmm's
 * RSS outside guest RAM at 4.6 MiB instead of 2.6 MiB in 2 of 5 boots.
 */
#define UV_THREAD_STACK (1U << 20)

/* pthread_create on a UV_THREAD_STACK stack (plus a guard page): 0 or an errno value. */
int uv_thread_create(pthread_t *t, void *(*fn)(void *), void *arg);
/* pthread_join, then frees the stack: 0 or an errno value. */
int uv_thread_join(pthread_t t, void **ret);

#endif
