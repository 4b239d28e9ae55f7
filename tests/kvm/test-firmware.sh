#!/bin/bash
# The guest firmware (guest-firmware/runtime): uvmm run --disk IMG without a
# kernel.
#   1. Self-tests (uvfw.test=): virtio-blk write/read-back through the
#      in-process back end and through iopartd, checked on the image with
#      dd, and the queue's MSI-X interrupt reaching the vCPU; a read-only
#      disk refuses the write; a line typed on the console comes back. Each
#      takes seconds: no Linux boot.
#      The same write/read-back on qcow2 images (in-process and iopartd):
#      `qemu-img check` accepts them afterwards and their data, converted to
#      raw, holds the pattern.
#   2. Broken disks end with their exit status, never a hang: a blank disk
#      5, a BLS entry naming a missing kernel 6, a truncated kernel 6, a
#      corrupt ext4 superblock 6.
#   3. A GPT disk with an ext4 partition holding the test kernel, initramfs
#      and a Boot Loader Specification entry boots to userspace, read through
#      a qcow2 overlay (format=qcow2, backing file: the raw disk); the
#      entry's options arrive, followed by uvmm's own --cmdline words.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

IOPARTD=${UV_IOPARTD:-$UV_BUILD_DIR/iopartd/iopartd}
[[ -x $IOPARTD ]] || uv_fail "iopartd not found at $IOPARTD (build it first)"
for tool in mkfs.ext4 sgdisk dd cmp qemu-img; do
	command -v "$tool" >/dev/null || uv_fail "$tool is not installed (scripts/install-deps)"
done
dir=$UV_LOCAL_TMP
blk_sectors=64

# check_pattern IMG: the firmware's blk pattern in the last 64 sectors.
check_pattern() {
	local img=$1 total first s
	total=$(($(stat -c %s "$img") / 512))
	first=$((total - blk_sectors))
	for s in "$first" $((first + 31)) $((total - 1)); do
		{
			printf 'uvfw-%d' "$s"
			printf '%*s' $((511 - ${#s} - 5)) '' | tr ' ' '.'
			printf '\n'
		} >"$dir/want"
		dd if="$img" of="$dir/got" bs=512 skip="$s" count=1 status=none
		cmp -s "$dir/want" "$dir/got" || uv_fail "sector $s of $img does not hold the firmware's pattern"
	done
}

# (uv__boot's logger has removed the CRs from $UV_LOG.)

# --- 1. self-tests --------------------------------------------------------------
img=$dir/blank.img
truncate -s 32M "$img"
uv_boot_fw --disk "$img" --memory 128M --cmdline "uvfw.test=blk,irq"
grep -q '^UVFW result=pass$' "$UV_LOG" || uv_fail "blk,irq self-tests did not pass"
check_pattern "$img"
uv_info "in-process back end: the firmware's writes are on the image; $(grep '^UVFW irq' "$UV_LOG")"

# selftest_iopartd IMG TESTS: the firmware's self-tests TESTS on IMG served
# by iopartd; iopartd must then exit 0 on SIGTERM.
sock=$dir/vu.sock
selftest_iopartd() {
	local pid
	"$IOPARTD" --export "vhost-user-blk,path=$1,socket=$sock" 2>"$UV_TMP/iopartd.err" &
	pid=$!
	uv_wait_file -S "$sock" "$(uv_timeout 10)" || uv_fail "iopartd did not create $sock"
	uv_boot_fw --disk "vhost-user=$sock" --memory 128M --cmdline "uvfw.test=$2"
	kill "$pid"
	wait "$pid" || uv_fail "iopartd exited non-zero: $(cat "$UV_TMP/iopartd.err")"
	grep -q '^UVFW result=pass$' "$UV_LOG" || uv_fail "self-tests $2 on $1 through iopartd did not pass"
}

img2=$dir/blank2.img
truncate -s 32M "$img2"
selftest_iopartd "$img2" blk,irq
check_pattern "$img2"
uv_info "iopartd: the firmware's writes are on the image"

truncate -s 0 "$img2"
truncate -s 32M "$img2"
uv_boot_fw --disk "$img2,readonly=on" --memory 128M --cmdline "uvfw.test=blk-ro"
grep -q '^UVFW blk-ro write=refused$' "$UV_LOG" || uv_fail "a read-only disk took a write"
[[ $(tr -d '\0' <"$img2" | wc -c) == 0 ]] || uv_fail "the read-only image changed"
uv_info "readonly=on: the back end refused the write, the image is unchanged"

# qcow2_check QCOW2: qemu-img check is happy and the data holds the pattern.
qcow2_check() {
	qemu-img check -q "$1" || uv_fail "qemu-img check finds fault with $1"
	qemu-img convert -O raw "$1" "$dir/converted.raw"
	check_pattern "$dir/converted.raw"
	rm -f "$dir/converted.raw"
}

q1=$dir/q1.qcow2
qemu-img create -q -f qcow2 "$q1" 32M
uv_boot_fw --disk "$q1" --memory 128M --cmdline "uvfw.test=blk"
grep -q '^UVFW result=pass$' "$UV_LOG" || uv_fail "blk self-test on qcow2 did not pass"
qcow2_check "$q1"
q2=$dir/q2.qcow2
qemu-img create -q -f qcow2 -o cluster_size=4096 "$q2" 32M
selftest_iopartd "$q2" blk
qcow2_check "$q2"
uv_info "qcow2 (64 KiB clusters in-process, 4 KiB through iopartd): written, qemu-img check clean, data right"

line="uvfw echo $$-$RANDOM a.b/c=d [x]"
UV_STDIN=$dir/console.in
mkfifo "$UV_STDIN"
# Hold the FIFO open for writing so that uvmm's open does not block, and
# type the line once the firmware asks for it.
exec {typer}<>"$UV_STDIN"
(
	log=$UV_TMP/boot-$((UV_BOOTS + 1)).log
	for _ in $(seq 600); do
		if grep -q 'UVFW console: type a line' "$log" 2>/dev/null; then
			printf '%s\r' "$line" >&"$typer"
			exit 0
		fi
		sleep 0.5
	done
) &
typer_pid=$!
uv_boot_fw --disk "$img" --memory 128M --cmdline "uvfw.test=console"
wait "$typer_pid" || uv_fail "the firmware never asked for a line"
exec {typer}>&-
unset UV_STDIN
got=$(sed -n 's/^UVFW echo=//p' "$UV_LOG")
[[ $got == "$line" ]] || uv_fail "typed '$line', the firmware read '$got'"
uv_info "console: a typed line came back"

# --- 2. broken disks --------------------------------------------------------------
uv_boot_fw --disk "$img" --memory 128M || true
uv_expect_status 5
uv_info "a disk without anything bootable: status 5"

# make_disk NAME: a GPT disk whose ext4 partition holds $dir/root.
make_disk() {
	local disk=$dir/$1.img
	rm -f "$dir/fs.img" "$disk"
	mkfs.ext4 -q -d "$dir/root" "$dir/fs.img" 48M >/dev/null
	truncate -s 56M "$disk"
	sgdisk -n 1:2048:+50M -t 1:8300 "$disk" >/dev/null
	dd if="$dir/fs.img" of="$disk" bs=1M seek=1 conv=notrunc status=none
	echo "$disk"
}

rm -rf "$dir/root"
mkdir -p "$dir/root/boot" "$dir/root/loader/entries"
cp "$UV_KERNEL_PATH" "$dir/root/boot/vmlinuz-test"
ln -s vmlinuz-test "$dir/root/boot/vmlinuz"
cp "$UV_INITRAMFS" "$dir/root/boot/initrd-test.img"
cat >"$dir/root/loader/entries/test.conf" <<'EOF'
title Ultravisor test guest
version 1.0
linux /boot/vmlinuz
initrd /boot/initrd-test.img
options console=ttyS0 panic=-1 uv.report=1 uv.action=poweroff
EOF

# A missing kernel.
mv "$dir/root/boot/vmlinuz-test" "$dir/vmlinuz-test"
disk=$(make_disk nokernel)
uv_boot_fw --disk "$disk" --memory 128M || true
uv_expect_status 6
uv_info "an entry naming a missing kernel: status 6"

# A truncated kernel.
head -c 2000000 "$dir/vmlinuz-test" >"$dir/root/boot/vmlinuz-test"
disk=$(make_disk truncated)
uv_boot_fw --disk "$disk" --memory 128M || true
uv_expect_status 6
grep -q 'truncated kernel' "$UV_LOG" || uv_fail "no 'truncated kernel' message"
uv_info "a truncated kernel: status 6"

# A corrupt superblock: the magic stays, the geometry is nonsense.
mv "$dir/vmlinuz-test" "$dir/root/boot/vmlinuz-test"
disk=$(make_disk corrupt)
printf '\xff\xff\xff\xff' | dd of="$disk" bs=1 seek=$((1048576 + 1024 + 0x20)) conv=notrunc status=none
uv_boot_fw --disk "$disk" --memory 128M || true
((UV_RC == 5 || UV_RC == 6)) || uv_fail "a corrupt file system: status $UV_RC, expected 5 or 6"
uv_info "a corrupt superblock: status $UV_RC ($(uv_status_name "$UV_RC"))"

# --- 3. Linux from the disk -----------------------------------------------------
disk=$(make_disk good)
overlay=$dir/good-overlay.qcow2
qemu-img create -q -f qcow2 -F raw -b "$disk" "$overlay"
uv_boot_fw --disk "$overlay,format=qcow2" --memory 256M --cmdline "console=ttyS0 uv.fwtest=1"
uv_expect_status 0
grep -q "^uvfw: booting 'Ultravisor test guest'" "$UV_LOG" || uv_fail "the firmware did not say what it boots"
grep -q "$UV_BANNER" "$UV_LOG" || uv_fail "Linux did not reach userspace"
cmdline=$(uv_value cmdline)
# uvmm's console=ttyS0 is in the entry already: not passed twice.
[[ $cmdline == "console=ttyS0 panic=-1 uv.report=1 uv.action=poweroff uv.fwtest=1" ]] ||
	uv_fail "the kernel got '$cmdline'"
qemu-img check -q "$overlay" || uv_fail "qemu-img check finds fault with the overlay"
uv_info "GPT + ext4 + BLS through a qcow2 overlay: Linux booted from the disk with the entry's options"
