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
slice=ultravisor.slice
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
# cg PID: its cgroup (v2), like /ultravisor.slice/uvmm-sd1.scope; parent
# PID, comm PID: its parent's pid, its name.
cg() { sed -n 's/^0:://p' "/proc/$1/cgroup" 2>/dev/null; }
parent() { sed 's/^.*) . \([0-9]*\) .*$/\1/' "/proc/$1/stat" 2>/dev/null; }
comm() { cat "/proc/$1/comm" 2>/dev/null; }
cursor() { journalctl -n 0 --show-cursor -q | sed -n 's/^-- cursor: //p'; }
# no_leftover WHAT CURSOR: systemd, starting commandd.service again, found
# nothing of the guests in its cgroup (they are in their scopes).
no_leftover() {
	local l
	l=$(journalctl --no-pager -o cat -b --after-cursor="$2" | grep 'left-over process')
	if [[ -z $l ]]; then
		ok "$1: no 'left-over process' from systemd"
	else
		bad "$1: systemd found left-over processes"
		sed 's/^/UVSD-LOG /' <<<"$l"
	fi
}
# in_scope NAME PID WHAT: the uvmm PID and its monitor are in uvmm-NAME.scope.
in_scope() {
	local u=uvmm-$1.scope mon
	mon=$(parent "$2")
	if [[ $(cg "$2") == "/$slice/$u" && $(cg "$mon") == "/$slice/$u" && $(comm "$mon") == uvmon:* ]]; then
		ok "$3: uvmm $2 and its monitor $mon ($(comm "$mon")) in $slice/$u"
	else
		bad "$3: uvmm $2 and its monitor in $slice/$u (uvmm in '$(cg "$2")', its parent $mon '$(comm "$mon")' in '$(cg "$mon")')"
	fi
}
# scope_props NAME: the scope's stop is the power button (SIGPWR), SIGKILL
# after commandd's --shutdown-timeout (60 s), ordered after ultravisord and
# the iopartds and before commandd; it goes away once stopped.
scope_props() {
	local u=uvmm-$1.scope out kv d miss=
	out=$(systemctl show -p KillSignal -p SendSIGKILL -p TimeoutStopUSec -p CollectMode -p Slice -p ActiveState "$u")
	for kv in "KillSignal=$(kill -l PWR)" SendSIGKILL=yes TimeoutStopUSec=1min CollectMode=inactive-or-failed "Slice=$slice" ActiveState=active; do
		grep -qx "$kv" <<<"$out" || miss+=" $kv"
	done
	for d in ultravisord.service iopartd@a.service iopartd@b.service; do
		[[ " $(prop "$u" After) " == *" $d "* ]] || miss+=" After=$d"
	done
	[[ " $(prop "$u" Before) " == *" commandd.service "* ]] || miss+=" Before=commandd.service"
	if [[ -z $miss ]]; then
		ok "$u: KillSignal=SIGPWR, SendSIGKILL=yes, TimeoutStopUSec=1min, CollectMode=inactive-or-failed, After= ultravisord and the iopartds, Before=commandd"
	else
		bad "$u lacks$miss"
		systemctl show "$u" | grep -E '^(Kill|SendSIG|Timeout|Collect|Slice|After|Before|ActiveState)' | sed 's/^/UVSD-LOG /'
	fi
}
# t_of UNIT REGEX CURSOR: the time (microseconds since the epoch) of UNIT's
# first journal line since CURSOR that matches REGEX; nothing if none.
t_of() {
	journalctl --no-pager -o short-unix --after-cursor="$3" -u "$1" | grep -m1 -E "$2" | cut -d' ' -f1 | tr -d .
}
# stop_order NAME CURSOR WHAT: in a stop of everything (a power-off), since
# CURSOR: commandd stopped before uvmm-NAME.scope began to stop, and the
# scope stopped (the guest powered off) before ultravisord or an iopartd
# began to stop, so the guest's disks were served until it was off. A
# unit's stop begins with its job's "Stopping" line or, at debug level, its
# change of state to stop-sigterm; the job lines of a scope went only to
# the console in the runs seen, so systemd must log at debug level here.
stop_order() {
	local u=uvmm-$1.scope t_cmd t_from t_to t_first='' first='' d t
	local begin='systemd\[1\]: (Stopping |.*: Changed [a-z-]+ -> stop)'
	local end='systemd\[1\]: (Stopped |.*: Deactivated successfully|.*: Changed [a-z-]+ -> (dead|failed))'
	t_cmd=$(t_of commandd.service "$end" "$2")
	t_from=$(t_of "$u" "$begin" "$2")
	t_to=$(t_of "$u" "$end" "$2")
	for d in iopartd@a.service iopartd@b.service ultravisord.service; do
		t=$(t_of "$d" "$begin" "$2")
		if [[ -n $t ]] && { [[ -z $t_first ]] || ((t < t_first)); }; then
			t_first=$t
			first=$d
		fi
	done
	if [[ -n $t_from && -n $t_to && -n $t_first ]] && ((t_to <= t_first)); then
		ok "$3: $u stopped $(((t_to - t_from) / 1000)) ms after its stop began, $(((t_first - t_to) / 1000)) ms before $first began to stop"
	else
		bad "$3: $u stopped before the iopartds and ultravisord (scope '$t_from'..'$t_to', first daemon $first '$t_first')"
	fi
	if [[ -n $t_cmd && -n $t_from ]] && ((t_cmd <= t_from)); then
		ok "$3: commandd stopped before $u ($(((t_from - t_cmd) / 1000)) ms)"
	else
		bad "$3: commandd stopped before $u (commandd '$t_cmd', scope '$t_from')"
	fi
	[[ -n $t_from && -n $t_to && -n $t_cmd && -n $t_first ]] ||
		journalctl --no-pager -o short-unix --after-cursor="$2" -u "$u" -u commandd.service |
		grep 'systemd\[1\]' | tail -n 20 | sed 's/^/UVSD-LOG /'
}
# powered_off NAME PID LOGSIZE WHAT: the guest got the power button and
# powered off: uvmm's log (past LOGSIZE bytes) says SIGPWR, and the monitor
# recorded exit status 0 (a SIGKILL would be 9) and that its scope was stopped.
powered_off() {
	local d=$run/partitions/$1 rec
	rec=$(cat "$d/exit" 2>/dev/null)
	if [[ $rec == "$2 0 scope-stop" ]] && tail -c +"$(($3 + 1))" "$d/uvmm.log" | grep -q 'SIGPWR: pressing the power button'; then
		ok "$4: the guest got the power button and powered off (uvmm $2, exit status 0, a scope stop)"
	else
		bad "$4: the guest got the power button and powered off (exit record '$rec', not '$2 0 scope-stop')"
		tail -n 5 "$d/uvmm.log" | sed 's/^/UVSD-LOG /'
	fi
}
logsize() { stat -c %s "$run/partitions/$1/uvmm.log" 2>/dev/null || echo 0; }
# scope_stop NAME PID MON WHAT: systemctl stop uvmm-NAME.scope ends the
# uvmm PID and its monitor MON, and the guest got the power button.
scope_stop() {
	local off t0
	off=$(logsize "$1")
	t0=$(ms)
	if timeout 90 systemctl stop "uvmm-$1.scope" && ! pid_alive "$2" && ! pid_alive "$3"; then
		ok "$4: uvmm $2 and monitor $3 gone after $(($(ms) - t0)) ms"
	else
		bad "$4 ends uvmm $2 and monitor $3"
	fi
	powered_off "$1" "$2" "$off" "$4"
}
# no_scope_warning WHAT: commandd made every scope (a failure is a warning
# naming the scope, and the uvmm starting in commandd's cgroup).
no_scope_warning() {
	local w
	w=$(journal commandd.service -b -p warning | grep -E 'scope|cgroup')
	if [[ -z $w ]]; then
		ok "$1: no scope warning from commandd"
	else
		bad "$1: commandd could not make a scope"
		sed 's/^/UVSD-LOG /' <<<"$w"
	fi
}
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
verify=$(systemd-analyze verify --man=no ultravisor.target "$slice" "${units[@]}" 2>&1)
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
	cp "$share/pwrbtn.img" /var/lib/ultravisor/pwrbtn.img
	if uvctl create "$name" --disk /var/lib/ultravisor/pwrbtn.img,format=raw --memory 64M >/dev/null &&
		uvctl start "$name" >/dev/null && wait_for 60 eval '[[ $(field state) == running ]]'; then
		uvmm_pid=$(field pid)
		ok "partition $name running (uvmm pid $uvmm_pid, iopartd $(field iopartd))"
		# Each uvmm in a scope of its own (commandd --scope auto under
		# systemd), with its monitor; commandd's cgroup holds commandd only.
		in_scope "$name" "$uvmm_pid" "commandd under systemd"
		scope_props "$name"
		no_scope_warning "the first start"
		procs=$(tr '\n' ' ' </sys/fs/cgroup/system.slice/commandd.service/cgroup.procs)
		[[ $procs == "$(prop commandd.service MainPID) " ]] && ok "commandd.service's cgroup holds commandd only" ||
			bad "commandd.service's cgroup holds commandd only: pids $procs"
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

# --- restarts of commandd and the other daemons --------------------------------
# With the guests in their scopes systemd finds nothing left over in
# commandd.service's cgroup when it starts commandd again.
echo "UVSD-STEP systemctl restart commandd"
c=$(cursor)
p=$(prop commandd.service MainPID)
if timeout 120 systemctl restart commandd.service && [[ $(prop commandd.service MainPID) != "$p" ]]; then
	ok "systemctl restart commandd"
else
	bad "systemctl restart commandd"
fi
uvmm_alive "systemctl restart commandd"
no_leftover "systemctl restart commandd" "$c"
echo "UVSD-STEP systemctl restart commandd opsd ultravisord"
c=$(cursor)
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
	no_leftover "the restarts of commandd, opsd, ultravisord, iopartd, kill -9 of commandd" "$c"
	in_scope "$name" "$uvmm_pid" "after the restarts"
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
cursor=$(cursor)
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
	# Guests outlive the daemons (their scopes are not part of the suite):
	# a stop of the suite is not a stop of the partitions.
	if pid_alive "$uvmm_pid"; then
		ok "uvmm (pid $uvmm_pid) outlives systemctl stop ultravisor.target"
		in_scope "$name" "$uvmm_pid" "the suite stopped"
	else
		bad "uvmm (pid $uvmm_pid) outlives systemctl stop ultravisor.target"
		uvmm_pid=
	fi
fi
if [[ -n $uvmm_pid ]]; then
	echo "UVSD-STEP start again, adopt"
	timeout 120 systemctl start ultravisor.target || bad "systemctl start ultravisor.target again"
	uvmm_alive "a stop and start of ultravisor.target (adopted)"
fi
# systemctl stop of the scope: SIGPWR, the guest powers off, uvmm exits 0,
# the monitor records it; commandd (running) reports the partition stopped.
if [[ -n $uvmm_pid ]]; then
	echo "UVSD-STEP systemctl stop uvmm-$name.scope"
	pid=$uvmm_pid
	mon=$(parent "$pid")
	scope_stop "$name" "$pid" "$mon" "systemctl stop uvmm-$name.scope"
	if wait_for 30 eval '[[ $(field state) == stopped ]]'; then
		ok "commandd reports $name stopped ($(uvctl --json show "$name" | sed -n 's/^ *"reason": "\(.*\)",\{0,1\}$/\1/p' | tail -n 1))"
	else
		bad "commandd reports $name stopped (state '$(field state)')"
	fi
	wait_for 10 eval '[[ $(prop "uvmm-$name.scope" ActiveState) == inactive ]]' &&
		ok "uvmm-$name.scope is gone (CollectMode=inactive-or-failed)" ||
		bad "uvmm-$name.scope is gone ($(prop "uvmm-$name.scope" ActiveState))"
	uvmm_pid=
	# A new wish starts it again, in a scope of the same name.
	if uvctl start "$name" >/dev/null && wait_for 60 eval '[[ $(field state) == running && $(field pid) != "$pid" ]]'; then
		uvmm_pid=$(field pid)
		ok "uvctl start $name again: uvmm $uvmm_pid"
		in_scope "$name" "$uvmm_pid" "started again"
	else
		bad "uvctl start $name again (state '$(field state)')"
	fi
fi
# A power-off's order, without the power-off: the suite and the scope
# stopped in one transaction.
if [[ -n $uvmm_pid ]]; then
	echo "UVSD-STEP systemctl stop ultravisor.target with uvmm-$name.scope"
	c=$(cursor)
	pid=$uvmm_pid
	off=$(logsize "$name")
	systemd-analyze log-level debug
	if timeout 120 systemctl stop ultravisor.target "${units[@]}" "uvmm-$name.scope" && wait_for 60 all_inactive; then
		ok "systemctl stop ultravisor.target ... uvmm-$name.scope"
	else
		bad "systemctl stop ultravisor.target ... uvmm-$name.scope"
	fi
	systemd-analyze log-level info
	stop_order "$name" "$c" "the suite and the scope stopped together"
	powered_off "$name" "$pid" "$off" "the suite and the scope stopped together"
	uvmm_pid=
	# opsd still wants it running: commandd starts it again.
	if timeout 120 systemctl start ultravisor.target &&
		wait_for 60 eval '[[ $(field state) == running && $(field pid) != "$pid" ]]'; then
		uvmm_pid=$(field pid)
		ok "the suite started again starts $name again (uvmm $uvmm_pid)"
	else
		bad "the suite started again starts $name again (state '$(field state)')"
	fi
fi
if [[ -n $uvmm_pid ]]; then
	echo "UVSD-STEP destroy"
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
	left=$(systemctl list-units --all --plain --no-legend 'uvmm-*.scope' | tr '\n' ' ')
	[[ -z $left ]] && ok "no uvmm-*.scope left" || bad "scopes left after destroy: $left"
fi
((kvm)) && no_scope_warning "every start of this boot"
check "no 'left-over process' from systemd in this boot" \
	eval '! journalctl --no-pager -o cat -b | grep -q "left-over process"'
# --- a guest without a scope, adopted into one --------------------------------
# A uvmm started by a commandd without scopes (--scope off here; a commandd of
# a version before scopes, or one whose scope could not be made, leaves the
# same) runs in commandd.service's cgroup. KillMode=process keeps it through
# a restart of commandd, and the next commandd (scopes on) moves it and its
# monitor into uvmm-NAME.scope. A scope of that name that runs and is not
# the guest's cannot take them (systemd 252 attaches processes only to a
# delegated unit): a warning, the guest runs on where it is. Once that scope
# has failed, commandd resets it and makes the guest's. The moved scope is
# then stopped like the others: the power button. Last, why KillMode=process
# stays: with KillMode=control-group a restart of commandd leaves a guest in
# its scope alone but kills one that has none (SIGTERM, not the power button).
# cmd_drop NAME [TEXT]: a drop-in of commandd.service (none without TEXT).
cmd_drop() {
	local d=/run/systemd/system/commandd.service.d
	mkdir -p "$d"
	if (($# > 1)); then printf '[Service]\n%s\n' "$2" >"$d/uvsd-$1.conf"; else rm -f "$d/uvsd-$1.conf"; fi
	systemctl daemon-reload
}
# cmd_restart WHAT: systemctl restart commandd, a check.
cmd_restart() {
	local p
	p=$(prop commandd.service MainPID)
	if timeout 120 systemctl restart commandd.service && [[ $(prop commandd.service MainPID) != "$p" ]]; then
		ok "systemctl restart commandd ($1)"
	else
		bad "systemctl restart commandd ($1)"
	fi
}
# cmd_log CURSOR REGEX: commandd's journal since CURSOR has a line matching REGEX.
cmd_log() { journal commandd.service --after-cursor="$1" | grep -E -- "$2"; }
# kvm_thread_line CURSOR: commandd's word on the VM's KVM kernel thread.
kvm_thread_line() { cmd_log "$1" "KVM's .* (moved into|stays in)"; }
# same_running PID WHAT: the partition runs on with that uvmm, reported running.
same_running() {
	if pid_alive "$1" && wait_for 30 eval "[[ \$(field state) == running && \$(field pid) == $1 ]]"; then
		ok "uvmm $1 runs on after $2, reported running"
	else
		bad "uvmm $1 runs on after $2 (alive: $(pid_alive "$1" && echo yes || echo no), state '$(field state)', pid '$(field pid)')"
	fi
}
if ((kvm)); then
	echo "UVSD-STEP a guest without a scope, adopted into one"
	name=sd3
	ccg=/system.slice/commandd.service
	cmd_drop scope-off "ExecStart=
ExecStart=$bin/commandd --uvmm $bin/uvmm --scope off"
	pid=
	# (A running commandd, after a failure above, starts again with it.)
	timeout 60 systemctl stop commandd.service
	if timeout 120 systemctl start ultravisor.target &&
		uvctl create "$name" --disk /var/lib/ultravisor/pwrbtn.img,format=raw --memory 64M >/dev/null &&
		uvctl start "$name" >/dev/null && wait_for 60 eval '[[ $(field state) == running ]]'; then
		pid=$(field pid)
		mon=$(parent "$pid")
		[[ $(cg "$pid") == "$ccg" && $(cg "$mon") == "$ccg" && $(comm "$mon") == uvmon:* ]] &&
			ok "commandd --scope off: uvmm $pid and its monitor $mon in $ccg" ||
			bad "commandd --scope off: uvmm $pid and its monitor $mon in $ccg (uvmm in '$(cg "$pid")', monitor in '$(cg "$mon")')"
	else
		bad "partition $name running under commandd --scope off ('$(field state)')"
	fi
fi
if [[ -n $pid ]]; then
	# A foreign scope of the name, running: its sleep ignores SIGTERM, so a
	# stop of it ends in SIGKILL after 1 s and leaves it failed.
	systemd-run --quiet --scope --unit="uvmm-$name.scope" -p TimeoutStopSec=1 -- \
		sh -c 'trap "" TERM; exec sleep 1000' </dev/null >/dev/null 2>&1 &
	wait_for 15 eval '[[ $(prop "uvmm-$name.scope" ActiveState) == active ]]' ||
		bad "a foreign uvmm-$name.scope runs ($(prop "uvmm-$name.scope" ActiveState))"
	cmd_drop scope-off
	c=$(cursor)
	cmd_restart "scopes on, uvmm-$name.scope running and not the guest's"
	same_running "$pid" "the restart (KillMode=process)"
	if wait_for 30 eval 'cmd_log "$c" "uvmm $pid and its monitor $mon not moved into uvmm-$name.scope: " >/dev/null'; then
		ok "a running foreign uvmm-$name.scope: a warning, the guest left where it is"
		cmd_log "$c" "not moved into" | sed 's/^/UVSD-INFO /'
		[[ $(cg "$pid") == "$ccg" ]] || bad "uvmm $pid left in $ccg (it is in '$(cg "$pid")')"
	else
		bad "a running foreign uvmm-$name.scope: commandd warns and leaves the guest"
		journal commandd.service --after-cursor="$c" | tail -n 10 | sed 's/^/UVSD-LOG /'
	fi
	timeout 30 systemctl stop "uvmm-$name.scope"
	[[ $(prop "uvmm-$name.scope" ActiveState) == failed ]] &&
		ok "the foreign uvmm-$name.scope stopped by SIGKILL: failed (stale)" ||
		bad "the foreign uvmm-$name.scope failed ($(prop "uvmm-$name.scope" ActiveState))"
	c=$(cursor)
	cmd_restart "scopes on, uvmm-$name.scope failed"
	same_running "$pid" "the restart"
	if wait_for 30 eval '[[ $(cg $pid) == /$slice/uvmm-$name.scope && $(cg $mon) == /$slice/uvmm-$name.scope ]]'; then
		in_scope "$name" "$pid" "adopted by commandd with scopes"
		scope_props "$name"
		l=$(cmd_log "$c" "uvmm $pid and its monitor $mon moved from $ccg into uvmm-$name.scope")
		[[ -n $l ]] && ok "commandd says so: ${l#*: }" || bad "commandd logs the move"
		# KVM's kernel thread of the VM, which systemd does not move:
		# commandd does, right after.
		wait_for 10 kvm_thread_line "$c" >/dev/null
		kvm_thread_line "$c" | sed 's/^/UVSD-INFO /'
		procs=$(tr '\n' ' ' </sys/fs/cgroup/system.slice/commandd.service/cgroup.procs)
		[[ $procs == "$(prop commandd.service MainPID) " ]] && ok "commandd.service's cgroup holds commandd only" ||
			bad "commandd.service's cgroup holds commandd only: pids $procs"
		w=$(journal commandd.service --after-cursor="$c" -p warning | grep -E 'not moved into|no scope')
		[[ -z $w ]] && ok "the move: no warning" || bad "the move: warnings: $w"
	else
		bad "adopted by commandd with scopes: uvmm $pid in '$(cg "$pid")', monitor $mon in '$(cg "$mon")'"
		journal commandd.service --after-cursor="$c" | tail -n 10 | sed 's/^/UVSD-LOG /'
	fi
	c=$(cursor)
	cmd_restart "the guest moved"
	same_running "$pid" "the restart"
	no_leftover "a restart of commandd after the move" "$c"
	# Its scope's stop is the power button, as for a scope made at a start.
	scope_stop "$name" "$pid" "$mon" "systemctl stop uvmm-$name.scope (moved)"
	wait_for 30 eval '[[ $(field state) == stopped ]]' && ok "commandd reports $name stopped" ||
		bad "commandd reports $name stopped (state '$(field state)')"
fi
if [[ -n $pid ]]; then
	echo "UVSD-STEP KillMode=control-group: what KillMode=process is for"
	cmd_drop killmode KillMode=control-group
	pid=
	if uvctl start "$name" >/dev/null && wait_for 60 eval '[[ $(field state) == running ]]'; then
		pid=$(field pid)
		cmd_restart "KillMode=control-group, the guest in its scope"
		same_running "$pid" "a restart of commandd with KillMode=control-group (in its scope)"
		uvctl destroy "$name" >/dev/null
		wait_for 30 eval '[[ $(field state) == stopped ]]' || bad "uvctl destroy $name"
	else
		bad "uvctl start $name in a scope ('$(field state)')"
	fi
	cmd_drop scope-off "ExecStart=
ExecStart=$bin/commandd --uvmm $bin/uvmm --scope off"
	cmd_restart "--scope off, KillMode=control-group"
	pid=
	if uvctl start "$name" >/dev/null && wait_for 60 eval '[[ $(field state) == running ]]'; then
		pid=$(field pid)
		off=$(logsize "$name")
		[[ $(cg "$pid") == "$ccg" ]] || bad "uvmm $pid in $ccg (in '$(cg "$pid")')"
		c=$(cursor)
		cmd_restart "KillMode=control-group, the guest in commandd's cgroup"
		# What the uvmm said: SIGTERM, not the power button. (The
		# next commandd also reads the monitor's record: logged below.)
		wait_for 30 eval 'cmd_log "$c" "partition $name: uvmm $pid (exited|killed|ended)" >/dev/null'
		l=$(cmd_log "$c" "partition $name: uvmm $pid (exited|killed|ended)" | head -n 1)
		t=$(tail -c +"$((off + 1))" "$run/partitions/$name/uvmm.log")
		if ! pid_alive "$pid" && grep -q 'terminated by SIGTERM' <<<"$t" && ! grep -q 'SIGPWR' <<<"$t"; then
			ok "KillMode=control-group: a restart of commandd kills a guest in its cgroup (uvmm $pid: 'terminated by SIGTERM', no power button): KillMode=process stays"
		else
			bad "KillMode=control-group kills a guest in commandd's cgroup (alive: $(pid_alive "$pid" && echo yes || echo no))"
			head -n 4 <<<"$t" | sed 's/^/UVSD-LOG uvmm.log: /'
		fi
		info "commandd after it: ${l#*: }"
	else
		bad "uvctl start $name under --scope off ('$(field state)')"
	fi
	cmd_drop killmode
	cmd_drop scope-off
	cmd_restart "as installed"
	uvctl destroy "$name" >/dev/null
	wait_for 30 eval '[[ $(field state) == stopped ]]' || bad "uvctl destroy $name (2)"
	uvctl delete "$name" >/dev/null || bad "uvctl delete $name"
	timeout 120 systemctl stop ultravisor.target && wait_for 60 all_inactive ||
		bad "systemctl stop ultravisor.target (3)"
	left=$(systemctl list-units --all --plain --no-legend 'uvmm-*.scope' | tr '\n' ' ')
	[[ -z $left ]] && ok "no uvmm-*.scope left" || bad "scopes left: $left"
fi
# What a host's power-off does to a running guest: its scope stops after
# commandd and before ultravisord and the iopartds: the guest gets the power
# button and powers off while its disks are served. A unit of the test,
# stopped after those, checks that from the journal and prints its UVSD
# lines on the console (test-systemd.sh reads them, times the power-off and
# wants UVSD-POWEROFF-DONE).
if ((kvm)); then
	echo "UVSD-STEP a partition left running for the power-off"
	name=sd2
	if timeout 120 systemctl start ultravisor.target &&
		uvctl create "$name" --disk /var/lib/ultravisor/pwrbtn.img,format=raw --memory 64M >/dev/null &&
		uvctl start "$name" >/dev/null && wait_for 60 eval '[[ $(field state) == running ]]'; then
		pid=$(field pid)
		info "partition $name running (uvmm pid $pid) when the power-off starts"
		in_scope "$name" "$pid" "the power-off's guest"
		{
			echo '#!/bin/bash'
			echo 'exec >/dev/console 2>&1'
			declare -p run slice
			declare -f ok bad info t_of stop_order powered_off
			echo 'nfail=0'
			printf 'stop_order %q %q power-off\n' "$name" "$(cursor)"
			printf 'powered_off %q %q %q power-off\n' "$name" "$pid" "$(logsize "$name")"
			echo 'echo "UVSD-POWEROFF-DONE $nfail failed"'
		} >/run/uvsd-poweroff-check.sh
		cat >/run/systemd/system/uvsd-poweroff-check.service <<-EOF
			[Unit]
			Description=tests/systemd: the guests' power-off before the suite's
			Before=ultravisord.service iopartd@a.service iopartd@b.service
			[Service]
			Type=oneshot
			RemainAfterExit=yes
			ExecStart=/bin/true
			ExecStop=/bin/bash /run/uvsd-poweroff-check.sh
		EOF
		systemctl daemon-reload
		systemctl start uvsd-poweroff-check.service || bad "start uvsd-poweroff-check.service"
		# For stop_order (see there), until the end.
		systemd-analyze log-level debug
	else
		bad "partition $name running for the power-off ('$(field state)')"
	fi
fi
[[ $nfail == 0 ]] || dump
echo "UVSD-STEP done: $nfail failed"
exit $((nfail > 100 ? 100 : nfail))
