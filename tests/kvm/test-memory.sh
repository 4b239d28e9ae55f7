#!/bin/bash
# uvmm run --memory SIZE: the guest's MemTotal is at most SIZE and at least
# SIZE - (5% of SIZE + 64 MiB), for a small guest, a 1 GiB one and one of
# 3584 MiB that reaches above the PCI hole (3 GiB of RAM below it, the rest
# from 4 GiB up). Also checks that --cmdline reaches the guest verbatim.
#
# The margin covers what Linux keeps for itself (kernel image, struct pages,
# the 64 MiB swiotlb once RAM crosses 4 GiB). Measured with the Debian 6.1
# kernel under QEMU (pc, same sizes): MemTotal falls short of the request by
# 50.2 MiB at 256M, 63.3 MiB at 1G and 172.6 MiB at 3584M, against allowed
# shortfalls of 76.8, 115.2 and 243.2 MiB. Losing the RAM above 4 GiB
# (512 MiB) or a whole region fails the test.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

for size_mib in 256 1024 3584; do
	case $size_mib in
	1024) arg=1G ;;
	*) arg=${size_mib}M ;;
	esac
	token=uvtoken-$size_mib-$$-$RANDOM
	cmdline="$UV_CMDLINE uv.report=1 $token"
	uv_boot_expect 0 --cpus 1 --memory "$arg" --cmdline "$cmdline"
	expect_line "^$UV_BANNER"

	got_cmdline=$(uv_value cmdline)
	# The kernel may append words of its own (e.g. none, or BOOT_IMAGE from
	# a boot loader); what we passed must be there unchanged.
	[[ $got_cmdline == *"$cmdline"* ]] ||
		uv_fail "--memory $arg: kernel command line '$got_cmdline' lacks what was passed: '$cmdline'"

	kb=$(uv_value memtotal_kb)
	uv_is_uint "$kb" || uv_fail "--memory $arg: bad MemTotal '$kb'"
	want_kb=$((size_mib * 1024))
	margin_kb=$((want_kb * 5 / 100 + 64 * 1024))
	min_kb=$((want_kb - margin_kb))
	((kb <= want_kb)) ||
		uv_fail "--memory $arg: MemTotal $kb kB exceeds the $want_kb kB asked for"
	((kb >= min_kb)) ||
		uv_fail "--memory $arg: MemTotal $kb kB is below $min_kb kB ($want_kb kB asked for, margin $margin_kb kB)"
	uv_info "--memory $arg: MemTotal $kb kB, $(((want_kb - kb) / 1024)) MiB short of the request (allowed $((margin_kb / 1024)) MiB)"
done
