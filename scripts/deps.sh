#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install (apt-get) what building and testing hpalloc needs, if missing:
# compilers, both Debian kernels' headers, the kernel source package (for the
# kselftest harness and checkpatch), qemu and busybox for the guests, sparse,
# Debian's DPDK (libdpdk-dev) for examples/dpdk.
set -euo pipefail
. "$(dirname "$0")/common.sh"

deps_guest
deps_source
need_pkgs sparse perl
# the DPDK external-heap example and its guest test (examples/dpdk)
need_pkgs libdpdk-dev
for s in $HPA_KERNELS_DEFAULT; do
	kernel_headers "$(kernel_release "$s")" >/dev/null
done
