# shellcheck shell=bash
# Sourced by scripts/uv-suite and the tests.
#
# uv_pid_running PIDFILE: true when a daemon holds PIDFILE's lock, i.e. it
# runs. Every daemon holds an exclusive flock on its pid file while it runs.
# The file is opened read-only: flock(1) given a path would create it again
# just after a stopping daemon removed it.
uv_pid_running() {
	local fd rc=0
	{ exec {fd}<"$1"; } 2>/dev/null || return 1
	flock -n -E 99 "$fd" || rc=$?
	exec {fd}<&-
	((rc == 99))
}
