#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# checkpatch.pl (from Debian's linux-source, extracted into build/ksft) over
# the module and the uapi header, in --strict mode.  Exit 1 on any complaint.
set -euo pipefail
. "$(dirname "$0")/common.sh"

"$HPA_ROOT/scripts/ksft-headers.sh"
need_pkgs perl
cd "$HPA_ROOT"
files=$(ls kmod/*.[ch] include/uapi/linux/hpalloc.h 2>/dev/null)
[ -n "$files" ] || die "no module sources found"
# shellcheck disable=SC2086
if perl "$HPA_BUILD/ksft/checkpatch/checkpatch.pl" --strict --no-tree \
	--terse --show-types --ignore FILE_PATH_CHANGES,SPDX_LICENSE_TAG \
	-f $files; then
	echo "checkpatch: clean"
else
	echo "checkpatch: complaints above" >&2
	exit 1
fi
