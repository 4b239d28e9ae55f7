#!/bin/bash
# The whole suite end to end (issue 5), with the Debian 12 image of issue 4:
# scripts/uv-suite starts ultravisord, iopartd a and b, opsd and commandd in
# private directories; uvctl creates a partition whose boot disk is a qcow2
# overlay on the image (so the image stays as built) and whose second disk
# is blank, and starts it. The guest firmware boots the image's BLS entry,
# systemd brings up the serial getty, and the test logs in as root on the
# console (uvctl console) and runs /usr/local/bin/uv-blk-stream, which
# writes unique 1 MiB blocks, direct and flushed, to the second disk. While
# it writes:
#   - kill -9 the active iopartd: its channels move to the other one, the
#     guest sees a pause and no I/O error; the dead one comes back (commandd
#     --supervise-iopartd) as the standby;
#   - kill -9 the other one: the same, back to the first.
# Every block then reads back with the checksum it was written with, and
# the guest kernel logged no I/O error. Then commandd, opsd and ultravisord
# are each killed with SIGKILL and started again (uv-suite start): the
# guest's uvmm keeps running and `uvctl list` shows it running again.
# `uvctl shutdown` finally presses the guest's ACPI power button: systemd
# powers it off and the partition is reported stopped.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"
# shellcheck source=../../scripts/lib/pidfile.sh
. "$(dirname "$0")/../../scripts/lib/pidfile.sh"

B=$UV_BUILD_DIR
UVCTL=$B/opsd/uvctl
SUITE=$UV_SOURCE_DIR/scripts/uv-suite
for f in "$UVCTL" "$B/opsd/opsd" "$B/commandd/commandd" "$B/ultravisor-daemon/ultravisord" \
	"$B/iopartd/iopartd"; do
	[[ -x $f ]] || uv_fail "$f is not built"
done
for tool in qemu-img flock python3; do
	command -v "$tool" >/dev/null || uv_fail "$tool is not installed (scripts/install-deps)"
done
# The fixture image.debian leaves the image's path here.
pathfile=$B/debian-image.path
image=$(cat "$pathfile" 2>/dev/null) ||
	uv_fail "no $pathfile: the Debian image is not built (ctest fixture image.debian, scripts/build-debian-image)"
[[ -f $image ]] || uv_fail "missing $image"

# Sockets cannot live on the nested harness's 9p share: local directories.
export UV_RUNTIME_DIR=$UV_LOCAL_TMP/run UV_STATE_DIR=$UV_LOCAL_TMP/state
# A Debian guest under loaded nested emulation took over 60 s (commandd's
# default) to power off after the button: it was killed just before the end.
UV_SUITE_ARGS_COMMANDD="--uvmm $UVMM --shutdown-timeout $(uv_timeout 600)"
export UV_SUITE_ARGS_COMMANDD
name=e2e
mib=${UV_E2E_STREAM_MIB:-48}
t=$(uv_timeout 240)
# A Debian boot to the login prompt: 211-249 s in a quiet L1 (docs/images.md).
t_boot=$(uv_timeout "${UV_IMAGE_TIMEOUT:-900}")

suite() { "$SUITE" --bin "$B" "$@" >>"$UV_TMP/uv-suite.log" 2>&1; }
uvctl() { "$UVCTL" "$@"; }

# shellcheck disable=SC2317 # run by the EXIT trap
e2e_cleanup() {
	local rc=$?
	"$UVCTL" destroy "$name" >/dev/null 2>&1 || true
	sleep 1
	"$SUITE" --bin "$B" stop >>"$UV_TMP/uv-suite.log" 2>&1 || true
	[[ -z ${console_pid:-} ]] || kill "$console_pid" 2>/dev/null || true
	cp -r "$UV_RUNTIME_DIR/log" "$UV_TMP/daemon-logs" 2>/dev/null || true
	cp "$UV_RUNTIME_DIR/partitions/$name/uvmm.log" "$UV_TMP/" 2>/dev/null || true
	uv__cleanup "$rc"
}
trap e2e_cleanup EXIT

boot=$UV_LOCAL_TMP/debian.qcow2
data=$UV_LOCAL_TMP/data.img
qemu-img create -q -f qcow2 -F raw -b "$image" "$boot"
truncate -s $((mib + 16))M "$data"

# --- the suite --------------------------------------------------------------------
suite start || uv_fail "uv-suite start failed: $(tail -n 20 "$UV_TMP/uv-suite.log")"
suite status || uv_fail "not every daemon runs after start: $(tail -n 8 "$UV_TMP/uv-suite.log")"
uv_info "suite started: $(grep -c started "$UV_TMP/uv-suite.log") daemons"

uvctl create "$name" --disk "$boot,format=qcow2" --disk "$data,format=raw" --cpus 1 --memory 512M ||
	uv_fail "uvctl create failed"
uvctl start "$name" || uv_fail "uvctl start failed"

# field KEY: a value of the partition's actual state, from uvctl's JSON.
field() {
	uvctl --json show "$name" | python3 -c \
		'import json,sys; a=json.load(sys.stdin).get("actual") or {}; print(a.get(sys.argv[1], ""))' "$1"
}
wait_state() {
	local want=$1 deadline=$((SECONDS + $2))
	until [[ $(field state) == "$want" ]]; do
		((SECONDS < deadline)) || uv_fail "partition $name not $want after $2 s (state '$(field state)', reason '$(field reason)')"
		sleep 0.5
	done
}
wait_state running "$t"
uvmm_pid=$(field pid)
started=$SECONDS
uv_info "partition $name running: uvmm pid $uvmm_pid, active iopartd $(field iopartd)"

# The console, through uvctl: what the test types goes in through a FIFO
# (opened read-write here, so that it never sees an end).
UV_LOG=$UV_TMP/console.log
fifo=$UV_LOCAL_TMP/console.in
mkfifo "$fifo"
exec {tx}<>"$fifo"
uvctl console "$name" <"$fifo" >"$UV_LOG" 2>"$UV_TMP/console.err" &
console_pid=$!
type_line() { printf '%s\r' "$1" >&"$tx"; }

# wait_console PATTERN SECONDS WHAT: until the console shows PATTERN.
wait_console() {
	local deadline=$((SECONDS + $2))
	until grep -a -q -- "$1" "$UV_LOG"; do
		kill -0 "$uvmm_pid" 2>/dev/null || uv_fail "uvmm (pid $uvmm_pid) is gone while waiting for $3"
		((SECONDS < deadline)) || uv_fail "no $3 on the console within $2 s: $(tail -c 300 "$UV_LOG" | tr -d '\r')"
		sleep 1
	done
}
wait_console 'login:' "$t_boot" "login prompt"
grep -a -q "^uvfw: booting 'Debian GNU/Linux 12" "$UV_LOG" ||
	uv_fail "the firmware did not say it booted the Debian BLS entry"
uv_info "login prompt $((SECONDS - started)) s after the partition ran: $(grep -a -m1 'login:' "$UV_LOG" | tr -d '\r')"
type_line root
wait_console 'Password:' "$t" "password prompt"
type_line uvtest
wait_console 'root@uvguest' "$t" "root shell prompt"
# Kernel messages stay off the console so that they cannot split UVTEST lines.
type_line "dmesg -n 1; uv-blk-stream vdb $mib"
uv_info "logged in as root; uv-blk-stream writes $mib blocks to vdb"

# wrote: how many blocks the guest reports written so far.
wrote() { sed -n 's/^.*UVTEST stream-wrote=\([0-9]*\).*$/\1/p' "$UV_LOG" | tail -n 1; }
wait_wrote() {
	local n=$1 deadline=$((SECONDS + t))
	until [[ $(wrote) -ge $n ]] 2>/dev/null; do
		grep -a -q 'UVTEST blk-stream=fail' "$UV_LOG" && uv_fail "the guest's stream failed: $(grep -a 'UVTEST' "$UV_LOG" | tail -n 3)"
		kill -0 "$uvmm_pid" 2>/dev/null || uv_fail "uvmm (pid $uvmm_pid) is gone"
		((SECONDS < deadline)) || uv_fail "the guest wrote only '$(wrote)' blocks, waited for $n"
		sleep 0.2
	done
}
pid_of() { cat "$UV_RUNTIME_DIR/$1.pid"; }
running() { uv_pid_running "$UV_RUNTIME_DIR/$1.pid"; }

# fail_over N: kill -9 the active iopartd once N blocks are written; the
# guest must go on writing, and the dead one must come back.
fail_over() {
	local active old_pid at
	wait_wrote "$1"
	active=$(field iopartd)
	[[ $active == a || $active == b ]] || uv_fail "no active iopartd reported ('$active')"
	old_pid=$(pid_of "iopartd-$active")
	at=$(wrote)
	kill -9 "$old_pid"
	uv_info "killed iopartd $active (pid $old_pid) after $at blocks"
	wait_wrote $((at + 4))
	local deadline=$((SECONDS + 30))
	until running "iopartd-$active" && [[ $(pid_of "iopartd-$active") != "$old_pid" ]]; do
		((SECONDS < deadline)) || uv_fail "iopartd $active did not come back"
		sleep 0.2
	done
	[[ $(field iopartd) != "$active" ]] || uv_fail "the channels still name the dead iopartd $active"
	uv_info "the guest went on ($(wrote) blocks) through iopartd $(field iopartd); $active is back (pid $(pid_of "iopartd-$active"))"
}

wait_wrote 1
fail_over 8
fail_over 24

deadline=$((SECONDS + t))
until grep -a -q 'UVTEST stream-ioerr=' "$UV_LOG"; do
	((SECONDS < deadline)) || uv_fail "the guest did not finish its stream"
	sleep 0.5
done
[[ $(uv_value stream-bad) == 0 ]] || uv_fail "$(uv_value stream-bad) blocks read back wrong"
[[ $(uv_value stream-ioerr) == 0 ]] || uv_fail "the guest kernel logged $(uv_value stream-ioerr) I/O errors"
uv_info "all $mib blocks read back intact, no I/O error in the guest"

# --- daemons restarted under the running guest ----------------------------------
for d in commandd opsd ultravisord; do
	kill -9 "$(pid_of "$d")"
	sleep 0.5
	suite start || uv_fail "uv-suite start did not bring $d back: $(tail -n 20 "$UV_TMP/uv-suite.log")"
	kill -0 "$uvmm_pid" 2>/dev/null || uv_fail "the guest's uvmm died with $d"
	deadline=$((SECONDS + 60))
	until uvctl list | grep -qE "^$name +running"; do
		((SECONDS < deadline)) || uv_fail "after restarting $d, uvctl list shows: $(uvctl list)"
		sleep 0.5
	done
	[[ $(field pid) == "$uvmm_pid" ]] || uv_fail "after restarting $d the partition has uvmm pid $(field pid), not $uvmm_pid"
	uv_info "kill -9 $d and uv-suite start: the guest runs on, uvctl list shows it"
done

# --- graceful shutdown -------------------------------------------------------------
# The guest still answers on its console after all that.
# shellcheck disable=SC2016 # the guest's shell expands it
type_line 'echo UVTEST alive=$((6 * 7))'
wait_console 'UVTEST alive=42' "$t" "answer from the shell"
uvctl shutdown "$name" || uv_fail "uvctl shutdown failed"
wait_state stopped "$(uv_timeout 660)"
grep -a -q 'reboot: Power down' "$UV_LOG" || uv_fail "the guest did not power down: $(tail -c 400 "$UV_LOG" | tr -d '\r')"
kill -0 "$uvmm_pid" 2>/dev/null && uv_fail "uvmm still runs after the shutdown"
uv_info "uvctl shutdown: systemd powered the guest off, partition stopped"
