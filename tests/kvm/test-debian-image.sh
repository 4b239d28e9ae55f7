#!/bin/bash
# The Debian 12 image of scripts/build-debian-image (issue 4) boots through
# uvmm's guest firmware to systemd's login prompt on the serial console,
# from the raw image and from the qcow2 image. The image is built (or found
# in the cache) by the ctest fixture image.debian on the outer machine, since
# an L1 guest has no network. uvmm writes to its disk, so the raw boot gets a
# sparse copy and the qcow2 boot an overlay whose backing file is the cached
# qcow2 image: the cache is never changed.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

# The fixture leaves the image's path here (in L1, $HOME and so the cache
# path differ).
pathfile=$UV_BUILD_DIR/debian-image.path
raw=$(cat "$pathfile" 2>/dev/null) ||
	uv_fail "no $pathfile: the Debian image is not built (ctest fixture image.debian, scripts/build-debian-image)"
qcow=${raw%.raw}.qcow2
[[ -f $raw && -f $qcow ]] || uv_fail "missing $raw or $qcow"
t=$(uv_timeout "${UV_IMAGE_TIMEOUT:-900}")
# uv_bg's own limit for uvmm: a Debian boot to login took 211-249 s in a
# quiet L1 and over 360 s (lib.sh's default) in a loaded one.
UV_BOOT_TIMEOUT_S=$((t + 60))

# login_boot LABEL DISKSPEC: boots to the login prompt; fails otherwise.
login_boot() {
	local label=$1 start
	uv_bg run --disk "$2" --memory 1G
	start=$SECONDS
	until grep -a -q 'login:' "$UV_LOG"; do
		kill -0 "$UV_BG_PID" 2>/dev/null || {
			uv_bg_wait
			uv_fail "$label: uvmm exited (status $UV_RC) before the login prompt"
		}
		((SECONDS - start < t)) || uv_fail "$label: no login prompt within ${t}s"
		sleep 2
	done
	grep -a -q "^uvfw: booting 'Debian GNU/Linux 12" "$UV_LOG" ||
		uv_fail "$label: the firmware did not say it booted the Debian BLS entry"
	grep -a -q 'Linux version' "$UV_LOG" || uv_fail "$label: a login prompt but no kernel banner"
	uv_info "$label: login prompt $((SECONDS - start)) s after uvmm started: $(grep -a -m1 'login:' "$UV_LOG")"
	kill "$UV_BG_PID" 2>/dev/null || true
	uv_bg_wait
}

copy=$UV_LOCAL_TMP/debian.raw
cp --sparse=always "$raw" "$copy"
login_boot raw "$copy,format=raw"
rm -f "$copy"

overlay=$UV_LOCAL_TMP/debian-overlay.qcow2
qemu-img create -q -f qcow2 -F qcow2 -b "$qcow" "$overlay"
login_boot qcow2 "$overlay,format=qcow2"
qemu-img check -q "$overlay" || uv_fail "qemu-img check finds fault with the overlay uvmm wrote"
uv_info "the Debian image reached its login prompt from raw and from qcow2"
