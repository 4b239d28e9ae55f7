// SPDX-License-Identifier: GPL-2.0
/* common/daemon.h: paths, atomic files, pid files, sd_notify, the stop signals. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "daemon.h"
#include "uvcheck.h"

static char dir[64];
static char err[512];

static void setup(void)
{
	uv_tmpdir(dir, sizeof(dir), "test_daemon");
}

static void teardown(void)
{
	uv_rmtree(dir);
}

static void pathf(char *out, const char *name)
{
	ck_assert_int_eq(uv_path_join(out, PATH_MAX, dir, name), 0);
}

/* Files in dir, to see that no temporary file is left behind. */
static int dir_entries(const char *d)
{
	DIR *dp = opendir(d);
	struct dirent *de;
	int n = 0;

	ck_assert_ptr_nonnull(dp);
	while ((de = readdir(dp)))
		n += de->d_name[0] != '.';
	closedir(dp);
	return n;
}

START_TEST(test_paths)
{
	struct uv_paths p;

	unsetenv("UV_RUNTIME_DIR");
	setenv("UV_STATE_DIR", "", 1);
	ck_assert_int_eq(uv_paths_init(&p, err, sizeof(err)), 0);
	ck_assert_str_eq(p.runtime_dir, "/run/ultravisor");
	ck_assert_str_eq(p.state_dir, "/var/lib/ultravisor");
	setenv("UV_RUNTIME_DIR", "/tmp/x/run//", 1);
	setenv("UV_STATE_DIR", "/", 1);
	ck_assert_int_eq(uv_paths_init(&p, err, sizeof(err)), 0);
	ck_assert_str_eq(p.runtime_dir, "/tmp/x/run");
	ck_assert_str_eq(p.state_dir, "/");
	setenv("UV_STATE_DIR", "relative/dir", 1);
	ck_assert_int_eq(uv_paths_init(&p, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "UV_STATE_DIR"));
	ck_assert_ptr_nonnull(strstr(err, "absolute"));
}
END_TEST

START_TEST(test_path_join)
{
	char out[16];

	ck_assert_int_eq(uv_path_join(out, sizeof(out), "/run", "a.sock"), 0);
	ck_assert_str_eq(out, "/run/a.sock");
	ck_assert_int_eq(uv_path_join(out, sizeof(out), "/run/ultravisor", "x"), -ENAMETOOLONG);
	ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(test_dir_ensure)
{
	char d[PATH_MAX], f[PATH_MAX];
	struct stat st;

	pathf(d, "a//b/c/");
	ck_assert_msg(uv_dir_ensure(d, 0750, err, sizeof(err)) == 0, "%s", err);
	pathf(d, "a/b/c");
	ck_assert_int_eq(stat(d, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0750);		       /* whatever the umask */
	ck_assert_int_eq(uv_dir_ensure(d, 0750, err, sizeof(err)), 0); /* exists: fine */
	pathf(f, "a/file");
	close(open(f, O_CREAT | O_WRONLY, 0600));
	pathf(d, "a/file/sub");
	ck_assert_int_eq(uv_dir_ensure(d, 0750, err, sizeof(err)), -ENOTDIR);
	ck_assert_ptr_nonnull(strstr(err, "a/file"));
}
END_TEST

START_TEST(test_atomic_write_read)
{
	char f[PATH_MAX], *buf;
	struct stat st;
	size_t len;

	pathf(f, "state.json");
	ck_assert_int_eq(uv_file_read(f, 100, &buf, &len, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_null(buf);
	ck_assert_msg(uv_file_write_atomic(f, "old", 3, 0640, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(uv_file_write_atomic(f, "newer", 5, 0640, err, sizeof(err)), 0);
	ck_assert_int_eq(uv_file_read(f, 100, &buf, &len, err, sizeof(err)), 0);
	ck_assert_uint_eq(len, 5);
	ck_assert_str_eq(buf, "newer"); /* NUL-terminated */
	free(buf);
	ck_assert_int_eq(stat(f, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0640);
	ck_assert_int_eq(uv_file_read(f, 4, &buf, &len, err, sizeof(err)), -EFBIG);
	ck_assert_ptr_null(buf);
	ck_assert_int_eq(uv_file_read(dir, 4, &buf, &len, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(dir_entries(dir), 1);
}
END_TEST

/* A write that fails half-way (the file size limit) leaves the old file whole. */
START_TEST(test_atomic_write_fails)
{
	struct rlimit rl = {.rlim_cur = 4096, .rlim_max = RLIM_INFINITY};
	static char big[65536];
	char f[PATH_MAX], *buf;
	size_t len;

	pathf(f, "state.json");
	ck_assert_int_eq(uv_file_write_atomic(f, "old", 3, 0600, err, sizeof(err)), 0);
	signal(SIGXFSZ, SIG_IGN);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	memset(big, 'x', sizeof(big));
	ck_assert_int_eq(uv_file_write_atomic(f, big, sizeof(big), 0600, err, sizeof(err)), -EFBIG);
	ck_assert_ptr_nonnull(strstr(err, "write"));
	ck_assert_int_eq(uv_file_read(f, 100, &buf, &len, err, sizeof(err)), 0);
	ck_assert_str_eq(buf, "old");
	free(buf);
	ck_assert_int_eq(dir_entries(dir), 1); /* no temporary file left */
}
END_TEST

/* A name whose temporary sibling would be too long: refused, old file kept. */
START_TEST(test_atomic_write_no_tmp)
{
	char name[251], f[PATH_MAX], *buf;
	size_t len;

	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = 0;
	int fd;

	pathf(f, name);
	fd = open(f, O_CREAT | O_WRONLY, 0600);
	ck_assert_int_eq(write(fd, "old", 3), 3);
	close(fd);
	ck_assert_int_eq(uv_file_write_atomic(f, "new", 3, 0600, err, sizeof(err)), -ENAMETOOLONG);
	ck_assert_int_eq(uv_file_read(f, 100, &buf, &len, err, sizeof(err)), 0);
	ck_assert_str_eq(buf, "old");
	free(buf);
	ck_assert_int_eq(dir_entries(dir), 1);
}
END_TEST

START_TEST(test_pidfile)
{
	char f[PATH_MAX], *buf, want[32];
	pid_t pid;
	size_t len;
	int fd;

	pathf(f, "d.pid");
	ck_assert_int_eq(uv_pidfile_running(f, &pid), 0);
	fd = uv_pidfile_acquire(f, err, sizeof(err));
	ck_assert_msg(fd >= 0, "%s", err);
	ck_assert_int_eq(uv_file_read(f, 100, &buf, &len, err, sizeof(err)), 0);
	snprintf(want, sizeof(want), "%d\n", (int)getpid());
	ck_assert_str_eq(buf, want);
	free(buf);
	ck_assert_int_eq(uv_pidfile_running(f, &pid), 1);
	ck_assert_int_eq(pid, getpid());
	/* A second instance (another open file, so another lock owner) is refused. */
	ck_assert_int_eq(uv_pidfile_acquire(f, err, sizeof(err)), -EEXIST);
	snprintf(want, sizeof(want), "pid %d", (int)getpid());
	ck_assert_ptr_nonnull(strstr(err, want));
	uv_pidfile_release(fd, f);
	ck_assert_int_eq(access(f, F_OK), -1);
	ck_assert_int_eq(uv_pidfile_running(f, &pid), 0);
}
END_TEST

/* A file left by a killed daemon holds no lock: not running, and taken over. */
START_TEST(test_pidfile_stale)
{
	char f[PATH_MAX];
	pid_t pid = 1;
	int fd, st;

	pathf(f, "d.pid");
	if (fork() == 0) {
		fd = uv_pidfile_acquire(f, err, sizeof(err));
		_exit(fd < 0); /* dies holding it, as kill -9 */
	}
	ck_assert_int_ge(wait(&st), 0);
	ck_assert_int_eq(st, 0);
	ck_assert_int_eq(access(f, F_OK), 0);
	ck_assert_int_eq(uv_pidfile_running(f, &pid), 0);
	ck_assert_int_eq(pid, 0);
	fd = uv_pidfile_acquire(f, err, sizeof(err));
	ck_assert_msg(fd >= 0, "%s", err);
	uv_pidfile_release(fd, f);
}
END_TEST

/*
 * A probe (uv-suite's flock(1), uv_pidfile_running) holding the lock for a
 * moment while the daemon starts is not a running instance.
 */
START_TEST(test_pidfile_probe)
{
	char f[PATH_MAX], c;
	int fd, p[2], st;

	pathf(f, "d.pid");
	ck_assert_int_eq(pipe(p), 0);
	if (fork() == 0) {
		fd = open(f, O_RDWR | O_CREAT, 0644);
		if (fd < 0 || flock(fd, LOCK_EX) || write(p[1], "x", 1) != 1)
			_exit(1);
		usleep(50 * 1000);
		_exit(0);
	}
	close(p[1]);
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	close(p[0]);
	fd = uv_pidfile_acquire(f, err, sizeof(err));
	ck_assert_msg(fd >= 0, "%s", err);
	ck_assert_int_ge(wait(&st), 0);
	ck_assert_int_eq(st, 0);
	uv_pidfile_release(fd, f);
}
END_TEST

static int notify_listener(const char *name, int abstract)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	if (abstract) {
		snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "%s", name);
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
	} else {
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", name);
	}
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, len), 0);
	return fd;
}

static void notify_expect(int fd, const char *want)
{
	char buf[64];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	ck_assert_int_eq(n, (ssize_t)strlen(want));
	buf[n] = 0;
	ck_assert_str_eq(buf, want);
}

START_TEST(test_notify)
{
	char f[PATH_MAX], abs[64], var[80];
	int fd;

	unsetenv("NOTIFY_SOCKET");
	uv_notify("READY=1"); /* no systemd: nothing, no crash */
	pathf(f, "notify");
	fd = notify_listener(f, 0);
	setenv("NOTIFY_SOCKET", f, 1);
	uv_notify("READY=1");
	notify_expect(fd, "READY=1");
	close(fd);

	snprintf(abs, sizeof(abs), "uv-test-notify-%d", (int)getpid());
	fd = notify_listener(abs, 1);
	snprintf(var, sizeof(var), "@%s", abs);
	setenv("NOTIFY_SOCKET", var, 1);
	uv_notify("STOPPING=1");
	notify_expect(fd, "STOPPING=1");
	setenv("NOTIFY_SOCKET", "relative", 1);
	uv_notify("READY=1"); /* ignored */
	close(fd);
}
END_TEST

static int stop_calls;

static void stop_cb(void *arg)
{
	stop_calls++;
	event_base_loopbreak(arg);
}

START_TEST(test_stop)
{
	struct event_base *base = event_base_new();
	struct sigaction sa;
	struct uv_stop s;

	ck_assert_int_eq(uv_stop_init(&s, base, stop_cb, base), 0);
	ck_assert_int_eq(sigaction(SIGPIPE, NULL, &sa), 0);
	ck_assert_ptr_eq(sa.sa_handler, SIG_IGN);
	raise(SIGTERM);
	ck_assert_int_eq(event_base_dispatch(base), 0);
	ck_assert_int_eq(stop_calls, 1);
	ck_assert_int_eq(s.signo, SIGTERM);
	uv_stop_fini(&s);

	/* Default: the loop just stops. */
	ck_assert_int_eq(uv_stop_init(&s, base, NULL, NULL), 0);
	raise(SIGINT);
	ck_assert_int_eq(event_base_dispatch(base), 0);
	ck_assert_int_eq(s.signo, SIGINT);
	uv_stop_fini(&s);
	event_base_free(base);
}
END_TEST

int main(void)
{
	return uv_check_run(uv_suite(
		"daemon", setup, teardown, 0,
		UV_TESTS(test_paths, test_path_join, test_dir_ensure, test_atomic_write_read,
			 test_atomic_write_fails, test_atomic_write_no_tmp, test_pidfile,
			 test_pidfile_stale, test_pidfile_probe, test_notify, test_stop)));
}
