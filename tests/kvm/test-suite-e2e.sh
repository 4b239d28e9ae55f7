#!/bin/bash
# The whole suite end to end (issue 5): scripts/uv-suite starts ultravisord,
# iopartd a and b, opsd and commandd in private directories; uvctl creates a
# partition from a disk image and starts it. The guest firmware boots the
# image's BLS entry (the test kernel and initramfs); the guest writes unique
# 1 MiB blocks, direct and flushed, to its second disk. While it writes:
#   - kill -9 the active iopartd: its channels move to the other one, the
#     guest sees a pause and no I/O error; the dead one comes back (commandd
#     --supervise-iopartd) as the standby;
#   - kill -9 the other one: the same, back to the first.
# Every block then reads back with the checksum it was written with, and
# the guest kernel logged no I/O error. Then commandd, opsd and ultravisord
# are each killed with SIGKILL and started again (uv-suite start): the
# guest's uvmm keeps running and `uvctl list` shows it running again.
# `uvctl shutdown` finally presses the guest's ACPI power button: it powers
# off and the partition is reported stopped.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

B=$UV_BUILD_DIR
UVCTL=$B/opsd/uvctl
SUITE=$UV_SOURCE_DIR/scripts/uv-suite
for f in "$UVCTL" "$B/opsd/opsd" "$B/commandd/commandd" "$B/ultravisor-daemon/ultravisord" \
	"$B/iopartd/iopartd"; do
	[[ -x $f ]] || uv_fail "$f is not built"
done
for tool in mkfs.ext4 sgdisk dd flock; do
	command -v "$tool" >/dev/null || uv_fail "$tool is not installed (scripts/install-deps)"
done

# Sockets cannot live on the nested harness's 9p share: local directories.
export UV_RUNTIME_DIR=$UV_LOCAL_TMP/run UV_STATE_DIR=$UV_LOCAL_TMP/state
export UV_SUITE_ARGS_COMMANDD="--uvmm $UVMM"
name=e2e
mib=${UV_E2E_STREAM_MIB:-48}
t=$(uv_timeout 240)

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
	uv__cleanup
	exit "$rc"
}
trap e2e_cleanup EXIT

# The boot disk: GPT, one ext4 partition with the kernel, the initramfs and
# a BLS entry whose options make the guest stream to vdb.
root=$UV_LOCAL_TMP/root
mkdir -p "$root/boot" "$root/loader/entries"
cp "$UV_KERNEL_PATH" "$root/boot/vmlinuz"
cp "$UV_INITRAMFS" "$root/boot/initrd.img"
cat >"$root/loader/entries/e2e.conf" <<EOF
title Ultravisor end-to-end guest
linux /boot/vmlinuz
initrd /boot/initrd.img
options console=ttyS0 panic=-1 uv.action=blk-stream uv.blk=vdb uv.stream.mib=$mib uv.end=sleep uv.powerbutton=1
EOF
boot=$UV_LOCAL_TMP/boot.img
data=$UV_LOCAL_TMP/data.img
mkfs.ext4 -q -d "$root" "$UV_LOCAL_TMP/fs.img" 48M >/dev/null
truncate -s 56M "$boot"
sgdisk -n 1:2048:+50M -t 1:8300 "$boot" >/dev/null
dd if="$UV_LOCAL_TMP/fs.img" of="$boot" bs=1M seek=1 conv=notrunc status=none
truncate -s $((mib + 16))M "$data"

# --- the suite --------------------------------------------------------------------
suite start || uv_fail "uv-suite start failed: $(tail -n 20 "$UV_TMP/uv-suite.log")"
suite status || uv_fail "not every daemon runs after start: $(tail -n 8 "$UV_TMP/uv-suite.log")"
uv_info "suite started: $(grep -c started "$UV_TMP/uv-suite.log") daemons"

uvctl create "$name" --disk "$boot" --disk "$data" --cpus 1 --memory 256M ||
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
uv_info "partition $name running: uvmm pid $uvmm_pid, active iopartd $(field iopartd)"

# The console, through uvctl (stdin kept open: its end would detach).
UV_LOG=$UV_TMP/console.log
exec {hold}< <(sleep 100000)
uvctl console "$name" <&"$hold" >"$UV_LOG" 2>"$UV_TMP/console.err" &
console_pid=$!

# wrote: how many blocks the guest reports written so far.
wrote() { sed -n 's/^.*UVTEST stream-wrote=\([0-9]*\).*$/\1/p' "$UV_LOG" | tail -n 1; }
wait_wrote() {
	local n=$1 deadline=$((SECONDS + t))
	until [[ $(wrote) -ge $n ]] 2>/dev/null; do
		grep -q 'UVTEST blk-stream=fail' "$UV_LOG" && uv_fail "the guest's stream failed: $(grep 'UVTEST' "$UV_LOG" | tail -n 3)"
		kill -0 "$uvmm_pid" 2>/dev/null || uv_fail "uvmm (pid $uvmm_pid) is gone"
		((SECONDS < deadline)) || uv_fail "the guest wrote only '$(wrote)' blocks, waited for $n"
		sleep 0.2
	done
}
pid_of() { cat "$UV_RUNTIME_DIR/$1.pid"; }
running() {
	local fd rc=0
	{ exec {fd}<"$UV_RUNTIME_DIR/$1.pid"; } 2>/dev/null || return 1
	flock -n -E 99 "$fd" || rc=$?
	exec {fd}<&-
	((rc == 99))
}

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
until grep -q 'UVTEST stream-ioerr=' "$UV_LOG"; do
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
uvctl shutdown "$name" || uv_fail "uvctl shutdown failed"
wait_state stopped 120
grep -q '^UVTEST power-button[[:space:]]*$' "$UV_LOG" || uv_fail "the guest did not see the power button"
kill -0 "$uvmm_pid" 2>/dev/null && uv_fail "uvmm still runs after the shutdown"
uv_info "uvctl shutdown: the guest powered off, partition stopped"
