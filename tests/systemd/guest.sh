#!/bin/bash
# Runs as root in the Debian guest of tests/systemd/test-systemd.sh, with
# systemd as PID 1, from the 9p share: installs the suite (the share's
# `cmake --install` tree), then checks the units of scripts/systemd/.
# One line per check: UVSD-OK, UVSD-FAIL or UVSD-SKIP, then the name of
# the check; UVSD-INFO lines are figures and context. Exit status: the
# number of failed checks (at most 100).
# SC2015: `A && ok || bad` is meant (ok always succeeds). SC2016: the
# single-quoted conditions are eval'ed later, on purpose. SC2317: functions
# called through eval and wait_for.
# shellcheck disable=SC2015,SC2016,SC2317,SC2001
set -uo pipefail
export LC_ALL=C SYSTEMD_PAGER='' SYSTEMD_COLORS=0 TERM=dumb

share=$(cd "$(dirname "$0")" && pwd)
prefix=$(cat "$share/prefix")
bin=$prefix/bin
run=/run/ultravisor
units=(ultravisord.service iopartd@a.service iopartd@b.service opsd.service commandd.service)
name=sd1
nfail=0

ok() { echo "UVSD-OK $*"; }
bad() {
	echo "UVSD-FAIL $*"
	nfail=$((nfail + 1))
}
skip() { echo "UVSD-SKIP $*"; }
info() { echo "UVSD-INFO $*"; }
# check WHAT CMD...: one check, passed when CMD succeeds.
check() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else bad "$what"; fi
}
ms() { echo $((${EPOCHREALTIME/./} / 1000)); }
# wait_for SECS CMD...: until CMD succeeds, at most SECS seconds.
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		((SECONDS < end)) || return 1
		sleep 0.2
	done
}
prop() { systemctl show --value -p "$2" "$1"; }
uvctl() { "$bin/uvctl" "$@"; }
# field KEY: a value of the partition's actual state ("state", "pid",
# "iopartd"), from uvctl's JSON (no python or jq in the image: those keys
# occur in the "actual" object only).
field() {
	uvctl --json show "$name" 2>/dev/null | sed -n "s/^ *\"$1\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p" | tail -n 1
}
pid_alive() { [[ -d /proc/$1 ]] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
journal() { journalctl --no-pager -o cat -u "$1" "${@:2}"; }
dump() { # on a failure: what the units and the journal say
	systemctl --no-pager status "${units[@]}" 2>&1 | sed 's/^/UVSD-LOG /' | tail -n 60
	journalctl --no-pager -n 60 -o short-monotonic 2>&1 | sed 's/^/UVSD-LOG /'
}

# --- install, as a package would ----------------------------------------------
echo "UVSD-STEP install"
cp -a "$share/root/." / || bad "copy the install tree into /"
ldconfig
missing=$(for b in "$bin"/*; do ldd "$b" 2>&1 | grep 'not found'; done | sort -u | tr '\n' ' ')
if [[ -n $missing ]]; then
	bad "shared libraries of the binaries: missing $missing(an image older than the one with the daemons' libraries? rebuild it: scripts/build-debian-image)"
	exit 1
fi
ok "binaries installed in $bin with their libraries"
for m in man1/uvmm.1 man1/uvctl.1 man8/ultravisord.8 man8/iopartd.8 man8/opsd.8 man8/commandd.8; do
	[[ -s $prefix/share/man/$m ]] || bad "man page $prefix/share/man/$m"
	# help2roff's pages (all but uvmm's, from help2man) keep the sections.
	[[ $m == man1/uvmm.1 ]] || grep -q '^\.SH OPTIONS' "$prefix/share/man/$m" ||
		bad "man page $m has an OPTIONS section"
done
if command -v man >/dev/null; then
	check "man -w uvctl finds the page" man -w uvctl
else
	ok "man pages installed in $prefix/share/man (no man in the image: files checked)"
fi
check "systemd-sysusers makes the group ultravisor" \
	eval 'systemd-sysusers ultravisor.conf && getent group ultravisor >/dev/null'
check "systemd-tmpfiles makes $run 0750 root:ultravisor" \
	eval "systemd-tmpfiles --create ultravisor.conf && [[ \$(stat -c '%a %U %G' $run) == '750 root ultravisor' ]] && [[ -d /var/lib/ultravisor ]]"
systemctl daemon-reload
check "systemctl enable ultravisor.target (and disable)" \
	eval 'systemctl enable ultravisor.target 2>/dev/null && [[ $(systemctl is-enabled ultravisor.target) == enabled ]] && systemctl disable ultravisor.target 2>/dev/null'
# --man=no: the image has no man to look the Documentation= pages up with.
verify=$(systemd-analyze verify --man=no ultravisor.target "${units[@]}" 2>&1)
if [[ -n $verify ]]; then
	bad "systemd-analyze verify of the units is silent"
	printf '%s\n' "$verify" | sed 's/^/UVSD-LOG /'
else
	ok "systemd-analyze verify of the units is silent"
fi

# --- KVM in this TCG guest ----------------------------------------------------
kvm=0
modprobe kvm_amd 2>/dev/null
if [[ -c /dev/kvm ]] && grep -q svm /proc/cpuinfo; then
	kvm=1
	info "nested SVM: /dev/kvm present, kvm_amd nested=$(cat /sys/module/kvm_amd/parameters/nested 2>/dev/null)"
elif [[ -e $share/nokvm ]]; then
	info "no /dev/kvm in the guest (UV_SYSTEMD_NOKVM=1): the partition checks are skipped"
else
	bad "nested KVM in the guest: no /dev/kvm or no svm (kvm_amd: $(cat /sys/module/kvm_amd/parameters/nested 2>/dev/null || echo not loaded))"
fi

# --- start --------------------------------------------------------------------
echo "UVSD-STEP start ultravisor.target"
# At debug level, systemd logs each notification it takes from a unit.
systemd-analyze log-level debug
t0=$(ms)
if timeout 120 systemctl start ultravisor.target; then
	ok "systemctl start ultravisor.target ($(($(ms) - t0)) ms)"
else
	bad "systemctl start ultravisor.target"
	dump
fi
systemd-analyze log-level info
# Type=notify: systemd makes each unit active only on its READY=1, which
# each daemon sends once its socket listens (iopartd: once registered with
# ultravisord). So everything answers now, on the first try.
for u in "${units[@]}"; do
	st=$(prop "$u" ActiveState)/$(prop "$u" SubState)/$(prop "$u" Type)
	if [[ $st != active/running/notify ]]; then
		bad "$u: $st, not active/running/notify"
		continue
	fi
	pid=$(prop "$u" MainPID)
	# The unit's own lines in order: READY=1 from the main pid, then Started.
	order=$(journal "$u" -b | grep -n -E "Got notification message from PID $pid \\(READY=1|^Started " | cut -d: -f1 | tr '\n' ' ')
	if [[ $order =~ ^[0-9]+\ [0-9]+\ $ ]] && journal "$u" -b | sed -n "${order%% *}p" | grep -q READY=1; then
		ok "$u active (Type=notify) after READY=1 from its main pid $pid"
	else
		bad "$u active after READY=1 from its main pid $pid (journal lines: '$order')"
		journal "$u" -b | tail -n 8 | sed 's/^/UVSD-LOG /'
	fi
done
for s in ultravisord.sock opsd.sock commandd.sock; do
	[[ -S $run/$s ]] || bad "$run/$s exists once the units are active"
done
if status=$(uvctl status 2>&1); then
	ok "uvctl status answers at once"
	sed 's/^/UVSD-LOG /' <<<"$status"
else
	bad "uvctl status answers at once: $status"
fi
healthy=$(uvctl --json status 2>&1 | grep -c '"health": "healthy"')
if [[ $healthy == 2 ]]; then
	ok "ultravisord lists iopartd a and b healthy"
else
	bad "ultravisord lists $healthy healthy iopartds at once, not 2"
	uvctl --json status 2>&1 | sed 's/^/UVSD-LOG /'
fi
# What systemd says of a notification it refuses or cannot use.
check "no systemd complaint about notification messages" \
	eval '! journalctl --no-pager -o cat -b | grep -E "reception only permitted|notification message .*(ignor|refus|invalid)|NOTIFY_SOCKET"'
# An unprivileged user reads through opsd (the socket directory is 0750
# root:ultravisor: a member of the group).
if id uvtest >/dev/null 2>&1 || useradd -M -G ultravisor uvtest 2>/dev/null; then
	check "a member of group ultravisor runs uvctl list" su -s /bin/sh uvtest -c "$bin/uvctl list >/dev/null"
fi

# --- a partition --------------------------------------------------------------
uvmm_pid=
if ((kvm)); then
	echo "UVSD-STEP partition"
	cp "$share/halt.img" /var/lib/ultravisor/halt.img
	if uvctl create "$name" --disk /var/lib/ultravisor/halt.img,format=raw --memory 64M >/dev/null &&
		uvctl start "$name" >/dev/null && wait_for 60 eval '[[ $(field state) == running ]]'; then
		uvmm_pid=$(field pid)
		ok "partition $name running (uvmm pid $uvmm_pid, iopartd $(field iopartd))"
		info "uvmm's cgroup: $(cut -d: -f3 "/proc/$uvmm_pid/cgroup"), commandd.service TasksMax=$(prop commandd.service TasksMax)"
		# uvmm's stderr is its log file, not the journal, though it inherits
		# commandd's JOURNAL_STREAM: no "<N>" level prefixes there.
		if grep -q '^<[0-9]>' "$run/partitions/$name/uvmm.log"; then
			bad "uvmm.log has journal level prefixes: $(grep -m1 '^<[0-9]>' "$run/partitions/$name/uvmm.log")"
		else
			ok "uvmm.log is plain text ($(wc -l <"$run/partitions/$name/uvmm.log") lines)"
		fi
	else
		bad "partition $name running (state '$(field state)')"
		uvctl show "$name" 2>&1 | sed 's/^/UVSD-LOG /'
		tail -n 20 "$run/partitions/$name/uvmm.log" 2>/dev/null | sed 's/^/UVSD-LOG /'
	fi
else
	skip "partition checks (no /dev/kvm in the guest)"
fi
# uvmm_alive WHAT: the partition's uvmm still runs, same pid, reported running.
uvmm_alive() {
	[[ -n $uvmm_pid ]] || return 0
	if ! pid_alive "$uvmm_pid"; then
		bad "uvmm (pid $uvmm_pid) survives $1"
		uvmm_pid=
		return
	fi
	if wait_for 30 eval '[[ $(field state) == running && $(field pid) == $uvmm_pid ]]'; then
		ok "uvmm (pid $uvmm_pid) survives $1, reported running again"
	else
		bad "uvmm survives $1, but the partition is '$(field state)' with pid '$(field pid)'"
	fi
}

# --- kill -9 of iopartd@a -----------------------------------------------------
echo "UVSD-STEP kill -9 iopartd@a"
old=$(prop iopartd@a.service MainPID)
n0=$(prop iopartd@a.service NRestarts)
kill -9 "$old"
t0=$(ms)
if wait_for 30 eval '[[ $(prop iopartd@a.service MainPID) != "$old" && $(prop iopartd@a.service MainPID) != 0 && $(prop iopartd@a.service ActiveState) == active ]]'; then
	new=$(prop iopartd@a.service MainPID)
	ok "systemd restarted iopartd@a (pid $old -> $new, NRestarts $n0 -> $(prop iopartd@a.service NRestarts), active $(($(ms) - t0)) ms after the kill)"
	if wait_for 15 eval 'journal commandd.service | grep -q "iopartd a (pid $new) is up"'; then
		ok "commandd sees iopartd a again (pid $new)"
		# Levels reach the journal ("<4>" on a journal stream): the death
		# is a warning there.
		check "commandd's warning of the death is a journal warning" \
			eval 'journal commandd.service -p warning | grep -q "iopartd a (pid $old) is down"'
	else
		bad "commandd sees iopartd a again (pid $new)"
		journal commandd.service | tail -n 10 | sed 's/^/UVSD-LOG /'
	fi
else
	bad "systemd restarted iopartd@a after kill -9"
	dump
fi
uvmm_alive "kill -9 of iopartd@a"
if [[ -n $uvmm_pid ]]; then
	[[ $(field iopartd) == b ]] && ok "the partition's channels moved to iopartd b" ||
		bad "the partition's channels moved to iopartd b (it names '$(field iopartd)')"
fi

# --- restarts of the other daemons --------------------------------------------
echo "UVSD-STEP systemctl restart commandd opsd ultravisord"
declare -A before
for u in commandd.service opsd.service ultravisord.service; do before[$u]=$(prop "$u" MainPID); done
if timeout 120 systemctl restart commandd.service opsd.service ultravisord.service; then
	ok "systemctl restart commandd opsd ultravisord"
else
	bad "systemctl restart commandd opsd ultravisord"
	dump
fi
for u in commandd.service opsd.service ultravisord.service; do
	p=$(prop "$u" MainPID)
	[[ $p != "${before[$u]}" && $(prop "$u" ActiveState) == active ]] ||
		bad "$u restarted (pid ${before[$u]} -> $p, $(prop "$u" ActiveState))"
done
uvmm_alive "systemctl restart commandd opsd ultravisord"
if [[ -n $uvmm_pid ]]; then
	act=$(field iopartd)
	systemctl restart "iopartd@$act.service"
	uvmm_alive "systemctl restart iopartd@$act (the active one)"
	p=$(prop commandd.service MainPID)
	kill -9 "$p"
	wait_for 30 eval '[[ $(prop commandd.service MainPID) != "$p" && $(prop commandd.service ActiveState) == active ]]' ||
		bad "systemd restarted commandd after kill -9"
	uvmm_alive "kill -9 of commandd"
fi

# --- stop ---------------------------------------------------------------------
echo "UVSD-STEP stop ultravisor.target"
# all_inactive: every unit of the suite is stopped. `systemctl stop
# ultravisor.target` returns once the target is: the services, ordered
# before it, stop after it (PartOf=), in reverse start order.
all_inactive() {
	local u
	for u in "${units[@]}"; do
		[[ $(prop "$u" ActiveState) == inactive ]] || return 1
	done
}
# The exit statuses come from the journal: an inactive unit nobody refers
# to is unloaded soon, and its ExecMainStatus with it. systemd logs each
# main process's exit at debug level.
cursor=$(journalctl -n 0 --show-cursor -q | sed -n 's/^-- cursor: //p')
systemd-analyze log-level debug
t0=$(ms)
if timeout 120 systemctl stop ultravisor.target && wait_for 60 all_inactive; then
	ok "systemctl stop ultravisor.target: all inactive $(($(ms) - t0)) ms later"
else
	bad "systemctl stop ultravisor.target: all inactive within 60 s"
fi
systemd-analyze log-level info
for u in "${units[@]}"; do
	j=$(journal "$u" --after-cursor="$cursor")
	if grep -q 'shutting down' <<<"$j" && grep -q 'Main process exited, code=exited, status=0/SUCCESS' <<<"$j" &&
		grep -q 'Deactivated successfully' <<<"$j"; then
		ok "$u stopped by SIGTERM, exit 0"
	else
		bad "$u stopped by SIGTERM, exit 0"
		tail -n 8 <<<"$j" | sed 's/^/UVSD-LOG /'
	fi
done
failed=$(systemctl list-units --failed --plain --no-legend | grep -E 'ultravisor|iopartd|opsd|commandd')
[[ -z $failed ]] && ok "no failed units" || bad "failed units: $failed"
for f in ultravisord opsd commandd iopartd-a iopartd-b; do
	[[ ! -e $run/$f.pid ]] || bad "$run/$f.pid removed on stop"
done
for s in ultravisord.sock opsd.sock commandd.sock; do
	[[ ! -e $run/$s ]] || bad "$run/$s removed on stop"
done
if [[ -n $uvmm_pid ]]; then
	# Guests outlive the daemons (KillMode=process on commandd): a stop of
	# the suite is not a stop of the partitions.
	if pid_alive "$uvmm_pid"; then
		ok "uvmm (pid $uvmm_pid) outlives systemctl stop ultravisor.target"
	else
		bad "uvmm (pid $uvmm_pid) outlives systemctl stop ultravisor.target"
		uvmm_pid=
	fi
fi
if [[ -n $uvmm_pid ]]; then
	echo "UVSD-STEP start again, adopt, destroy"
	timeout 120 systemctl start ultravisor.target || bad "systemctl start ultravisor.target again"
	uvmm_alive "a stop and start of ultravisor.target (adopted)"
	uvctl destroy "$name" >/dev/null
	if wait_for 30 eval '! pid_alive $uvmm_pid && [[ $(field state) == stopped ]]'; then
		ok "uvctl destroy stops the uvmm"
	else
		bad "uvctl destroy stops the uvmm (state '$(field state)')"
		kill -9 "$uvmm_pid" 2>/dev/null
	fi
	uvctl delete "$name" >/dev/null || bad "uvctl delete $name"
	timeout 120 systemctl stop ultravisor.target && wait_for 60 all_inactive ||
		bad "systemctl stop ultravisor.target (2)"
	left=$(tr '\n' ' ' </sys/fs/cgroup/system.slice/commandd.service/cgroup.procs 2>/dev/null)
	[[ -z $left ]] && ok "nothing left in commandd.service's cgroup" ||
		bad "commandd.service's cgroup still holds pids $left after destroy and stop"
fi
# What a host's power-off does to a running guest: commandd leaves it
# (KillMode=process); systemd's last step sends SIGTERM to what remains,
# which stops a uvmm hard. test-systemd.sh times the power-off.
if ((kvm)); then
	echo "UVSD-STEP a partition left running for the power-off"
	name=sd2
	if timeout 120 systemctl start ultravisor.target &&
		uvctl create "$name" --disk /var/lib/ultravisor/halt.img,format=raw --memory 64M >/dev/null &&
		uvctl start "$name" >/dev/null && wait_for 60 eval '[[ $(field state) == running ]]'; then
		info "partition $name running (uvmm pid $(field pid)) when the power-off starts"
	else
		info "partition $name did not run ('$(field state)'): the power-off has no guest"
	fi
fi
[[ $nfail == 0 ]] || dump
echo "UVSD-STEP done: $nfail failed"
exit $((nfail > 100 ? 100 : nfail))
