#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# 1 GiB pages after fragmentation, hugetlb against hpalloc: for each kernel
# and each allocator, boot a fresh guest (module loaded without reserved
# pages, kernel booted with nokaslr) and run selftests/module/frag_bench.c on node 2 there; then print
# the table that docs/bench.md shows.  Results of each boot are kept in
# build/frag-bench/, so --table prints it again without booting.
set -euo pipefail
. "$(dirname "$0")/common.sh"

usage() {
	cat <<EOF2
usage: scripts/frag-bench.sh [-k SERIES]... [-a hugetlb|hpalloc]... [--table]
  -k SERIES   kernel series (default: both)
  -a ALLOC    allocator (default: both), one fresh guest each
  --table     only print the table from build/frag-bench/
EOF2
}

series=()
allocs=()
table_only=
while [ $# -gt 0 ]; do
	case "$1" in
	-k) opt_need "$1" $#; opt_series "$2"; series+=("$2"); shift 2 ;;
	-a)
		opt_need "$1" $#
		[[ $2 =~ ^(hugetlb|hpalloc)$ ]] ||
			opt_bad "-a $2: not hugetlb or hpalloc"
		allocs+=("$2")
		shift 2
		;;
	--table) table_only=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) opt_bad "$1: no such option" ;;
	esac
done
[ ${#series[@]} -gt 0 ] || read -r -a series <<<"$HPA_KERNELS_DEFAULT"
[ ${#allocs[@]} -gt 0 ] || allocs=(hugetlb hpalloc)
out="$HPA_BUILD/frag-bench"
mkdir -p "$out"

if [ -z "$table_only" ]; then
	for s in "${series[@]}"; do
		rel=$(kernel_release "$s")
		for a in "${allocs[@]}"; do
			note "kernel $rel: fragmentation, then 1 GiB pages from $a"
			# nokaslr: the kernel image sits at the same place on
			# every boot (physical KASLR puts it anywhere, node 2's
			# GiBs included), so both allocators see one layout.
			HPA_GUEST_RESERVE='' "$HPA_ROOT/scripts/vm-run.sh" -k "$s" \
				--timeout 3000 --append nokaslr \
				--bench "frag_bench --alloc $a --node 2" ||
				die "the $a run on $rel failed (build/vm/$rel/)"
			grep '^RESULT ' "$HPA_BUILD/vm/$rel/tests.log" >"$out/$rel-$a.txt" ||
				die "no RESULT line from the $a run on $rel"
		done
	done
fi

# One row per kernel and phase: both allocators side by side.
cat "$out"/*.txt 2>/dev/null | awk '
function val(k,   i, kv) {
	for (i = 2; i <= NF; i++) {
		split($i, kv, "=")
		if (kv[1] == k)
			return kv[2]
	}
	return ""
}
{
	key = val("kernel") " " val("phase")
	if (!(key in seen)) { seen[key] = 1; keys[n++] = key }
	a = val("alloc")
	got[key, a] = val("got"); freem[key, a] = val("free_mib")
	mov[key, a] = val("movable_gibs"); gibs[key] = val("node_gibs")
}
function cell(key, a) {
	if (!((key, a) in got))
		return "-"
	return sprintf("%d (%.0f%% of %d MiB free; %d GiBs movable)", got[key, a],
		       100 * got[key, a] * 1024 / freem[key, a], freem[key, a],
		       mov[key, a])
}
END {
	print "| kernel | phase | node 2 aligned GiBs | hugetlb: 1 GiB pages | hpalloc: 1 GiB pages |"
	print "| --- | --- | --- | --- | --- |"
	for (i = 0; i < n; i++) {
		split(keys[i], kp, " ")
		printf "| %s | %s | %s | %s | %s |\n", kp[1], kp[2], gibs[keys[i]],
		       cell(keys[i], "hugetlb"), cell(keys[i], "hpalloc")
	}
}'
