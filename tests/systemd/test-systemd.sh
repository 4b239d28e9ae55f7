#!/bin/bash
# The suite under a real systemd: the units of scripts/systemd/ installed by
# `cmake --install` into the Debian 12 image of scripts/build-debian-image,
# booted under QEMU (TCG, SeaBIOS and GRUB, -cpu max so that the guest has
# nested SVM and /dev/kvm), driven over its serial console. The checks run
# in the guest (tests/systemd/guest.sh, see there); this side builds the
# share (the install tree, the guest script, a tiny boot disk), boots the
# guest, logs in, runs the script and reads its UVSD-* lines. docs/systemd.md.
#
#   test-systemd.sh [IMAGE]
#
# IMAGE: the raw Debian image (default: $UV_BUILD_DIR/debian-image.path, left
# by the ctest fixture image.debian, else build-debian-image --print-path).
# The image is never written: QEMU runs on a fresh qcow2 overlay.
#
# Environment: UV_BUILD_DIR (the build tree to install, default build/),
# UV_SYSTEMD_TIMEOUT (whole run, default 1100 s), UV_SYSTEMD_SMP (guest vCPUs,
# default 1), UV_SYSTEMD_KEEP=1 (keep the work directory), UV_SYSTEMD_NOKVM=1
# (no SVM for the guest: the partition checks are skipped).
# Exit status: 0 passed, 1 failed (also: a sanitized build, no QEMU).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=${UV_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
build=${UV_BUILD_DIR:-$src/build}
total=${UV_SYSTEMD_TIMEOUT:-1100}
smp=${UV_SYSTEMD_SMP:-1}

msg() { echo "test-systemd: $*" >&2; }
fail() {
	msg "FAIL: $*"
	exit 1
}
[[ -f $build/CMakeCache.txt ]] || fail "no build tree at $build (set UV_BUILD_DIR)"
# The guest has the daemons' libraries, not the sanitizers' runtimes (a
# sanitized tree does not register this test).
grep -q '^UV_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" &&
	fail "$build is an ASan/UBSan build; the guest can only run a plain build's binaries"
command -v qemu-system-x86_64 >/dev/null || fail "no qemu-system-x86_64 (scripts/install-deps)"
for t in qemu-img mkfs.ext4 sgdisk as objcopy; do
	command -v "$t" >/dev/null || PATH=$PATH:/usr/sbin:/sbin
	command -v "$t" >/dev/null || fail "no $t (scripts/install-deps)"
done

img=${1:-}
if [[ -z $img && -s $build/debian-image.path ]]; then
	img=$(cat "$build/debian-image.path")
fi
if [[ -z $img ]]; then
	img=$("$src/scripts/build-debian-image" --print-path) || fail "building the Debian image failed"
fi
[[ -f $img ]] || fail "no Debian image at $img"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/uv-systemd.XXXXXX")
share=$tmp/share
log=$build/systemd-test-console.log
qpid=
cleanup() {
	if [[ -n $qpid ]] && kill -0 "$qpid" 2>/dev/null; then
		kill -TERM "$qpid" 2>/dev/null || true
		wait "$qpid" 2>/dev/null || true
	fi
	if [[ ${UV_SYSTEMD_KEEP:-0} == 1 ]]; then
		msg "kept $tmp"
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- the share: the install tree, the guest script, a boot disk ---------------
mkdir -p "$share/root"
DESTDIR=$share/root cmake --install "$build" >"$tmp/install.log" 2>&1 ||
	fail "cmake --install $build failed: $(tail -n 5 "$tmp/install.log")"
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
echo "$prefix" >"$share/prefix"
cp "$here/guest.sh" "$share/guest.sh"
# Only an explicit UV_SYSTEMD_NOKVM=1 lets the guest skip the partition checks.
[[ ${UV_SYSTEMD_NOKVM:-0} != 1 ]] || : >"$share/nokvm"

# The partitions' guest: pwrbtn-stub.S, a 5 KiB bzImage that sleeps in hlt
# (no CPU cost) until the ACPI power button, then powers off (S5): what a
# scope's stop and the host's power-off are checked with.
mkdir -p "$tmp/fs/boot" "$tmp/fs/loader/entries"
if ! as --64 -o "$tmp/stub.o" "$here/pwrbtn-stub.S" ||
	! objcopy -O binary -j .text "$tmp/stub.o" "$tmp/fs/boot/vmlinuz"; then
	fail "assembling $here/pwrbtn-stub.S failed"
fi
[[ $(stat -c %s "$tmp/fs/boot/vmlinuz") == 5120 ]] || fail "pwrbtn-stub.S did not make 5120 bytes"
printf 'title systemd test (power-button stub)\nlinux /boot/vmlinuz\noptions console=ttyS0\n' \
	>"$tmp/fs/loader/entries/pwrbtn.conf"
mkfs.ext4 -q -d "$tmp/fs" "$tmp/fs.img" 4M >/dev/null 2>&1 || fail "mkfs.ext4 -d failed"
truncate -s 6M "$share/pwrbtn.img"
sgdisk -n 1:2048:+4M -t 1:8300 "$share/pwrbtn.img" >/dev/null || fail "sgdisk failed"
dd if="$tmp/fs.img" of="$share/pwrbtn.img" bs=1M seek=1 conv=notrunc status=none

# --- the guest ---------------------------------------------------------------
qemu-img create -q -f qcow2 -b "$img" -F raw "$tmp/disk.qcow2"
cpu=max
[[ ${UV_SYSTEMD_NOKVM:-0} != 1 ]] || cpu=max,-svm
qemu=(qemu-system-x86_64 -accel tcg -cpu "$cpu" -smp "$smp" -m 2048
	-nodefaults -nographic -no-reboot -monitor none -serial stdio
	-drive "file=$tmp/disk.qcow2,format=qcow2,if=virtio"
	-virtfs "local,path=$share,mount_tag=uvshare,security_model=none,multidevs=remap")
msg "booting $img under QEMU TCG ($smp vCPU), console in $log"
: >"$log"
start=$SECONDS
deadline=$((start + total))
coproc QEMU { exec "${qemu[@]}" 2>&1; }
qpid=$QEMU_PID
exec {q_out}<&"${QEMU[0]}" {q_in}>&"${QEMU[1]}"

# expect REGEX [SECS]: reads console lines (and, on a pause, the unfinished
# last one, for prompts) into the log until one matches; 1 on EOF or timeout.
expect() {
	local line='' part rc end=$deadline
	[[ -z ${2:-} ]] || end=$((SECONDS + $2 < deadline ? SECONDS + $2 : deadline))
	while ((SECONDS < end)); do
		rc=0
		IFS= read -r -t 2 -u "$q_out" part || rc=$?
		line+=${part:-}
		line=${line//$'\r'/}
		line=${line//$'\e'\[?2004[hl]/} # bash's bracketed-paste switches
		if ((rc > 128)); then
			[[ $line =~ $1 ]] && printf '%s\n' "$line" >>"$log" && return 0
			continue
		fi
		printf '%s\n' "$line" >>"$log"
		[[ $line == UVSD-* ]] && echo "$line"
		((rc == 0)) || return 1
		[[ $line =~ $1 ]] && return 0
		line=
	done
	return 1
}
send() { printf '%s\r' "$1" >&"$q_in"; }

# Kernel messages may follow a prompt on its line (kvm_amd loads late): the
# prompts are matched anywhere in a line.
expect '[a-z0-9-]+ login: ' 400 || fail "no login prompt within $((SECONDS - start)) s (see $log)"
boot_s=$((SECONDS - start))
msg "login prompt after $boot_s s"
send root
expect 'Password: ' 60 || fail "no password prompt"
send uvtest
expect 'root@[^ ]*# ' 60 || fail "no shell prompt after logging in"
# One line: no kernel messages on the console from now on, the share, the
# checks; their status on a line of its own.
send "dmesg -n 1; mkdir -p /mnt/uv && mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 uvshare /mnt/uv && bash /mnt/uv/guest.sh; echo UVSD-EXIT=\$?"
expect '^UVSD-EXIT=[0-9]+' || fail "the guest script did not finish within the ${total} s (see $log)"
status=$(grep -a -o '^UVSD-EXIT=[0-9]*' "$log" | tail -n 1 | cut -d= -f2)
run_s=$((SECONDS - start - boot_s))
send 'systemctl poweroff'
off=$SECONDS
expect 'reboot: Power down' 90 || true
for _ in 1 2 3 4 5; do
	kill -0 "$qpid" 2>/dev/null || break
	sleep 1
done
if kill -0 "$qpid" 2>/dev/null; then
	msg "the guest did not power off within 90 s; stopping QEMU"
	kill -TERM "$qpid" 2>/dev/null || true
fi
wait "$qpid" 2>/dev/null || true
qpid=
off_s=$((SECONDS - off))

# The guest's power-off checks (guest.sh's uvsd-poweroff-check.service)
# come on the console during the power-off, ending with this line.
if [[ ${UV_SYSTEMD_NOKVM:-0} != 1 ]] && ! grep -a -q '^UVSD-POWEROFF-DONE' "$log"; then
	echo "UVSD-FAIL the guest's power-off checks did not report (no UVSD-POWEROFF-DONE on the console)" |
		tee -a "$log"
fi
oks=$(grep -a -c '^UVSD-OK' "$log" || true)
fails=$(grep -a -c '^UVSD-FAIL' "$log" || true)
skips=$(grep -a -c '^UVSD-SKIP' "$log" || true)
msg "summary: $oks passed, $fails failed, $skips skipped; boot ${boot_s} s, checks ${run_s} s, power-off ${off_s} s, all $((SECONDS - start)) s"
((fails == 0 && status == 0)) || fail "see the UVSD-FAIL lines above and $log"
msg "PASS"
