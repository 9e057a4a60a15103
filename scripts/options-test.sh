#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Bad command-line options of the benchmark script: each is refused with
# exit status 2 and a line that names what was wrong, before anything is
# built or run; -h prints the usage and exits 0.  Run by `make check`.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

pass=0 fail=0
# where a run that should have been refused would write its results
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# expect STATUS PATTERN ARGS...: bench.sh ARGS exits STATUS, stderr matches
expect() {
	local want=$1 pat=$2 err rc
	shift 2
	err=$(timeout 20 scripts/bench.sh -o "$scratch/out.md" "$@" 2>&1 >/dev/null)
	rc=$?
	if [ "$rc" = "$want" ] && [[ $err =~ $pat ]]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "not ok: bench.sh $*: status $rc (want $want), said: ${err:-nothing}"
	fi
}
expect 2 'no such option' -x
expect 2 '-s needs a value' -s
expect 2 '-s abc: not a positive whole number' -s abc
expect 2 '-r 0: not a positive whole number' -r 0
expect 2 '-n -5: not a positive whole number' -n -5
expect 2 "no section 'foo'" -k small,foo
expect 2 'no section given' -k ,
expect 2 "no allocator 'nope'" -a glibc,nope
expect 2 'extra: unexpected argument' -k small extra
if out=$(timeout 20 scripts/bench.sh -h 2>/dev/null) &&
	[[ $out == *"-k  sections to run"* ]]; then
	pass=$((pass + 1))
else
	fail=$((fail + 1))
	echo "not ok: bench.sh -h: no usage, or a non-zero status"
fi
echo "# Totals: pass:$pass fail:$fail"
[ "$fail" = 0 ]
