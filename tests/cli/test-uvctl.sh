#!/bin/sh
# uvctl against a private opsd: help and usage errors, a partition's round trip
# (create, list, show, start, shutdown, destroy, delete), --json parsed by
# python3, refusals, a partition booting a kernel directly, the policy,
# status with and without ultravisord, a bad option on each read verb, opsd
# down, and the console on a fake console socket (socat echoing what it gets).
set -u
# shellcheck source=tests/cli/lib.sh
. "${0%/*}/lib.sh"
UVCTL=${UV_BUILD_DIR:?}/opsd/uvctl
OPSD=${UV_BUILD_DIR}/opsd/opsd
UVD=${UV_BUILD_DIR}/ultravisor-daemon/ultravisord
T=$(mktemp -d /tmp/uvctl-cli.XXXXXX)
export UV_RUNTIME_DIR="$T/run" UV_STATE_DIR="$T/state"
OPSD_PID=
UVD_PID=
SOCAT_PID=
cleanup() {
	kill9 "$OPSD_PID" "$UVD_PID" "$SOCAT_PID"
	rm -rf "$T"
}
trap cleanup EXIT
# expect STATUS PATTERN -- ARGS...: uvctl's exit status and stderr (lib.sh's expect_exit).
expect() {
	expect_exit "$UVCTL" "$@"
}
wait_socket() {
	wait_for 10 test -S "$1" || fail "no socket $1 after 10 s"
}

[ -x "$OPSD" ] || fail "$OPSD is not built"
[ -x "$UVD" ] || fail "$UVD is not built"
truncate -s 1M "$T/disk.img"

# Help, version, usage errors (2), all before any opsd exists.
expect 0 "" -- --help
grep -q "^SYNOPSIS" "$T/out" || fail "--help has no SYNOPSIS"
grep -q "^EXIT STATUS" "$T/out" || fail "--help has no EXIT STATUS"
expect 0 "" -- create --help
grep -q "^SYNOPSIS" "$T/out" || fail "create --help"
expect 0 "" -- --version
grep -q "^uvctl " "$T/out" || fail "--version"
expect 2 "no verb" --
expect 2 "unknown verb 'frobnicate'" -- frobnicate
expect 2 "unknown option '--bogus'" -- --bogus list
expect 2 "at least one --disk" -- create vm1
expect 2 "--memory '1.5G'" -- create vm1 --disk "$T/disk.img" --memory 1.5G
expect 2 "'on-crash'" -- create vm1 --disk "$T/disk.img" --restart on-crash
expect 2 "--initrd needs --kernel" -- create vm1 --disk "$T/disk.img" --initrd "$T/initrd.img"
expect 2 "--cmdline needs --kernel" -- create vm1 --disk "$T/disk.img" --cmdline quiet
expect 2 "--kernel given twice" -- create vm1 --kernel /a --kernel /b
expect 2 "which partition" -- show
expect 2 "'Bad' is not a partition name" -- show Bad
expect 2 "unexpected argument 'extra'" -- list extra
expect 2 "not KEY=VALUE" -- policy set restart_max
expect 2 "get or set" -- policy

# opsd down: 3, naming the socket.
expect 3 "$UV_RUNTIME_DIR/opsd.sock" -- list

"$OPSD" 2>"$T/opsd.log" &
OPSD_PID=$!
wait_socket "$UV_RUNTIME_DIR/opsd.sock"

# Create, and the refusals of a create.
expect 0 "" -- create vm1 --disk "$T/disk.img" --cpus 2 --memory 512M --net tap=uvtap9
out_has "^Partition vm1 created"
expect 1 "uvctl: error: .*exists" -- create vm1 --disk "$T/disk.img"
expect 1 "uvctl: error: .*cpus" -- create vm3 --disk "$T/disk.img" --cpus 999
# A relative image path is sent as an absolute one.
(cd "$T" && "$UVCTL" create vm2 --disk disk.img,readonly=on,format=raw --restart never \
	--hugepages >/dev/null) || fail "create vm2 with a relative path"

expect 0 "" -- list
out_has "^NAME +STATE +DESIRED +CPUS +MEMORY +IOPARTD +STANDBY$"
out_has "^vm1 +unknown +stopped +2 +512M +- +-$"
out_has "^vm2 +unknown +stopped +1 +512M +- +-$"
expect 0 "" -- --json list
json_check "sorted(p['name'] for p in j['partitions']) == ['vm1', 'vm2']"
expect 0 "" -- list --json
json_check "'generation' in j"

expect 0 "" -- show vm1
out_has "^name: +vm1$"
out_has "^desired: +stopped$"
out_has "^cpus: +2$"
out_has "^memory: +512M$"
out_has "^disk 0: +$T/disk.img \(format detected, read-write\)$"
out_has "^net 0: +tap uvtap9$"
expect 0 "" -- show --json vm2
json_check "j['disks'] == [{'path': '$T/disk.img', 'format': 'raw', 'readonly': True}]"
json_check "j['restart'] == 'never' and j['hugepages'] is True and j['nets'] == []"
json_check "'kernel' not in j and 'initrd' not in j and 'cmdline' not in j"

# Direct kernel boot: the fields as given (relative paths made absolute), shown; opsd's
# refusals (lengths, characters) reach the user as its words, status 1.
(cd "$T" && "$UVCTL" create vmk --disk disk.img --kernel vmlinuz --initrd initrd.img \
	--cmdline "console=ttyS0 root=/dev/vda ro" >/dev/null) || fail "create vmk"
expect 0 "" -- show vmk
out_has "^kernel: +$T/vmlinuz$"
out_has "^initrd: +$T/initrd.img$"
out_has "^cmdline: +console=ttyS0 root=/dev/vda ro$"
out_has "^disk 0: +$T/disk.img "
expect 0 "" -- show --json vmk
json_check "j['kernel'] == '$T/vmlinuz' and j['initrd'] == '$T/initrd.img' and j['cmdline'] == 'console=ttyS0 root=/dev/vda ro'"
expect 0 "" -- create vmk2 --kernel /boot/vmlinuz
expect 0 "" -- show --json vmk2
json_check "j['disks'] == [] and j['kernel'] == '/boot/vmlinuz' and 'cmdline' not in j"
expect 1 "uvctl: error: 'kernel' is longer than 4095 bytes" -- create vml --kernel "/$(printf 'k%.0s' $(seq 4095))"
expect 1 "uvctl: error: 'cmdline' is longer than 2047 bytes" -- create vml --kernel /k --cmdline "$(printf 'c%.0s' $(seq 2048))"
expect 1 "uvctl: error: 'cmdline' must not contain control characters" -- create vml --kernel /k --cmdline "$(printf 'a\tb')"
expect 1 "uvctl: error: no partition 'vml'" -- show vml
expect 0 "" -- delete vmk
expect 0 "" -- delete vmk2

# Desired state: start, a refused delete, shutdown, destroy, delete.
expect 0 "" -- start vm1
out_has "start requested"
expect 0 "" -- --json show vm1
json_check "j['desired'] == 'running'"
expect 1 "uvctl: error: .*vm1" -- delete vm1
expect 0 "" -- shutdown vm1
expect 0 "" -- --json show vm1
json_check "j['desired'] == 'stopped' and j['stop_mode'] == 'shutdown'"
expect 0 "" -- start vm1
expect 0 "" -- --json destroy vm1
json_check "j['desired'] == 'stopped' and j['stop_mode'] == 'destroy'"
expect 0 "" -- delete vm1
out_has "^Partition vm1 deleted$"
expect 1 "uvctl: error: no partition 'vm1'" -- show vm1
expect 1 "uvctl: error: .*nope" -- start nope
expect 0 "" -- list
grep -q "^vm1 " "$T/out" && fail "vm1 still listed after delete"

# Policy.
expect 0 "" -- policy get
out_has "^restart_max: +[0-9]+$"
expect 0 "" -- policy set restart_max=3 failover=manual
expect 0 "" -- policy get --json
json_check "j['restart_max'] == 3 and j['failover'] == 'manual'"
expect 1 "uvctl: error: .*bogus" -- policy set bogus=1

# status needs ultravisord, which is not running: refused with opsd's reason.
expect 1 "uvctl: error: .*ultravisord" -- status
expect 1 "uvctl: error: .*ultravisord" -- status --json

# With ultravisord (no iopartd, no commandd): the sections, and --json as opsd answers.
"$UVD" --memory-pool 2G 2>"$T/ultravisord.log" &
UVD_PID=$!
wait_socket "$UV_RUNTIME_DIR/ultravisord.sock"
expect 0 "" -- status
for re in "^Host$" "^  CPUs: +[1-9][0-9]* \([0-9,-]+\)$" "^  dedicated CPUs: +none$" \
	"^  memory limit: +2 GiB \(2048 MiB\)$" "^  memory used: +0 MiB \(0%\)$" \
	"^  memory free: +2 GiB$" "^  partitions: +1 defined, 0 running$" "^  channels: +none$" \
	"^I/O partitions$" "^  none registered with ultravisord$" "^Daemons$" \
	"^  NAME +STATE +PID +NOTE$" "^  ultravisord +running +$UVD_PID +answered opsd's status request$" \
	"^  opsd +running +$OPSD_PID +version [0-9.]+, state generation [0-9]+$" \
	"^  commandd +stopped +- +not running$"; do
	out_has "$re"
done
grep -q "^Failover" "$T/out" && fail "status shows failover figures without commandd"
expect 0 "" -- status --json
json_check "j['ultravisord']['host']['pool_mib'] == 2048 and j['opsd']['pid'] == $OPSD_PID"
json_check "j['ultravisord']['iopartds'] == [] and j['opsd']['partitions'] == 1"
kill "$UVD_PID"
wait "$UVD_PID"
UVD_PID=

# A bad option on each read verb: 2, one line.
for verb in list "show vm2" status "policy get"; do
	# shellcheck disable=SC2086 # the words are the arguments
	expect 2 "unknown option '--frob'" -- $verb --frob
done

# opsd gone again: 3.
kill "$OPSD_PID"
wait "$OPSD_PID"
OPSD_PID=
expect 3 "cannot reach opsd at $UV_RUNTIME_DIR/opsd.sock" -- show vm2

# Console: a line through a fake console socket and back; piped input ends the session.
expect 1 "is the partition running" -- console vm2
mkdir -p "$UV_RUNTIME_DIR/partitions/vm2"
socat -t 5 "UNIX-LISTEN:$UV_RUNTIME_DIR/partitions/vm2/console.sock" EXEC:cat 2>"$T/socat.log" &
SOCAT_PID=$!
wait_socket "$UV_RUNTIME_DIR/partitions/vm2/console.sock"
echo "hello through the console" | timeout 20 "$UVCTL" console vm2 >"$T/out" 2>"$T/err"
st=$?
[ "$st" = 0 ] || fail "console: exit $st; stderr: $(cat "$T/err")"
out_has "^hello through the console$"
wait "$SOCAT_PID"
SOCAT_PID=

echo "uvctl CLI: all checks passed"
