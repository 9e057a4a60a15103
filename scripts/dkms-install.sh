#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Register hpalloc with DKMS, so that it is rebuilt for every installed
# kernel, and install it for KERNEL (default: the running kernel).
#   scripts/dkms-install.sh [--restrict] [KERNEL_RELEASE]     (as root)
#   scripts/dkms-install.sh --remove     (the module, its sources, and what
#                                         --restrict added: rule and group)
# --restrict also installs scripts/60-hpalloc.rules and creates the group
# "hpalloc": the device becomes 0660 root:hpalloc instead of 0666.
set -euo pipefail
. "$(dirname "$0")/common.sh"

ver=$(sed -n 's/^#define HPALLOC_VERSION[[:space:]]*"\(.*\)"$/\1/p' "$HPA_ROOT/kmod/internal.h")
[ -n "$ver" ] || die "no HPALLOC_VERSION in kmod/internal.h"
need_pkgs dkms
src=/usr/src/hpalloc-$ver
if [ "${1:-}" = --remove ]; then
	as_root dkms remove "hpalloc/$ver" --all || true
	as_root rm -rf "$src"
	# What --restrict added: the rule, then the group it named.
	if [ -e /etc/udev/rules.d/60-hpalloc.rules ]; then
		as_root rm -f /etc/udev/rules.d/60-hpalloc.rules
		as_root udevadm control --reload 2>/dev/null || true
	fi
	if getent group hpalloc >/dev/null; then
		as_root groupdel hpalloc
	fi
	exit 0
fi
restrict=
if [ "${1:-}" = --restrict ]; then
	restrict=1
	shift
fi
krel=${1:-$(uname -r)}
as_root rm -rf "$src"
as_root mkdir -p "$src"
as_root cp -r "$HPA_ROOT/Kbuild" "$HPA_ROOT/kmod" "$HPA_ROOT/include" "$src/"
sed "s/@VERSION@/$ver/" "$HPA_ROOT/scripts/dkms.conf" | as_root tee "$src/dkms.conf" >/dev/null
as_root find "$src" \( -name '*.o' -o -name '*.ko' -o -name '.*.cmd' \) -delete
as_root dkms add "hpalloc/$ver" 2>/dev/null || true
as_root dkms build "hpalloc/$ver" -k "$krel"
as_root dkms install "hpalloc/$ver" -k "$krel"
if [ -n "$restrict" ]; then
	getent group hpalloc >/dev/null || as_root groupadd --system hpalloc
	as_root mkdir -p /etc/udev/rules.d
	as_root cp "$HPA_ROOT/scripts/60-hpalloc.rules" /etc/udev/rules.d/
fi
echo "hpalloc $ver installed for $krel: modprobe hpalloc"
