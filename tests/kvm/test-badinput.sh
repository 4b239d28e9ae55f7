#!/bin/bash
# Bad invocations and bad input files: `uvmm run` must refuse them with exit
# status 2 and exactly one line on stderr, starting "uvmm: ", without
# crashing or dumping core, before any guest runs. Every case is otherwise a
# valid invocation whose guest would power off at once, so a case that is
# wrongly accepted ends with status 0 instead of hanging.
# Also: `uvmm --help` and `uvmm --version` succeed and print to stdout.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

cmd_timeout=$(uv_timeout 120)
cmdline="$UV_CMDLINE uv.action=poweroff"
work=$UV_TMP/cwd
mkdir -p "$work"
ncases=0

# refuse WHAT [--grep TEXT] UVMM_ARGS...: runs `uvmm UVMM_ARGS` in an
# empty directory with core dumps enabled; it must exit 2 with one line on
# stderr (containing TEXT if given) and leave no core file.
refuse() {
	local what=$1 text='' rc=0 lines
	shift
	if [[ ${1:-} == --grep ]]; then
		text=$2
		shift 2
	fi
	ncases=$((ncases + 1))
	uv__next_logs
	(
		cd "$work"
		ulimit -c unlimited 2>/dev/null || ulimit -c "$(ulimit -H -c)" 2>/dev/null || true
		exec timeout -k 10 "$cmd_timeout" "$UVMM" "$@" </dev/null >"$UV_LOG" 2>"$UV_ERR"
	) || rc=$?
	uv_info "$what: exit $rc: $(head -c 300 "$UV_ERR" | head -n 1)"
	if ((rc > 128)) || compgen -G "$work/core*" >/dev/null; then
		ls -l "$work" >&2
		uv_fail "$what: uvmm crashed (status $rc, $(uv_status_name "$rc"))"
	fi
	((rc == 2)) || uv_fail "$what: exit status $rc ($(uv_status_name "$rc")), expected 2"
	lines=$(wc -l <"$UV_ERR")
	if ((lines != 1)) || [[ $(tail -c 1 "$UV_ERR" | od -An -c | tr -d ' ') != '\n' ]]; then
		uv_fail "$what: stderr should be exactly one line, it has $lines newline(s)"
	fi
	[[ $(head -n 1 "$UV_ERR") == 'uvmm: '* ]] || uv_fail "$what: the error does not start with 'uvmm: '"
	if [[ -n $text ]] && ! grep -qF -- "$text" "$UV_ERR"; then
		uv_fail "$what: the error does not mention '$text'"
	fi
	[[ ! -s $UV_LOG ]] || uv_fail "$what: uvmm wrote to stdout (the guest console?)"
}

k=$UV_KERNEL_PATH
i=$UV_INITRAMFS

# --- kernel files -------------------------------------------------------------
missing=$UV_TMP/no-such-kernel
refuse "missing kernel file" --grep "$missing" \
	run --kernel "$missing" --initrd "$i" --cmdline "$cmdline"
refuse "no --kernel" run --initrd "$i" --cmdline "$cmdline"
refuse "kernel is a directory" run --kernel "$UV_TMP" --initrd "$i" --cmdline "$cmdline"

bad=$UV_TMP/kernel-no-hdrs
cp "$k" "$bad"
printf 'XXXX' | dd of="$bad" bs=1 seek=$((0x202)) conv=notrunc status=none
refuse "kernel without the HdrS magic at 0x202" run --kernel "$bad" --initrd "$i" --cmdline "$cmdline"

bad=$UV_TMP/kernel-truncated
head -c 1000 "$k" >"$bad"
refuse "kernel truncated to 1000 bytes" run --kernel "$bad" --initrd "$i" --cmdline "$cmdline"

bad=$UV_TMP/kernel-half
head -c $(($(stat -c %s "$k") / 2)) "$k" >"$bad"
refuse "kernel cut in half (header intact)" run --kernel "$bad" --initrd "$i" --cmdline "$cmdline"

bad=$UV_TMP/kernel-random
head -c 1048576 /dev/urandom >"$bad"
refuse "1 MiB of random bytes as kernel" run --kernel "$bad" --initrd "$i" --cmdline "$cmdline"

bad=$UV_TMP/kernel-empty
: >"$bad"
refuse "empty kernel file" run --kernel "$bad" --initrd "$i" --cmdline "$cmdline"

# --- initrd -------------------------------------------------------------------
missing=$UV_TMP/no-such-initrd
refuse "missing initrd file" --grep "$missing" \
	run --kernel "$k" --initrd "$missing" --cmdline "$cmdline"
big=$UV_TMP/initrd-100M
truncate -s 100M "$big"
refuse "100 MiB initrd in 64 MiB of RAM" run --kernel "$k" --initrd "$big" --memory 64M --cmdline "$cmdline"
# 128 MiB holds the kernel (16 MiB + its init_size) but not the initrd too.
refuse "100 MiB initrd in 128 MiB of RAM" --grep "initrd too large" \
	run --kernel "$k" --initrd "$big" --memory 128M --cmdline "$cmdline"
rm -f "$big"

# --- numbers ------------------------------------------------------------------
for c in 0 1000 -1 abc 2x ''; do
	refuse "--cpus '$c'" run --kernel "$k" --initrd "$i" --cpus "$c" --cmdline "$cmdline"
done
for m in 12Q 0 -5G '' M 1.5.3G 99999999999999999999G 255M,hugepages=on 512M,huge=1 '512M,'; do
	refuse "--memory '$m'" run --kernel "$k" --initrd "$i" --memory "$m" --cmdline "$cmdline"
done

# --- flags --------------------------------------------------------------------
refuse "unknown flag" --grep "--no-such-flag" \
	run --kernel "$k" --initrd "$i" --no-such-flag --cmdline "$cmdline"
refuse "--cpus without its value" run --kernel "$k" --initrd "$i" --cmdline "$cmdline" --cpus
refuse "unknown console" run --kernel "$k" --initrd "$i" --console bogus --cmdline "$cmdline"
refuse "unknown command" no-such-command

# --- virtio devices -------------------------------------------------------------
missing=$UV_TMP/no-such-disk.img
refuse "--disk on a missing image" --grep "$missing" \
	run --kernel "$k" --initrd "$i" --disk "$missing" --cmdline "$cmdline"
refuse "--disk with an unknown key" --grep "bogus" \
	run --kernel "$k" --initrd "$i" --disk "$i,bogus=1" --cmdline "$cmdline"
refuse "--disk readonly=maybe" run --kernel "$k" --initrd "$i" --disk "$i,readonly=maybe" --cmdline "$cmdline"
refuse "--disk vhost-user= without a path" run --kernel "$k" --initrd "$i" --disk vhost-user= --cmdline "$cmdline"
refuse "--disk vhost-user on no socket" --grep "$UV_TMP/no.sock" \
	run --kernel "$k" --initrd "$i" --disk "vhost-user=$UV_TMP/no.sock" --cmdline "$cmdline"
refuse "--net not tap= nor vhost-user=" --grep "--net" run --kernel "$k" --initrd "$i" --net eth0 --cmdline "$cmdline"
refuse "--net tap with a bad MAC" run --kernel "$k" --initrd "$i" --net tap=uvt0,mac=zz --cmdline "$cmdline"
refuse "--virtio-console of an unknown kind" --grep "--virtio-console" \
	run --kernel "$k" --initrd "$i" --virtio-console tcp:1 --cmdline "$cmdline"
refuse "--virtio-console file: in a missing directory" --grep "$UV_TMP/no-dir/out" \
	run --kernel "$k" --initrd "$i" --virtio-console "file:$UV_TMP/no-dir/out" --cmdline "$cmdline"
refuse "--virtio-console vhost-user on no socket" --grep "$UV_TMP/no.sock" \
	run --kernel "$k" --initrd "$i" --virtio-console "vhost-user=$UV_TMP/no.sock" --cmdline "$cmdline"

# --- the guest firmware (no --kernel) -----------------------------------------------
fwdisk=$UV_TMP/fw-disk.img
truncate -s 1M "$fwdisk"
refuse "neither --kernel nor --disk" --grep "--kernel PATH or --disk" run --cmdline "$cmdline"
refuse "--kernel and --firmware" --grep "exclude" \
	run --kernel "$k" --firmware "$k" --disk "$fwdisk" --cmdline "$cmdline"
refuse "--initrd without --kernel" --grep "--initrd" run --initrd "$i" --disk "$fwdisk"
refuse "missing --firmware file" --grep "$UV_TMP/no-such-fw.bin" \
	run --disk "$fwdisk" --firmware "$UV_TMP/no-such-fw.bin"
: >"$UV_TMP/empty-fw.bin"
refuse "empty --firmware file" --grep "empty-fw.bin" run --disk "$fwdisk" --firmware "$UV_TMP/empty-fw.bin"
truncate -s 1M "$UV_TMP/big-fw.bin"
refuse "--firmware file too large" --grep "big-fw.bin" run --disk "$fwdisk" --firmware "$UV_TMP/big-fw.bin"

# --- --help and --version -----------------------------------------------------
# opt_ok OPTION: `uvmm OPTION` exits 0 and prints something on stdout.
opt_ok() {
	local rc=0
	uv__next_logs
	(cd "$work" && exec timeout -k 10 "$cmd_timeout" "$UVMM" "$1" </dev/null >"$UV_LOG" 2>"$UV_ERR") || rc=$?
	((rc == 0)) || uv_fail "uvmm $1: exit status $rc, expected 0"
	[[ -s $UV_LOG ]] || uv_fail "uvmm $1: printed nothing on stdout"
	uv_info "uvmm $1: $(head -n 1 "$UV_LOG")"
}
opt_ok --help
grep -qw 'run' "$UV_LOG" || uv_fail "uvmm --help does not mention 'run'"
opt_ok --version
grep -Eq '[0-9]+\.[0-9]+' "$UV_LOG" || uv_fail "uvmm --version shows no version number"

uv_info "$ncases bad invocations refused"
