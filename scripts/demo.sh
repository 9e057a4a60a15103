#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# `make demo`: build everything, boot a guest with a Debian kernel, load
# hpalloc.ko and show what it does.  DEMO_KERNEL=6.1 picks the older kernel.
set -euo pipefail
. "$(dirname "$0")/common.sh"

"$HPA_ROOT/scripts/deps.sh"
make -s -C "$HPA_ROOT" ksft
exec "$HPA_ROOT/scripts/vm-run.sh" --demo -k "${DEMO_KERNEL:-6.12}" "$@"
