# shellcheck shell=bash
# Helpers for the KVM tests (tests/kvm/test-*.sh). Source it first thing:
#
#   . "$(dirname "$0")/lib.sh"
#
# Inputs (environment; ctest sets the first two):
#   UV_BUILD_DIR      build tree; uvmm is $UV_BUILD_DIR/vmm/uvmm
#   UV_SOURCE_DIR     source tree (default: two levels above this file)
#   UV_UVMM           the uvmm binary to test (default $UV_BUILD_DIR/vmm/uvmm)
#   UV_KERNEL         the guest kernel (default: scripts/find-kernel)
#   UV_INITRAMFS      the guest initramfs (default
#                     $UV_BUILD_DIR/guest/initramfs.cpio.gz, built by
#                     scripts/build-guest-initramfs when missing or stale)
#   UV_TIMEOUT_SCALE  multiplies every timeout (default 1; decimals allowed)
#   UV_BOOT_TIMEOUT   seconds one guest boot may take before scaling (360)
#   UV_TEST_KCMDLINE  extra words for every guest kernel command line
#   UV_KEEP_TMP=1     keep the per-test temporary directory after a pass
#   UV_STALL_S        inside the nested harness only: seconds without console
#                     output after which a boot counts as stalled (150)
#
# A test that cannot run fails (exit 1); nothing here ever skips.

set -euo pipefail

# Inside the nested harness, QEMU's TCG emulation of nested SVM sometimes
# breaks an L2 guest (docs/testing.md, "Known flake"), and the L1 seems to
# stay damaged after that. A test that sees the signature exits
# $UV_FLAKE_STATUS (98): scripts/kvm-run has nested-run run it again in a new
# L1 (UV_NESTED_RETRY_STATUS). A real failure is not retried.
UV_FLAKE_STATUS=98

UV_TEST_NAME=$(basename "$0" .sh)
UV_SOURCE_DIR=${UV_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
# shellcheck disable=SC2034 # used by the tests
UV_BANNER='ULTRAVISOR-GUEST: userspace up'
# Every test guest: serial console, reboot at once on a panic (so that a
# broken boot ends as status 3 instead of hanging until the timeout).
# shellcheck disable=SC2034 # used by the tests
UV_CMDLINE="console=ttyS0 panic=-1${UV_TEST_KCMDLINE:+ $UV_TEST_KCMDLINE}"

UV_TMP=
UV_LOCAL_TMP=
UV_LOG=
UV_ERR=
UV_RC=
UV_BOOTS=0

uv_info() { printf '# %s\n' "$*"; }

# Prints a file to stderr, only its last 300 lines if it is longer.
uv__dump() {
	local title=$1 file=$2 n
	[[ -n $file && -e $file ]] || return 0
	n=$(wc -l <"$file")
	if ((n > 300)); then
		printf -- '----- %s: %s (last 300 of %d lines) -----\n' "$title" "$file" "$n" >&2
		tail -n 300 "$file" | tr -d '\r' >&2
	else
		printf -- '----- %s: %s -----\n' "$title" "$file" >&2
		tr -d '\r' <"$file" >&2
	fi
	printf -- '----- end of %s -----\n' "$title" >&2
}

# uv_fail MESSAGE...: reports the failure with the last console log and
# uvmm's stderr, then exits 1. Guests still running are stopped first with
# SIGTERM, which makes uvmm log its vCPUs' registers.
#
# Inside the nested harness a failure that comes with the signature of the
# known flake (uv_nested_flake) exits $UV_FLAKE_STATUS (see the top).
uv_fail() {
	printf 'FAIL: %s: %s\n' "$UV_TEST_NAME" "$*" >&2
	uv__stop_jobs
	uv__dump "guest console" "$UV_LOG"
	uv__dump "uvmm stderr" "$UV_ERR"
	uv__exit_if_flake
	exit 1
}

# Exits $UV_FLAKE_STATUS when the last boot's stderr shows the known flake.
uv__exit_if_flake() {
	if [[ -n $UV_ERR && -f $UV_ERR ]] && uv_nested_flake "$UV_ERR"; then
		echo "# KNOWN-FLAKE: boot $UV_BOOTS: $(uv__flake_why "$UV_ERR"); asking for a new L1" >&2
		exit "$UV_FLAKE_STATUS"
	fi
}

# Stops the test's background jobs (uvmm under timeout, socat, iopartd):
# SIGTERM, up to 15 s to exit, then SIGKILL.
uv__stop_jobs() {
	local pid pids i
	pids=$(jobs -p)
	[[ -n $pids ]] || return 0
	for pid in $pids; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for ((i = 0; i < 150; i++)); do
		for pid in $pids; do
			kill -0 "$pid" 2>/dev/null && break
			pid=
		done
		[[ -n $pid ]] || break
		sleep 0.1
	done
	for pid in $pids; do
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
}

# uv__kvm_module_ranges: "BASE END" (decimal, as bash integers) of each
# KVM module of this (L1) kernel.
uv__kvm_module_ranges() {
	local name size _ _ _ base
	while read -r name size _ _ _ base _; do
		case $name in
		kvm | kvm_amd | kvm_intel) echo "$((base)) $((base + size))" ;;
		esac
	done </proc/modules
}

# uv__flake_why ERRFILE: the line of uvmm's stderr that shows the flake.
uv__flake_why() {
	local rip lo hi
	if grep -q 'triple fault' "$1"; then
		grep -m 1 'triple fault' "$1"
		return
	fi
	# A healthy kernel always lets a signal take a vCPU out of KVM_RUN.
	if grep -q 'terminated by SIGTERM' "$1" && ! grep -q 'vCPU [0-9]*: rip' "$1"; then
		echo "uvmm could not take its vCPU out of KVM_RUN after SIGTERM: L1's KVM no longer answers"
		return
	fi
	while read -r rip; do
		while read -r lo hi; do
			if (("0x$rip" >= lo && "0x$rip" < hi)); then
				echo "vCPU rip $rip lies in this L1 kernel's own KVM module: the L2 guest state was replaced by the L1 hypervisor's"
				return
			fi
		done < <(uv__kvm_module_ranges)
	done < <(sed -n 's/^.*vCPU [0-9]*: rip \([0-9a-f]*\) .*$/\1/p' "$1")
	return 1
}

# uv_nested_flake ERRFILE: true, inside the nested harness only, when uvmm's
# stderr shows that nested TCG broke the guest (uv__flake_why): a triple
# fault (status 4), a vCPU SIGTERM could not stop, or vCPU registers (logged
# when uvmm was stopped) that are the L1 KVM module's own code rather than
# the guest's -- the guest then stalls silently.
uv_nested_flake() {
	[[ ${UV_IN_NESTED:-0} == 1 ]] || return 1
	uv__flake_why "$1" >/dev/null
}

# uv_timeout SECONDS: prints SECONDS * UV_TIMEOUT_SCALE, rounded up.
uv_timeout() {
	awk -v s="$1" -v k="${UV_TIMEOUT_SCALE:-1}" 'BEGIN {
		if (k !~ /^[0-9]*\.?[0-9]+$/ || k <= 0) k = 1
		t = s * k; printf "%d\n", (t == int(t)) ? t : int(t) + 1 }'
}

# uv_status_name STATUS: what an exit status of `uvmm run` means.
uv_status_name() {
	case $1 in
	0) echo "guest powered off" ;;
	1) echo "VMM runtime error" ;;
	2) echo "bad invocation or input" ;;
	3) echo "guest rebooted" ;;
	4) echo "guest crashed" ;;
	5) echo "firmware: nothing to boot" ;;
	6) echo "firmware: boot failed" ;;
	7) echo "firmware: self-test failed" ;;
	124) echo "timed out, killed by the test" ;;
	137) echo "killed by SIGKILL" ;;
	143) echo "terminated by SIGTERM" ;;
	*) if (($1 > 128)); then
		echo "killed by signal $(($1 - 128)) ($(kill -l "$(($1 - 128))" 2>/dev/null || echo '?'))"
	else
		echo "unexpected status"
	fi ;;
	esac
}

# uv__cleanup [STATUS]: a test's own EXIT trap passes the status it saw,
# since its own commands have changed $? by the time it calls this.
uv__cleanup() {
	local rc=${1:-$?} pid
	# Background jobs still running (uvmm under timeout, socat): stop them.
	for pid in $(jobs -p); do
		kill "$pid" 2>/dev/null || true
	done
	[[ -z $UV_LOCAL_TMP ]] || rm -rf "$UV_LOCAL_TMP"
	if [[ -n $UV_TMP && -d $UV_TMP ]]; then
		if ((rc == 0)) && [[ ${UV_KEEP_TMP:-0} != 1 ]]; then
			rm -rf "$UV_TMP"
		else
			# Large scratch files (the 100 MiB initrd) are not worth keeping.
			find "$UV_TMP" -type f -size +8M -delete 2>/dev/null || true
			echo "# logs kept in $UV_TMP" >&2
		fi
	fi
	if ((rc == 0)); then
		echo "PASS: $UV_TEST_NAME"
	fi
	exit "$rc"
}

# The initramfs is rebuilt when missing or older than what it is made of.
uv__need_initramfs() {
	local src
	for src in "$UV_SOURCE_DIR/scripts/build-guest-initramfs" \
		"$UV_SOURCE_DIR/scripts/lib/guest-init" "$UV_SOURCE_DIR/scripts/lib/uv-blk-stream"; do
		[[ -f $UV_INITRAMFS && ! $src -nt $UV_INITRAMFS ]] || return 0
	done
	return 1
}

uv__setup() {
	[[ -n ${UV_BUILD_DIR:-} ]] ||
		uv_fail "UV_BUILD_DIR is not set (run the test through ctest, or export UV_BUILD_DIR=<build dir>)"
	[[ -d $UV_BUILD_DIR ]] || uv_fail "UV_BUILD_DIR=$UV_BUILD_DIR is not a directory"
	UV_BUILD_DIR=$(cd "$UV_BUILD_DIR" && pwd)

	mkdir -p "$UV_BUILD_DIR/test-tmp"
	UV_TMP=$(mktemp -d "$UV_BUILD_DIR/test-tmp/$UV_TEST_NAME.XXXXXX")
	# FIFOs and sockets cannot live on the nested harness's 9p share.
	UV_LOCAL_TMP=$(mktemp -d "${TMPDIR:-/tmp}/$UV_TEST_NAME.XXXXXX")
	trap uv__cleanup EXIT

	UVMM=${UV_UVMM:-$UV_BUILD_DIR/vmm/uvmm}
	[[ -x $UVMM ]] || uv_fail "uvmm binary not found at $UVMM (build it first, or set UV_UVMM)"

	UV_KERNEL_PATH=$("$UV_SOURCE_DIR/scripts/find-kernel") ||
		uv_fail "no guest kernel (scripts/find-kernel failed; set UV_KERNEL)"

	UV_INITRAMFS=${UV_INITRAMFS:-$UV_BUILD_DIR/guest/initramfs.cpio.gz}
	if uv__need_initramfs; then
		"$UV_SOURCE_DIR/scripts/build-guest-initramfs" "$UV_INITRAMFS" ||
			uv_fail "could not build the guest initramfs $UV_INITRAMFS"
	fi

	UV_BOOT_TIMEOUT_S=$(uv_timeout "${UV_BOOT_TIMEOUT:-360}")
	uv_info "uvmm=$UVMM kernel=$UV_KERNEL_PATH initramfs=$UV_INITRAMFS timeout=${UV_BOOT_TIMEOUT_S}s tmp=$UV_TMP"
}

# Names the next boot's files: $UV_LOG (console) and $UV_ERR (stderr).
uv__next_logs() {
	UV_BOOTS=$((UV_BOOTS + 1))
	UV_LOG=$UV_TMP/boot-$UV_BOOTS.log
	UV_ERR=$UV_TMP/boot-$UV_BOOTS.err
	: >"$UV_LOG"
	: >"$UV_ERR"
}

# Copies stdin to $1 as it comes, CRs removed, and writes "EPOCH LINE" to
# $1.times for every UVTEST line (host time when the line was read).
uv__logger() {
	local log=$1 line
	while IFS= read -r line || [[ -n $line ]]; do
		line=${line//$'\r'/}
		printf '%s\n' "$line" >>"$log"
		if [[ $line == *UVTEST* ]]; then
			printf '%s %s\n' "${EPOCHREALTIME%.*}" "$line" >>"$log.times"
		fi
	done
}

# uv__stall_watch PID FILE: inside the nested harness, stops PID (SIGTERM;
# uvmm then logs its registers) once FILE has not grown for UV_STALL_S
# seconds, and says so in FILE.stalled. A guest that nested TCG broke prints
# nothing more; waiting for the boot timeout would only cost minutes.
uv__stall_watch() {
	local pid=$1 file=$2 size last=-1 heard=$SECONDS limit
	limit=$(uv_timeout "${UV_STALL_S:-150}")
	# Real time ($SECONDS): on a loaded machine each round takes longer than its sleep.
	while kill -0 "$pid" 2>/dev/null; do
		size=$(stat -c %s "$file" 2>/dev/null || echo 0)
		if [[ $size != "$last" ]]; then
			last=$size
			heard=$SECONDS
		elif ((SECONDS - heard >= limit)); then
			echo "no console output for ${limit}s" >"$file.stalled"
			kill -TERM "$pid" 2>/dev/null || true
			return 0
		fi
		sleep 2
	done
}

# uv__boot ARGS...: runs `uvmm ARGS...` as one boot: console on stdio going
# to $UV_LOG, stderr to $UV_ERR, stdin $UV_STDIN or /dev/null. Returns
# uvmm's exit status (124 when it ran out of time) and leaves it in UV_RC.
#
# Inside the nested TCG harness an L2 guest sometimes triple-faults or stalls
# at a random point (docs/testing.md, "Known flake"); there, and only when
# uv_nested_flake recognises it, the test exits $UV_FLAKE_STATUS to be run
# again in a new L1.
uv__boot() {
	local fifo pid logger watch=
	uv__next_logs
	uv_info "boot $UV_BOOTS: uvmm $*"
	fifo=$UV_LOCAL_TMP/boot-$UV_BOOTS.fifo
	rm -f "$fifo" "$UV_LOG.stalled"
	mkfifo "$fifo"
	uv__logger "$UV_LOG" <"$fifo" &
	logger=$!
	timeout -k 10 "$UV_BOOT_TIMEOUT_S" \
		"$UVMM" "$@" <"${UV_STDIN:-/dev/null}" >"$fifo" 2>"$UV_ERR" &
	pid=$!
	if [[ ${UV_IN_NESTED:-0} == 1 ]]; then
		uv__stall_watch "$pid" "$UV_LOG" &
		watch=$!
	fi
	UV_RC=0
	wait "$pid" || UV_RC=$?
	wait "$logger" || true
	if [[ -n $watch ]]; then
		kill "$watch" 2>/dev/null || true
		wait "$watch" 2>/dev/null || true
	fi
	rm -f "$fifo"
	uv_info "boot $UV_BOOTS: exit status $UV_RC ($(uv_status_name "$UV_RC"))"
	if [[ -e $UV_LOG.stalled ]]; then
		uv_info "boot $UV_BOOTS: $(cat "$UV_LOG.stalled"): stopped"
	fi
	[[ $UV_RC == 0 ]] || uv__exit_if_flake
	return "$UV_RC"
}

# uv_boot ARGS...: boots a guest of `uvmm run --kernel K --initrd I ARGS...`
# (ARGS should have --cmdline "$UV_CMDLINE ...").
uv_boot() {
	uv__boot run --kernel "$UV_KERNEL_PATH" --initrd "$UV_INITRAMFS" "$@"
}

# uv_boot_fw ARGS...: the same for `uvmm run ARGS...` without a kernel, i.e.
# the guest firmware booting from the --disk. UV_STDIN, when set, is the
# file or FIFO uvmm's stdin (the console's input) comes from.
uv_boot_fw() {
	uv__boot run "$@"
}

# uv_boot_expect STATUS ARGS...: uv_boot, and fails unless it exited STATUS.
uv_boot_expect() {
	local want=$1
	shift
	uv_boot "$@" || true
	uv_expect_status "$want"
}

# uv_expect_status STATUS: fails unless the last boot exited with STATUS.
uv_expect_status() {
	[[ $UV_RC == "$1" ]] ||
		uv_fail "uvmm exited $UV_RC ($(uv_status_name "$UV_RC")), expected $1 ($(uv_status_name "$1"))"
}

# expect_line REGEX [LOG]: fails unless a line of LOG (default $UV_LOG)
# matches the extended regular expression REGEX.
expect_line() {
	local re=$1 log=${2:-$UV_LOG}
	# Not `tr | grep -q`: under pipefail, grep leaving early makes tr's
	# SIGPIPE the pipeline's status, and a line that is there looks missing.
	grep -Eq -- "$re" < <(tr -d '\r' <"$log") ||
		uv_fail "no line matching /$re/ in $log"
}

# uv_value KEY [LOG]: prints the value of the last "UVTEST KEY=VALUE" line;
# fails when there is none.
uv_value() {
	local key=$1 log=${2:-$UV_LOG} v
	# A kernel message may land on the same line, after the value: cut it.
	v=$(tr -d '\r' <"$log" | sed -n "s/^.*UVTEST $key=//p" | tail -n 1 |
		sed 's/\[ *[0-9][0-9]*\.[0-9][0-9]*\].*$//')
	[[ -n $v ]] || uv_fail "no 'UVTEST $key=' line in $log"
	printf '%s\n' "$v"
}

# uv_line_time KEY [LOG]: host epoch seconds at which "UVTEST KEY=" was read.
uv_line_time() {
	local key=$1 log=${2:-$UV_LOG} t
	t=$(sed -n "s/^\([0-9]*\) .*UVTEST $key=.*/\1/p" "$log.times" 2>/dev/null | tail -n 1)
	[[ -n $t ]] || uv_fail "no time recorded for 'UVTEST $key=' in $log.times"
	printf '%s\n' "$t"
}

# uv_is_uint STRING: true when STRING is a decimal number.
uv_is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

# uv_read_until FD REGEX LOG SECONDS: reads lines from file descriptor FD,
# appending them (CRs removed) to LOG, until one matches REGEX (0), or the
# time runs out or FD reaches end of file (1). Inside the nested harness it
# also gives up after UV_STALL_S seconds without any output (see
# uv__stall_watch).
uv_read_until() {
	local fd=$1 re=$2 log=$3 deadline line part rc left stall=0 heard=$SECONDS
	deadline=$((SECONDS + $4))
	[[ ${UV_IN_NESTED:-0} != 1 ]] || stall=$(uv_timeout "${UV_STALL_S:-150}")
	line=
	while :; do
		left=$((deadline - SECONDS))
		((left > 0)) || return 1
		if ((stall && SECONDS - heard >= stall)); then
			uv_info "no console output for ${stall}s"
			return 1
		fi
		((left < 5)) || left=5
		rc=0
		IFS= read -r -t "$left" -u "$fd" part || rc=$?
		[[ -z ${part:-} ]] || heard=$SECONDS
		line+=${part:-}
		if ((rc > 128)); then
			continue # timed out: the loop head decides; a partial line is kept
		fi
		heard=$SECONDS
		line=${line//$'\r'/}
		if ((rc != 0)); then
			[[ -z $line ]] || printf '%s\n' "$line" >>"$log"
			return 1 # end of file
		fi
		printf '%s\n' "$line" >>"$log"
		if [[ $line =~ $re ]]; then
			return 0
		fi
		line=
	done
}

# uv_wait_file TEST PATH SECONDS: waits until `test TEST PATH` holds.
uv_wait_file() {
	local deadline=$((SECONDS + $3))
	until test "$1" "$2"; do
		((SECONDS < deadline)) || return 1
		sleep 0.1
	done
}

# uv_bg ARGS...: starts `uvmm ARGS` in the background with a timeout, stdin
# /dev/null, stdout to $UV_LOG, stderr to $UV_ERR; sets UV_BG_PID.
uv_bg() {
	uv__next_logs
	uv_info "boot $UV_BOOTS (background): uvmm $*"
	timeout -k 10 "$UV_BOOT_TIMEOUT_S" "$UVMM" "$@" </dev/null >"$UV_LOG" 2>"$UV_ERR" &
	UV_BG_PID=$!
}

# uv_bg_wait: waits for the uv_bg process; sets UV_RC.
uv_bg_wait() {
	UV_RC=0
	wait "$UV_BG_PID" || UV_RC=$?
	uv_info "boot $UV_BOOTS: exit status $UV_RC ($(uv_status_name "$UV_RC"))"
}

uv__setup
