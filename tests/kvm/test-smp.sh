#!/bin/bash
# uvmm run --cpus N: the guest sees exactly N online CPUs and powers off
# cleanly (status 0). N is 1 and 2, and 4 on a host with 4 or more CPUs:
# in the nested harness's 2-CPU L1, 4 vCPUs on 2 emulated CPUs took minutes
# to boot and once hung the L1 (2026-11-26); more vCPUs than host CPUs is
# not what this test is about.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

counts="1 2"
(($(nproc) >= 4)) && counts+=" 4"
for n in $counts; do
	uv_boot_expect 0 --cpus "$n" --memory 256M --cmdline "$UV_CMDLINE uv.report=1"
	expect_line "^$UV_BANNER"
	got=$(uv_value nproc)
	[[ $got == "$n" ]] || uv_fail "--cpus $n: the guest reports $got online CPUs"
	expect_line '^UVTEST action=poweroff$'
	uv_info "--cpus $n: guest sees $got CPUs"
done
