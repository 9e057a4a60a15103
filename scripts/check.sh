#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# `make check`: every test.  Host library tests (plain, ASan+UBSan, TSan, each
# backend, LD_PRELOAD), checkpatch and sparse on the module, then the module
# and library selftests inside qemu guests booting each supported Debian
# kernel.  Ends with "N passed, N failed, N skipped"; exit 1 on any failure.
set -uo pipefail
. "$(dirname "$0")/common.sh"

kernels=${KERNELS:-$HPA_KERNELS_DEFAULT}
"$HPA_ROOT/scripts/deps.sh" || exit 1
make -s -C "$HPA_ROOT" ksft || exit 1

pass=0 fail=0 skip=0 failed=()
count() { # name pass fail skip
	pass=$((pass + $2)) fail=$((fail + $3)) skip=$((skip + $4))
	[ "$3" = 0 ] || failed+=("$1")
}
started=$(date +%s)

note "host: library tests"
if [ -f "$HPA_ROOT/lib/Makefile" ]; then
	log="$HPA_BUILD/check-host.log"
	mkdir -p "$HPA_BUILD"
	make --no-print-directory -C "$HPA_ROOT/lib" check 2>&1 | tee "$log"
	hrc=${PIPESTATUS[0]}
	# The library's runner ends with "N passed, N failed[, N skipped]".
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n1)
	hp=$(echo "$line" | sed -n 's/^\([0-9]*\) passed.*/\1/p')
	hf=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
	hs=$(echo "$line" | sed -n 's/.* \([0-9]*\) skipped.*/\1/p')
	hp=${hp:-0} hf=${hf:-0} hs=${hs:-0}
	if [ "$hrc" != 0 ] && [ "$hf" = 0 ]; then hf=1; fi
	[ -n "$line" ] || hf=$((hf + 1))
	count host-library "$hp" "$hf" "$hs"
else
	note "no lib/Makefile yet: no host library tests"
fi

note "host: make install + pkg-config, man pages"
# The package test needs root (dpkg -i) and the packaging tools that
# scripts/deps.sh installs; without them it is reported as skipped.
deb=check-deb
for tool in dpkg-buildpackage dh_dkms lintian dkms; do
	command -v "$tool" >/dev/null || deb=
done
if [ "$(id -u)" != 0 ] || [ -z "$deb" ]; then
	note "check-deb skipped: needs root and dpkg-buildpackage, dh_dkms, lintian, dkms"
	skip=$((skip + 1))
	deb=
fi
for t in check-install check-man $deb; do
	out=$(make -s --no-print-directory -C "$HPA_ROOT" "$t" 2>&1)
	trc=$?
	printf '%s\n' "$out"
	tot=$(printf '%s\n' "$out" | sed -n 's/^# Totals: pass:\([0-9]*\) fail:\([0-9]*\).*/\1 \2/p')
	read -r tp tf <<<"${tot:-0 1}"
	if [ "$trc" != 0 ] && [ "$tf" = 0 ]; then tf=1; fi
	count "$t" "$tp" "$tf" 0
done

note "static checks: checkpatch, sparse, the syzkaller description, the CDI spec, script options"
if python3 "$HPA_ROOT/selftests/syzkaller/check-description.py"; then
	count syzkaller-description 1 0 0
else
	count syzkaller-description 0 1 0
fi
if python3 "$HPA_ROOT/scripts/cdi-check.py"; then
	count cdi-spec 1 0 0
else
	count cdi-spec 0 1 0
fi
if "$HPA_ROOT/scripts/options-test.sh"; then
	count script-options 1 0 0
else
	count script-options 0 1 0
fi
if "$HPA_ROOT/scripts/checkpatch.sh"; then count checkpatch 1 0 0; else count checkpatch 0 1 0; fi
# shellcheck disable=SC2086
if "$HPA_ROOT/scripts/sparse.sh" $kernels; then count sparse 1 0 0; else count sparse 0 1 0; fi

note "guests: module and library selftests"
for s in $kernels; do
	rel=$(kernel_release "$s")
	rm -f "$HPA_BUILD/vm/$rel/summary"
	"$HPA_ROOT/scripts/vm-run.sh" -k "$s"
	if [ -r "$HPA_BUILD/vm/$rel/summary" ]; then
		read -r gp gf gs <"$HPA_BUILD/vm/$rel/summary"
	else
		gp=0 gf=1 gs=0
	fi
	count "guest-$rel" "$gp" "$gf" "$gs"
done

echo
echo "check took $(($(date +%s) - started))s${failed[*]:+; failing: ${failed[*]}}"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
