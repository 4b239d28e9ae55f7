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
