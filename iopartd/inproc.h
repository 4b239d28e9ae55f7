/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UV_IOPART_INPROC_H
#define UV_IOPART_INPROC_H

#include <stddef.h>

#include "export.h"

/*
 * The in-process mode: uvmm runs a back end in a thread of its own, with its
 * own event loop, serving the very same device code iopartd serves, over one
 * end of a socketpair. uvmm speaks vhost-user on the other end (vu_front),
 * exactly as it would to an iopartd.
 */
struct iopart_thread;

/*
 * Opens the device of e (e->socket is ignored) and reports any error (missing
 * image, bad tap, ...) in err before a thread exists; then starts the thread
 * and returns the front end's end of the socketpair in *front_fd (the caller
 * owns it). Returns 0 or a negative errno.
 */
int iopart_thread_start(struct iopart_thread **out, const struct iopart_export *e, int *front_fd,
			char *err, size_t errlen);
/*
 * Stops the loop, waits for outstanding I/O, closes the device and joins the
 * thread. The front end may close its fd before or after. NULL is a no-op.
 */
void iopart_thread_stop(struct iopart_thread *t);

/*
 * Makes the calling thread SCHED_BATCH (not preempting the vCPUs it serves
 * when it wakes), unless UV_IOPART_SCHED=normal or its policy was set from
 * outside. iopartd's loop and the in-process thread call it.
 */
void iopart_sched_batch(void);

#endif
