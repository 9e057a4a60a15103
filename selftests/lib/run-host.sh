#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host tests of libhpalloc-user (make -C lib check).  Runs every test
# program, prints its KTAP, and ends with one line "N passed, N failed,
# N skipped" summed from the harness's Totals lines; exits non-zero on any
# failure.  A program that dies without a Totals line counts as a failure.
#
#   1. unit tests (fake backend) and real-backend tests, normal build
#   2. the same under ASan+UBSan and under TSan
#   3. the real-backend tests with each backend forced (HPALLOC_BACKEND)
#   4. real programs under LD_PRELOAD=libhpalloc-preload.so, output compared
#      with a run without it
set -u
: "${B:?B must name build/lib}"
: "${UNIT_TESTS:?}" "${REAL_TESTS:?}"

pass=0 fail=0 skip=0
failed_runs=()

run() {	# run LABEL CMD...: one test program, counted from its Totals
	local label=$1 out rc totals
	shift
	echo "# ==== $label"
	out=$("$@" 2>&1)
	rc=$?
	printf '%s\n' "$out"
	totals=$(printf '%s\n' "$out" | grep -E '^# Totals: pass:' | tail -n1)
	if [ -z "$totals" ]; then
		echo "# $label: no Totals line (exit $rc)"
		fail=$((fail + 1))
		failed_runs+=("$label")
		return
	fi
	local p f s e
	p=$(sed -E 's/.* pass:([0-9]+).*/\1/' <<<"$totals")
	f=$(sed -E 's/.* fail:([0-9]+).*/\1/' <<<"$totals")
	s=$(sed -E 's/.* skip:([0-9]+).*/\1/' <<<"$totals")
	e=$(sed -E 's/.* error:([0-9]+).*/\1/' <<<"$totals")
	pass=$((pass + p)); fail=$((fail + f + e)); skip=$((skip + s))
	if [ "$f" != 0 ] || [ "$e" != 0 ] || { [ $rc != 0 ] && [ $rc != 4 ]; }; then
		[ "$f" = 0 ] && [ "$e" = 0 ] && fail=$((fail + 1))
		failed_runs+=("$label")
	fi
}

export ASAN_OPTIONS=detect_leaks=0:abort_on_error=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export TSAN_OPTIONS=halt_on_error=1

for t in $UNIT_TESTS $REAL_TESTS; do
	run "$t" "$B/$t"
done
for t in $UNIT_TESTS $REAL_TESTS; do
	run "asan+ubsan $t" "$B/asan/$t"
done
for t in $UNIT_TESTS $REAL_TESTS; do
	run "tsan $t" "$B/tsan/$t"
done
for be in device hugetlb thp 4k; do
	for t in $REAL_TESTS; do
		# 4 KiB page faults cost ~15 us here: a shorter model run.
		run "HPALLOC_BACKEND=$be $t" env HPALLOC_BACKEND=$be \
			HPA_TEST_OPS=20000 "$B/$t"
	done
done

# ---- real programs under LD_PRELOAD -----------------------------------
run "LD_PRELOAD cxx_prog" env LD_PRELOAD="$B/libhpalloc-preload.so" \
	"$B/cxx_prog"
preload_tests() {
	local pre="$B/libhpalloc-preload.so" tmp n=0 bad=0
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' RETURN
	# A few MB of pseudo-random lines for sort.
	awk 'BEGIN { x = 12345; for (i = 0; i < 300000; i++) {
		x = (x * 1103515245 + 12345) % 2147483648;
		printf "%d line %x %s\n", x % 100000, x, substr("abcdefghij", 1 + x % 10) } }' \
		>"$tmp/in.txt"
	cat >"$tmp/prog.c" <<'CEOF'
#include <stdio.h>
#include <stdlib.h>
struct node { struct node *l, *r; int v; };
static struct node *ins(struct node *t, int v)
{
	if (!t) { t = calloc(1, sizeof(*t)); t->v = v; return t; }
	if (v < t->v) t->l = ins(t->l, v); else t->r = ins(t->r, v);
	return t;
}
static long walk(struct node *t) { return t ? walk(t->l) * 3 + t->v + walk(t->r) : 0; }
int main(void)
{
	struct node *t = NULL;
	for (int i = 0; i < 1000; i++) t = ins(t, (i * 7919) % 1009);
	printf("%ld\n", walk(t));
	return 0;
}
CEOF
	local names=(python3 sort sort-parallel gcc mt_prog)
	local cmds=(
		"python3 -c 'import json,hashlib; d=[{\"k\":i,\"v\":str(i)*(i%50)} for i in range(150000)]; s=json.dumps(d); print(hashlib.sha256(s.encode()).hexdigest(), len(s))'"
		"sort $tmp/in.txt | md5sum"
		"sort --parallel=2 -S 20M -n $tmp/in.txt | md5sum"
		"gcc -O2 -c $tmp/prog.c -o $tmp/OUT.o && md5sum <$tmp/OUT.o && gcc -o $tmp/OUT $tmp/OUT.o && $tmp/OUT"
		"$B/mt_prog"
	)
	echo "# ==== LD_PRELOAD=libhpalloc-preload.so: real programs"
	echo "TAP version 13"
	echo "1..${#names[@]}"
	for i in "${!names[@]}"; do
		local c=${cmds[$i]} want got
		n=$((n + 1))
		want=$(bash -c "${c//OUT/plain}" 2>&1)
		got=$(LD_PRELOAD="$pre" bash -c "${c//OUT/hpa}" 2>&1)
		if [ -n "$want" ] && [ "$want" = "$got" ]; then
			echo "ok $n preload.${names[$i]}"
		else
			echo "# want: $want"
			echo "# got:  $got"
			echo "not ok $n preload.${names[$i]}"
			bad=$((bad + 1))
		fi
	done
	echo "# Totals: pass:$((n - bad)) fail:$bad xfail:0 xpass:0 skip:0 error:0"
}
out=$(preload_tests)
printf '%s\n' "$out"
p=$(grep -E '^# Totals' <<<"$out" | sed -E 's/.* pass:([0-9]+).*/\1/')
f=$(grep -E '^# Totals' <<<"$out" | sed -E 's/.* fail:([0-9]+).*/\1/')
pass=$((pass + p)); fail=$((fail + f))
[ "$f" != 0 ] && failed_runs+=("LD_PRELOAD programs")

for r in "${failed_runs[@]}"; do
	echo "# FAILED: $r"
done
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
