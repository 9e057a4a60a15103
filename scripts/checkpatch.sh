#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# checkpatch.pl (from Debian's linux-source, extracted into build/ksft) over
# the module and the uapi header, in --strict mode.  Exit 1 on any complaint.
set -euo pipefail
. "$(dirname "$0")/common.sh"

"$HPA_ROOT/scripts/ksft-headers.sh"
need_pkgs perl
cd "$HPA_ROOT"
files=$(ls kmod/*.[ch] include/uapi/linux/hpalloc.h 2>/dev/null |
	grep -v -e '^kmod/compat.h$' -e '\.mod\.c$')
[ -n "$files" ] || die "no module sources found"
cp="perl $HPA_BUILD/ksft/checkpatch/checkpatch.pl --strict --no-tree --terse --show-types"
rc=0
# shellcheck disable=SC2086
$cp --ignore FILE_PATH_CHANGES,SPDX_LICENSE_TAG -f $files || rc=1
# compat.h exists to compare LINUX_VERSION_CODE with kernel versions (both
# constants, hence CONSTANT_COMPARISON too); nothing else is waived there.
if [ -f kmod/compat.h ]; then
	$cp --ignore LINUX_VERSION_CODE,CONSTANT_COMPARISON -f kmod/compat.h || rc=1
fi
if [ $rc = 0 ]; then
	echo "checkpatch: clean"
else
	echo "checkpatch: complaints above" >&2
	exit 1
fi
