#!/bin/sh
# commandd from the command line, against a private ultravisord and opsd and
# the real iopartd (started by commandd itself, --supervise-iopartd), with a
# shell script as uvmm: help and usage errors, a partition started and shut
# down through uvctl, its status on commandd.sock, kill -9 of the active
# iopartd (the channel moves, iopartd comes back, uvctl status shows it), a
# partition booting a kernel directly (uvmm's arguments; a kernel that cannot
# be read: failed, the reason in uvctl show, no uvmm), a second instance
# refused, SIGTERM leaving the guest running.
set -u
# shellcheck source=tests/cli/lib.sh
. "${0%/*}/lib.sh"
B=${UV_BUILD_DIR:?}
CMDD=$B/commandd/commandd
UVD=$B/ultravisor-daemon/ultravisord
OPSD=$B/opsd/opsd
UVCTL=$B/opsd/uvctl
IOPARTD=$B/iopartd/iopartd
T=$(mktemp -d /tmp/commandd-cli.XXXXXX)
FAIL_LOG=$T/commandd.log
export UV_RUNTIME_DIR="$T/run" UV_STATE_DIR="$T/state"
PIDS=
cleanup() {
	# shellcheck disable=SC2086 # one pid a word
	kill9 $PIDS
	for f in "$T"/run/iopartd-*.pid "$T"/uvmm.pid; do
		[ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
	done
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
# show_is NAME PYTHON-EXPR: uvctl --json show NAME, the expression on j is true
show_is() {
	"$UVCTL" --json show "$1" >"$T/show" 2>/dev/null &&
		python3 -c "import json,sys; j=json.load(sys.stdin); sys.exit(0 if ($2) else 1)" \
			<"$T/show"
}
# cstatus PYTHON-EXPR: commandd's status (op status on commandd.sock), the expression on j
cstatus() {
	python3 - "$UV_RUNTIME_DIR/commandd.sock" "$1" <<'EOF'
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
s.send(json.dumps({"op": "status", "id": 1}).encode())
j = json.loads(s.recv(65536))
sys.exit(0 if j["ok"] and eval(sys.argv[2]) else 1)
EOF
}

for x in "$CMDD" "$UVD" "$OPSD" "$UVCTL" "$IOPARTD"; do
	[ -x "$x" ] || fail "$x is not built"
done

# Help, version, usage errors (2).
"$CMDD" --help >"$T/out" || fail "--help"
grep -q "^SYNOPSIS" "$T/out" || fail "--help has no SYNOPSIS"
grep -q "^EXIT STATUS" "$T/out" || fail "--help has no EXIT STATUS"
"$CMDD" --version | grep -q "^commandd " || fail "--version"
for bad in "--bogus" "--iopartd" "--iopartd a,,A" "--shutdown-timeout x" "--log-level loud" \
	"extra"; do
	# shellcheck disable=SC2086 # the words are the arguments
	"$CMDD" $bad 2>"$T/err"
	[ $? = 2 ] || fail "commandd $bad: not status 2"
	[ "$(wc -l <"$T/err")" = 1 ] || fail "commandd $bad: not one line: $(cat "$T/err")"
done

# The fake uvmm: records its arguments, powers off (exit 0) on SIGPWR.
cat >"$T/uvmm" <<EOF
#!/bin/sh
echo "\$@" >"$T/uvmm.args"
echo \$\$ >"$T/uvmm.pid"
trap 'exit 0' PWR
while :; do sleep 0.1; done
EOF
chmod +x "$T/uvmm"
truncate -s 1M "$T/disk.img"

"$UVD" --memory-pool 512M 2>"$T/ultravisord.log" &
PIDS="$PIDS $!"
"$OPSD" 2>"$T/opsd.log" &
PIDS="$PIDS $!"
wait_for 10 test -S "$UV_RUNTIME_DIR/ultravisord.sock" || fail "no ultravisord"
wait_for 10 test -S "$UV_RUNTIME_DIR/opsd.sock" || fail "no opsd"
"$CMDD" --uvmm "$T/uvmm" --iopartd-bin "$IOPARTD" --supervise-iopartd --shutdown-timeout 5 \
	--log-level debug 2>"$T/commandd.log" &
CMDD_PID=$!
PIDS="$PIDS $CMDD_PID"
wait_for 10 test -S "$UV_RUNTIME_DIR/commandd.sock" || fail "no commandd.sock"
[ "$(cat "$UV_RUNTIME_DIR/commandd.pid")" = "$CMDD_PID" ] || fail "commandd.pid"
# It started both iopartds itself.
wait_for 10 cstatus '[i["health"] for i in j["iopartds"]] == ["healthy", "healthy"]' ||
	fail "iopartds a and b not started"

# A second commandd is refused.
"$CMDD" --uvmm "$T/uvmm" 2>"$T/err"
[ $? = 1 ] || fail "a second commandd did not exit 1"
grep -q "commandd.pid" "$T/err" || fail "the second commandd does not say why: $(cat "$T/err")"

# Start through uvctl: running, the uvmm's command line, the channel on a.
"$UVCTL" create vm1 --disk "$T/disk.img" --memory 64M >/dev/null || fail "create"
"$UVCTL" start vm1 >/dev/null || fail "start"
wait_for 10 show_is vm1 "j['actual']['state'] == 'running'" || fail "vm1 not running"
show_is vm1 "j['actual']['iopartd'] == 'a' and j['actual']['pid'] == $(cat "$T/uvmm.pid")" ||
	fail "vm1's actual state: $(cat "$T/show")"
grep -Eq "^run --partition vm1 --ultravisord $UV_RUNTIME_DIR/ultravisord.sock --memory-fd [0-9]+ --memory 64M --cpus 1 --disk vhost-user-fd=[0-9]+,channel=0 --console unix:$UV_RUNTIME_DIR/partitions/vm1/console.sock$" \
	"$T/uvmm.args" || fail "uvmm's arguments: $(cat "$T/uvmm.args")"
"$UVCTL" list >"$T/out" || fail "list"
grep -Eq "^vm1 +running +running +1 +64M +a +-$" "$T/out" || fail "list: $(cat "$T/out")"
grep -q "serving vhost-user-blk,path=$T/disk.img" "$UV_RUNTIME_DIR/log/iopartd-a.log" ||
	fail "iopartd a does not serve the disk"
# No standby: the stand-in uvmm never attaches to ultravisord to hold one (a
# failover is then a move, below).
cstatus 'j["partitions"][0]["channels"][0]["iopartd"] == "a" and j["partitions"][0]["channels"][0]["standby"] == "" and j["policy"]["failover"] == "auto"' ||
	fail "commandd's status"

# kill -9 of the active iopartd: the channel moves to b, a comes back.
A_PID=$(cat "$UV_RUNTIME_DIR/iopartd-a.pid")
kill -9 "$A_PID"
wait_for 5 show_is vm1 "j['actual']['iopartd'] == 'b'" || fail "the channel did not move to b"
grep -q "channel 0 moved from a to b" "$T/commandd.log" || fail "no move in commandd's log"
wait_for 10 cstatus '[i["role"] for i in j["iopartds"]] == ["standby", "active"]' ||
	fail "a did not come back as standby"
[ "$(cat "$UV_RUNTIME_DIR/iopartd-a.pid")" != "$A_PID" ] || fail "iopartd a's pid file"

# uvctl status says so: one active with the channel, the other standby, the move and the
# restart counted. Which is which is left open: the shell uvmm never attaches, so commandd
# makes the move again every 250 ms (to either side).
"$UVCTL" status >"$T/out" || fail "status"
for re in "^  memory used: +64 MiB \(13%\)$" "^  partitions: +1 defined, 1 running$" \
	"^  channels: +1 \(1 up\)$" "^  NAME +HEALTH +ROLE +PID +CHANNELS +SINCE$" \
	"^  [ab] +healthy +standby +[0-9]+ +0 +[0-9-]+ [0-9:]+$" \
	"^  [ab] +healthy +active +[0-9]+ +1 +[0-9-]+ [0-9:]+$" \
	"^  commandd +running +$CMDD_PID +connected to opsd and ultravisord$" \
	"^  channel moves: +[1-9][0-9]*, 0 failed; last [0-9.]+ ms, longest [0-9.]+ ms$" \
	"^  iopartd starts: +3 "; do
	grep -Eq -- "$re" "$T/out" || fail "status lacks /$re/: $(cat "$T/out")"
done
"$UVCTL" status --json >"$T/out" || fail "status --json"
python3 -c "import json,sys; j=json.load(sys.stdin)['ultravisord']; sys.exit(0 if j['host']['pool_mib'] == 512 and len(j['channels']) == 1 else 1)" \
	<"$T/out" || fail "status --json: $(cat "$T/out")"

# Shutdown: SIGPWR, the script exits 0: stopped.
"$UVCTL" shutdown vm1 >/dev/null || fail "shutdown"
wait_for 10 show_is vm1 "j['actual']['state'] == 'stopped'" || fail "vm1 not stopped"
grep -q "shutdown: SIGPWR to uvmm" "$T/commandd.log" || fail "no SIGPWR"

# Direct kernel boot: uvmm gets --kernel, --initrd and --cmdline, the disk as before.
printf 'not really a kernel' >"$T/vmlinuz"
: >"$T/initrd.img"
"$UVCTL" create vmk --disk "$T/disk.img" --memory 64M --kernel "$T/vmlinuz" \
	--initrd "$T/initrd.img" --cmdline "console=ttyS0 quiet" >/dev/null || fail "create vmk"
"$UVCTL" start vmk >/dev/null || fail "start vmk"
wait_for 10 show_is vmk "j['actual']['state'] == 'running'" || fail "vmk not running"
grep -Eq "^run --partition vmk .* --cpus 1 --kernel $T/vmlinuz --initrd $T/initrd.img --cmdline console=ttyS0 quiet --disk vhost-user-fd=[0-9]+,channel=0 --console unix:" \
	"$T/uvmm.args" || fail "vmk's uvmm arguments: $(cat "$T/uvmm.args")"
"$UVCTL" destroy vmk >/dev/null || fail "destroy vmk"
wait_for 10 show_is vmk "j['actual']['state'] == 'stopped'" || fail "vmk not stopped"
# The kernel gone: the start fails with the reason, no uvmm is started, none later.
rm "$T/vmlinuz" "$T/uvmm.args"
"$UVCTL" start vmk >/dev/null || fail "start vmk again"
wait_for 10 show_is vmk "j['actual']['state'] == 'failed'" || fail "vmk did not fail"
"$UVCTL" show vmk >"$T/out" || fail "show vmk"
out_has "^kernel: +$T/vmlinuz$"
out_has "^reason: +cannot read kernel $T/vmlinuz: No such file or directory$"
sleep 1.5
[ ! -e "$T/uvmm.args" ] || fail "a uvmm was started without its kernel"
show_is vmk "j['actual']['state'] == 'failed'" || fail "vmk: $(cat "$T/show")"

# SIGTERM leaves a running guest running.
"$UVCTL" start vm1 >/dev/null || fail "start again"
wait_for 10 show_is vm1 "j['actual']['state'] == 'running'" || fail "vm1 not running again"
GUEST=$(cat "$T/uvmm.pid")
kill -TERM "$CMDD_PID"
wait "$CMDD_PID" || fail "commandd did not exit 0 on SIGTERM"
[ ! -e "$UV_RUNTIME_DIR/commandd.sock" ] || fail "commandd.sock left behind"
[ ! -e "$UV_RUNTIME_DIR/commandd.pid" ] || fail "commandd.pid left behind"
kill -0 "$GUEST" || fail "the guest died with commandd"
# uvctl status without commandd: shown stopped, and no failover figures.
"$UVCTL" status >"$T/out" || fail "status without commandd"
grep -Eq "^  commandd +stopped +- +not running$" "$T/out" || fail "status: $(cat "$T/out")"
grep -q "^Failover" "$T/out" && fail "status shows failover figures without commandd"
echo "PASS"
