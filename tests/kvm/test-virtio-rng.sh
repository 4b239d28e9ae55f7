#!/bin/bash
# virtio-pci through a stock kernel's drivers: `uvmm run --rng` gives the
# guest a virtio-rng (device ID 4) whose queue an in-process back end serves
# over vhost-user; the guest's hw_random reads 64 bytes from it (MSI-X, irqfd
# and ioeventfd on the data path, and no notification reaches uvmm).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

uv_boot_expect 0 --memory 256M --rng --log-level debug \
	--cmdline "$UV_CMDLINE uv.report=1 uv.action=rng"
expect_line "^$UV_BANNER"
devs=$(uv_value virtio-devices)
[[ $devs == *0x0004* ]] || uv_fail "the guest's virtio bus has '$devs', no virtio-rng (0x0004)"
[[ $(uv_value rng) == ok ]] || uv_fail "the guest could not read its virtio-rng"
# Every notification went to the back end through KVM's ioeventfd, none
# through uvmm (which counts those it sees, at debug level).
! grep 'notifications trapped' "$UV_ERR" ||
	uv_fail "queue notifications trapped to uvmm instead of the ioeventfd"
uv_info "virtio devices: $devs; rng: $(uv_value rng-current)"

# Guest RAM from huge pages: the back end maps the same hugetlb memfd.
if [[ ${UV_IN_NESTED:-0} == 1 ]]; then
	# The L1 is ours: reserve what the guest needs (256 MiB = 128 pages, plus slack).
	echo 160 >/proc/sys/vm/nr_hugepages
fi
free_huge=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)
((free_huge >= 128)) ||
	uv_fail "only ${free_huge:-0} free 2 MiB huge pages; 128 are needed (echo 160 >/proc/sys/vm/nr_hugepages)"
uv_boot_expect 0 --memory 256M,hugepages=on --rng --cmdline "$UV_CMDLINE uv.action=rng"
[[ $(uv_value rng) == ok ]] || uv_fail "hugepages=on: the guest could not read its virtio-rng"
uv_info "hugepages=on: guest booted from huge pages; its virtio-rng works"
