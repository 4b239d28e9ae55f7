#!/bin/bash
# The serial console in both directions, on each kind of --console:
#   stdio       the console is uvmm's stdin/stdout (pipes here)
#   unix:PATH   uvmm listens on a Unix socket; the test connects with socat
#   pty         uvmm prints the pseudo-terminal's path (/dev/pts/N) on stderr;
#               a child process opens it (never the test's shell, so that the
#               pty cannot become the test's controlling terminal)
# The guest (uv.echo=1) prints "UVTEST echo-ready", reads one line and prints
# it back as "UVTEST echo=LINE", then powers off: uvmm must exit 0.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

command -v socat >/dev/null || uv_fail "socat is not installed (apt-get install socat)"

wait_s=$(uv_timeout 360)
cmdline="$UV_CMDLINE uv.echo=1"

# check_echo IN_FD OUT_FD WHAT: the dialogue over the two descriptors; the
# console output goes to $UV_LOG.
check_echo() {
	local in=$1 out=$2 what=$3 line got
	line="hello uvmm $what $$-$RANDOM a.b/c=d [x] 'q' \"dq\" 100%"
	uv_read_until "$in" '^UVTEST echo-ready' "$UV_LOG" "$wait_s" ||
		uv_fail "$what: no 'UVTEST echo-ready' within ${wait_s}s"
	printf '%s\n' "$line" >&"$out"
	uv_read_until "$in" '^UVTEST echo=' "$UV_LOG" "$wait_s" ||
		uv_fail "$what: no 'UVTEST echo=' within ${wait_s}s after sending a line"
	got=$(uv_value echo)
	[[ $got == "$line" ]] || uv_fail "$what: sent '$line', the guest read '$got'"
	uv_read_until "$in" '^UVTEST action=poweroff' "$UV_LOG" "$wait_s" ||
		uv_fail "$what: the guest did not reach poweroff"
	uv_info "$what: the line came back intact"
}

# peer_echo WHAT CMD...: runs CMD (a client of the console) as a coprocess
# and holds the dialogue through it.
peer_echo() {
	local what=$1 peer_pid peer_out peer_in
	shift
	coproc PEER { exec "$@"; }
	# shellcheck disable=SC2153 # set by coproc
	peer_pid=$PEER_PID
	exec {peer_out}<&"${PEER[0]}" {peer_in}>&"${PEER[1]}"
	check_echo "$peer_out" "$peer_in" "$what"
	uv_bg_wait
	exec {peer_out}<&- {peer_in}>&-
	kill "$peer_pid" 2>/dev/null || true
	wait "$peer_pid" 2>/dev/null || true
}

# --- stdio: uvmm as the coprocess, its stdin and stdout are pipes ----------
uv__next_logs
uv_info "boot $UV_BOOTS: uvmm run --console stdio (stdin/stdout are pipes)"
coproc VM {
	exec timeout -k 10 "$UV_BOOT_TIMEOUT_S" "$UVMM" run --kernel "$UV_KERNEL_PATH" \
		--initrd "$UV_INITRAMFS" --console stdio --cmdline "$cmdline" 2>"$UV_ERR"
}
# shellcheck disable=SC2153 # set by coproc
vm_pid=$VM_PID
exec {vm_out}<&"${VM[0]}" {vm_in}>&"${VM[1]}"
check_echo "$vm_out" "$vm_in" stdio
UV_RC=0
wait "$vm_pid" || UV_RC=$?
exec {vm_out}<&- {vm_in}>&-
uv_info "boot $UV_BOOTS: exit status $UV_RC ($(uv_status_name "$UV_RC"))"
uv_expect_status 0

# --- unix:PATH: uvmm listens, socat connects --------------------------------
# Socket paths are limited to 107 bytes and sockets may not work on a shared
# build directory, so the socket lives in a short local temporary directory.
sockdir=$(mktemp -d "${TMPDIR:-/tmp}/uvcon.XXXXXX")
sock=$sockdir/console.sock
uv_bg run --kernel "$UV_KERNEL_PATH" --initrd "$UV_INITRAMFS" \
	--console "unix:$sock" --cmdline "$cmdline"
if ! uv_wait_file -S "$sock" "$(uv_timeout 30)"; then
	rm -rf "$sockdir"
	uv_fail "unix: uvmm did not create the socket $sock"
fi
stdout_log=$UV_LOG
UV_LOG=$UV_TMP/boot-$UV_BOOTS.console.log
peer_echo unix socat - "UNIX-CONNECT:$sock"
rm -rf "$sockdir"
uv_expect_status 0
[[ ! -s $stdout_log ]] ||
	uv_info "unix: uvmm also wrote $(wc -c <"$stdout_log") bytes to its stdout"

# --- pty: uvmm names /dev/pts/N on stderr -----------------------------------
uv_bg run --kernel "$UV_KERNEL_PATH" --initrd "$UV_INITRAMFS" \
	--console pty --cmdline "$cmdline"
deadline=$((SECONDS + $(uv_timeout 30)))
pts=
while :; do
	pts=$(grep -Eo '/dev/pts/[0-9]+' "$UV_ERR" | head -n 1 || true)
	[[ -z $pts ]] || break
	if ! kill -0 "$UV_BG_PID" 2>/dev/null; then
		uv_bg_wait
		uv_fail "pty: uvmm exited before printing a /dev/pts/N path on stderr"
	fi
	((SECONDS < deadline)) || uv_fail "pty: uvmm did not print a /dev/pts/N path on stderr"
	sleep 0.1
done
[[ -c $pts ]] || uv_fail "pty: $pts (from uvmm's stderr) is not a character device"
UV_LOG=$UV_TMP/boot-$UV_BOOTS.console.log
# The pty is opened once and kept open to the end (a pty master sees a
# hang-up each time the last holder of the slave closes it). Raw and without
# echo, so that the guest's output is not reflected back to it and the line
# goes out as typed (uvmm should have set that already).
# shellcheck disable=SC2016 # expanded by the inner bash
peer_echo pty bash -c 'exec 3<>"$1" && stty raw -echo <&3 && exec socat - FD:3' pty-peer "$pts"
uv_expect_status 0
