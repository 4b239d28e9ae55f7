#!/bin/sh
# iopartd's command line: help, usage errors, a start and a clean SIGTERM.
set -u
# shellcheck source=tests/cli/lib.sh
. "${0%/*}/lib.sh"
IOPARTD=${UV_BUILD_DIR:?}/iopartd/iopartd
T=$(mktemp -d /tmp/iopartd-cli.XXXXXX)
PID=
cleanup() {
	kill9 "$PID"
	rm -rf "$T"
}
trap cleanup EXIT
# expect STATUS PATTERN -- ARGS...: iopartd's exit status and stderr (lib.sh's expect_exit).
expect() {
	expect_exit "$IOPARTD" "$@"
}

truncate -s 1M "$T/disk.img"
mkdir "$T/dir"

expect 0 "" -- --help
grep -q "^SYNOPSIS" "$T/out" || fail "--help has no SYNOPSIS"
grep -q "vhost-user-blk,path=IMG,socket=SOCK" "$T/out" || fail "--help lacks the blk spec"
expect 0 "" -- --version
grep -q "^iopartd " "$T/out" || fail "--version"
expect 2 "bogus" -- --bogus
expect 2 "unexpected argument" -- stray
expect 2 "at least one --export" --
expect 2 "log-level" -- --log-level loud --export "vhost-user-rng,socket=$T/r"
expect 2 "vhost-user-scsi" -- --export "vhost-user-scsi,socket=$T/s"
expect 2 "readonly" -- --export "vhost-user-blk,path=$T/disk.img,socket=$T/s,readonly=perhaps"
expect 2 "frobnicate" -- --export "vhost-user-blk,path=$T/disk.img,socket=$T/s,frobnicate=1"
expect 2 "socket" -- --export "vhost-user-blk,path=$T/disk.img"
expect 2 "$T/missing.img" -- --export "vhost-user-blk,path=$T/missing.img,socket=$T/s"
expect 2 "not a regular file" -- --export "vhost-user-blk,path=$T/dir,socket=$T/s"
expect 2 "two exports" -- --export "vhost-user-rng,socket=$T/s" --export "vhost-user-rng,socket=$T/s"
expect 2 "missing key 'console'" -- --export "vhost-user-console,socket=$T/s"
expect 2 "'tcp' is not pty" -- --export "vhost-user-console,socket=$T/s,console=tcp"
expect 2 "$T/dir/no/log" -- --export "vhost-user-console,socket=$T/s,console=file:$T/dir/no/log"
[ -e "$T/s" ] && fail "a failed start left $T/s behind"

# A real start: every socket appears; SIGTERM exits 0 and removes them.
"$IOPARTD" --export "vhost-user-blk,path=$T/disk.img,socket=$T/blk.sock" \
	--export "vhost-user-rng,socket=$T/rng.sock" \
	--export "vhost-user-console,socket=$T/vc.sock,console=unix:$T/con.sock" 2>"$T/log" &
PID=$!
sockets_up() {
	[ -S "$T/blk.sock" ] && [ -S "$T/rng.sock" ] && [ -S "$T/vc.sock" ] && [ -S "$T/con.sock" ]
}
wait_for 10 sockets_up || fail "no sockets after 10 s: $(cat "$T/log")"
kill -TERM $PID
wait $PID
rc=$?
PID=
[ $rc = 0 ] || fail "SIGTERM: exit $rc: $(cat "$T/log")"
[ -e "$T/blk.sock" ] && fail "blk socket left behind"
[ -e "$T/rng.sock" ] && fail "rng socket left behind"
[ -e "$T/vc.sock" ] && fail "console's vhost-user socket left behind"
[ -e "$T/con.sock" ] && fail "console socket left behind"
echo "PASS"
