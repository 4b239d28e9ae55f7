/* SPDX-License-Identifier: GPL-2.0 */
#ifndef OPSD_AUTH_H
#define OPSD_AUTH_H

/*
 * Who may change things (docs/control-plane.md): uid 0, opsd's own effective
 * uid, or a member of the admin group (ultravisor unless --group says
 * otherwise), by primary or supplementary group. Everyone may read.
 */

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

struct opsd_auth {
	uid_t self;
	const char *group; /* looked up at each decision: a group made later counts */
};

/*
 * The decision for the peer at the other end of the unix socket fd, whose
 * SO_PEERCRED is cred. Supplementary groups come from SO_PEERGROUPS (taken
 * at connect, race-free), else /proc/PID/status, else the group database.
 */
bool opsd_auth_may_change(const struct opsd_auth *a, int fd, const struct ucred *cred);

/*
 * The supplementary groups in the text of a /proc/PID/status, into
 * gids[0..max); returns how many, or -ESRCH when its Uid line does not show
 * uid (the pid was reused by somebody else), -EINVAL when it has no Groups.
 */
int opsd_auth_status_groups(const char *text, uid_t uid, gid_t *gids, size_t max);

#endif
