/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UVMM_BROKER_H
#define UVMM_BROKER_H

#include <stdbool.h>
#include <sys/types.h>

/*
 * uvmm's side of ultravisord (docs/ultravisord.md): on uvmm's event loop it
 * says hello as a uvmm, attaches the partition (partition_attach), hands
 * over each channel's in-flight area (channel_inflight) so ultravisord can
 * give it to a new back end, and passes channel_moved pushes to the devices.
 * When the connection ends it reconnects every retry_ms and says it all
 * again: ultravisord restarts never touch the guest.
 *
 * It knows nothing of the VM: what it learns goes through broker_ops, so it
 * runs against a fake ultravisord in tests.
 */
struct event_base;
struct broker;

struct broker_ops {
	/* Channel `device` now has another back end; fd is its new front end (the callee's). */
	void (*channel_moved)(void *ctx, unsigned device, int fd);
	/*
	 * fd (the callee's) is a standby back end for channel `device`, which
	 * takes epoch `epoch` when the device switches to it.
	 */
	void (*channel_standby)(void *ctx, unsigned device, int fd, unsigned epoch);
};

struct broker_cfg {
	const char *path;      /* ultravisord's socket */
	const char *partition; /* our partition's name */
	pid_t pid;	       /* the uvmm's pid, for partition_attach */
	unsigned retry_ms;     /* between connection attempts; 0: BROKER_RETRY_MS */
};

#define BROKER_RETRY_MS	  200
#define BROKER_MAX_DEVICE 63

/* Connects now (or retries later: not an error). NULL only when out of memory. */
struct broker *broker_new(struct event_base *base, const struct broker_cfg *cfg,
			  const struct broker_ops *ops, void *ctx);
void broker_free(struct broker *b);
/*
 * The in-flight area of channel `device` (duplicated; the caller keeps fd):
 * sent now when attached, and again after every reconnection. Any thread.
 */
void broker_set_inflight(struct broker *b, int device, int fd);
/*
 * Channel `device` switched to its standby, now at `epoch`: said to
 * ultravisord (channel_promoted) now when attached, and again after every
 * reconnection until it answers. Any thread.
 */
void broker_set_promoted(struct broker *b, int device, unsigned epoch);
/* partition_attach was accepted on the current connection. */
bool broker_attached(const struct broker *b);

#endif
