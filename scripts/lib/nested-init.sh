#!/bin/sh
# /init of the L1 guest booted by scripts/nested-run (runs under static busybox).
#
# Contract with the harness (nothing of a particular run is baked into the
# initramfs, so one cached image serves every run):
#   9p tag "uvctl"    writable control dir, mounted at /ctl outside the chroot:
#                     nonce    random token for the exit marker
#                     mounts   "TAG ABSOLUTE-PATH" lines: writable shares
#                     shell    absolute path of bash on the host
#                     run.sh   environment, working directory and command
#                     output   (created by the harness) receives the
#                              command's stdout and stderr
#                     status   written here: "EXIT <n>" or "FAIL <reason>"
#   9p tag "hostroot" the host's / (read-only), mounted at /host.
# The exit status is also printed on the console (ttyS0) as
#   @@UV-NESTED-EXIT <n> <nonce>@@   or   @@UV-NESTED-FAIL <reason> <nonce>@@
# through /dev/kmsg, so that it is written out synchronously before power-off.

/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s /bin
PATH=/bin
export PATH
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1

NONCE=
P9OPTS=trans=virtio,version=9p2000.L,msize=512000

say() {
	echo "nested-run(L1): $*"
}

# With --verbose the harness adds uv.trace to the kernel command line.
TRACE=0
case " $(cat /proc/cmdline) " in
*" uv.trace "*) TRACE=1 ;;
esac
trace() {
	if [ "$TRACE" = 1 ]; then
		read -r up _ </proc/uptime
		say "[$up] $*"
	fi
}

report() { # KIND VALUE
	if [ -n "$NONCE" ]; then
		echo "$1 $2" >/ctl/status
	fi
	echo "<2>@@UV-NESTED-$1 $2 $NONCE@@" >/dev/kmsg
}

halt_now() {
	sync
	poweroff -f
	sleep 30
}

die() { # REASON MESSAGE...
	reason=$1
	shift
	say "$*"
	if [ -n "$NONCE" ]; then
		say "$*" >>/ctl/output
	fi
	report FAIL "$reason"
	halt_now
}

say "init started"
trace "loading modules"

# modparams MODULE: its parameters from the kernel command line
# (MODULE.PARAM=VALUE, as modprobe would take them), as PARAM=VALUE words.
modparams() {
	name=$(echo "$1" | tr - _)
	out=
	# shellcheck disable=SC2013 # words, not lines
	for w in $(cat /proc/cmdline); do
		case $w in "$name".*=*) out="$out ${w#"$name".}" ;; esac
	done
	echo "$out"
}

while read -r mod; do
	[ -n "$mod" ] || continue
	params=$(modparams "$mod")
	trace "insmod $mod$params"
	# shellcheck disable=SC2086 # one word per parameter
	insmod "/lib/modules/$mod.ko" $params || say "insmod $mod$params failed"
done </modules.list

trace "modules loaded"
mount -t 9p -o "$P9OPTS" uvctl /ctl || die ctl "cannot mount the control share (9p tag uvctl)"
NONCE=$(cat /ctl/nonce)

if [ ! -c /dev/kvm ]; then
	why=$(dmesg | grep -i -E 'kvm|svm' | tail -n 5)
	die nokvm "no /dev/kvm in the L1 guest: kvm_amd did not load (the emulated CPU lacks SVM?). Kernel says: ${why:-nothing}"
fi

trace "mounting the host root"
mount -t 9p -o "$P9OPTS,ro,cache=$(cat /ctl/rootcache)" hostroot /host ||
	die mount "cannot mount the host root (9p tag hostroot) at /host"

mount -t proc proc /host/proc || die mount "cannot mount /host/proc"
mount -t sysfs sysfs /host/sys || die mount "cannot mount /host/sys"
mount -t devtmpfs devtmpfs /host/dev || die mount "cannot mount /host/dev"
mkdir -p /host/dev/pts /host/dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /host/dev/pts || die mount "cannot mount /host/dev/pts"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /host/dev/shm || die mount "cannot mount /host/dev/shm"
ln -sf /proc/self/fd /host/dev/fd
ln -sf /proc/self/fd/0 /host/dev/stdin
ln -sf /proc/self/fd/1 /host/dev/stdout
ln -sf /proc/self/fd/2 /host/dev/stderr
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /host/tmp || die mount "cannot mount /host/tmp"
mount -t tmpfs -o mode=755,nosuid,nodev tmpfs /host/run || die mount "cannot mount /host/run"
mkdir -m 1777 /host/run/lock
if [ -d /host/var/tmp ]; then
	mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /host/var/tmp
fi

# Writable shares, parents before children (the harness sorts them).
while read -r tag path; do
	[ -n "$tag" ] || continue
	mkdir -p "/host$path" 2>/dev/null
	[ -d "/host$path" ] || die mount "mount point $path does not exist in L1"
	mount -t 9p -o "$P9OPTS" "$tag" "/host$path" ||
		die mount "cannot mount the writable share $path (9p tag $tag)"
done </ctl/mounts

trace "running the command"
mkdir -p /host/run/uv-nested
cp /ctl/run.sh /host/run/uv-nested/run.sh || die ctl "cannot copy the run script"

: >/ctl/started # the host's boot watchdog stands down
env -i chroot /host "$(cat /ctl/shell)" /run/uv-nested/run.sh </dev/null >>/ctl/output 2>&1
rc=$?
trace "command exited with status $rc"
report EXIT "$rc"
halt_now
