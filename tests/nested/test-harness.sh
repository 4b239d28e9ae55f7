#!/bin/bash
# Tests of scripts/nested-run (ctest label "nested"): it must always boot the
# TCG L1 guest, even where the host has /dev/kvm.
#   1. one L1 run checks: /dev/kvm present, exit status and output passed
#      back, file written into a writable share appears on the host,
#      environment (--env, UV_*) and working directory passed, /dev/fd and
#      /tmp usable, and a real KVM guest (real mode: out to 0x3f8, hlt) runs;
#   2. --timeout: exit 124 quickly, with the cached initramfs;
#   3. a missing kernel fails at once with status 125.
set -euo pipefail

SRC=${UV_SOURCE_DIR:-$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)}
NR=$SRC/scripts/nested-run
BASE=${UV_BUILD_DIR:-${TMPDIR:-/tmp}}
mkdir -p -- "$BASE"
WORK=$(mktemp -d "$BASE/nested-harness.XXXXXX")
WORK=$(readlink -f -- "$WORK")
trap 'rm -rf -- "$WORK"' EXIT

FAILS=0
fail() {
	echo "FAIL: $*"
	FAILS=$((FAILS + 1))
}
now() { # milliseconds
	local t=${EPOCHREALTIME/[.,]/}
	echo $((t / 1000))
}
since() { # START-MS: seconds elapsed, one decimal
	local d=$(($(now) - $1))
	printf '%d.%d' $((d / 1000)) $((d % 1000 / 100))
}

# ---------------------------------------------------------------- KVM smoke program
cat >"$WORK/kvm-smoke.c" <<'EOF'
/* Smallest real KVM guest: real mode, "out %al,(%dx)" to 0x3f8, then hlt. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static void fail(const char *what)
{
	perror(what);
	exit(1);
}

static void run_vcpu(int vcpu)
{
	while (ioctl(vcpu, KVM_RUN, 0) < 0)
		if (errno != EINTR)
			fail("KVM_RUN");
}

int main(void)
{
	static const unsigned char code[] = {
		0xba, 0xf8, 0x03, /* mov $0x3f8,%dx */
		0xb0, 'K',        /* mov $'K',%al */
		0xee,             /* out %al,(%dx) */
		0xf4,             /* hlt */
	};
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);

	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		fail("open /dev/kvm");
	if (ioctl(kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		fprintf(stderr, "kvm-smoke: unexpected KVM API version\n");
		return 1;
	}
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		fail("KVM_CREATE_VM");

	unsigned char *mem = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		fail("mmap guest memory");
	memcpy(mem, code, sizeof(code));
	struct kvm_userspace_memory_region region = {
		.slot = 0,
		.guest_phys_addr = 0x1000,
		.memory_size = 0x1000,
		.userspace_addr = (unsigned long)mem,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		fail("KVM_SET_USER_MEMORY_REGION");

	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		fail("KVM_CREATE_VCPU");
	int size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size <= 0)
		fail("KVM_GET_VCPU_MMAP_SIZE");
	struct kvm_run *run = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE,
				   MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		fail("mmap kvm_run");

	struct kvm_sregs sregs;
	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		fail("KVM_GET_SREGS");
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
		fail("KVM_SET_SREGS");
	struct kvm_regs regs = { .rip = 0x1000, .rflags = 0x2 };
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		fail("KVM_SET_REGS");

	run_vcpu(vcpu);
	if (run->exit_reason != KVM_EXIT_IO || run->io.direction != KVM_EXIT_IO_OUT ||
	    run->io.port != 0x3f8 || run->io.size != 1 || run->io.count != 1 ||
	    ((const char *)run)[run->io.data_offset] != 'K') {
		fprintf(stderr, "kvm-smoke: expected out 'K' to 0x3f8, got exit reason %u\n",
			run->exit_reason);
		return 1;
	}
	run_vcpu(vcpu);
	if (run->exit_reason != KVM_EXIT_HLT) {
		fprintf(stderr, "kvm-smoke: expected KVM_EXIT_HLT, got exit reason %u\n",
			run->exit_reason);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("kvm-smoke: OK: KVM_EXIT_IO (out 'K' to 0x3f8) then KVM_EXIT_HLT in %.1f ms\n",
	       (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	return 0;
}
EOF
${CC:-gcc} -O2 -Wall -Wextra -Werror -o "$WORK/kvm-smoke" "$WORK/kvm-smoke.c"

# ---------------------------------------------------------------- 1. one L1 run, many checks
echo "== 1. status, output, writable share, environment, /dev/kvm, KVM guest"
# shellcheck disable=SC2016 # expanded inside L1
L1_SCRIPT='
set -u
[ -c /dev/kvm ] || { echo "no /dev/kvm in L1"; exit 1; }
[ "$PWD" = "$WORK" ] || { echo "wrong working directory $PWD"; exit 1; }
[ "${UV_HARNESS_VAR:-}" = "a b  c" ] || { echo "--env not passed: ${UV_HARNESS_VAR:-unset}"; exit 1; }
[ "${UV_HARNESS_AUTO:-}" = "auto" ] || { echo "UV_* not passed"; exit 1; }
[ "${UV_IN_NESTED:-}" = 1 ] || { echo "UV_IN_NESTED not set"; exit 1; }
[ -z "${NOT_PASSED:-}" ] || { echo "unrelated variable leaked into L1"; exit 1; }
[ "$(cat <(echo procsub))" = procsub ] || { echo "process substitution (/dev/fd) broken"; exit 1; }
echo tmp >/tmp/uv-harness && rm /tmp/uv-harness || { echo "/tmp not writable"; exit 1; }
echo "written in L1" >"$WORK/from-l1"
./kvm-smoke || { echo "KVM guest failed"; exit 1; }
echo "UV-HARNESS-L1-OK"
exit 7
'
cd "$WORK"
export WORK
t=$(now)
rc=0
UV_HARNESS_AUTO=auto NOT_PASSED=leak "$NR" --rw "$WORK" \
	--env "UV_HARNESS_VAR=a b  c" --env WORK -- bash -c "$L1_SCRIPT" \
	>"$WORK/out1" 2>"$WORK/err1" || rc=$?
echo "   took $(since "$t") s, status $rc"
sed 's/^/   out: /' "$WORK/out1"
sed 's/^/   err: /' "$WORK/err1"
[[ $rc == 7 ]] || fail "1: expected exit status 7, got $rc"
grep -qx 'UV-HARNESS-L1-OK' "$WORK/out1" || fail "1: marker string missing from the output"
grep -q '^kvm-smoke: OK' "$WORK/out1" || fail "1: the KVM guest did not run in L1"
if [[ -f $WORK/from-l1 ]]; then
	[[ $(cat "$WORK/from-l1") == "written in L1" ]] || fail "1: file from L1 has wrong content"
else
	fail "1: file written in L1 did not appear on the host"
fi
if grep -q '@@UV-NESTED' "$WORK/out1"; then
	fail "1: exit marker leaked into the output"
fi

# ---------------------------------------------------------------- 2. timeout
echo "== 2. --timeout 5 with sleep 1000 -> 124"
t=$(now)
rc=0
"$NR" --timeout 5 -- sleep 1000 >"$WORK/out2" 2>"$WORK/err2" || rc=$?
el=$(since "$t")
echo "   took $el s, status $rc"
el_ms=$(($(now) - t))
sed 's/^/   err: /' "$WORK/err2"
[[ $rc == 124 ]] || fail "2: expected exit status 124, got $rc"
grep -q 'nested-run: timeout after 5 s' "$WORK/err2" || fail "2: no timeout message"
if grep -q 'building' "$WORK/err2"; then
	fail "2: the initramfs was rebuilt instead of taken from the cache"
fi
((el_ms < 30000)) || fail "2: the timeout took $el s"

# ---------------------------------------------------------------- 3. harness failure
echo "== 3. missing kernel -> 125"
t=$(now)
rc=0
UV_NESTED_KERNEL=/nonexistent/vmlinuz-0 "$NR" -- true >"$WORK/out3" 2>"$WORK/err3" || rc=$?
echo "   took $(since "$t") s, status $rc"
sed 's/^/   err: /' "$WORK/err3"
[[ $rc == 125 ]] || fail "3: expected exit status 125, got $rc"

if [[ $FAILS -gt 0 ]]; then
	echo "$FAILS check(s) failed"
	exit 1
fi
echo "all nested-run checks passed"
