#!/usr/bin/python3
"""bench/blk/stats.py: what one fio boot costs, per request, seen from the host.

    stats.py --pid PID --log CONSOLE --runtime SEC --out FILE [--be-pid PID]
    stats.py --outer PID --out FILE

PID is the VMM (or a process whose only child is it, e.g. timeout(1)),
--be-pid a separate back end (iopartd). Samples twice a second, until the
console shows fio's result line:
  - KVM's statistics of the VM (debugfs, /sys/kernel/debug/kvm/PID-FD/),
  - CPU time, context switches and read/write system calls of the VMM's and
    the back end's threads (/proc),
  - the host's CPU time (/proc/stat).
Then writes to FILE the rates per second over the fio run (--runtime - 4
seconds of it, ending 1.5 s before the result line came), "key value" lines.

With --outer, it runs on the machine that runs the nested L1 guest instead:
twice a second it appends "WALLCLOCK CPU-SECONDS" of the L1's QEMU (the
qemu-system-x86_64 below PID) to FILE, until PID ends. When the inner
sampler finds $UV_BENCH_L1_CPU naming that file (the build tree is shared),
it adds "l1.share": the part of a real CPU the L1 had during the fio run.
Under TCG the L1 runs only that fast, and the machine is shared: figures
divided by it compare better between boots.

Never fails the benchmark: on any problem it writes what it has.
"""
import argparse
import glob
import os
import sys
import time

_kvm_keys = []


def kvm_keys(vmdir):
    """KVM's counters of the VM and its vCPUs (summed): every plain file."""
    if not _kvm_keys:
        _kvm_keys.extend(sorted(f for f in os.listdir(vmdir)
                                if os.path.isfile(f"{vmdir}/{f}") and f != "pages_4k"))
    return _kvm_keys

CLK = os.sysconf("SC_CLK_TCK")


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def child_of(pid):
    kids = read(f"/proc/{pid}/task/{pid}/children").split()
    return int(kids[0]) if kids else None


def vm_dir(pid):
    dirs = glob.glob(f"/sys/kernel/debug/kvm/{pid}-*")
    return dirs[0] if dirs else None


def proc_sample(tag, pid, out):
    """CPU seconds per thread (by name), switches and syscalls of one process."""
    for tid in os.listdir(f"/proc/{pid}/task") if os.path.isdir(f"/proc/{pid}/task") else []:
        st = read(f"/proc/{pid}/task/{tid}/stat")
        if not st:
            continue
        comm = st[st.index("(") + 1:st.rindex(")")].replace(" ", "_")
        f = st[st.rindex(")") + 2:].split()
        key = f"{tag}.cpu.{comm}.{tid}"
        out[key] = out.get(key, 0) + (int(f[11]) + int(f[12])) / CLK
        sw = read(f"/proc/{pid}/task/{tid}/status")
        for line in sw.splitlines():
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                k, v = line.split(":")
                key = f"{tag}.{k[:3]}sw"
                out[key] = out.get(key, 0) + int(v)
    for line in read(f"/proc/{pid}/io").splitlines():
        if line.startswith(("syscr", "syscw")):
            k, v = line.split(":")
            out[f"{tag}.{k}"] = int(v)


def sample(vmm, be, vmdir):
    s = {"t": time.monotonic(), "wall": time.time()}
    if vmdir:
        for k in kvm_keys(vmdir):
            v = read(f"{vmdir}/{k}").strip()
            if v.isdigit():
                s[f"kvm.{k}"] = int(v)
    proc_sample("vmm", vmm, s)
    if be:
        proc_sample("be", be, s)
    # user nice system idle iowait irq softirq steal [guest guest_nice: in user]
    f = [int(x) for x in read("/proc/stat").splitlines()[0].split()[1:9]]
    s["host.busy"] = (sum(f) - f[3] - f[4]) / CLK
    return s


def resolve_vmm(pid):
    """The VMM: pid, or its child once pid has become timeout(1).

    pid may still be the script's subshell that is about to exec timeout(1),
    so wait until it is either timeout (then take its child) or has a VM of
    its own; without debugfs, fall back to pid after 30 s.
    """
    for _ in range(300):
        comm = read(f"/proc/{pid}/comm").strip()
        if not comm:
            break
        if comm == "timeout":
            kid = child_of(pid)
            if kid:
                return kid
        elif vm_dir(pid):
            return pid
        time.sleep(0.1)
    return pid


def descendants(pid):
    kids = [int(k) for k in read(f"/proc/{pid}/task/{pid}/children").split()]
    return kids + [d for k in kids for d in descendants(k)]


def outer(pid, path):
    """The L1's CPU time, from outside it, until pid (nested-run) ends."""
    l1 = None
    with open(path, "a") as out:
        while os.path.exists(f"/proc/{pid}"):
            if not l1 or not os.path.exists(f"/proc/{l1}"):
                l1 = next((d for d in descendants(pid)
                           if read(f"/proc/{d}/comm").startswith("qemu-system")), None)
            st = read(f"/proc/{l1}/stat") if l1 else ""
            if st:
                f = st[st.rindex(")") + 2:].split()
                out.write(f"{time.time():.3f} {(int(f[11]) + int(f[12])) / CLK:.2f}\n")
                out.flush()
            time.sleep(0.5)


def l1_share(t0, t1):
    """CPU the L1 had from wall-clock t0 to t1, from the outer samples."""
    path = os.environ.get("UV_BENCH_L1_CPU")
    if not path:
        return None
    pts = []
    for line in read(path).splitlines():
        w = line.split()
        if len(w) == 2:
            pts.append((float(w[0]), float(w[1])))
    a = [p for p in pts if p[0] <= t0]
    b = [p for p in pts if p[0] >= t1]
    if not a or not b or b[0][0] - a[-1][0] <= 0:
        return None
    return (b[0][1] - a[-1][1]) / (b[0][0] - a[-1][0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--outer", type=int)
    ap.add_argument("--pid", type=int)
    ap.add_argument("--be-pid", type=int)
    ap.add_argument("--log")
    ap.add_argument("--runtime", type=float)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    if a.outer:
        outer(a.outer, a.out)
        return
    if not (a.pid and a.log and a.runtime):
        ap.error("--pid, --log and --runtime are needed")

    vmm = resolve_vmm(a.pid)
    samples, vmdir, seen, pos = [], None, False, 0
    while os.path.exists(f"/proc/{vmm}") and not seen:
        vmdir = vmdir or vm_dir(vmm)
        samples.append(sample(vmm, a.be_pid, vmdir))
        samples = samples[-int(a.runtime * 2 + 10):]
        try:
            with open(a.log, errors="replace") as f:
                f.seek(max(pos - 64, 0))
                text = f.read()
                pos = f.tell()
            seen = "UVTEST fio-" in text
        except OSError:
            pass
        if not seen:
            time.sleep(0.5)
    with open(a.out, "w") as out:
        if not seen or len(samples) < 3:
            out.write("error no-window\n")
            return
        # fio ended a little before its line came out (awk, the serial
        # console): leave 1.5 s at the end and some start-up at the front.
        seen_t = samples[-1]["t"]
        end = [s for s in samples if s["t"] <= seen_t - 1.5][-1]
        start = next(s for s in samples if s["t"] >= end["t"] - max(a.runtime - 4, 1))
        dt = end["t"] - start["t"]
        out.write(f"window {dt:.2f}\n")
        # CLOCK_MONOTONIC, for tools that record more (perf --clockid monotonic)
        out.write(f"window.start {start['t']:.3f}\nwindow.end {end['t']:.3f}\n")
        for k in sorted(end):
            if k not in ("t", "wall") and k in start and end[k] != start[k]:
                out.write(f"{k} {(end[k] - start[k]) / dt:.3f}\n")
        share = l1_share(start["wall"], end["wall"])
        if share:
            out.write(f"l1.share {share:.3f}\n")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # a benchmark's helper never fails the benchmark
        print(f"stats.py: {e}", file=sys.stderr)
