#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Bad command-line options of the benchmark and guest scripts: each is
# refused with exit status 2 and a line that names what was wrong, before
# anything is built, booted or run; -h prints the usage and exits 0.  Run
# by `make check`.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

pass=0 fail=0
# where a bench.sh run that should have been refused would write its results
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# expect SCRIPT PATTERN ARGS...: SCRIPT ARGS exits 2 and says PATTERN
expect() {
	local script=$1 pat=$2 err rc
	shift 2
	err=$(timeout 20 "scripts/$script" "$@" 2>&1 >/dev/null)
	rc=$?
	if [ "$rc" = 2 ] && [[ $err =~ $pat ]]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "not ok: $script $*: status $rc (want 2), said: ${err:-nothing}"
	fi
}
# usage SCRIPT TEXT: SCRIPT -h exits 0 and prints TEXT
usage() {
	local out
	if out=$(timeout 20 "scripts/$1" -h 2>/dev/null) && [[ $out == *"$2"* ]]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "not ok: $1 -h: no usage, or a non-zero status"
	fi
}

b() { expect bench.sh "$1" -o "$scratch/out.md" "${@:2}"; }
b 'no such option' -x
b '-s needs a value' -s
b '-s abc: not a positive whole number' -s abc
b '-r 0: not a positive whole number' -r 0
b '-n -5: not a positive whole number' -n -5
b "no section 'foo'" -k small,foo
b 'no section given' -k ,
b "no allocator 'nope'" -a glibc,nope
b 'extra: unexpected argument' -k small extra
usage bench.sh "-k  sections to run"

expect vm-run.sh '-x: no such option' -x
expect vm-run.sh '-k needs a value' -k
expect vm-run.sh '-k 5.10: no such kernel series' -k 5.10
expect vm-run.sh '--timeout 0: not a positive number' --timeout 0
expect vm-run.sh '--timeout needs a value' --timeout
expect vm-run.sh '--fuzz FOO=1: not HPA_FUZZ_SEED' --fuzz FOO=1
expect vm-run.sh 'extra: no such option' -k 6.1 extra
usage vm-run.sh "-k SERIES     kernel series"

expect frag-bench.sh '-a jemalloc: not hugetlb or hpalloc' -a jemalloc
expect frag-bench.sh '-k 6.2: no such kernel series' -k 6.2
expect frag-bench.sh '-a needs a value' -a
expect frag-bench.sh '--bogus: no such option' --bogus
usage frag-bench.sh "--table"

echo "# Totals: pass:$pass fail:$fail"
[ "$fail" = 0 ]
