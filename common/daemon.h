/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UV_DAEMON_H
#define UV_DAEMON_H

/*
 * What every control-plane daemon (ultravisord, commandd, opsd) and uvctl
 * share: the two directories of docs/control-plane.md, atomic persistent
 * files, pid files, systemd readiness, and a clean stop on SIGTERM/SIGINT.
 * Every function returns a negative errno on failure and, where it takes
 * err/errlen, a one-line reason naming the path concerned.
 */

#include <getopt.h>
#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

struct event;
struct event_base;

#define UV_RUNTIME_DIR_DEFAULT "/run/ultravisor"
#define UV_STATE_DIR_DEFAULT   "/var/lib/ultravisor"
/* Group that may change things, owning the directories when it exists. */
#define UV_GROUP "ultravisor"

struct uv_paths {
	char runtime_dir[PATH_MAX]; /* $UV_RUNTIME_DIR: sockets, pid files */
	char state_dir[PATH_MAX];   /* $UV_STATE_DIR: persistent state */
};

/*
 * Fills p from $UV_RUNTIME_DIR and $UV_STATE_DIR (an unset or empty variable
 * means the default). Refuses relative or over-long paths (-EINVAL,
 * -ENAMETOOLONG). Trailing slashes are dropped. Creates nothing.
 */
int uv_paths_init(struct uv_paths *p, char *err, size_t errlen);

/* out = dir "/" name; -ENAMETOOLONG (out then empty) when it does not fit. */
int uv_path_join(char *out, size_t outlen, const char *dir, const char *name);

/*
 * mkdir -p with mode for every directory it creates; a directory it creates
 * gets group UV_GROUP when that group exists (and we may chown to it). An
 * existing directory is left as it is. -ENOTDIR when a component is a file.
 */
int uv_dir_ensure(const char *path, mode_t mode, char *err, size_t errlen);

/*
 * Gives path group UV_GROUP when that group exists (best effort, logged at
 * debug level): for sockets, so that the group's members may connect.
 */
void uv_set_group(const char *path);

/*
 * Replaces path with buf[0..len) so that a crash at any point leaves either
 * the old or the new contents: writes "path.tmp.PID" in the same directory,
 * fsync, rename over path, fsync of the directory. On failure the old file
 * is untouched and the temporary file is removed.
 */
int uv_file_write_atomic(const char *path, const void *buf, size_t len, mode_t mode, char *err,
			 size_t errlen);

/*
 * Reads a whole regular file of at most max bytes into a malloc'd buffer,
 * NUL-terminated (not counted in *len); the caller frees *buf.
 * -ENOENT when it does not exist (err still set), -EFBIG when larger than max.
 */
int uv_file_read(const char *path, size_t max, char **buf, size_t *len, char *err, size_t errlen);

/*
 * Takes the pid file at path: opens (creating, mode 0644, close-on-exec),
 * flock(LOCK_EX|LOCK_NB), writes "PID\n". Returns the fd, to keep open for
 * the daemon's lifetime. -EEXIST when another live process holds it (err
 * names its pid). A pid file left by a dead process is simply taken over:
 * the lock, not the file's existence, says who runs.
 */
int uv_pidfile_acquire(const char *path, char *err, size_t errlen);
/* Removes the file (while still locked, so no newcomer's file is removed) and closes fd. */
void uv_pidfile_release(int fd, const char *path);
/*
 * 1 when a live process holds the lock of the pid file at path (its pid in
 * *pid if pid is not NULL), 0 when nobody does (or no file), negative errno
 * when it cannot tell.
 */
int uv_pidfile_running(const char *path, pid_t *pid);

/*
 * sd_notify(3) without libsystemd: sends state ("READY=1", "STOPPING=1",
 * "STATUS=...") as one datagram to $NOTIFY_SOCKET, a path or an abstract
 * name starting with '@'. Does nothing when the variable is unset; failures
 * are logged at debug level only (readiness is best effort).
 */
void uv_notify(const char *state);

/*
 * SIGTERM and SIGINT through the event loop (evsignal), so the handler runs
 * as an ordinary callback; SIGPIPE is ignored (sockets use MSG_NOSIGNAL, but
 * a peer can still vanish under a write to a pipe).
 */
struct uv_stop {
	struct event_base *base;
	struct event *sig[2]; /* SIGTERM, SIGINT */
	void (*cb)(void *arg);
	void *arg;
	int signo; /* the signal that arrived, 0 before */
};

/* cb NULL: event_base_loopbreak(base). Logs the signal at info level. */
int uv_stop_init(struct uv_stop *s, struct event_base *base, void (*cb)(void *), void *arg);
void uv_stop_fini(struct uv_stop *s);

/*
 * The options every daemon has, in the same words everywhere: --log-level,
 * --help and --version (short values 'l', 'h', 'V', which a daemon's own
 * options do not use). A daemon gives only its own options and a handler
 * for them; uv_daemon_parse runs the getopt_long loop (opterr = 0).
 */
struct uv_daemon_cli {
	const char *prog;	   /* "commandd": in --version and in "see PROG --help" */
	const char *version;	   /* UV_VERSION of the daemon's target */
	const char *usage;	   /* printed by --help */
	const struct option *opts; /* the daemon's own, {0}-terminated; NULL: none */
	/* One of the daemon's own options (optarg in arg): -1 to go on, else the exit status. */
	int (*opt)(void *ctx, int c, const char *arg);
	void *ctx;
};

/* Most own options a daemon may have. */
#define UV_DAEMON_OPTS_MAX 16

/*
 * Parses argv: -1 when the daemon is to run, else the exit status: 0 after
 * --help or --version, 2 (message logged) on bad usage (an unknown or
 * incomplete option, an operand, a bad --log-level), or what cli->opt
 * returned.
 */
int uv_daemon_parse(const struct uv_daemon_cli *cli, int argc, char **argv);

#endif
