#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the module with sparse (make C=2) against each supported kernel's
# headers; any sparse warning or error in our files fails.
set -euo pipefail
. "$(dirname "$0")/common.sh"

need_pkgs sparse
series=${*:-$HPA_KERNELS_DEFAULT}
rc=0
for s in $series; do
	rel=$(kernel_release "$s")
	kdir=$(kernel_headers "$rel")
	dir="$HPA_BUILD/sparse/$rel"
	rm -rf "$dir"
	mkdir -p "$dir"
	mkdir -p "$dir/kmod"
	cp -r "$HPA_ROOT/Kbuild" "$HPA_ROOT/include" "$dir/"
	cp "$HPA_ROOT"/kmod/Kbuild "$HPA_ROOT"/kmod/*.[ch] "$dir/kmod/"
	rm -f "$dir"/kmod/*.mod.c
	make -C "$kdir" M="$dir" C=2 CHECK=sparse modules >"$dir.log" 2>&1 ||
		{ cat "$dir.log" >&2; die "sparse build failed for $rel"; }
	if grep -E '(warning|error):' "$dir.log" | grep -v '^/usr/src/' >"$dir.bad"; then
		echo "sparse ($rel): problems in hpalloc sources:" >&2
		cat "$dir.bad" >&2
		rc=1
	else
		echo "sparse ($rel): clean"
	fi
done
exit $rc
