#!/bin/bash
# Interoperability: uvmm's vhost-user front end against QEMU's own back end,
# qemu-storage-daemon --export type=vhost-user-blk. A Linux guest makes an
# ext4 file system and writes files; the files read out of the image on the
# host (debugfs, no mount) have the sums the guest printed. Then the guest
# firmware's self-test (a new connection to the same daemon) writes, reads
# back and takes an interrupt: the read path, in seconds instead of a
# second Linux boot.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

QSD=${UV_QSD:-$(command -v qemu-storage-daemon || true)}
[[ -n $QSD && -x $QSD ]] || uv_fail "qemu-storage-daemon not found (apt install qemu-system-x86 or set UV_QSD)"
command -v debugfs >/dev/null || uv_fail "debugfs is not installed (e2fsprogs)"

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
[[ -n $w ]] || uv_fail "the guest printed no sums"
# The sums of the files as they are in the image now, read on the host.
v=
for f in f1 f2 f3; do
	debugfs -R "dump /$f $dir/$f" "$img" >/dev/null 2>&1 || uv_fail "debugfs cannot read /$f from the image"
	v+="sha-$f=$(sha256sum <"$dir/$f" | cut -d' ' -f1)"$'\n'
done
v=$(sort <<<"${v%$'\n'}")
[[ $w == "$v" ]] || uv_fail "sums differ: the guest wrote '$w', the image holds '$v'"
uv_info "the files the guest wrote through qemu-storage-daemon are in the image"

uv_boot_fw --memory 128M --disk "vhost-user=$sock" --cmdline "uvfw.test=blk,irq" || true
uv_expect_status 0
grep -q '^UVFW result=pass$' "$UV_LOG" || uv_fail "the firmware's blk,irq self-test failed through qemu-storage-daemon"
kill "$qsd_pid"
wait "$qsd_pid" 2>/dev/null || true
rm -rf "$dir"
uv_info "uvmm + qemu-storage-daemon: Linux wrote files intact; the firmware's write, read-back and interrupt passed"
