#!/bin/bash
# QEMU as the vhost-user front end of our iopartd, on this machine with TCG
# (no KVM, no nesting): a Debian kernel's own virtio drivers in QEMU's guest
# talk to iopartd through QEMU's vhost-user-blk-pci and vhost-user-rng-pci.
#
#   1. blk, 2 queues (-smp 2): the guest makes an ext4, writes three files,
#      prints their checksums, powers off;
#   2. a fresh QEMU, same iopartd: the guest reads them back, same checksums;
#   3. iopartd restarted (SIGTERM, new process on the same image and
#      socket), one queue: read back again, same checksums;
#   4. a read-only export: the guest sees the disk read-only and a direct
#      write to it is refused;
#   5. rng: the guest's hw_random is virtio_rng and reads 64 bytes.
#
# Any failure prints the guest console, QEMU's stderr and iopartd's log.
# Environment: UV_BUILD_DIR (required), UV_SOURCE_DIR, UV_KERNEL,
# UV_INITRAMFS, UV_TIMEOUT_SCALE, UV_QEMU (default qemu-system-x86_64),
# UV_KEEP_TMP=1. Nothing is ever skipped: a missing QEMU or device fails.
set -euo pipefail

NAME=$(basename "$0" .sh)
UV_SOURCE_DIR=${UV_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
QEMU=${UV_QEMU:-qemu-system-x86_64}
T=
IOP_PID=
IOP_LOG=
CONSOLE=
QERR=
NBOOT=0

info() { printf '# %s\n' "$*"; }

# dump WHAT FILE LINES
dump() {
	[[ -n $2 && -s $2 ]] || return 0
	printf -- '----- %s: %s (last %d lines) -----\n' "$1" "$2" "$3" >&2
	tail -n "$3" "$2" | tr -d '\r' >&2
	printf -- '----- end of %s -----\n' "$1" >&2
}

fail() {
	printf 'FAIL: %s: %s\n' "$NAME" "$*" >&2
	# The shortest and most telling first: CI shows only part of the output.
	dump "qemu stderr" "$QERR" 40
	dump "iopartd log" "$IOP_LOG" 60
	dump "guest console" "$CONSOLE" 80
	exit 1
}

cleanup() {
	local rc=$?
	[[ -n $IOP_PID ]] && kill -9 "$IOP_PID" 2>/dev/null
	if [[ -n $T && -d $T ]]; then
		find "$T" -name '*.img' -delete 2>/dev/null || true
		if ((rc == 0)) && [[ ${UV_KEEP_TMP:-0} != 1 ]]; then
			rm -rf "$T"
		else
			echo "# logs kept in $T" >&2
		fi
	fi
	((rc == 0)) && echo "PASS: $NAME"
	exit "$rc"
}

# scaled SECONDS: SECONDS * UV_TIMEOUT_SCALE, rounded up.
scaled() {
	awk -v s="$1" -v k="${UV_TIMEOUT_SCALE:-1}" 'BEGIN {
		if (k !~ /^[0-9]*\.?[0-9]+$/ || k <= 0) k = 1
		t = s * k; printf "%d\n", (t == int(t)) ? t : int(t) + 1 }'
}

# iopartd_start EXPORT...: starts iopartd, waits until every socket listens.
iopartd_start() {
	local spec sock i
	IOP_LOG=$T/iopartd-$((NBOOT + 1)).log
	"$IOPARTD" --log-level info "${@/#/--export=}" 2>"$IOP_LOG" &
	IOP_PID=$!
	for spec in "$@"; do
		sock=${spec##*socket=}
		sock=${sock%%,*}
		for ((i = 0; i < 100; i++)); do
			[[ -S $sock ]] && break
			kill -0 "$IOP_PID" 2>/dev/null || fail "iopartd exited at startup"
			sleep 0.1
		done
		[[ -S $sock ]] || fail "iopartd: no socket $sock after 10 s"
	done
	info "iopartd $* (pid $IOP_PID)"
}

iopartd_stop() {
	local rc=0
	kill -TERM "$IOP_PID"
	wait "$IOP_PID" || rc=$?
	IOP_PID=
	((rc == 0)) || fail "iopartd exited $rc on SIGTERM"
}

# qemu_aborted_early: QEMU died of SIGABRT before the guest probed a virtio
# device, and said nothing of vhost: its own failure, not the interop's.
qemu_aborted_early() {
	! grep -qsi 'vhost' "$QERR" && ! grep -qs 'virtio_blk\|\[vda\]\|virtio_rng\|hwrng' "$CONSOLE"
}

# qemu_boot KCMDLINE QEMU-ARGS...: boots the guest, console to $CONSOLE.
qemu_boot() {
	local append=$1 rc=0 t0=$SECONDS try
	shift
	NBOOT=$((NBOOT + 1))
	CONSOLE=$T/boot-$NBOOT.console
	QERR=$T/boot-$NBOOT.qemu-err
	for try in 1 2; do
		info "boot $NBOOT: $append; $*"
		rc=0
		timeout -k 10 "$BOOT_TIMEOUT" "$QEMU" -accel tcg -m 512 -nic none \
			-object memory-backend-memfd,id=mem,size=512M,share=on -numa node,memdev=mem \
			-kernel "$KERNEL" -initrd "$INITRAMFS" \
			-append "console=ttyS0 panic=-1 $append" \
			-display none -serial "file:$CONSOLE" -monitor none -no-reboot \
			"$@" </dev/null >"$QERR" 2>&1 || rc=$?
		info "boot $NBOOT: qemu exit $rc after $((SECONDS - t0)) s"
		# Once in CI (2026-11-26), QEMU 10.0's TCG aborted 4 s into a boot,
		# in the guest's early memory set-up: never seen here in 14 runs.
		# Such a boot is shown whole and run once more; a second abort, or
		# one that mentions vhost or comes after the probe, fails the test.
		((rc == 134 && try == 1)) && qemu_aborted_early || break
		info "boot $NBOOT: QEMU aborted on its own (no vhost message, device not probed yet); its stderr:"
		sed 's/^/# qemu: /' "$QERR"
		mv "$QERR" "$QERR.abort"
		[[ ! -e $CONSOLE ]] || mv "$CONSOLE" "$CONSOLE.abort"
		t0=$SECONDS
	done
	((rc != 124 && rc != 137)) || fail "boot $NBOOT: timed out after $BOOT_TIMEOUT s"
	((rc == 0)) || fail "boot $NBOOT: qemu exit status $rc"
	# QEMU says so on stderr when the back end refused a vhost-user request;
	# the guest may not notice, so the boots go on and the end fails.
	# Its warnings (e.g. a protocol feature it does not use) are only shown.
	grep -i 'vhost' "$QERR" | grep -i 'warning:' | sed "s/^/# boot $NBOOT: /" || true
	if grep -i 'vhost' "$QERR" | grep -qvi 'warning:'; then
		grep -i 'vhost' "$QERR" | grep -vi 'warning:' | sed "s/^/boot $NBOOT: /" >>"$T/vhost-errors"
		info "boot $NBOOT: QEMU reported a vhost-user error: $(grep -i -m 1 vhost "$QERR")"
	fi
	! grep -q 'Kernel panic' "$CONSOLE" || fail "boot $NBOOT: guest kernel panic"
}

# value KEY: the value of the last "UVTEST KEY=" line of the last boot.
value() {
	local v
	v=$(tr -d '\r' <"$CONSOLE" | sed -n "s/^.*UVTEST $1=//p" | tail -n 1)
	[[ -n $v ]] || fail "boot $NBOOT: no 'UVTEST $1=' line"
	# The values checked here have no blanks; a kernel message may follow.
	v=${v%%\[*}
	printf '%s\n' "${v%% *}"
}

# shas: the sorted "sha-NAME=SUM" lines of the last boot.
# A kernel message may land on the same console line right after the sum:
# only 64 hex digits count.
shas() {
	tr -d '\r' <"$CONSOLE" | grep -o 'UVTEST sha-[^=]*=[0-9a-f]\{64\}' | sed 's/^UVTEST //' | sort
}

expect_value() {
	local v
	v=$(value "$1")
	[[ $v == "$2" ]] || fail "boot $NBOOT: UVTEST $1=$v, expected $2"
}

trap cleanup EXIT
[[ -n ${UV_BUILD_DIR:-} && -d $UV_BUILD_DIR ]] || fail "UV_BUILD_DIR is not a build directory"
UV_BUILD_DIR=$(cd "$UV_BUILD_DIR" && pwd)
mkdir -p "$UV_BUILD_DIR/test-tmp"
T=$(mktemp -d "$UV_BUILD_DIR/test-tmp/$NAME.XXXXXX")
IOPARTD=$UV_BUILD_DIR/iopartd/iopartd
[[ -x $IOPARTD ]] || fail "no iopartd at $IOPARTD (build it first)"
command -v "$QEMU" >/dev/null || fail "$QEMU not found (apt-get install qemu-system-x86)"
for dev in vhost-user-blk-pci vhost-user-rng-pci; do
	grep -q "\"$dev\"" < <("$QEMU" -device help 2>&1) || fail "$QEMU has no $dev device"
done
KERNEL=$("$UV_SOURCE_DIR/scripts/find-kernel") || fail "no guest kernel (set UV_KERNEL)"
INITRAMFS=${UV_INITRAMFS:-$UV_BUILD_DIR/guest/initramfs.cpio.gz}
if [[ ! -f $INITRAMFS || $UV_SOURCE_DIR/scripts/lib/guest-init -nt $INITRAMFS ||
	$UV_SOURCE_DIR/scripts/build-guest-initramfs -nt $INITRAMFS ]]; then
	"$UV_SOURCE_DIR/scripts/build-guest-initramfs" "$INITRAMFS" ||
		fail "could not build the guest initramfs $INITRAMFS"
fi
# A TCG boot takes 20-60 s here; a loaded shared machine may triple that.
BOOT_TIMEOUT=$(scaled "${UV_BOOT_TIMEOUT:-600}")
info "$("$QEMU" --version | head -n 1); kernel=$KERNEL initramfs=$INITRAMFS tmp=$T"

IMG=$T/disk.img
SOCK=$T/blk.sock
truncate -s 64M "$IMG"
BLK="vhost-user-blk,path=$IMG,socket=$SOCK,num-queues=2"
BLKARGS=(-chardev "socket,id=c0,path=$SOCK")

# 1. write, over two queues.
iopartd_start "$BLK"
qemu_boot "uv.action=blk-write uv.blk=vda" -smp 2 "${BLKARGS[@]}" \
	-device vhost-user-blk-pci,chardev=c0,num-queues=2
expect_value blk-write ok
written=$(shas)
[[ $(wc -l <<<"$written") == 3 ]] || fail "expected 3 checksums, got: $written"

# 2. read back through the same iopartd, from a new front end.
qemu_boot "uv.action=blk-verify uv.blk=vda" -smp 2 "${BLKARGS[@]}" \
	-device vhost-user-blk-pci,chardev=c0,num-queues=2
expect_value blk-verify ok
[[ $(shas) == "$written" ]] || fail "checksums differ: wrote
$written
read
$(shas)"

# 3. and through a restarted iopartd, one queue.
iopartd_stop
iopartd_start "$BLK"
qemu_boot "uv.action=blk-verify uv.blk=vda" "${BLKARGS[@]}" \
	-device vhost-user-blk-pci,chardev=c0,num-queues=1
expect_value blk-verify ok
[[ $(shas) == "$written" ]] || fail "checksums differ after the restart"
iopartd_stop

# 4. read-only: the flag shows and a direct write is refused; the image is
# untouched.
sum0=$(sha256sum <"$IMG")
iopartd_start "vhost-user-blk,path=$IMG,socket=$SOCK,readonly=on"
qemu_boot "uv.action=blk-ro uv.blk=vda" "${BLKARGS[@]}" \
	-device vhost-user-blk-pci,chardev=c0
expect_value ro-flag 1
expect_value ro-write refused
expect_value blk-ro "done"
iopartd_stop
[[ $(sha256sum <"$IMG") == "$sum0" ]] || fail "the read-only image changed"

# 5. rng.
iopartd_start "vhost-user-rng,socket=$T/rng.sock"
qemu_boot "uv.action=rng" -chardev "socket,id=r0,path=$T/rng.sock" \
	-device vhost-user-rng-pci,chardev=r0
expect_value rng ok
iopartd_stop

if [[ -s $T/vhost-errors ]]; then
	QERR=$T/vhost-errors CONSOLE=
	fail "QEMU reported vhost-user errors (all of the guests' data checks passed)"
fi
