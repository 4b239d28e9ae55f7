// SPDX-License-Identifier: GPL-2.0
/*
 * The options commandd starts a uvmm with: descriptors ultravisord made for
 * the partition (its guest RAM, its channels' front ends) and the partition's
 * name, so the uvmm attaches to ultravisord and follows channel moves.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "daemon.h"
#include "options.h"
#include "parse.h"

#define OPT_FD_MIN 3 /* 0-2 are the standard streams */

static int opt_parse_fd(const char *name, const char *s, int *fd, char err[OPT_ERR_LEN])
{
	uint64_t v;

	if (parse_uint(s, 0, INT_MAX, &v)) {
		snprintf(err, OPT_ERR_LEN, "%s: '%s' is not a file descriptor number", name, s);
		return -1;
	}
	if (v < OPT_FD_MIN) {
		snprintf(err, OPT_ERR_LEN,
			 "%s: fd %d is a standard stream; pass a descriptor of 3 or more", name,
			 (int)v);
		return -1;
	}
	*fd = (int)v;
	return 0;
}

int options_parse_vu_fd(const char *name, const char *arg, struct vm_dev_link *l,
			char err[OPT_ERR_LEN])
{
	char buf[32], *comma;
	uint64_t ch;

	if (strlen(arg) >= sizeof(buf)) {
		snprintf(err, OPT_ERR_LEN, "%s: '%s' is not FD[,channel=D]", name, arg);
		return -1;
	}
	strcpy(buf, arg);
	comma = strchr(buf, ',');
	if (comma)
		*comma++ = '\0';
	if (opt_parse_fd(name, buf, &l->fd, err))
		return -1;
	l->channel = -1;
	if (!comma)
		return 0;
	if (strncmp(comma, "channel=", 8)) {
		snprintf(err, OPT_ERR_LEN, "%s: unknown key in '%s' (only channel=D)", name, comma);
		return -1;
	}
	if (parse_uint(comma + 8, 0, OPT_MAX_CHANNEL, &ch)) {
		snprintf(err, OPT_ERR_LEN, "%s: channel '%s' is not a device number from 0 to %d",
			 name, comma + 8, OPT_MAX_CHANNEL);
		return -1;
	}
	l->channel = (int)ch;
	return 0;
}

int options_parse_memory_fd(const char *arg, struct vm_options *o, char err[OPT_ERR_LEN])
{
	return opt_parse_fd("--memory-fd", arg, &o->memory_fd, err);
}

/* As ultravisord names partitions: [a-z0-9][a-z0-9_.-]{0,62}. */
static bool opt_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n >= OPT_NAME_MAX || !strchr("abcdefghijklmnopqrstuvwxyz0123456789", s[0]))
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

int options_parse_partition(const char *arg, struct vm_options *o, char err[OPT_ERR_LEN])
{
	if (!opt_name_ok(arg)) {
		snprintf(err, OPT_ERR_LEN,
			 "--partition: '%.64s' is not a partition name ([a-z0-9][a-z0-9_.-]{0,62})",
			 arg);
		return -1;
	}
	o->partition = arg;
	return 0;
}

int options_parse_ultravisord(const char *arg, struct vm_options *o, char err[OPT_ERR_LEN])
{
	if (!*arg || strlen(arg) >= sizeof(o->ultravisord)) {
		snprintf(err, OPT_ERR_LEN, "--ultravisord: '%.128s' is not a usable socket path",
			 arg);
		return -1;
	}
	strcpy(o->ultravisord, arg);
	return 0;
}

/* ---- after parsing ------------------------------------------------------------------ */

static const char *opt_kind_option(enum iopart_kind kind)
{
	return kind == IOPART_BLK ? "--disk" : kind == IOPART_NET ? "--net" : "--virtio-console";
}

static bool opt_is_vhost_user(const struct vm_options *o, unsigned i)
{
	return o->devices[i].socket[0] || o->links[i].fd >= 0;
}

/* Default: a device's position among the vhost-user devices. Each number once. */
static int opt_assign_channels(struct vm_options *o, char err[OPT_ERR_LEN])
{
	uint64_t used = 0;
	unsigned pos = 0;

	for (unsigned i = 0; i < o->nr_devices; i++) {
		struct vm_dev_link *l = &o->links[i];

		if (!opt_is_vhost_user(o, i)) {
			l->channel = -1;
			continue;
		}
		if (l->channel < 0)
			l->channel = (int)pos;
		pos++;
		if (used & (1ULL << l->channel)) {
			snprintf(err, OPT_ERR_LEN,
				 "%s: channel %d is already another device's (give channel=D)",
				 opt_kind_option(o->devices[i].kind), l->channel);
			return -1;
		}
		used |= 1ULL << l->channel;
	}
	return 0;
}

static int opt_check_partition(struct vm_options *o, char err[OPT_ERR_LEN])
{
	struct uv_paths p;

	if (!o->partition) {
		if (o->ultravisord[0]) {
			snprintf(err, OPT_ERR_LEN, "--ultravisord needs --partition NAME");
			return -1;
		}
		return 0;
	}
	if (o->ultravisord[0])
		return 0;
	if (uv_paths_init(&p, err, OPT_ERR_LEN) ||
	    uv_path_join(o->ultravisord, sizeof(o->ultravisord), p.runtime_dir,
			 "ultravisord.sock")) {
		snprintf(err, OPT_ERR_LEN,
			 "--partition: no usable ultravisord socket under $UV_RUNTIME_DIR; "
			 "give --ultravisord PATH");
		return -1;
	}
	return 0;
}

static const char *opt_file_kind(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFSOCK:
		return "a socket";
	case S_IFIFO:
		return "a pipe";
	case S_IFDIR:
		return "a directory";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	case S_IFREG:
		return "a file";
	}
	return "not a file";
}

static int opt_check_memory_fd(struct vm_options *o, char err[OPT_ERR_LEN])
{
	int fd = o->memory_fd, seals, fl = fcntl(fd, F_GETFL);
	struct statfs sf;
	struct stat st;
	bool huge;

	if (fl < 0 || fstat(fd, &st)) {
		snprintf(err, OPT_ERR_LEN, "--memory-fd %d: not an open file descriptor", fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, OPT_ERR_LEN, "--memory-fd %d: %s, not a memfd", fd,
			 opt_file_kind(st.st_mode));
		return -1;
	}
	if ((fl & O_ACCMODE) != O_RDWR) {
		snprintf(err, OPT_ERR_LEN, "--memory-fd %d: not open for reading and writing", fd);
		return -1;
	}
	/* A file that shrinks under our mapping (and the back ends') is SIGBUS for all. */
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || !(seals & F_SEAL_SHRINK)) {
		snprintf(err, OPT_ERR_LEN,
			 "--memory-fd %d: not a memfd sealed against shrinking (F_SEAL_SHRINK)",
			 fd);
		return -1;
	}
	if ((uint64_t)st.st_size != o->memory) {
		snprintf(err, OPT_ERR_LEN,
			 "--memory-fd %d: holds %llu bytes, but --memory is %llu (%llu MiB)", fd,
			 (unsigned long long)st.st_size, (unsigned long long)o->memory,
			 (unsigned long long)(o->memory >> 20));
		return -1;
	}
	huge = !fstatfs(fd, &sf) && sf.f_type == HUGETLBFS_MAGIC;
	if (o->hugepages && !huge) {
		snprintf(err, OPT_ERR_LEN,
			 "--memory-fd %d: not huge pages, but --memory says hugepages=on", fd);
		return -1;
	}
	/* Huge pages are reserved when mapped: say so, whatever --memory said. */
	o->hugepages = huge;
	return 0;
}

static int opt_sockopt(int fd, int opt)
{
	int v = -1;
	socklen_t len = sizeof(v);

	return getsockopt(fd, SOL_SOCKET, opt, &v, &len) ? -1 : v;
}

static const char *opt_socket_problem(int fd)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	struct stat st;

	if (fcntl(fd, F_GETFD) < 0 || fstat(fd, &st))
		return "not an open file descriptor";
	if (!S_ISSOCK(st.st_mode))
		return "not a socket";
	if (opt_sockopt(fd, SO_DOMAIN) != AF_UNIX)
		return "not a unix socket";
	if (opt_sockopt(fd, SO_TYPE) != SOCK_STREAM)
		return "not a SOCK_STREAM socket, which vhost-user needs";
	if (opt_sockopt(fd, SO_ACCEPTCONN) == 1)
		return "a listening socket, not a connection (vhost-user=PATH connects to one)";
	if (getpeername(fd, (struct sockaddr *)&sa, &len))
		return "not connected";
	return NULL;
}

static int opt_check_fds_distinct(const struct vm_options *o, char err[OPT_ERR_LEN])
{
	int fds[OPT_MAX_DEVICES + 1], n = 0;

	if (o->memory_fd >= 0)
		fds[n++] = o->memory_fd;
	for (unsigned i = 0; i < o->nr_devices; i++)
		if (o->links[i].fd >= 0)
			fds[n++] = o->links[i].fd;
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (fds[i] == fds[j]) {
				snprintf(err, OPT_ERR_LEN, "fd %d is given to two options", fds[i]);
				return -1;
			}
	return 0;
}

int options_check_suite(struct vm_options *o, char err[OPT_ERR_LEN])
{
	const char *why;

	if (opt_assign_channels(o, err) || opt_check_partition(o, err) ||
	    opt_check_fds_distinct(o, err))
		return -1;
	if (o->memory_fd >= 0 && opt_check_memory_fd(o, err))
		return -1;
	for (unsigned i = 0; i < o->nr_devices; i++) {
		if (o->links[i].fd < 0)
			continue;
		why = opt_socket_problem(o->links[i].fd);
		if (why) {
			snprintf(err, OPT_ERR_LEN, "%s " OPT_VHOST_USER_FD "%d: %s",
				 opt_kind_option(o->devices[i].kind), o->links[i].fd, why);
			return -1;
		}
	}
	return 0;
}
