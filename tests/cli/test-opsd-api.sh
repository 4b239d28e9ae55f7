#!/bin/sh
# opsd's REST API through curl --unix-socket: every endpoint, bad input of
# every kind, unauthorized peers, the long poll, status through a fake
# ultravisord, restarts after kill -9 (also in the middle of writes), damaged
# files, and a clean SIGTERM. No KVM.
set -u
# shellcheck source=tests/cli/lib.sh
. "${0%/*}/lib.sh"
OPSD=${UV_BUILD_DIR:?}/opsd/opsd
# The system's Python first: a version manager's shim can take a second per start.
PY=/usr/bin/python3
[ -x $PY ] || PY=$(command -v python3)
for tool in curl "$PY"; do
	command -v "$tool" >/dev/null || {
		echo "FAIL: ${tool:-python3} not installed (scripts/install-deps)"
		exit 1
	}
done
T=$(mktemp -d /tmp/opsd-api.XXXXXX)
# Another user must reach the socket: the directories are opened for it.
chmod 0755 "$T"
mkdir -m 0755 "$T/run"
mkdir -m 0777 "$T/io"
export UV_RUNTIME_DIR="$T/run" UV_STATE_DIR="$T/state"
SOCK=$T/run/opsd.sock
PDIR=$T/state/opsd/partitions
PID='' PID2='' FAKE='' AS=''
cleanup() {
	kill9 "$PID" "$PID2" "$FAKE"
	rm -rf "$T"
}
trap cleanup EXIT
FAIL_LOG=$T/log
# answers SOCK: an opsd answers on SOCK
answers() {
	curl -s -o /dev/null --unix-socket "$1" http://opsd/v1/policy
}

# start_opsd: runs opsd in the background, waits until it answers (a kill -9
# leaves the old socket file, which refuses connections).
start_opsd() {
	"$OPSD" --log-level debug --group users 2>>"$T/log" &
	PID=$!
	wait_for 10 answers "$SOCK" || fail "no answer on $SOCK after 10 s"
}
kill9_opsd() {
	kill -9 $PID
	wait $PID 2>/dev/null
	PID=
}
alive() {
	kill -0 $PID 2>/dev/null || fail "opsd is gone ($*)"
}

# req METHOD PATH [BODY]: $code; body in $T/io/body, headers in $T/io/hdr.
# $AS runs curl as another user; extra curl options in $CURLX.
req() {
	m=$1 p=$2
	shift 2
	if [ $# -gt 0 ]; then
		printf '%s' "$1" >"$T/io/req"
		set -- --data-binary "@$T/io/req" -H 'Content-Type: application/json'
	fi
	rm -f "$T/io/body" "$T/io/hdr" # root's files: another user could not overwrite them
	# shellcheck disable=SC2086
	code=$($AS curl -s -S --max-time 40 --unix-socket "$SOCK" -X "$m" -o "$T/io/body" \
		-D "$T/io/hdr" -w '%{http_code}' ${CURLX:-} "$@" "http://opsd$p")
}
# expect CODE METHOD PATH [BODY [PATTERN]]: status, and PATTERN in the reply's
# body. BODY - sends none.
expect() {
	want=$1 pat=${5:-}
	shift
	if [ $# -ge 3 ] && [ "$3" != - ]; then req "$1" "$2" "$3"; else req "$1" "$2"; fi
	[ "$code" = "$want" ] || fail "$1 $2 ${3:-}: $code, wanted $want: $(cat "$T/io/body")"
	if [ -n "$pat" ]; then
		grep -qF -- "$pat" "$T/io/body" || fail "$1 $2 ${3:-}: no '$pat' in $(cat "$T/io/body")"
	fi
	return 0
}
# An error body is {"error": {"code": N, "message": "..."}} with N the status.
expect_err() {
	expect "$@"
	oas Error "j['error']['code'] == $1 and len(j['error']['message']) > 0"
}
# oas SCHEMA [EXPR]: the last body is what opsd/openapi.yaml's
# components.schemas.SCHEMA says (no member it does not declare), and EXPR
# holds for it (as j). Without PyYAML only EXPR is checked.
# The document is read once, into JSON (quicker to load for every check).
OAS=${UV_SOURCE_DIR:-$(dirname "$0")/../..}/opsd/openapi.yaml
$PY -c 'import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), open(sys.argv[2], "w"))' \
	"$OAS" "$T/oas.json" 2>/dev/null || echo "no PyYAML: responses are not checked against $OAS"
oas() {
	$PY - "$T/oas.json" "$T/io/body" "$1" "${2:-True}" <<'PY' || fail "$1: $(cat "$T/io/body")"
import json, os, re, sys
body = json.load(open(sys.argv[2]))
j = body
if not eval(sys.argv[4]):
    sys.exit("false: " + sys.argv[4])
if not os.path.exists(sys.argv[1]):
    sys.exit(0)
S = json.load(open(sys.argv[1]))["components"]["schemas"]
TYPES = {"object": dict, "array": list, "string": str, "boolean": bool}

def check(v, s, at):
    while "$ref" in s:
        s = S[s["$ref"].split("/")[-1]]
    for sub in s.get("allOf", []):
        check(v, sub, at)
    t = s.get("type")
    if t == "integer":
        assert isinstance(v, int) and not isinstance(v, bool), at + ": not an integer"
    elif t:
        assert isinstance(v, TYPES[t]), at + ": not " + t
    assert "enum" not in s or v in s["enum"], at + ": not in the enum"
    assert "minimum" not in s or v >= s["minimum"], at + ": below minimum"
    assert "maximum" not in s or v <= s["maximum"], at + ": above maximum"
    assert "maxLength" not in s or len(v) <= s["maxLength"], at + ": too long"
    assert "pattern" not in s or re.search(s["pattern"], v), at + ": pattern"
    if t == "object":
        props = s.get("properties", {})
        for r in s.get("required", []):
            assert r in v, at + ": no " + r
        for k, x in v.items():
            if k in props:
                check(x, props[k], at + "." + k)
            else:
                assert s.get("additionalProperties") is True, at + ": undeclared " + k
    if t == "array":
        assert len(v) <= s.get("maxItems", len(v)), at + ": too many items"
        for i, x in enumerate(v):
            check(x, s["items"], "%s[%d]" % (at, i))

try:
    check(body, {"$ref": sys.argv[3]}, sys.argv[3])
except AssertionError as e:
    sys.exit("not an OpenAPI %s: %s" % (sys.argv[3], e))
PY
}
# jcheck EXPR WHAT: a Python expression on the last body (as j) must hold.
jcheck() {
	$PY -c 'import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' \
		"$T/io/body" "$1" || fail "$2: $1 is false for $(cat "$T/io/body")"
}
jget() {
	$PY -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
		"$T/io/body" "$1"
}

# --- command line ---
"$OPSD" --help >"$T/out" || fail "--help"
grep -q "^SYNOPSIS" "$T/out" || fail "--help has no SYNOPSIS"
"$OPSD" --version | grep -q "^opsd " || fail "--version"
"$OPSD" --bogus 2>"$T/err"
[ $? = 2 ] || fail "--bogus: not a usage error"
grep -q bogus "$T/err" || fail "--bogus: not named"
"$OPSD" stray 2>/dev/null
[ $? = 2 ] || fail "a stray argument is not a usage error"
"$OPSD" --log-level loud 2>/dev/null
[ $? = 2 ] || fail "--log-level loud is not a usage error"

# A second opsd, left alone, answers a long poll after 30 s while the rest runs.
mkdir -m 0755 "$T/run2"
UV_RUNTIME_DIR=$T/run2 UV_STATE_DIR=$T/state2 "$OPSD" 2>"$T/log2" &
PID2=$!
wait_for 10 answers "$T/run2/opsd.sock" || fail "the second opsd did not start: $(cat "$T/log2")"
(
	t0=$(date +%s)
	curl -s --max-time 40 --unix-socket "$T/run2/opsd.sock" \
		'http://opsd/v1/partitions?wait=0' >"$T/poll30"
	echo $(($(date +%s) - t0)) >"$T/poll30.s"
) &
POLL30=$!

# --- readiness, then reads of an empty state ---
$PY -c 'import socket,sys
s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM); s.bind(sys.argv[1]); s.settimeout(20)
print(s.recv(4096).decode(), flush=True)' "$T/notify" >"$T/notified" &
NP=$!
wait_for 10 test -S "$T/notify" || fail "the notify receiver did not start"
NOTIFY_SOCKET=$T/notify start_opsd
wait $NP
grep -q "READY=1" "$T/notified" || fail "no READY=1 to NOTIFY_SOCKET: $(cat "$T/notified")"
"$OPSD" 2>"$T/err"
[ $? = 1 ] || fail "a second opsd did not exit 1: $(cat "$T/err")"
alive "after a second instance"
expect 200 GET /v1/partitions
oas PartitionList "j == {'generation': 0, 'partitions': []}"
expect 200 GET /v1/policy
oas Policy "j == {'restart_default': 'on-failure', 'restart_max': 5, 'restart_window_s': 60, 'cpu_pinning': 'none', 'failover': 'auto'}"
expect 200 GET /v1/audit
oas AuditList "j == {'records': []}"

# --- create ---
WEB1='{"name":"web1","cpus":2,"memory_mib":1024,"hugepages":false,"disks":[{"path":"/srv/img/web1.qcow2","format":"qcow2","readonly":false}],"nets":[{"tap":"uvtap0"}],"restart":"always"}'
expect 201 POST /v1/partitions "$WEB1"
jcheck "j['name'] == 'web1' and j['cpus'] == 2 and j['memory_mib'] == 1024 and j['disks'][0]['format'] == 'qcow2' and j['nets'] == [{'tap': 'uvtap0'}] and j['restart'] == 'always'" "created"
oas Partition "j['desired'] == 'stopped' and j['generation'] == 1 and j['actual']['state'] == 'unknown'"
grep -qi "^Location: /v1/partitions/web1" "$T/io/hdr" || fail "no Location header"
expect_err 409 POST /v1/partitions '{"name":"web1"}' "exists"
expect 201 POST /v1/partitions '{"name":"min"}'
jcheck "j['cpus'] == 1 and j['memory_mib'] == 512 and j['disks'] == [] and j['restart'] == 'on-failure'" "defaults"
expect 201 POST /v1/partitions '{"name":"0.a_b-c","cpus":255,"memory_mib":1048576,"hugepages":true,"disks":[{"path":"/a"},{"path":"/b","format":"raw","readonly":true}],"kernel":"/boot/vmlinuz","initrd":"/boot/initrd.img","cmdline":"console=ttyS0 root=/dev/vda ro"}'
oas Partition "j['kernel'] == '/boot/vmlinuz' and j['initrd'] == '/boot/initrd.img' and j['cmdline'] == 'console=ttyS0 root=/dev/vda ro'"
grep -q '"kernel"' "$PDIR/0.a_b-c.json" || fail "the kernel is not saved"
expect 200 GET /v1/partitions/web1
oas Partition "'kernel' not in j and 'initrd' not in j and 'cmdline' not in j"
expect 200 GET /v1/partitions/web1
jcheck "j['name'] == 'web1' and j['nets'][0]['tap'] == 'uvtap0'" "GET one"
expect 200 GET /v1/partitions
oas PartitionList "[p['name'] for p in j['partitions']] == ['0.a_b-c', 'min', 'web1'] and j['generation'] == 3"
[ -f "$PDIR/web1.json" ] || fail "no $PDIR/web1.json"

# --- malformed bodies: 400 with a JSON error, nothing created ---
for body in '' '{' '{"name":' '{"name":"x"} x' '{"name":"x"}{}' 'nul' "{'name':'x'}" \
	'{"name":"x",}' '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]'; do
	expect_err 400 POST /v1/partitions "$body"
done
for body in '[]' '"web2"' '1' 'null' 'true' '[{"name":"x"}]'; do
	expect_err 400 POST /v1/partitions "$body" "JSON object"
done
# Unknown fields, named; including the ones that are opsd's or commandd's.
for f in bogus desired generation actual stop_mode Name; do
	expect_err 400 POST /v1/partitions "{\"name\":\"x\",\"$f\":1}" "unknown field '$f'"
done
expect_err 400 POST /v1/partitions '{"name":"x","disks":[{"path":"/a","size":1}]}' "unknown field 'disks[0].size'"
expect_err 400 POST /v1/partitions '{"name":"x","nets":[{"tap":"t0","mac":"x"}]}' "unknown field 'nets[0].mac'"
# Wrong types.
for kv in '"cpus":"2"' '"cpus":2.0' '"cpus":true' '"cpus":null' '"memory_mib":[1024]' \
	'"hugepages":"yes"' '"hugepages":1' '"disks":{}' '"disks":["/a"]' '"nets":"tap0"' \
	'"nets":[{"tap":5}]' '"restart":1' '"disks":[{"path":"/a","readonly":"no"}]' \
	'"disks":[{"path":1}]' '"kernel":1' '"kernel":null' '"kernel":["/k"]' '"kernel":{}' \
	'"kernel":"/k","initrd":true' '"kernel":"/k","cmdline":5' '"kernel":"/k","cmdline":["a"]'; do
	expect_err 400 POST /v1/partitions "{\"name\":\"x\",$kv}"
done
expect_err 400 POST /v1/partitions '{"name":"x","kernel":7}' "'kernel' must be a string"
expect_err 400 POST /v1/partitions '{"name":5}' "'name' must be a string"
# Ranges and formats.
LONG=$(printf 'a%.0s' $(seq 64))
for kv in '"cpus":0' '"cpus":256' '"cpus":-1' '"cpus":99999999999999999999' \
	'"memory_mib":63' '"memory_mib":1048577' '"restart":"sometimes"' \
	'"disks":[{"path":"relative.img"}]' '"disks":[{"path":""}]' '"disks":[{"format":"raw"}]' \
	'"disks":[{"path":"/a","format":"vmdk"}]' '"disks":[{"path":"/a\u0000b"}]' \
	'"nets":[{"tap":"a-name-too-long-"}]' '"nets":[{"tap":"a/b"}]' '"nets":[{"tap":""}]' \
	'"nets":[{}]' '"kernel":"vmlinuz"' '"kernel":""' '"kernel":"/k","initrd":"initrd.img"' \
	'"initrd":"/i"' '"cmdline":"quiet"' '"kernel":"/k\u0000"' '"kernel":"/k","cmdline":"a\nb"' \
	'"kernel":"/k","cmdline":"a\u007fb"'; do
	expect_err 400 POST /v1/partitions "{\"name\":\"x\",$kv}"
done
expect_err 400 POST /v1/partitions '{"name":"x","kernel":"boot/vmlinuz"}' "'kernel' must be an absolute path"
expect_err 400 POST /v1/partitions '{"name":"x","disks":[{"path":"/d"}],"initrd":"/i"}' "'initrd' needs 'kernel'"
expect_err 400 POST /v1/partitions '{"name":"x","disks":[{"path":"/d"}],"cmdline":"quiet"}' "'cmdline' needs 'kernel'"
expect_err 400 POST /v1/partitions "{\"name\":\"x\",\"kernel\":\"/$(printf 'k%.0s' $(seq 4095))\"}" "'kernel' is longer than 4095 bytes"
expect_err 400 POST /v1/partitions "{\"name\":\"x\",\"kernel\":\"/k\",\"cmdline\":\"$(printf 'c%.0s' $(seq 2048))\"}" "'cmdline' is longer than 2047 bytes"
for name in "$LONG" Web -web .x '' 'a b' 'a/b' 'é'; do
	expect_err 400 POST /v1/partitions "{\"name\":\"$name\"}"
done
expect_err 400 POST /v1/partitions '{"cpus":1}' "missing field 'name'"
DISKS=$($PY -c 'import json; print(json.dumps([{"path": "/d%d" % i} for i in range(17)]))')
expect_err 400 POST /v1/partitions "{\"name\":\"x\",\"disks\":$DISKS}" "more than 16"
NETS=$($PY -c 'import json; print(json.dumps([{"tap": "t%d" % i} for i in range(9)]))')
expect_err 400 POST /v1/partitions "{\"name\":\"x\",\"nets\":$NETS}" "more than 8"
expect 201 POST /v1/partitions "{\"name\":\"${LONG%a}\",\"nets\":$($PY -c 'import json; print(json.dumps([{"tap": "t%d" % i} for i in range(8)]))')}"
expect 404 GET /v1/partitions/x
alive "after bad bodies"

# --- oversized bodies: 413, with and without Expect: 100-continue ---
$PY -c 'print("{\"name\":\"big\",\"x\":\"" + "a" * 70000 + "\"}")' >"$T/io/big"
for x in "" "-H Expect:"; do
	# shellcheck disable=SC2086 # $x is two words or none
	code=$(curl -s --unix-socket "$SOCK" -X POST $x --data-binary "@$T/io/big" \
		-o /dev/null -w '%{http_code}' http://opsd/v1/partitions)
	[ "$code" = 413 ] || fail "a 70 kB body ($x): $code, wanted 413"
done
# 64 KiB exactly is allowed (the padding is JSON white space).
$PY -c 'b = "{\"name\":\"edge\"}"; print(b + " " * (65536 - len(b) - 1))' >"$T/io/edge"
code=$(curl -s --unix-socket "$SOCK" -X POST --data-binary "@$T/io/edge" -o /dev/null \
	-w '%{http_code}' http://opsd/v1/partitions)
[ "$code" = 201 ] || fail "a body of exactly 64 KiB: $code, wanted 201"
alive "after big bodies"

# --- unknown paths and methods ---
for p in / /v1 /v1/ /v2/partitions /v1/partitions/ /v1/partitions/web1/ /v1/partitions/web1/reboot \
	/v1/partitions/web1/start/now /v1/partition /v1/statusx "/v1/partitions/$LONG$LONG"; do
	expect_err 404 GET "$p"
done
expect_err 404 GET /v1/partitions/nope - "no partition 'nope'"
expect_err 404 GET /v1/partitions/UPPER
expect_err 404 GET /v1/partitions/..
expect_err 404 POST /v1/partitions/nope/start
expect_err 404 DELETE /v1/partitions/nope
expect_err 404 PUT /v1/partitions/nope/actual '{"state":"running"}'
for mp in "PATCH /v1/partitions" "DELETE /v1/partitions" "PUT /v1/partitions/web1" \
	"POST /v1/partitions/web1" "GET /v1/partitions/web1/start" "PUT /v1/partitions/web1/start" \
	"GET /v1/partitions/web1/actual" "POST /v1/status" "DELETE /v1/policy" "POST /v1/audit" \
	"OPTIONS /v1/partitions" "TRACE /v1/policy"; do
	# shellcheck disable=SC2086
	expect_err 405 $mp
	grep -qi "^Allow: " "$T/io/hdr" || fail "$mp: 405 without Allow"
done
expect_err 400 GET '/v1/partitions?foo=1' - "unknown query parameter 'foo'"
expect_err 400 GET '/v1/partitions?wait=x'
expect_err 400 GET '/v1/partitions?wait=-1'
expect_err 400 GET '/v1/audit?limit=0'
expect_err 400 GET '/v1/audit?limit=1001'
expect_err 400 GET '/v1/audit?limit=1&limit2=2'
code=$(curl -s --unix-socket "$SOCK" -o /dev/null -w '%{http_code}' -X FROB http://opsd/v1/partitions)
case $code in 4?? | 501) ;; *) fail "method FROB: $code" ;; esac
alive "after bad paths"

# --- actions, actual state, delete ---
expect 202 POST /v1/partitions/web1/start
jcheck "j['desired'] == 'running'" "start"
G=$(jget "j['generation']")
expect_err 409 DELETE /v1/partitions/web1 - "shut it down"
expect 202 POST /v1/partitions/web1/shutdown
jcheck "j['desired'] == 'stopped' and j['stop_mode'] == 'shutdown' and j['generation'] == $G + 1" "shutdown"
expect 202 POST /v1/partitions/web1/destroy
oas Partition "j['desired'] == 'stopped' and j['stop_mode'] == 'destroy'"
expect 200 PUT /v1/partitions/web1/actual '{"state":"running","pid":4242,"iopartd":"a","reason":""}'
oas Partition "j['actual'] == {'state': 'running', 'pid': 4242, 'iopartd': 'a', 'standby': '', 'reason': ''}"
expect 200 PUT /v1/partitions/web1/actual '{"state":"running","pid":4242,"iopartd":"a","standby":"b","reason":""}'
oas Partition "j['actual'] == {'state': 'running', 'pid': 4242, 'iopartd': 'a', 'standby': 'b', 'reason': ''}"
expect 400 PUT /v1/partitions/web1/actual '{"state":"running","standby":7}'
expect 400 PUT /v1/partitions/web1/actual "{\"state\":\"running\",\"standby\":\"$(head -c 40 /dev/zero | tr '\0' x)\"}"
expect 200 GET /v1/partitions
jcheck "j['generation'] == $G + 2" "an actual report is no change of generation"
expect_err 409 DELETE /v1/partitions/web1 - "running"
for body in '{}' '{"state":"dancing"}' '{"state":"running","pid":-1}' '{"state":"running","pid":"1"}' \
	'{"state":"running","cpu":1}' '[]' '{"state":"failed","reason":5}' '{"state":"x"'; do
	expect_err 400 PUT /v1/partitions/web1/actual "$body"
done
expect 200 PUT /v1/partitions/web1/actual '{"state":"failed","reason":"restart policy gave up"}'
jcheck "j['actual']['state'] == 'failed' and j['actual']['reason'] == 'restart policy gave up'" "failed"
expect 204 DELETE /v1/partitions/web1
[ -s "$T/io/body" ] && fail "204 with a body"
expect_err 404 GET /v1/partitions/web1
[ -e "$PDIR/web1.json" ] && fail "web1.json still there"

# --- policy ---
expect 200 PUT /v1/policy '{"restart_default":"never","cpu_pinning":"dedicated"}'
oas Policy "j['restart_default'] == 'never' and j['cpu_pinning'] == 'dedicated' and j['restart_max'] == 5"
expect 201 POST /v1/partitions '{"name":"pol"}'
jcheck "j['restart'] == 'never'" "restart_default applies to creates"
for body in '{"bogus":1}' '{"restart_max":-1}' '{"restart_max":1001}' '{"restart_window_s":0}' \
	'{"cpu_pinning":"shared"}' '{"failover":true}' '[]' '{"failover":"manual","x":1}'; do
	expect_err 400 PUT /v1/policy "$body"
done
expect 200 GET /v1/policy
jcheck "j['failover'] == 'auto'" "a refused policy changes nothing"

# --- audit: one record per change that succeeded ---
expect 200 GET '/v1/audit?limit=1000'
N=$(jget "len(j['records'])")
[ "$N" = 11 ] || fail "audit: $N records, wanted 11: $(cat "$T/io/body")"
oas AuditList "all(set(r) >= {'time','uid','gid','pid','method','path','status'} for r in j['records'])"
jcheck "j['records'][0]['method'] == 'POST' and j['records'][0]['partition'] == 'web1' and j['records'][0]['status'] == 201 and j['records'][0]['uid'] == 0" "first record"
jcheck "[r['status'] for r in j['records']][-6:] == [202, 202, 202, 204, 200, 201]" "record statuses"
expect 200 GET '/v1/audit?limit=2'
jcheck "[r['path'] for r in j['records']] == ['/v1/policy', '/v1/partitions']" "limit=2, oldest first"
[ "$(wc -l <"$T/state/opsd/audit.log")" = 11 ] || fail "audit.log line count"

# --- authorization by peer credentials ---
if [ "$(id -u)" = 0 ]; then
	AS="setpriv --reuid=65534 --regid=65534 --clear-groups"
	expect 200 GET /v1/partitions
	expect 200 GET /v1/partitions/pol
	expect 200 GET /v1/policy
	expect 200 GET /v1/audit
	expect_err 403 POST /v1/partitions '{"name":"evil"}' "uid 65534"
	expect_err 403 POST /v1/partitions/pol/start
	expect_err 403 DELETE /v1/partitions/pol
	expect_err 403 PUT /v1/partitions/pol/actual '{"state":"running"}'
	expect_err 403 PUT /v1/policy '{"failover":"manual"}'
	expect_err 403 POST /v1/partitions '{not json'
	# A member of the admin group (--group users: gid 100) may, primary or supplementary.
	AS="setpriv --reuid=65534 --regid=65534 --groups=100"
	expect 201 POST /v1/partitions '{"name":"bygroup"}'
	AS="setpriv --reuid=65534 --regid=100 --clear-groups"
	expect 202 POST /v1/partitions/bygroup/start
	AS=
	expect 200 GET '/v1/audit?limit=2'
	jcheck "[r['uid'] for r in j['records']] == [65534, 65534] and j['records'][1]['gid'] == 100" "audited peers"
	expect 200 GET /v1/partitions/pol
	jcheck "j['desired'] == 'stopped'" "refused changes changed nothing"
	expect 404 GET /v1/partitions/evil
else
	echo "not root: the unauthorized-peer checks are skipped"
fi

# --- status through ultravisord (a fake one) ---
expect_err 503 GET /v1/status - "not reachable"
fake_uvd() {
	$PY - "$T/run/ultravisord.sock" "$1" <<'EOF' &
import json, socket, sys
path, mode = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind(path)
s.listen(8)
open(path + ".ready", "w").close()
keep = []
while True:
    c, _ = s.accept()
    keep.append(c)
    m = json.loads(c.recv(65536))
    if mode == "ok":
        c.send(json.dumps({"op": "event", "event": "noise"}).encode())
        c.send(json.dumps({"op": m["op"], "id": m["id"], "ok": True,
                           "cpus": 4, "iopartd": {"a": "up", "b": "up"}}).encode())
    elif mode == "refuse":
        c.send(json.dumps({"op": m["op"], "id": m["id"], "ok": False, "error": "not now"}).encode())
    elif mode == "bad":
        c.send(b"not json")
    elif mode == "hangup":
        c.close()
EOF
	FAKE=$!
	wait_for 10 test -e "$T/run/ultravisord.sock.ready" || fail "the fake ultravisord did not start"
}
stop_fake() {
	kill -9 $FAKE
	wait $FAKE 2>/dev/null
	FAKE=
	rm -f "$T/run/ultravisord.sock" "$T/run/ultravisord.sock.ready"
}
fake_uvd ok
expect 200 GET /v1/status
oas Status "j['ultravisord'] == {'cpus': 4, 'iopartd': {'a': 'up', 'b': 'up'}} and j['opsd']['partitions'] >= 1"
stop_fake
fake_uvd refuse
expect_err 502 GET /v1/status - "not now"
stop_fake
fake_uvd bad
expect_err 502 GET /v1/status - "bad reply"
stop_fake
fake_uvd hangup
expect_err 503 GET /v1/status - "closed"
stop_fake
# A silent ultravisord: 503 after ~2 s, and opsd serves others meanwhile.
fake_uvd silent
curl -s --unix-socket "$SOCK" -o "$T/sbody" -w '%{http_code}' http://opsd/v1/status >"$T/scode" &
SP=$!
sleep 0.3
t0=$(date +%s%N)
expect 200 GET /v1/policy
t1=$(date +%s%N)
[ $(((t1 - t0) / 1000000)) -lt 1000 ] || fail "opsd stalled while ultravisord was silent"
wait $SP
{ [ "$(cat "$T/scode")" = 503 ] && grep -q "did not answer" "$T/sbody"; } ||
	fail "silent ultravisord: $(cat "$T/scode") $(cat "$T/sbody")"
stop_fake
# The real ultravisord, when it is built.
UVD=$UV_BUILD_DIR/ultravisor-daemon/ultravisord
if [ -x "$UVD" ]; then
	"$UVD" 2>"$T/uvd.log" &
	FAKE=$!
	wait_for 10 test -S "$T/run/ultravisord.sock" || fail "ultravisord did not start: $(cat "$T/uvd.log")"
	expect 200 GET /v1/status
	oas Status "'host' in j['ultravisord'] and 'iopartds' in j['ultravisord'] and 'ok' not in j['ultravisord']"
	kill -TERM $FAKE
	wait $FAKE
	FAKE=
fi

# --- the long poll ---
expect 200 GET /v1/partitions
G=$(jget "j['generation']")
expect 200 GET "/v1/partitions?wait=$((G - 1))"
jcheck "j['generation'] == $G" "an old generation is answered at once"
expect 200 GET "/v1/partitions?wait=$((G + 5))"
jcheck "j['generation'] == $G" "a future generation (an earlier opsd's) is answered at once"
curl -s --unix-socket "$SOCK" "http://opsd/v1/partitions?wait=$G" >"$T/poll" &
CP=$!
sleep 0.5
kill -0 $CP 2>/dev/null || fail "the long poll did not wait"
expect 201 POST /v1/partitions '{"name":"wake"}'
wait $CP || fail "the long poll failed"
$PY -c 'import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if j["generation"] == int(sys.argv[2]) + 1 and "wake" in [p["name"] for p in j["partitions"]] else 1)' \
	"$T/poll" "$G" || fail "long poll answer: $(cat "$T/poll")"
# A waiting client that goes away is forgotten at once.
G=$((G + 1))
curl -s --unix-socket "$SOCK" "http://opsd/v1/partitions?wait=$G" >/dev/null &
CP=$!
sleep 0.5
kill $CP
wait $CP 2>/dev/null
sleep 0.3
grep -q "a client waiting on /v1/partitions?wait=$G went away" "$T/log" || fail "no cleanup of a gone client"
alive "after a vanished client"
# A client that shuts down its sending side still gets its answer.
$PY - "$SOCK" "$G" >"$T/half" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(b"GET /v1/partitions?wait=%s HTTP/1.1\r\nHost: x\r\n\r\n" % sys.argv[2].encode())
s.shutdown(socket.SHUT_WR)
data = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    data += d
print(data.split(b"\r\n")[0].decode())
PY
HP=$!
sleep 0.5
expect 201 POST /v1/partitions '{"name":"wake2"}'
wait $HP
grep -q "200 OK" "$T/half" || fail "a half-closed client: $(cat "$T/half")"
G=$((G + 1))
# At most 256 wait at once (503 beyond); once they hang up, none is left counted.
$PY - "$SOCK" "$G" <<'PY' || fail "300 long polls"
import socket, sys, time
socks, n503 = [], 0
for i in range(300):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    s.sendall(b"GET /v1/partitions?wait=%s HTTP/1.1\r\nHost: x\r\n\r\n" % sys.argv[2].encode())
    socks.append(s)
time.sleep(1)
for s in socks:
    s.setblocking(False)
    try:
        n503 += b" 503 " in s.recv(4096).split(b"\r\n")[0]
    except BlockingIOError:
        pass
    s.close()
sys.exit(0 if n503 == 300 - 256 else "%d refused, wanted 44" % n503)
PY
sleep 0.5
curl -s --unix-socket "$SOCK" "http://opsd/v1/partitions?wait=$G" >"$T/poll" &
CP=$!
sleep 0.5
kill -0 $CP 2>/dev/null || fail "no long poll waits after 300 went away: $(cat "$T/poll")"
expect 204 DELETE /v1/partitions/wake2
wait $CP
grep -q '"generation"' "$T/poll" || fail "the long poll after 300: $(cat "$T/poll")"
# Nothing changed on the second opsd: its long poll is answered after 30 s, unchanged.
wait $POLL30
s=$(cat "$T/poll30.s")
{ [ "$s" -ge 29 ] && [ "$s" -le 35 ]; } || fail "the long poll took $s s, wanted 30"
grep -qF '{"generation":0,"partitions":[]}' "$T/poll30" || fail "long poll timeout: $(cat "$T/poll30")"
kill -TERM $PID2
wait $PID2 || fail "the second opsd: SIGTERM did not give 0"
PID2=

# --- restart after kill -9: everything is still there ---
expect 200 GET /v1/partitions
cp "$T/io/body" "$T/before"
kill9_opsd
start_opsd
expect 200 GET /v1/partitions
$PY -c 'import json,sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
for p in a["partitions"] + b["partitions"]: p.pop("actual")
sys.exit(0 if a == b else 1)' "$T/before" "$T/io/body" || fail "state differs after kill -9"
jcheck "all(p['actual']['state'] == 'unknown' for p in j['partitions'])" "actual is memory only"
expect 200 GET /v1/policy
jcheck "j['restart_default'] == 'never'" "policy after restart"
# A delete leaves no file behind: the generation must survive it anyway.
expect 204 DELETE /v1/partitions/wake
expect 200 GET /v1/partitions
G=$(jget "j['generation']")
kill9_opsd
start_opsd
expect 200 GET /v1/partitions
jcheck "j['generation'] == $G" "generation after a delete and a restart"

# --- damaged files are set aside, the rest loads ---
kill9_opsd
printf '{"name": "torn", "cpus": ' >"$PDIR/torn.json"
printf '{"name": "other"}\n' >"$PDIR/mismatch.json"
printf '{"name": "typo", "cpuz": 1}\n' >"$PDIR/typo.json"
printf 'garbage' >"$PDIR/pol.json.tmp.123"
printf '{"restart_max": "many"}' >"$T/state/opsd/policy.json"
start_opsd
for f in torn mismatch typo; do
	[ -e "$PDIR/$f.json.bad" ] || fail "$f.json not moved aside"
	grep -q "$f.json" "$T/log" || fail "$f.json not reported in the log"
done
[ -e "$PDIR/pol.json.tmp.123" ] && fail "a leftover temporary file stayed"
[ -e "$T/state/opsd/policy.json.bad" ] || fail "the bad policy not moved aside"
expect 200 GET /v1/partitions
jcheck "'pol' in [p['name'] for p in j['partitions']] and 'torn' not in [p['name'] for p in j['partitions']]" "the rest loads"

# --- kill -9 in the middle of writes: never a torn file ---
expect 200 GET /v1/partitions
G=$(jget "j['generation']")
for pause in 0.15 0.3 0.45 0.6 0.75; do
	(
		while :; do
			req POST /v1/partitions/pol/start
			req POST /v1/partitions/pol/shutdown
			req PUT /v1/policy '{"restart_max":7}'
		done
	) >/dev/null 2>&1 &
	LOOP=$!
	sleep $pause
	kill9_opsd
	kill $LOOP
	wait $LOOP 2>/dev/null
	start_opsd
	for f in "$PDIR"/*.json "$T/state/opsd/policy.json" "$T/state/opsd/generation"; do
		[ -e "$f" ] || continue # no policy written yet
		$PY -c 'import json,sys; json.load(open(sys.argv[1]))' "$f" || fail "$f torn after kill -9"
	done
	set -- "$PDIR"/*.bad
	[ $# = 3 ] || fail "a file was damaged by kill -9: $*"
	expect 200 GET /v1/partitions/pol
done
expect 200 GET /v1/partitions
[ "$(jget "j['generation']")" -gt "$G" ] || fail "no write happened between the kills"

# --- SIGTERM: exit 0, socket and pid file removed, a waiting request dropped ---
expect 200 GET /v1/partitions
curl -s --unix-socket "$SOCK" "http://opsd/v1/partitions?wait=$(jget "j['generation']")" \
	>/dev/null 2>&1 &
CP=$!
sleep 0.5
kill -TERM $PID
wait $PID
rc=$?
PID=
[ $rc = 0 ] || fail "SIGTERM: exit $rc"
[ -e "$SOCK" ] && fail "socket left behind"
[ -e "$T/run/opsd.pid" ] && fail "pid file left behind"
wait $CP
grep -q -e "runtime error" -e "Sanitizer" "$T/log" && fail "sanitizer report"
echo "PASS"
