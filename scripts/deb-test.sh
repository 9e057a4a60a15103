#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# `make check-deb`: build the Debian packages from a copy of the tree
# (dpkg-buildpackage -us -uc -b), run lintian on them, install the four
# packages, and check that DKMS built and installed hpalloc.ko for every
# kernel whose headers are installed (6.1 and 6.12 here), that
# `man 8 hpallocctl` renders, that pkg-config links a program against the
# installed library, that systemd-analyze accepts the unit, that
# hpallocctl runs and that /etc/cdi/hpalloc.yaml is a conffile; then purge
# them again and check that DKMS forgot the module and that the CDI spec is
# gone; and scripts/dkms-install.sh --remove
# undoing --restrict.  Needs root (dpkg -i).  KTAP output.
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
# apt-get, not dpkg: it waits for the dpkg lock another install may hold.
apt_q() {
	as_root env DEBIAN_FRONTEND=noninteractive apt-get -y -q \
		-o DPkg::Lock::Timeout=600 "$@"
}
cleanup() {
	# shellcheck disable=SC2086 # pkgs is a word list
	apt_q purge $pkgs >/dev/null 2>&1
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
for p in $pkgs; do debs+=("$(ls "$tmp/${p}"_*.deb)"); done
cdi=/etc/cdi/hpalloc.yaml
[ ! -e $cdi ] || echo "# $cdi is there before the install"
cdi_dir_before=$([ -d /etc/cdi ] && echo yes)
apt_q install --no-install-recommends "${debs[@]}" >"$tmp/install.log" 2>&1
rc=$?
[ $rc = 0 ] || sed 's/^/# /' "$tmp/install.log"
ok $rc "install of the four packages"

# The CDI spec is a conffile of hpalloc-dkms (dpkg keeps an edited copy on
# upgrade and removal, and purge removes it), shipped as the tree has it:
# listed in the package's Conffiles with the md5sum of the file in /etc.
sum=$(dpkg-query -W -f='${Conffiles}\n' hpalloc-dkms 2>/dev/null |
	awk -v f=$cdi '$1 == f && NF == 2 { print $2 }')
echo "# conffile $cdi: ${sum:-not listed}"
[ -n "$sum" ] && [ -f $cdi ] && [ "$sum" = "$(md5sum <$cdi | cut -d' ' -f1)" ] &&
	cmp -s $cdi "$HPA_ROOT/scripts/hpalloc-cdi.yaml"
ok $? "$cdi is a conffile of hpalloc-dkms, as shipped"

# hpalloc-dkms's postinst builds and installs the module for every kernel
# with headers ("Building for 6.1.0-... and 6.12...").
bad=0
for s in $HPA_KERNELS_DEFAULT; do
	rel=$(kernel_release "$s")
	st=$(dkms status "hpalloc/$ver" -k "$rel" 2>/dev/null)
	echo "# $st"
	case "$st" in *": installed"*) ;; *) bad=1 ;; esac
	modinfo -F version "/lib/modules/$rel/updates/dkms/hpalloc.ko"* 2>/dev/null |
		grep -qx "$ver" || { echo "# no hpalloc.ko $ver in /lib/modules/$rel/updates/dkms"; bad=1; }
done
[ $bad = 0 ] || grep -iE 'build|error' "$tmp/install.log" | sed 's/^/# /'
ok $bad "dkms status: hpalloc $ver installed for $HPA_KERNELS_DEFAULT"

out=$(MANWIDTH=80 man --warnings 8 hpallocctl 2>&1 >/dev/null)
[ -z "$out" ] && man -w 8 hpallocctl | grep -q '^/usr/share/man/man8/hpallocctl.8'
ok $? "man 8 hpallocctl renders from the package"

printf '#include <hpalloc.h>\nint main(void) { void *p = hpa_malloc(1); hpa_free(p); return !p; }\n' >"$tmp/t.c"
# shellcheck disable=SC2046
gcc -o "$tmp/t" "$tmp/t.c" $(pkg-config --cflags --libs hpalloc) && "$tmp/t"
ok $? "pkg-config --libs hpalloc links a program that runs"

out=$(systemd-analyze verify /lib/systemd/system/hpalloc.service 2>&1)
rc=$?
[ -z "$out" ] || echo "# $out"
[ $rc = 0 ] && [ -z "$out" ]
ok $? "systemd-analyze verify hpalloc.service: silent"

ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
hpallocctl status >/dev/null && hpallocctl --help | grep -q 'pool NODE SIZE' &&
	[ "$(LD_PRELOAD=/usr/lib/$ma/hpalloc/libhpalloc-preload.so sh -c 'echo ok')" = ok ]
ok $? "the packaged hpallocctl runs, and a program under the packaged preload library"

# shellcheck disable=SC2086 # pkgs is a word list
apt_q purge $pkgs >"$tmp/purge.log" 2>&1
left=$(dkms status hpalloc 2>/dev/null; dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' $pkgs 2>/dev/null | grep '^i')
[ -z "$left" ] && [ ! -e "/usr/src/hpalloc-$ver" ] && [ ! -e /etc/modprobe.d/hpalloc.conf ]
purged=$?
[ $purged = 0 ] || { echo "# left after purge: $left"; tail -n 20 "$tmp/purge.log" | sed 's/^/# /'; }
ok $purged "purge removes the packages, the module from dkms, /usr/src and /etc"

# dpkg --purge (apt-get purge runs it) removes conffiles, and /etc/cdi
# too when the package made it and nothing else is in it.
left=$(ls -d $cdi $cdi.dpkg-* 2>/dev/null)
[ -n "$cdi_dir_before" ] || [ ! -e /etc/cdi ] || left="$left /etc/cdi"
[ -z "$left" ] || echo "# left after purge: $left"
[ -z "$left" ]
ok $? "purge removes $cdi"

# Without packages: scripts/dkms-install.sh --restrict, then --remove
# takes out the module, its sources, the udev rule and the group.
rel=$(kernel_release "${HPA_KERNELS_DEFAULT##* }")
if [ $purged != 0 ] || getent group hpalloc >/dev/null ||
	[ -e /etc/udev/rules.d/60-hpalloc.rules ]; then
	ok 0 "dkms-install.sh --remove # SKIP packages, a group or a rule hpalloc still there"
else
	"$HPA_ROOT/scripts/dkms-install.sh" --restrict "$rel" >"$tmp/dkmsi.log" 2>&1 &&
		[ -e /etc/udev/rules.d/60-hpalloc.rules ] && getent group hpalloc >/dev/null &&
		"$HPA_ROOT/scripts/dkms-install.sh" --remove >>"$tmp/dkmsi.log" 2>&1 &&
		[ ! -e /etc/udev/rules.d/60-hpalloc.rules ] && ! getent group hpalloc >/dev/null &&
		[ -z "$(dkms status hpalloc 2>/dev/null)" ] && [ ! -e "/usr/src/hpalloc-$ver" ]
	rc=$?
	[ $rc = 0 ] || tail -n 20 "$tmp/dkmsi.log" | sed 's/^/# /'
	ok $rc "dkms-install.sh --restrict, then --remove leaves no module, rule or group"
fi

echo "1..$n"
echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:0 error:0"
[ "$fail" = 0 ]
