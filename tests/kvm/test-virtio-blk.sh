#!/bin/bash
# virtio-blk through a stock kernel's driver, data path over vhost-user:
#   1. in-process back end (--disk IMG): the guest makes an ext4 file system,
#      writes three files and powers off; a second boot mounts it and the
#      files' SHA-256 sums match the first boot's;
#   2. the same through iopartd in another process (--disk vhost-user=SOCK),
#      on a fresh image;
#   3. a read-only disk (--disk IMG,readonly=on): the guest sees ro=1 and its
#      direct write is refused, and the image is unchanged.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

IOPARTD=${UV_IOPARTD:-$UV_BUILD_DIR/iopartd/iopartd}
mem=256M

# sums LOG: the "sha-NAME=SUM" lines of LOG, sorted.
sums() {
	# A kernel message may share the line; the sum is 64 hex digits.
	tr -d '\r' <"$1" | sed -n 's/^.*UVTEST \(sha-[^=]*=[0-9a-f]\{64\}\).*$/\1/p' | sort
}

# write_verify WHAT DISK_ARGS...: two boots, blk-write then blk-verify.
write_verify() {
	local what=$1 w v
	shift
	uv_boot_expect 0 --memory $mem "$@" --cmdline "$UV_CMDLINE uv.report=1 uv.action=blk-write"
	[[ $(uv_value virtio-devices) == *0x0002* ]] ||
		uv_fail "$what: no virtio-blk on the guest's virtio bus"
	[[ $(uv_value blk-write) == ok ]] || uv_fail "$what: blk-write failed"
	w=$(sums "$UV_LOG")
	[[ $(wc -l <<<"$w") == 3 ]] || uv_fail "$what: expected 3 file sums, got: $w"
	uv_boot_expect 0 --memory $mem "$@" --cmdline "$UV_CMDLINE uv.action=blk-verify"
	[[ $(uv_value blk-verify) == ok ]] || uv_fail "$what: blk-verify failed"
	v=$(sums "$UV_LOG")
	[[ $w == "$v" ]] || uv_fail "$what: sums differ after a reboot: wrote '$w', read '$v'"
	uv_info "$what: 3 files written, read back after a reboot, sums match"
}

# Images and sockets live in /tmp: unix sockets cannot be made on the nested
# harness's 9p share, and tmpfs zeroes ranges as WRITE_ZEROES wants.
sockdir=$(mktemp -d /tmp/uvtest-blk.XXXXXX)
img=$sockdir/disk.img
truncate -s 64M "$img"
write_verify "in-process" --disk "$img"

[[ -x $IOPARTD ]] || uv_fail "iopartd not found at $IOPARTD (build it first)"
img2=$sockdir/disk2.img
sock=$sockdir/blk.sock
truncate -s 64M "$img2"
"$IOPARTD" --export "vhost-user-blk,path=$img2,socket=$sock" 2>"$UV_TMP/iopartd.err" &
iopartd_pid=$!
uv_wait_file -S "$sock" 10 || uv_fail "iopartd did not create $sock: $(cat "$UV_TMP/iopartd.err")"
write_verify "iopartd" --disk "vhost-user=$sock"
kill "$iopartd_pid"
wait "$iopartd_pid" || uv_fail "iopartd exited $? on SIGTERM: $(cat "$UV_TMP/iopartd.err")"

before=$(sha256sum <"$img")
uv_boot_expect 0 --memory $mem --disk "$img,readonly=on" --cmdline "$UV_CMDLINE uv.action=blk-ro"
[[ $(uv_value blk-ro) == 'done' ]] || uv_fail "read-only: the guest action did not finish"
[[ $(uv_value ro-flag) == 1 ]] || uv_fail "read-only: the guest sees a writable disk"
[[ $(uv_value ro-write) == refused ]] || uv_fail "read-only: the guest's write was accepted"
[[ $(sha256sum <"$img") == "$before" ]] || uv_fail "read-only: the image changed"
uv_info "read-only disk: ro=1 in the guest, write refused, image unchanged"
rm -rf "$sockdir"
