#!/bin/bash
# uvmm run --cpus N: the guest sees exactly N online CPUs (1, 2 and 4; more
# vCPUs than host cores is fine) and powers off cleanly (status 0).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

for n in 1 2 4; do
	uv_boot_expect 0 --cpus "$n" --memory 256M --cmdline "$UV_CMDLINE uv.report=1"
	expect_line "^$UV_BANNER"
	got=$(uv_value nproc)
	[[ $got == "$n" ]] || uv_fail "--cpus $n: the guest reports $got online CPUs"
	expect_line '^UVTEST action=poweroff$'
	uv_info "--cpus $n: guest sees $got CPUs"
done
