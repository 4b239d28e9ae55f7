#!/bin/bash
# uvmm as the vhost-user front end of a real peer, QEMU's storage daemon
# (qemu-storage-daemon --export type=vhost-user-blk), instead of iopartd:
#   1. the guest makes an ext4 file system, writes three files and powers
#      off; a second uvmm boots against the same daemon, reads them back and
#      the SHA-256 sums match;
#   2. the daemon stopped, iopartd serves the same image: the sums match again
#      (both back ends see the same raw image);
#   3. a read-only export (writable=off): the guest sees ro=1, its direct
#      write is refused, the image is unchanged.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

QSD=${UV_QSD:-qemu-storage-daemon}
IOPARTD=${UV_IOPARTD:-$UV_BUILD_DIR/iopartd/iopartd}
mem=256M
img=$UV_TMP/disk.img
# Not in $UV_TMP: inside the nested harness that is a 9p share, where bind()
# of a unix socket fails (ENXIO).
sockdir=$(mktemp -d /tmp/qsd-interop.XXXXXX)
sock=$sockdir/blk.sock
trap 'rc=$?; rm -rf "$sockdir"; (exit $rc); uv__cleanup' EXIT
peer_pid=
peer_log=

command -v "$QSD" >/dev/null || uv_fail "$QSD not found (apt-get install qemu-system-x86)"
[[ -x $IOPARTD ]] || uv_fail "iopartd not found at $IOPARTD (build it first)"

# sums LOG: the "sha-NAME=SUM" lines of LOG, sorted. A kernel message may
# land on the same console line right after the sum: only 64 hex digits count.
sums() {
	tr -d '\r' <"$1" | grep -o 'UVTEST sha-[^=]*=[0-9a-f]\{64\}' | sed 's/^UVTEST //' | sort
}

# peer_fail MESSAGE: uv_fail with the back end's log.
peer_fail() {
	[[ -n $peer_log && -s $peer_log ]] && sed 's/^/# back end: /' "$peer_log" >&2
	uv_fail "$*"
}

# qsd_start WRITABLE: serves $img on $sock.
qsd_start() {
	rm -f "$sock"
	peer_log=$UV_TMP/qsd-$UV_BOOTS.log
	"$QSD" --blockdev "driver=file,node-name=file0,filename=$img" \
		--blockdev driver=raw,node-name=disk0,file=file0 \
		--export "type=vhost-user-blk,id=exp0,node-name=disk0,addr.type=unix,addr.path=$sock,writable=$1" \
		>"$peer_log" 2>&1 &
	peer_pid=$!
	uv_wait_file -S "$sock" 30 || peer_fail "qemu-storage-daemon did not create $sock"
	uv_info "qemu-storage-daemon (pid $peer_pid) serves $img, writable=$1"
}

iopartd_start() {
	peer_log=$UV_TMP/iopartd-$UV_BOOTS.log
	"$IOPARTD" --export "vhost-user-blk,path=$img,socket=$sock" 2>"$peer_log" &
	peer_pid=$!
	uv_wait_file -S "$sock" 10 || peer_fail "iopartd did not create $sock"
	uv_info "iopartd (pid $peer_pid) serves $img"
}

peer_stop() {
	local rc=0
	kill -TERM "$peer_pid"
	wait "$peer_pid" || rc=$?
	peer_pid=
	((rc == 0)) || peer_fail "the back end exited $rc on SIGTERM"
}

# boot ACTION: one guest on --disk vhost-user=$sock; fails unless it powers off.
boot() {
	uv_boot --memory $mem --disk "vhost-user=$sock" \
		--cmdline "$UV_CMDLINE uv.report=1 uv.action=$1" || true
	[[ $UV_RC == 0 ]] || peer_fail "uvmm exited $UV_RC ($(uv_status_name "$UV_RC")), expected 0"
	[[ $(uv_value virtio-devices) == *0x0002* ]] ||
		peer_fail "no virtio-blk on the guest's virtio bus"
}

truncate -s 64M "$img"
qsd_start on
boot blk-write
[[ $(uv_value blk-write) == ok ]] || peer_fail "blk-write through qemu-storage-daemon failed"
written=$(sums "$UV_LOG")
[[ $(wc -l <<<"$written") == 3 ]] || peer_fail "expected 3 file sums, got: $written"
boot blk-verify
[[ $(uv_value blk-verify) == ok ]] || peer_fail "blk-verify through qemu-storage-daemon failed"
[[ $(sums "$UV_LOG") == "$written" ]] || peer_fail "sums differ: wrote '$written', read '$(sums "$UV_LOG")'"
uv_info "qemu-storage-daemon: 3 files written, read back by a second uvmm, sums match"
peer_stop

iopartd_start
boot blk-verify
[[ $(uv_value blk-verify) == ok ]] || peer_fail "blk-verify through iopartd failed"
[[ $(sums "$UV_LOG") == "$written" ]] || peer_fail "iopartd reads other sums: '$(sums "$UV_LOG")'"
uv_info "iopartd reads what qemu-storage-daemon wrote: sums match"
peer_stop

before=$(sha256sum <"$img")
qsd_start off
boot blk-ro
[[ $(uv_value blk-ro) == "done" ]] || peer_fail "read-only: the guest action did not finish"
[[ $(uv_value ro-flag) == 1 ]] || peer_fail "read-only: the guest sees a writable disk"
[[ $(uv_value ro-write) == refused ]] || peer_fail "read-only: the guest's write was accepted"
peer_stop
[[ $(sha256sum <"$img") == "$before" ]] || uv_fail "read-only: the image changed"
uv_info "read-only export: ro=1 in the guest, write refused, image unchanged"
