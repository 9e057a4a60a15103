#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# `make check-man`: each man page renders without a groff warning
# (man --warnings), lexgrog finds its NAME line, and hpallocctl(8) names
# every option that `hpallocctl ... --help` prints.  (The tables are
# docs/' own: scripts/man-gen.sh copies them.)  KTAP output.
set -uo pipefail
. "$(dirname "$0")/common.sh"

need_pkgs man-db groff-base
n=0 pass=0 fail=0
ok() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then pass=$((pass + 1)); echo "ok $n $2"
	else fail=$((fail + 1)); echo "not ok $n $2"; fi
}
echo "TAP version 13"
for page in "$@"; do
	w=$(MANWIDTH=80 man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null)
	[ -z "$w" ] || echo "# $w"
	[ -z "$w" ]
	ok $? "$(basename "$page"): man --warnings is silent"
	lexgrog "$page" >/dev/null
	ok $? "$(basename "$page"): lexgrog parses its NAME"
done

ctl=$HPA_BUILD/lib/hpallocctl
page=$(printf '%s\n' "$@" | grep '/hpallocctl\.8$')
if [ ! -x "$ctl" ] || [ -z "$page" ]; then
	ok 1 "hpallocctl(8) against hpallocctl --help: no $ctl or no hpallocctl.8"
else
	text=$(MANWIDTH=200 man -l "$page" 2>/dev/null | col -b)
	bad=0
	for c in "" status load unload pool lib; do
		for o in $("$ctl" $c --help | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u); do
			grep -qF -- "$o" <<<"$text" || { echo "# hpallocctl $c: $o missing from hpallocctl(8)"; bad=1; }
		done
	done
	for code in 0 1 2 3 4; do
		grep -qE "^ {7}$code( |\$)" <<<"$text" || { echo "# exit status $code missing"; bad=1; }
	done
	ok $bad "hpallocctl(8) names every option of --help and each exit status"
fi
echo "1..$n"
echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:0 error:0"
[ "$fail" = 0 ]
