#!/bin/bash
# A back end that dies loses nothing: the guest writes a file system through
# iopartd (--disk vhost-user=SOCK); while it writes, iopartd is killed with
# SIGKILL and started again on the same socket. uvmm reconnects and replays
# the rings and the in-flight area; the guest sees a pause, no I/O error, and
# a second boot (through a fresh iopartd) reads back what it wrote.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

IOPARTD=${UV_IOPARTD:-$UV_BUILD_DIR/iopartd/iopartd}
[[ -x $IOPARTD ]] || uv_fail "iopartd not found at $IOPARTD (build it first)"
# Image and socket in /tmp: no unix sockets on the nested harness's 9p share.
sockdir=$(mktemp -d /tmp/uvtest-rc.XXXXXX)
img=$sockdir/disk.img
sock=$sockdir/blk.sock
truncate -s 64M "$img"
nstart=0

start_iopartd() {
	nstart=$((nstart + 1))
	"$IOPARTD" --export "vhost-user-blk,path=$img,socket=$sock" 2>>"$UV_TMP/iopartd.err" &
	iopartd_pid=$!
	uv_wait_file -S "$sock" 10 ||
		uv_fail "iopartd (start $nstart) made no $sock: $(cat "$UV_TMP/iopartd.err")"
}

sums() {
	# A kernel message may share the line; the sum is 64 hex digits.
	tr -d '\r' <"$1" | sed -n 's/^.*UVTEST \(sha-[^=]*=[0-9a-f]\{64\}\).*$/\1/p' | sort
}

# boot_bg: the writing guest, in the background.
boot_bg() {
	uv_bg run --kernel "$UV_KERNEL_PATH" --initrd "$UV_INITRAMFS" --memory 256M --log-level debug \
		--disk "vhost-user=$sock" --cmdline "$UV_CMDLINE uv.action=blk-write"
}

start_iopartd
boot_bg
# Kill it as soon as the guest begins: mkfs and 7 MiB of writes then need it.
# A boot that nested TCG breaks (docs/testing.md, "Known flake") makes
# uv_fail ask for a new L1, as uv_boot does.
deadline=$((SECONDS + UV_BOOT_TIMEOUT_S))
until grep -q 'UVTEST action=blk-write' "$UV_LOG"; do
	if ! kill -0 "$UV_BG_PID" 2>/dev/null; then
		uv_bg_wait
		uv_fail "the guest ended (status $UV_RC) before its blk-write action"
	fi
	((SECONDS < deadline)) || uv_fail "the guest never started its blk-write action"
	sleep 0.1
done
# Under nested TCG mkfs alone takes seconds; on real KVM the writes are over
# in well under a second, so the kill comes at once there.
if [[ ${UV_IN_NESTED:-0} == 1 ]]; then
	sleep "${UV_RECONNECT_DELAY:-0.5}"
else
	sleep "${UV_RECONNECT_DELAY:-0}"
fi
kill -9 "$iopartd_pid"
wait "$iopartd_pid" 2>/dev/null || true
! grep -q 'UVTEST blk-write=' "$UV_LOG" ||
	uv_fail "inconclusive: the guest had finished writing before iopartd was killed"
uv_info "killed iopartd (SIGKILL) while the guest writes"
sleep 2
rm -f "$sock" # as a crashed daemon leaves it, and so that the wait below is for the new one
start_iopartd
uv_bg_wait
uv_expect_status 0
[[ $(uv_value blk-write) == ok ]] || uv_fail "blk-write failed across the back-end restart"
grep -q 'reconnected' "$UV_ERR" || uv_fail "uvmm did not report a reconnection"
uv_info "uvmm: $(grep 'reconnected' "$UV_ERR" | head -n 1)"
w=$(sums "$UV_LOG")
kill "$iopartd_pid"
wait "$iopartd_pid" || uv_fail "iopartd exited $? on SIGTERM"

start_iopartd
uv_boot_expect 0 --memory 256M --disk "vhost-user=$sock" --cmdline "$UV_CMDLINE uv.action=blk-verify"
[[ $(uv_value blk-verify) == ok ]] || uv_fail "blk-verify failed after the restart"
v=$(sums "$UV_LOG")
[[ -n $w && $w == "$v" ]] || uv_fail "sums differ: wrote '$w', read '$v'"
kill "$iopartd_pid"
uv_info "back-end restart during writes: no error in the guest, data intact"
rm -rf "$sockdir"
