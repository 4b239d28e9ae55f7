#!/bin/bash
# Exit statuses of uvmm run: the guest powering off gives 0, rebooting gives
# 3. The guest's wall clock (date, from the emulated CMOS RTC and/or
# kvmclock) and the RTC itself must be within 5 s of the host's clock at the
# moment the guest printed them.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

tolerance=5

uv_boot_expect 0 --cmdline "$UV_CMDLINE uv.report=1 uv.action=poweroff"
expect_line '^UVTEST action=poweroff$'

host=$(uv_line_time date)
guest=$(uv_value date)
uv_is_uint "$guest" || uv_fail "guest date '$guest' is not a number"
diff=$((guest - host))
((diff >= -tolerance && diff <= tolerance)) ||
	uv_fail "guest clock $guest ($(date -u -d "@$guest")) is ${diff}s off the host's $host"
uv_info "guest date is ${diff}s off the host"

rtc=$(uv_value rtc)
if [[ $rtc == none ]]; then
	uv_info "the guest has no /sys/class/rtc/rtc0: RTC not checked"
else
	uv_is_uint "$rtc" || uv_fail "guest RTC since_epoch '$rtc' is not a number"
	host=$(uv_line_time rtc)
	diff=$((rtc - host))
	((diff >= -tolerance && diff <= tolerance)) ||
		uv_fail "guest RTC $rtc ($(date -u -d "@$rtc")) is ${diff}s off the host's $host"
	uv_info "guest RTC is ${diff}s off the host"
fi

uv_boot_expect 3 --cmdline "$UV_CMDLINE uv.action=reboot"
expect_line '^UVTEST action=reboot$'
