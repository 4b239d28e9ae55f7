#!/bin/bash
# Boots the Debian 12 image of scripts/build-debian-image to its login prompt
# on the serial console, and fails clearly if it does not get there.
#
#   test-debian-image.sh [--vmm qemu|uvmm] [--in-place] [--timeout SECS] [IMAGE]
#
#   --vmm qemu (default): qemu-system-x86_64 -accel tcg with SeaBIOS, so GRUB
#       in the MBR and the BIOS boot partition boots the image. QEMU runs
#       with -snapshot: the image is not changed.
#   --vmm uvmm: $UV_BUILD_DIR/vmm/uvmm run --disk COPY --memory 1G, the
#       guest firmware reading the BLS entry. uvmm writes to its disk, so it
#       boots a sparse copy in $UV_IMAGE_TMP (default $TMPDIR, else /tmp;
#       in the nested harness give a --rw directory), or with --in-place
#       IMAGE itself (a copy the caller made); needs /dev/kvm (run it
#       through scripts/kvm-run or scripts/nested-run).
#
# IMAGE defaults to the raw image that build-debian-image --print-path names
# (built first if it is not cached). Prints the time to the login prompt.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
vmm=qemu
timeout=${UV_IMAGE_TIMEOUT:-1200}
img=
in_place=0
while (($#)); do
	case $1 in
	--vmm) vmm=$2 && shift 2 ;;
	--timeout) timeout=$2 && shift 2 ;;
	--in-place) in_place=1 && shift ;;
	-h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' && exit 0 ;;
	-*) echo "test-debian-image: unknown option $1" >&2 && exit 2 ;;
	*) img=$1 && shift ;;
	esac
done

fail() {
	echo "test-debian-image: FAIL: $*" >&2
	exit 1
}

if [[ -z $img ]]; then
	img=$("$top/scripts/build-debian-image" --print-path) || fail "building the image failed"
fi
[[ -f $img ]] || fail "no image at $img"
case $img in
*.qcow2) fmt=qcow2 ;;
*) fmt=raw ;;
esac

tmp=$(mktemp -d "${UV_IMAGE_TMP:-${TMPDIR:-/tmp}}/debian-image-XXXXXX")
log=$tmp/console.log
: >"$log" || fail "cannot write $log"
pid=
ok=0
cleanup() {
	[[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -f "$tmp/disk.$fmt"
	((ok)) && rm -rf "$tmp"
	true
}
trap cleanup EXIT

case $vmm in
qemu)
	cmd=(qemu-system-x86_64 -accel tcg -m 1024 -nographic -no-reboot -snapshot
		-drive "file=$img,format=$fmt,if=virtio")
	;;
uvmm)
	uvmm=${UV_UVMM:-${UV_BUILD_DIR:-$top/build}/vmm/uvmm}
	[[ -x $uvmm ]] || fail "uvmm not found at $uvmm (build it first)"
	disk=$img
	if ((!in_place)); then
		disk=$tmp/disk.$fmt
		cp --sparse=always "$img" "$disk"
	fi
	cmd=("$uvmm" run --disk "$disk,format=$fmt" --memory 1G)
	;;
*) fail "--vmm must be qemu or uvmm" ;;
esac

echo "test-debian-image: ${cmd[*]} (timeout ${timeout}s, console: $log)" >&2
start=$SECONDS
"${cmd[@]}" </dev/null >"$log" 2>&1 &
pid=$!
while :; do
	if tr -d '\r' <"$log" | grep -a -q 'login:'; then
		break
	fi
	if ! kill -0 "$pid" 2>/dev/null; then
		wait "$pid" && rc=0 || rc=$?
		pid=
		echo "--- last console lines:" >&2
		tr -d '\r' <"$log" | tail -n 30 >&2
		fail "$vmm exited with status $rc after $((SECONDS - start))s without a login prompt"
	fi
	if ((SECONDS - start >= timeout)); then
		echo "--- last console lines:" >&2
		tr -d '\r' <"$log" | tail -n 30 >&2
		fail "no login prompt within ${timeout}s"
	fi
	sleep 2
done
elapsed=$((SECONDS - start))
tr -d '\r' <"$log" | grep -a -m1 'login:' >&2
grep -a -q 'Linux version' "$log" || fail "a login prompt, but no kernel banner"
# The boot went through the boot loader under test.
case $vmm in
qemu) grep -a -q "Booting \`Debian GNU/Linux 12" "$log" || fail "GRUB did not say it booted the Debian entry" ;;
uvmm) grep -a -q "uvfw: booting 'Debian GNU/Linux 12" "$log" || fail "uvfw did not say it booted the BLS entry" ;;
esac
ok=1
echo "test-debian-image: PASS: $vmm reached the login prompt in ${elapsed}s" >&2
