#!/bin/bash
# virtio-console through a stock kernel's driver (virtio_console, /dev/hvc0),
# its host end a unix socket that the test attaches to with socat:
#   1. back end in-process: uvmm --virtio-console unix:SOCK;
#   2. back end in iopartd: iopartd --export
#      vhost-user-console,socket=VU,console=unix:SOCK and uvmm
#      --virtio-console vhost-user=VU; iopartd then exits 0 on SIGTERM.
# The guest (uv.action=vcon) writes "UVTEST vcon-ready" on hvc0, reads one
# line from it and writes "UVTEST vcon-echo=LINE" on hvc0 and on the serial
# console, then powers off: uvmm must exit 0. The test attaches once the
# serial console shows the action started, so the ready line may come from
# the socket's backlog of output sent before anyone listened.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

IOPARTD=${UV_IOPARTD:-$UV_BUILD_DIR/iopartd/iopartd}
command -v socat >/dev/null || uv_fail "socat is not installed (apt-get install socat)"
[[ -x $IOPARTD ]] || uv_fail "iopartd not found at $IOPARTD (build it first)"

wait_s=$(uv_timeout 360)
cmdline="$UV_CMDLINE uv.action=vcon"
# Sockets live in /tmp: the nested harness's 9p share cannot hold them.
sockdir=$(mktemp -d /tmp/uvtest-vcon.XXXXXX)

# wait_serial WHAT REGEX: waits until the serial console of the uv_bg guest
# ($UV_LOG) has a line matching REGEX, while uvmm runs.
wait_serial() {
	local what=$1 re=$2 deadline
	deadline=$((SECONDS + wait_s))
	until grep -Eq -- "$re" < <(tr -d '\r' <"$UV_LOG"); do
		if ! kill -0 "$UV_BG_PID" 2>/dev/null; then
			uv_bg_wait
			uv_fail "$what: uvmm exited before the serial console showed /$re/"
		fi
		((SECONDS < deadline)) || uv_fail "$what: no /$re/ on the serial console within ${wait_s}s"
		sleep 0.5
	done
}

# vcon_dialogue WHAT SOCK: attaches socat to the console socket SOCK as a
# coprocess, holds the dialogue (hvc0's side goes to a log of its own), then
# waits for uvmm to exit and checks what the serial console said.
vcon_dialogue() {
	local what=$1 sock=$2 line got peer_pid peer_out peer_in log
	log=$UV_TMP/boot-$UV_BOOTS.hvc0.log
	line="hello hvc0 $what $$-$RANDOM a.b/c=d [x] 'q' \"dq\" 100%"
	wait_serial "$what" '^UVTEST action=vcon'
	[[ -S $sock ]] || uv_fail "$what: no console socket $sock"
	coproc PEER { exec socat - "UNIX-CONNECT:$sock"; }
	# shellcheck disable=SC2153 # set by coproc
	peer_pid=$PEER_PID
	exec {peer_out}<&"${PEER[0]}" {peer_in}>&"${PEER[1]}"
	uv_read_until "$peer_out" '^UVTEST vcon-ready' "$log" "$wait_s" ||
		uv_fail "$what: no 'UVTEST vcon-ready' on the console socket within ${wait_s}s"
	printf '%s\n' "$line" >&"$peer_in"
	uv_read_until "$peer_out" '^UVTEST vcon-echo=' "$log" "$wait_s" ||
		uv_fail "$what: no 'UVTEST vcon-echo=' on the console socket after sending a line"
	got=$(uv_value vcon-echo "$log")
	[[ $got == "$line" ]] || uv_fail "$what: sent '$line' on hvc0, the guest read '$got'"
	uv_bg_wait
	exec {peer_out}<&- {peer_in}>&-
	kill "$peer_pid" 2>/dev/null || true
	wait "$peer_pid" 2>/dev/null || true
	uv_expect_status 0
	[[ $(uv_value vcon) == ok ]] || uv_fail "$what: the guest's vcon action failed"
	got=$(uv_value vcon-echo)
	[[ $got == "$line" ]] || uv_fail "$what: the serial console says the guest read '$got'"
	uv_info "$what: a line went to the guest's hvc0 and came back intact"
}

# --- 1. in-process back end ---------------------------------------------------
con=$sockdir/vcon1.sock
uv_bg run --kernel "$UV_KERNEL_PATH" --initrd "$UV_INITRAMFS" --memory 256M \
	--virtio-console "unix:$con" --cmdline "$cmdline"
vcon_dialogue in-process "$con"
[[ ! -e $con ]] || uv_fail "in-process: uvmm left its console socket $con behind"

# --- 2. iopartd serves the console --------------------------------------------
con=$sockdir/vcon2.sock
vu=$sockdir/vu.sock
"$IOPARTD" --export "vhost-user-console,socket=$vu,console=unix:$con" \
	2>"$UV_TMP/iopartd.err" &
iopartd_pid=$!
uv_wait_file -S "$vu" "$(uv_timeout 10)" ||
	uv_fail "iopartd did not create $vu: $(cat "$UV_TMP/iopartd.err")"
uv_bg run --kernel "$UV_KERNEL_PATH" --initrd "$UV_INITRAMFS" --memory 256M \
	--virtio-console "vhost-user=$vu" --cmdline "$cmdline"
vcon_dialogue iopartd "$con"
kill "$iopartd_pid"
rc=0
wait "$iopartd_pid" || rc=$?
((rc == 0)) || uv_fail "iopartd exited $rc on SIGTERM: $(cat "$UV_TMP/iopartd.err")"
[[ ! -e $vu && ! -e $con ]] || uv_fail "iopartd left a socket behind in $sockdir"
uv_info "iopartd: exited 0 on SIGTERM and removed its sockets"
rm -rf "$sockdir"
