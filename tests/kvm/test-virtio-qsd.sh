#!/bin/bash
# Interoperability: uvmm's vhost-user front end against QEMU's own back end,
# qemu-storage-daemon --export type=vhost-user-blk. The guest makes an ext4
# file system and writes files; a second boot (same daemon, new connection)
# reads them back with the same sums.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

QSD=${UV_QSD:-$(command -v qemu-storage-daemon || true)}
[[ -n $QSD && -x $QSD ]] || uv_fail "qemu-storage-daemon not found (apt install qemu-system-x86 or set UV_QSD)"

# Image and socket in /tmp: no unix sockets on the nested harness's 9p share.
dir=$(mktemp -d /tmp/uvtest-qsd.XXXXXX)
img=$dir/disk.img
sock=$dir/blk.sock
truncate -s 64M "$img"
"$QSD" --blockdev "driver=file,node-name=file0,filename=$img" \
	--export "type=vhost-user-blk,id=exp0,node-name=file0,addr.type=unix,addr.path=$sock,writable=on" \
	2>"$UV_TMP/qsd.err" &
qsd_pid=$!
uv_wait_file -S "$sock" 30 || uv_fail "qemu-storage-daemon made no socket: $(cat "$UV_TMP/qsd.err")"

sums() {
	tr -d '\r' <"$1" | sed -n 's/^.*UVTEST \(sha-[^=]*=[0-9a-f]\{64\}\).*$/\1/p' | sort
}

uv_boot_expect 0 --memory 256M --disk "vhost-user=$sock" \
	--cmdline "$UV_CMDLINE uv.report=1 uv.action=blk-write"
[[ $(uv_value virtio-devices) == *0x0002* ]] || uv_fail "no virtio-blk on the guest's virtio bus"
[[ $(uv_value blk-write) == ok ]] || uv_fail "blk-write through qemu-storage-daemon failed"
w=$(sums "$UV_LOG")
uv_boot_expect 0 --memory 256M --disk "vhost-user=$sock" --cmdline "$UV_CMDLINE uv.action=blk-verify"
[[ $(uv_value blk-verify) == ok ]] || uv_fail "blk-verify through qemu-storage-daemon failed"
v=$(sums "$UV_LOG")
[[ -n $w && $w == "$v" ]] || uv_fail "sums differ: wrote '$w', read '$v'"
kill "$qsd_pid"
wait "$qsd_pid" 2>/dev/null || true
rm -rf "$dir"
uv_info "uvmm + qemu-storage-daemon: files written and read back, sums match"
