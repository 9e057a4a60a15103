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
need_pkgs sparse perl python3 python3-yaml
# make check-man, make check-deb: man pages, the Debian packages and DKMS.
need_pkgs man-db groff-base debhelper dh-dkms dkms lintian fakeroot
# the DPDK external-heap example and its guest test (examples/dpdk)
need_pkgs libdpdk-dev
for s in $HPA_KERNELS_DEFAULT; do
	kernel_headers "$(kernel_release "$s")" >/dev/null
done
# The allocators scripts/bench.sh compares against, and callgrind.
need_pkgs libjemalloc2 libmimalloc2.0 libgoogle-perftools4 valgrind
