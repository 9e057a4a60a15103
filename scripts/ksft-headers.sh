#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Extract the kselftest harness headers and checkpatch from Debian's kernel
# source package into build/ (they are used at build time, never committed).
set -euo pipefail
. "$(dirname "$0")/common.sh"

out="$HPA_BUILD/ksft"
[ -r "$out/kselftest_harness.h" ] && [ -r "$out/checkpatch/checkpatch.pl" ] && exit 0
deps_build
deps_source
tarball=$(ls /usr/src/linux-source-6.12.tar.xz 2>/dev/null | head -n1)
[ -n "$tarball" ] || die "linux-source-6.12 is installed but its tarball is missing"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
top=linux-source-6.12
note "extracting kselftest harness and checkpatch from $tarball"
tar -xJf "$tarball" -C "$tmp" \
	"$top/tools/testing/selftests/kselftest_harness.h" \
	"$top/tools/testing/selftests/kselftest.h" \
	"$top/scripts/checkpatch.pl" \
	"$top/scripts/spelling.txt" \
	"$top/scripts/const_structs.checkpatch"
mkdir -p "$out/checkpatch"
cp "$tmp/$top"/tools/testing/selftests/kselftest*.h "$out/"
cp "$tmp/$top"/scripts/{checkpatch.pl,spelling.txt,const_structs.checkpatch} "$out/checkpatch/"
