// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "daemon.h"
#include "log.h"

#define AUTH_NGROUPS 1024 /* more than NGROUPS_MAX (65536) is unusual; enough here */

int opsd_auth_status_groups(const char *text, uid_t uid, gid_t *gids, size_t max)
{
	const char *u = strstr(text, "\nUid:"), *g = strstr(text, "\nGroups:");
	unsigned long real, eff;
	char *end;
	size_t n = 0;

	if (!u || sscanf(u + 5, "%lu %lu", &real, &eff) != 2 || (real != uid && eff != uid))
		return -ESRCH;
	if (!g)
		return -EINVAL;
	for (g += 8; n < max; g = end) {
		unsigned long x = strtoul(g, &end, 10);

		if (end == g)
			break;
		gids[n++] = x;
	}
	return n;
}

static int auth_peer_groups(int fd, gid_t *gids, size_t max)
{
	socklen_t len = max * sizeof(*gids);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, gids, &len))
		return -errno;
	return len / sizeof(*gids);
}

static int auth_proc_groups(const struct ucred *cred, gid_t *gids, size_t max)
{
	char path[64], err[128], *text;
	size_t len;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)cred->pid);
	ret = uv_file_read(path, 1 << 16, &text, &len, err, sizeof(err));
	if (ret)
		return ret;
	/* strstr looks for "\nUid:"; the file starts with "Name:". */
	ret = opsd_auth_status_groups(text, cred->uid, gids, max);
	free(text);
	return ret;
}

static int auth_db_groups(const struct ucred *cred, gid_t *gids, size_t max)
{
	struct passwd pw, *pwp;
	char buf[4096];
	int n = max;

	if (getpwuid_r(cred->uid, &pw, buf, sizeof(buf), &pwp) || !pwp)
		return -ENOENT;
	if (getgrouplist(pw.pw_name, cred->gid, gids, &n) < 0)
		return -ERANGE;
	return n;
}

static bool auth_group_gid(const char *name, gid_t *gid)
{
	struct group gr, *grp;
	char buf[16384];

	if (getgrnam_r(name, &gr, buf, sizeof(buf), &grp) || !grp)
		return false;
	*gid = gr.gr_gid;
	return true;
}

bool opsd_auth_may_change(const struct opsd_auth *a, int fd, const struct ucred *cred)
{
	gid_t gids[AUTH_NGROUPS];
	gid_t admin;
	int n;

	if (cred->uid == 0 || cred->uid == a->self)
		return true;
	if (!a->group || !auth_group_gid(a->group, &admin))
		return false;
	if (cred->gid == admin)
		return true;
	n = auth_peer_groups(fd, gids, AUTH_NGROUPS);
	if (n < 0)
		n = auth_proc_groups(cred, gids, AUTH_NGROUPS);
	if (n < 0)
		n = auth_db_groups(cred, gids, AUTH_NGROUPS);
	if (n < 0) {
		pr_warn("uid %u pid %d: cannot tell its groups", (unsigned)cred->uid,
			(int)cred->pid);
		return false;
	}
	for (int i = 0; i < n; i++)
		if (gids[i] == admin)
			return true;
	return false;
}
