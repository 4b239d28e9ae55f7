# shellcheck shell=bash
# What the bench/ scripts share. Source after setting $prog (the name in
# messages).

# die_usage MSG: a bad invocation: one line, a hint, status 2.
# shellcheck disable=SC2154 # prog is the sourcing script's
die_usage() {
	echo "$prog: $*" >&2
	echo "try '$prog --help'" >&2
	exit 2
}

# need_arg OPTION ARGC: OPTION must be followed by a value.
need_arg() { (($2 >= 2)) || die_usage "$1 needs a value"; }

# stop_pid PID [SECONDS]: waits up to SECONDS (5) for PID to end, then kills it.
stop_pid() {
	local i
	for ((i = 0; i < ${2:-5} * 10; i++)); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# ratio A B: A/B to 2 places, or "-" when either is missing.
ratio() {
	if [[ $1 == - || $2 == - ]]; then
		echo -
	else
		awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'
	fi
}

# median_col FILE COLUMN: the median of a column of numbers, or "-".
median_col() {
	[[ -s $1 ]] || {
		echo -
		return
	}
	awk -v c="$2" '{ v[NR] = $c } END {
		for (i = 2; i <= NR; i++) for (j = i; j > 1 && v[j-1] > v[j]; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }
		m = (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2
		printf "%d\n", m }' "$1"
}

# put FILE OFFSET HEX: writes the bytes HEX ("fa f4 ...") at OFFSET of FILE.
put() {
	local esc='' b
	for b in $3; do esc+="\\x$b"; done
	# shellcheck disable=SC2059 # the escapes are the format, on purpose
	printf "$esc" | dd of="$1" bs=1 seek="$(($2))" conv=notrunc status=none
}

# halt_stub FILE: a bzImage that is only a setup header (boot protocol
# 2.12, 64-bit entry point) and a few instructions: 'U' to COM1, then
# cli; hlt. The same bytes are at every entry a loader may take: real mode
# (the setup code's jump), 32-bit (start of the protected-mode part) and
# 64-bit (startup_64, 0x200 further), which uvmm's firmware uses.
halt_stub() {
	local f=$1
	: >"$f"
	truncate -s 5120 "$f"
	put "$f" 0x1f1 "01"                      # setup_sects: setup = 2 sectors
	put "$f" 0x1f4 "00 01 00 00"             # syssize: 0x100 paragraphs = 4 KiB
	put "$f" 0x1fe "55 aa"                   # boot flag
	put "$f" 0x200 "eb 66"                   # jump over the header, to 0x268
	put "$f" 0x202 "48 64 72 53"             # "HdrS"
	put "$f" 0x206 "0c 02"                   # protocol 2.12
	put "$f" 0x211 "01"                      # loadflags: LOADED_HIGH
	put "$f" 0x214 "00 00 10 00"             # code32_start 1 MiB
	put "$f" 0x22c "ff ff ff 7f"             # initrd_addr_max
	put "$f" 0x230 "00 00 20 00"             # kernel_alignment 2 MiB
	put "$f" 0x236 "01 00"                   # xloadflags: XLF_KERNEL_64
	put "$f" 0x238 "ff 07 00 00"             # cmdline_size
	put "$f" 0x258 "00 00 00 01 00 00 00 00" # pref_address 16 MiB
	put "$f" 0x260 "00 10 00 00"             # init_size 4 KiB
	# mov dx, 0x3f8; mov al, 'U'; out dx, al; cli; hlt; jmp back to the hlt
	put "$f" 0x268 "ba f8 03 b0 55 ee fa f4 eb fd"
	put "$f" 0x400 "66 ba f8 03 b0 55 ee fa f4 eb fd"
	put "$f" 0x600 "66 ba f8 03 b0 55 ee fa f4 eb fd"
}
