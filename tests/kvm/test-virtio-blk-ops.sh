#!/bin/bash
# virtio-blk beyond read and write, seen by the guest's own driver: a disk
# with two queues (--cpus 2) and a serial number; the guest reports the
# queues, serial, discard and write-zeroes limits and the write-back cache,
# then writes 2 MiB of 0xff direct with fsync (FLUSH), zeroes the first MiB
# (WRITE_ZEROES, read back as zeroes) and discards the second (DISCARD).
# On the host the image must show exactly that, and nothing beyond 2 MiB
# may change.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

serial=uvtest-ops-0123
# The image is in /tmp (tmpfs in the nested harness): it punches holes and
# zeroes ranges, as DISCARD and WRITE_ZEROES want.
dir=$(mktemp -d /tmp/uvtest-ops.XXXXXX)
img=$dir/disk.img
truncate -s 16M "$img"
# A pattern after the range the guest touches: it must survive.
dd if=/dev/zero bs=1M count=1 status=none | tr '\000' '\132' |
	dd of="$img" bs=1M seek=2 conv=notrunc iflag=fullblock status=none
tail_sum=$(dd if="$img" bs=1M skip=2 status=none | sha256sum)

uv_boot_expect 0 --cpus 2 --memory 256M --disk "$img,num-queues=2,serial=$serial" \
	--cmdline "$UV_CMDLINE uv.action=blk-ops"
[[ $(uv_value blk-ops) == 'done' ]] || uv_fail "the guest's blk-ops action did not finish"

want() {
	local got
	got=$(uv_value "$1")
	[[ $got == "$2" ]] || uv_fail "$1: the guest saw '$got', expected '$2'"
}
want blk-queues 2
want blk-serial "$serial"
want blk-cache "write back"
want blk-flush ok
want blk-wz ok
want blk-wz-read zero
want blk-discard ok
for key in blk-discard-max blk-wz-max; do
	v=$(uv_value "$key")
	if ! uv_is_uint "$v" || ((v == 0)); then
		uv_fail "$key: the guest sees '$v', not a positive limit"
	fi
done

zero_mib=$(dd if=/dev/zero bs=1M count=1 status=none | sha256sum)
[[ $(dd if="$img" bs=1M count=1 status=none | sha256sum) == "$zero_mib" ]] ||
	uv_fail "the first MiB of the image is not zero after WRITE_ZEROES"
[[ $(dd if="$img" bs=1M skip=1 count=1 status=none | sha256sum) == "$zero_mib" ]] ||
	uv_fail "the second MiB of the image reads non-zero after DISCARD (the back end punches holes)"
[[ $(dd if="$img" bs=1M skip=2 status=none | sha256sum) == "$tail_sum" ]] ||
	uv_fail "the image changed beyond the 2 MiB the guest wrote"
uv_info "2 queues, serial, FLUSH, WRITE_ZEROES and DISCARD as the guest asked; the rest untouched"
rm -rf "$dir"
