// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "daemon.h"
#include "log.h"

static int paths_one(char *out, const char *var, const char *def, char *err, size_t errlen)
{
	const char *v = getenv(var);
	size_t n;

	if (!v || !*v)
		v = def;
	if (v[0] != '/') {
		snprintf(err, errlen, "%s=%s: must be an absolute path", var, v);
		return -EINVAL;
	}
	n = strlen(v);
	if (n >= PATH_MAX - 64) { /* room for the names joined to it */
		snprintf(err, errlen, "%s: path too long", var);
		return -ENAMETOOLONG;
	}
	memcpy(out, v, n + 1);
	while (n > 1 && out[n - 1] == '/')
		out[--n] = 0;
	return 0;
}

int uv_paths_init(struct uv_paths *p, char *err, size_t errlen)
{
	int ret = paths_one(p->runtime_dir, "UV_RUNTIME_DIR", UV_RUNTIME_DIR_DEFAULT, err, errlen);

	if (ret)
		return ret;
	return paths_one(p->state_dir, "UV_STATE_DIR", UV_STATE_DIR_DEFAULT, err, errlen);
}

int uv_path_join(char *out, size_t outlen, const char *dir, const char *name)
{
	int n = snprintf(out, outlen, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= outlen) {
		if (outlen)
			out[0] = 0;
		return -ENAMETOOLONG;
	}
	return 0;
}

/* The group is a convenience for admins; not having it changes nothing else. */
void uv_set_group(const char *path)
{
	struct group gr, *res = NULL;
	char buf[4096];

	if (getgrnam_r(UV_GROUP, &gr, buf, sizeof(buf), &res) || !res)
		return;
	if (chown(path, (uid_t)-1, res->gr_gid))
		pr_debug("%s: cannot give it group %s: %s", path, UV_GROUP, strerror(errno));
}

int uv_dir_ensure(const char *path, mode_t mode, char *err, size_t errlen)
{
	char buf[PATH_MAX];
	struct stat st;
	size_t n = strlen(path);

	if (!n || n >= sizeof(buf)) {
		snprintf(err, errlen, "%s: bad directory path", path);
		return -EINVAL;
	}
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1;; p++) {
		char c = *p;

		if (c && c != '/')
			continue;
		*p = 0;
		if (mkdir(buf, mode) == 0) {
			/* mkdir's mode is filtered by the umask; the contract's is not. */
			if (chmod(buf, mode))
				pr_debug("%s: chmod: %s", buf, strerror(errno));
			uv_set_group(buf);
		} else if (errno != EEXIST) {
			snprintf(err, errlen, "%s: %s", buf, strerror(errno));
			return -errno;
		} else if (stat(buf, &st) || !S_ISDIR(st.st_mode)) {
			snprintf(err, errlen, "%s: not a directory", buf);
			return -ENOTDIR;
		}
		*p = c;
		if (!c)
			break;
		while (p[1] == '/')
			p++;
	}
	return 0;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int fsync_dir_of(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, ret = 0;

	if (!slash)
		strcpy(dir, ".");
	else if (slash == path)
		strcpy(dir, "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd))
		ret = -errno;
	close(fd);
	return ret;
}

int uv_file_write_atomic(const char *path, const void *buf, size_t len, mode_t mode, char *err,
			 size_t errlen)
{
	char tmp[PATH_MAX];
	const char *step;
	int fd, ret;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -ENAMETOOLONG;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return ret;
	}
	step = "write";
	ret = write_all(fd, buf, len);
	if (!ret && fchmod(fd, mode)) /* open's mode went through the umask */
		ret = -errno, step = "fchmod";
	if (!ret && fsync(fd))
		ret = -errno, step = "fsync";
	if (close(fd) && !ret)
		ret = -errno, step = "close";
	if (!ret && rename(tmp, path))
		ret = -errno, step = "rename";
	if (ret) {
		snprintf(err, errlen, "%s: %s: %s", path, step, strerror(-ret));
		unlink(tmp);
		return ret;
	}
	ret = fsync_dir_of(path);
	if (ret)
		snprintf(err, errlen, "%s: fsync of its directory: %s", path, strerror(-ret));
	return ret;
}

int uv_file_read(const char *path, size_t max, char **buf, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	size_t got = 0;
	char *b = NULL;
	int fd, ret = 0;

	*buf = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ret;
	}
	if (fstat(fd, &st)) {
		ret = -errno;
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		snprintf(err, errlen, "%s: not a regular file", path);
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		ret = -EFBIG;
		snprintf(err, errlen, "%s: larger than %zu bytes", path, max);
		goto out;
	}
	b = malloc((size_t)st.st_size + 1);
	if (!b) {
		ret = -ENOMEM;
		goto fail;
	}
	/* Read to EOF, not to st_size: the file may have changed in between. */
	while (got <= (size_t)st.st_size) {
		ssize_t n = read(fd, b + got, (size_t)st.st_size + 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			goto fail;
		}
		if (!n)
			break;
		got += (size_t)n;
	}
	if (got > (size_t)st.st_size) {
		ret = -EFBIG;
		snprintf(err, errlen, "%s: grew while being read", path);
		goto out;
	}
	b[got] = 0;
	*buf = b;
	*len = got;
	close(fd);
	return 0;
fail:
	snprintf(err, errlen, "%s: %s", path, strerror(-ret));
out:
	free(b);
	close(fd);
	return ret;
}

static pid_t pidfile_parse(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	long v;
	char *end;

	if (n <= 0)
		return 0;
	buf[n] = 0;
	v = strtol(buf, &end, 10);
	return v > 0 && v <= INT_MAX && (*end == '\n' || !*end) ? (pid_t)v : 0;
}

/*
 * Whoever asks whether a daemon runs (scripts/uv-suite, the tests) takes
 * the lock for a moment with flock(1); a daemon starting just then must not
 * take that for a running instance ("already running as pid 0"). A real
 * instance holds it for good, so a few retries tell the two apart.
 */
static int pidfile_lock(int fd)
{
	const struct timespec pause = {.tv_nsec = 10 * 1000 * 1000};
	int tries = 30;

	while (flock(fd, LOCK_EX | LOCK_NB)) {
		if (errno != EWOULDBLOCK || !--tries)
			return -1;
		nanosleep(&pause, NULL);
	}
	return 0;
}

int uv_pidfile_acquire(const char *path, char *err, size_t errlen)
{
	char buf[32];
	int fd, n, ret;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ret;
	}
	if (pidfile_lock(fd)) {
		ret = errno == EWOULDBLOCK ? -EEXIST : -errno;
		if (ret == -EEXIST)
			snprintf(err, errlen, "%s: already running as pid %d", path,
				 (int)pidfile_parse(fd));
		else
			snprintf(err, errlen, "%s: flock: %s", path, strerror(-ret));
		close(fd);
		return ret;
	}
	n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) || pwrite(fd, buf, (size_t)n, 0) != n) {
		ret = errno ? -errno : -EIO;
		snprintf(err, errlen, "%s: %s", path, strerror(-ret));
		close(fd);
		return ret;
	}
	return fd;
}

void uv_pidfile_release(int fd, const char *path)
{
	if (fd < 0)
		return;
	unlink(path);
	close(fd);
}

int uv_pidfile_running(const char *path, pid_t *pid)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	int ret;

	if (pid)
		*pid = 0;
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!flock(fd, LOCK_SH | LOCK_NB)) {
		ret = 0; /* nobody holds it: a leftover */
	} else if (errno == EWOULDBLOCK) {
		ret = 1;
		if (pid)
			*pid = pidfile_parse(fd);
	} else {
		ret = -errno;
	}
	close(fd);
	return ret;
}

void uv_notify(const char *state)
{
	const char *addr = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	socklen_t salen;
	size_t n;
	int fd;

	if (!addr || !*addr)
		return;
	n = strlen(addr);
	if ((addr[0] != '/' && addr[0] != '@') || n >= sizeof(sa.sun_path)) {
		pr_debug("NOTIFY_SOCKET=%s: unusable", addr);
		return;
	}
	memcpy(sa.sun_path, addr, n);
	if (addr[0] == '@')
		sa.sun_path[0] = 0; /* abstract namespace: not NUL-terminated */
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (addr[0] == '/'));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, salen) < 0)
		pr_debug("notify %s: %s", addr, strerror(errno));
	close(fd);
}

static void stop_signal(evutil_socket_t sig, short what, void *arg)
{
	struct uv_stop *s = arg;

	(void)what;
	s->signo = (int)sig;
	pr_info("%s: shutting down", strsignal((int)sig));
	if (s->cb)
		s->cb(s->arg);
	else
		event_base_loopbreak(s->base);
}

int uv_stop_init(struct uv_stop *s, struct event_base *base, void (*cb)(void *), void *arg)
{
	static const int sigs[2] = {SIGTERM, SIGINT};

	memset(s, 0, sizeof(*s));
	s->base = base;
	s->cb = cb;
	s->arg = arg;
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < 2; i++) {
		s->sig[i] = evsignal_new(base, sigs[i], stop_signal, s);
		if (!s->sig[i] || evsignal_add(s->sig[i], NULL)) {
			uv_stop_fini(s);
			return -ENOMEM;
		}
	}
	return 0;
}

void uv_stop_fini(struct uv_stop *s)
{
	for (int i = 0; i < 2; i++) {
		if (s->sig[i])
			event_free(s->sig[i]);
		s->sig[i] = NULL;
	}
}

static int daemon_opt_common(const struct uv_daemon_cli *cli, int c, const char *arg,
			     const char *bad)
{
	enum uv_log_level level;

	switch (c) {
	case 'l':
		if (log_parse_level(arg, &level)) {
			pr_err("--log-level: '%s' is not err, warn, info or debug", arg);
			return 2;
		}
		log_set_level(level);
		return -1;
	case 'h':
		fputs(cli->usage, stdout);
		return 0;
	case 'V':
		printf("%s %s\n", cli->prog, cli->version);
		return 0;
	default:
		pr_err("unknown or incomplete option '%s' (see %s --help)", bad, cli->prog);
		return 2;
	}
}

int uv_daemon_parse(const struct uv_daemon_cli *cli, int argc, char **argv)
{
	static const struct option common[] = {
		{"log-level", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
	};
	struct option all[UV_DAEMON_OPTS_MAX + 4] = {0};
	unsigned n = 0;
	int c, ret;

	while (cli->opts && cli->opts[n].name) {
		if (n == UV_DAEMON_OPTS_MAX) {
			pr_err("%s: more than %d options", cli->prog, UV_DAEMON_OPTS_MAX);
			return 1;
		}
		all[n] = cli->opts[n];
		n++;
	}
	memcpy(&all[n], common, sizeof(common));
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", all, NULL)) != -1) {
		if (c == 'l' || c == 'h' || c == 'V' || c == '?')
			ret = daemon_opt_common(cli, c, optarg, argv[optind - 1]);
		else
			ret = cli->opt(cli->ctx, c, optarg);
		if (ret >= 0)
			return ret;
	}
	if (optind < argc) {
		pr_err("unexpected argument '%s' (see %s --help)", argv[optind], cli->prog);
		return 2;
	}
	return -1;
}
