/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UV_THREAD_H
#define UV_THREAD_H

#include <pthread.h>

/*
 * The stack of the threads a VMM starts (vCPUs, device and I/O threads).
 * Smaller than glibc's 8 MiB so that it can never hold a whole 2 MiB-aligned
 * block: with transparent huge pages "always", the first touch of such a
 * block makes it a 2 MiB page, which tripled uvmm's own resident memory in
 * about one boot in twenty (bench/boot). The deepest path, an exit handled
 * by a device under ASan, uses a small part of it.
 */
#define UV_THREAD_STACK (1U << 20)

/* pthread_create with a UV_THREAD_STACK stack: 0 or an errno value. */
int uv_thread_create(pthread_t *t, void *(*fn)(void *), void *arg);

#endif
