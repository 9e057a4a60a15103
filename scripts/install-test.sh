#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# `make check-install`: `make install DESTDIR=<tmp> PREFIX=/usr`, then a
# program built with nothing but `pkg-config --cflags --libs hpalloc`
# (shared, and --static) runs against the installed library, the installed
# hpallocctl starts, and `make uninstall` leaves nothing behind.  Prints
# KTAP and a "# Totals:" line like the harness programs.
set -uo pipefail
. "$(dirname "$0")/common.sh"

need_pkgs pkg-config
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/root
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
libdir=/usr/lib/$ma
n=0 pass=0 fail=0

ok() {	# ok CONDITION-EXIT-STATUS DESCRIPTION
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		pass=$((pass + 1)); echo "ok $n $2"
	else
		fail=$((fail + 1)); echo "not ok $n $2"
	fi
}

echo "TAP version 13"
echo "1..8"
make -s -C "$HPA_ROOT" install DESTDIR="$dest" PREFIX=/usr >"$tmp/install.log" 2>&1
rc=$?
[ $rc = 0 ] || cat "$tmp/install.log"
ok $rc "make install DESTDIR=... PREFIX=/usr"

missing=0
for f in "$libdir/libhpalloc-user.so.1.0.0" "$libdir/libhpalloc-user.so.1" \
	"$libdir/libhpalloc-user.so" "$libdir/libhpalloc-user.a" \
	"$libdir/hpalloc/libhpalloc-preload.so" "$libdir/pkgconfig/hpalloc.pc" \
	/usr/include/hpalloc.h /usr/include/hpalloc/linux/hpalloc.h \
	/usr/sbin/hpallocctl /lib/systemd/system/hpalloc.service \
	/etc/modprobe.d/hpalloc.conf /usr/share/hpalloc/60-hpalloc.rules \
	/etc/cdi/hpalloc.yaml /usr/share/hpalloc/cdi.yaml; do
	[ -e "$dest$f" ] || { echo "# missing: $f"; missing=1; }
done
for m in "$HPA_ROOT"/man/*.in; do
	m=$(basename "${m%.in}")
	s=${m##*.}
	[ -e "$dest/usr/share/man/man$s/$m" ] ||
		{ echo "# missing man page: $m"; missing=1; }
done
if readelf -d "$dest/usr/sbin/hpallocctl" | grep -qE 'RPATH|RUNPATH'; then
	echo "# installed hpallocctl has an rpath"; missing=1
fi
grep -q "ExecStart=/usr/sbin/hpallocctl load" "$dest/lib/systemd/system/hpalloc.service" ||
	{ echo "# hpalloc.service does not run /usr/sbin/hpallocctl"; missing=1; }
ok $missing "every file in place, hpallocctl without rpath, unit names it"

cat >"$tmp/prog.c" <<'CEOF'
#include <hpalloc.h>
#include <linux/hpalloc.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
	struct hpa_stats st = { .size = sizeof(st) };
	char *p = hpa_malloc(3 << 20);

	if (!p)
		return 1;
	memset(p, 7, 3 << 20);
	if (hpa_stats(&st) || st.bytes_in_use < (3 << 20))
		return 2;
	hpa_free(p);
	printf("ok %s %u\n", hpa_backend_name(st.backend), HPALLOC_API_VERSION);
	return 0;
}
CEOF
pc() {
	PKG_CONFIG_SYSROOT_DIR=$dest PKG_CONFIG_LIBDIR=$dest$libdir/pkgconfig \
		pkg-config "$@" hpalloc
}
# shellcheck disable=SC2086 # flags is a word list
flags=$(pc --cflags --libs) &&
	gcc -o "$tmp/prog" "$tmp/prog.c" $flags 2>"$tmp/cc.log"
rc=$?
[ $rc = 0 ] || { echo "# pkg-config: $flags"; cat "$tmp/cc.log"; }
ok $rc "a program builds with pkg-config --cflags --libs hpalloc only"
out=$(LD_LIBRARY_PATH=$dest$libdir "$tmp/prog" 2>&1)
rc=$?
echo "# $out"
[ $rc = 0 ] && case "$out" in ok\ *) ;; *) rc=1 ;; esac
ok $rc "it runs against the installed library"

# shellcheck disable=SC2086 # flags is a word list
flags=$(pc --static --cflags --libs) &&
	gcc -static -o "$tmp/prog-static" "$tmp/prog.c" $flags 2>"$tmp/cc.log" &&
	"$tmp/prog-static" >/dev/null
rc=$?
[ $rc = 0 ] || cat "$tmp/cc.log"
ok $rc "pkg-config --static links libhpalloc-user.a"

LD_LIBRARY_PATH=$dest$libdir "$dest/usr/sbin/hpallocctl" --help >/dev/null
ok $? "the installed hpallocctl runs"

# shellcheck disable=SC2016 # expanded by the inner bash
comp=$(bash -c '. "$1"
	complete() { :; }
	try() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _hpallocctl; echo "${COMPREPLY[*]}"; }
	try hpallocctl un; try hpallocctl pool 0 ""; try hpallocctl pool 0 2M s
	try hpallocctl --sysroot /x load --pages-2' _ "$dest/usr/share/bash-completion/completions/hpallocctl")
want=$(printf '%s\n' unload "2M 1G" set --pages-2m)
[ "$comp" = "$want" ] || echo "# completion gave: $comp"
[ "$comp" = "$want" ]
ok $? "bash completion: commands, pool sizes and actions, options after --sysroot"

make -s -C "$HPA_ROOT" uninstall DESTDIR="$dest" PREFIX=/usr >"$tmp/uninstall.log" 2>&1
left=$(find "$dest" -not -type d)
[ -z "$left" ] || echo "# left after uninstall: $left"
[ -z "$left" ]
ok $? "make uninstall removes every file it installed"

echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:0 error:0"
[ "$fail" = 0 ]
