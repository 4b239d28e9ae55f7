#!/bin/bash
# virtio-net on a tap device (--net tap=IFNAME, in-process back end): the
# guest and this host (L1 in the nested harness) ping each other, the guest
# downloads 8 MiB and uploads 4 MiB over TCP, and both ends agree on the
# SHA-256 sums. Needs root (a tap device and an address on it).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

tap=uvt$$
tap=${tap:0:15}
host_ip=10.77.0.1
guest_ip=10.77.0.2
rx_mib=8
tx_mib=4

[[ $(id -u) == 0 ]] || uv_fail "needs root for a tap device (run through scripts/kvm-run)"
[[ -e /dev/net/tun ]] || modprobe tun 2>/dev/null || true
ip tuntap add dev "$tap" mode tap || uv_fail "cannot create tap device $tap"
# The tap goes too; uv__cleanup still sees the test's status.
# shellcheck disable=SC2064,SC2154 # expand $tap now; rc is set by the trap
trap "rc=\$?; ip link del $tap 2>/dev/null; uv__cleanup \$rc" EXIT
ip addr add "$host_ip/24" dev "$tap"
ip link set "$tap" up

# The peer: serves rx_mib MiB of random data on 5001 and hashes what it
# receives on 5002 (one connection each).
head -c $((rx_mib << 20)) /dev/urandom >"$UV_TMP/rx.bin"
rx_sha=$(sha256sum <"$UV_TMP/rx.bin" | cut -d' ' -f1)
/usr/bin/python3 - "$host_ip" "$UV_TMP/rx.bin" "$UV_TMP/tx.sha" <<'PY' &
import hashlib, socket, sys, threading
ip, rx, out = sys.argv[1:4]
def serve(port, fn):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((ip, port)); s.listen(1); c, _ = s.accept(); fn(c); c.close(); s.close()
def send(c):
    with open(rx, 'rb') as f: c.sendall(f.read())
    c.shutdown(socket.SHUT_WR)
def recv(c):
    h, n = hashlib.sha256(), 0
    while True:
        b = c.recv(65536)
        if not b: break
        h.update(b); n += len(b)
    with open(out, 'w') as f: f.write('%s %d\n' % (h.hexdigest(), n))
t = [threading.Thread(target=serve, args=a) for a in ((5001, send), (5002, recv))]
[x.start() for x in t]; [x.join() for x in t]
PY
peer_pid=$!

uv_boot_expect 0 --memory 256M --net "tap=$tap" --cmdline "$UV_CMDLINE uv.report=1 uv.action=net \
uv.net.ip=$guest_ip/24 uv.net.peer=$host_ip uv.net.tx=$tx_mib"
[[ $(uv_value virtio-devices) == *0x0001* ]] || uv_fail "no virtio-net on the guest's virtio bus"
[[ $(uv_value ping) == ok ]] || uv_fail "the guest could not ping $host_ip"
[[ $(uv_value net-rx-sha) == "$rx_sha" ]] ||
	uv_fail "download: the guest got $(uv_value net-rx-bytes) bytes with another sum"
wait "$peer_pid" || uv_fail "the peer failed"
read -r tx_sha tx_n <"$UV_TMP/tx.sha"
[[ $tx_n == $((tx_mib << 20)) && $(uv_value net-tx-sha) == "$tx_sha" ]] ||
	uv_fail "upload: the peer got $tx_n bytes, sum $tx_sha; the guest sent $(uv_value net-tx-sha)"
[[ $(uv_value net) == ok ]] || uv_fail "the guest's net action failed"
uv_info "ping ok; $rx_mib MiB down and $tx_mib MiB up over virtio-net on $tap, sums match"
