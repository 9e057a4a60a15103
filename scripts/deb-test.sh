#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# `make check-deb`: build the Debian packages from a copy of the tree
# (dpkg-buildpackage -us -uc -b), run lintian on them, install the four
# packages, and check that DKMS built and installed hpalloc.ko for every
# kernel whose headers are installed (6.1 and 6.12 here), that
# `man 8 hpallocctl` renders, that pkg-config links a program against the
# installed library and that hpallocctl runs; then purge them again and
# check that DKMS forgot the module.  Needs root (dpkg -i).  KTAP output.
# make check runs it when dpkg-buildpackage, dh_dkms and lintian are there.
set -uo pipefail
. "$(dirname "$0")/common.sh"

need_pkgs dpkg-dev debhelper dh-dkms dkms lintian libkmod-dev libjson-c-dev \
	pkg-config man-db fakeroot
n=0 pass=0 fail=0
ok() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then pass=$((pass + 1)); echo "ok $n $2"
	else fail=$((fail + 1)); echo "not ok $n $2"; fi
}
tmp=$(mktemp -d)
pkgs="hpalloc-dkms libhpalloc-user1 libhpalloc-user-dev hpalloc-tools"
cleanup() {
	as_root dpkg --purge $pkgs >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
ver=$(sed -n 's/^#define HPALLOC_VERSION[[:space:]]*"\(.*\)"$/\1/p' "$HPA_ROOT/kmod/internal.h")
echo "TAP version 13"

# A copy of the tree, without build outputs: the .debs land beside it.
mkdir -p "$tmp/src"
(cd "$HPA_ROOT" && git ls-files -co --exclude-standard -z |
	xargs -0 cp --parents -t "$tmp/src") 2>/dev/null
(cd "$tmp/src" && dpkg-buildpackage -us -uc -b) >"$tmp/build.log" 2>&1
rc=$?
[ $rc = 0 ] || tail -n 30 "$tmp/build.log" | sed 's/^/# /'
ok $rc "dpkg-buildpackage -us -uc -b"

# Errors and warnings fail; info tags are printed (README says which
# remain and why).
lintian -I --fail-on error,warning "$tmp"/hpalloc_*.changes >"$tmp/lintian.log" 2>&1
rc=$?
sed 's/^/# /' "$tmp/lintian.log"
ok $rc "lintian: no error or warning"

debs=()
for p in $pkgs; do debs+=("$(ls "$tmp"/${p}_*.deb)"); done
as_root env DEBIAN_FRONTEND=noninteractive dpkg -i "${debs[@]}" >"$tmp/install.log" 2>&1
rc=$?
[ $rc = 0 ] || sed 's/^/# /' "$tmp/install.log"
ok $rc "dpkg -i of the four packages"

# dkms builds at install for the kernels it picks; make sure of each one
# that has headers, then ask dkms status.
bad=0
for s in $HPA_KERNELS_DEFAULT; do
	rel=$(kernel_release "$s")
	if ! dkms status "hpalloc/$ver" -k "$rel" 2>/dev/null | grep -q installed; then
		as_root dkms install "hpalloc/$ver" -k "$rel" >>"$tmp/dkms.log" 2>&1
	fi
	st=$(dkms status "hpalloc/$ver" -k "$rel" 2>/dev/null)
	echo "# $st"
	case "$st" in *": installed"*) ;; *) bad=1 ;; esac
	modinfo -F version "/lib/modules/$rel/updates/dkms/hpalloc.ko"* 2>/dev/null |
		grep -qx "$ver" || { echo "# no hpalloc.ko $ver in /lib/modules/$rel/updates/dkms"; bad=1; }
done
[ $bad = 0 ] || tail -n 20 "$tmp/dkms.log" 2>/dev/null | sed 's/^/# /'
ok $bad "dkms status: hpalloc $ver installed for $HPA_KERNELS_DEFAULT"

out=$(MANWIDTH=80 man --warnings 8 hpallocctl 2>&1 >/dev/null)
[ -z "$out" ] && man -w 8 hpallocctl | grep -q '^/usr/share/man/man8/hpallocctl.8'
ok $? "man 8 hpallocctl renders from the package"

printf '#include <hpalloc.h>\nint main(void) { void *p = hpa_malloc(1); hpa_free(p); return !p; }\n' >"$tmp/t.c"
# shellcheck disable=SC2046
gcc -o "$tmp/t" "$tmp/t.c" $(pkg-config --cflags --libs hpalloc) && "$tmp/t"
ok $? "pkg-config --libs hpalloc links a program that runs"

ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
hpallocctl status >/dev/null && hpallocctl --help | grep -q 'pool NODE SIZE' &&
	[ "$(LD_PRELOAD=/usr/lib/$ma/hpalloc/libhpalloc-preload.so sh -c 'echo ok')" = ok ]
ok $? "the packaged hpallocctl runs, and a program under the packaged preload library"

as_root dpkg --purge $pkgs >"$tmp/purge.log" 2>&1
left=$(dkms status hpalloc 2>/dev/null)
[ -z "$left" ] && [ ! -e "/usr/src/hpalloc-$ver" ] && [ ! -e /etc/modprobe.d/hpalloc.conf ]
rc=$?
[ $rc = 0 ] || echo "# left after purge: $left"
ok $rc "dpkg --purge removes the module from dkms, /usr/src and /etc"

echo "1..$n"
echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:0 error:0"
[ "$fail" = 0 ]
