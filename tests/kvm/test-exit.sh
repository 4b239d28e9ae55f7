#!/bin/bash
# Exit statuses of uvmm run: the guest powering off gives 0 (also after
# SIGPWR, the ACPI power button), rebooting gives
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

# Graceful shutdown (commandd's `uvctl shutdown`): SIGPWR makes uvmm press
# the ACPI power button; the guest's power-button watcher powers off, and
# uvmm exits 0.
uv_bg run --kernel "$UV_KERNEL_PATH" --initrd "$UV_INITRAMFS" --memory 256M \
	--cmdline "$UV_CMDLINE uv.action=sleep uv.powerbutton=1"
deadline=$((SECONDS + UV_BOOT_TIMEOUT_S))
until grep -q '^UVTEST power-button-watch=' "$UV_LOG"; do
	if ! kill -0 "$UV_BG_PID" 2>/dev/null; then
		uv_bg_wait
		uv_fail "the guest ended (status $UV_RC) before watching its power button"
	fi
	((SECONDS < deadline)) || uv_fail "the guest never started watching its power button"
	sleep 0.2
done
watch=$(uv_value power-button-watch)
[[ $watch == event* ]] || uv_fail "the guest found no ACPI power button input device ($watch)"
# UV_BG_PID is timeout(1), which does not pass SIGPWR on: signal uvmm itself.
uvmm_pid=$(pgrep -P "$UV_BG_PID" -x uvmm) || uv_fail "no uvmm process under $UV_BG_PID"
kill -PWR "$uvmm_pid"
uv_bg_wait
uv_expect_status 0
grep -q '^UVTEST power-button[[:space:]]*$' "$UV_LOG" || uv_fail "the guest did not see the power button"
uv_info "SIGPWR: ACPI power button pressed, the guest powered off (status 0)"
