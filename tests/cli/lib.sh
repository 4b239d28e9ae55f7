# shellcheck shell=sh
# Helpers of the tests/cli/test-*.sh scripts, which source it first thing:
#   . "${0%/*}/lib.sh"
# They use $T, the test's scratch directory, for the last command's output.

# fail MESSAGE...: says why on stderr, with the tail of $FAIL_LOG when there is one, and exits 1.
fail() {
	echo "FAIL: $*" >&2
	[ -n "${FAIL_LOG:-}" ] && [ -f "$FAIL_LOG" ] && tail -n 30 "$FAIL_LOG" >&2
	exit 1
}

# kill9 PID...: SIGKILL to each one given (empty ones skipped), quietly: for cleanups.
kill9() {
	for _pid in "$@"; do
		[ -n "$_pid" ] && kill -9 "$_pid" 2>/dev/null
	done
	return 0
}

# expect_exit PROGRAM STATUS PATTERN -- ARGS...: PROGRAM ARGS... exits with STATUS;
# when PATTERN is not empty, its stderr is one line that contains it. Its stdout is
# left in $T/out, its stderr in $T/err.
expect_exit() {
	prog=$1 want=$2 pat=$3
	shift 4
	name=${prog##*/}
	"$prog" "$@" >"$T/out" 2>"$T/err"
	got=$?
	[ "$got" = "$want" ] || fail "$name $*: exit $got, wanted $want; stderr: $(cat "$T/err")"
	if [ -n "$pat" ]; then
		grep -q -- "$pat" "$T/err" || fail "$name $*: stderr lacks '$pat': $(cat "$T/err")"
		[ "$(wc -l <"$T/err")" = 1 ] || fail "$name $*: more than one line: $(cat "$T/err")"
	fi
}

# wait_for SECONDS COMMAND...: runs COMMAND every 50 ms until it succeeds; 1 when it never did.
wait_for() {
	n=$(($1 * 20))
	shift
	while ! "$@" >/dev/null 2>&1; do
		n=$((n - 1))
		[ $n -gt 0 ] || return 1
		sleep 0.05
	done
}

# out_has REGEX: a line of $T/out matches.
out_has() {
	grep -Eq -- "$1" "$T/out" || fail "output lacks /$1/: $(cat "$T/out")"
}

# json_check PYTHON-EXPR: $T/out is JSON and the expression (on j) is true.
json_check() {
	python3 -c "import json,sys; j=json.load(sys.stdin); sys.exit(0 if ($1) else 1)" \
		<"$T/out" || fail "JSON check '$1' failed on: $(cat "$T/out")"
}
