// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "unix_sock.h"

/* 0 when the path is free (now), -EEXIST or -EADDRINUSE when it is not ours. */
static int unix_clear_stale(const struct sockaddr_un *sa, int type)
{
	struct stat st;
	int fd, ret;

	if (lstat(sa->sun_path, &st))
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	/* Of the listener's type: another type gets EPROTOTYPE, not "nobody there". */
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ret = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) ? -errno : 0;
	close(fd);
	if (!ret || ret == -EPROTOTYPE)
		return -EADDRINUSE;
	return unlink(sa->sun_path) && errno != ENOENT ? -errno : 0;
}

int unix_listen(const char *path, int backlog, char *err, size_t errlen)
{
	return unix_listen_type(path, SOCK_STREAM, backlog, err, errlen);
}

int unix_listen_type(const char *path, int type, int backlog, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, ret;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "%s: socket path too long", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	ret = unix_clear_stale(&sa, type);
	if (ret) {
		snprintf(err, errlen, "%s: %s", path,
			 ret == -EEXIST	      ? "exists and is not a socket"
			 : ret == -EADDRINUSE ? "another server listens there"
					      : strerror(-ret));
		return -1;
	}
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, backlog)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}
