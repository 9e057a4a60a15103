# SPDX-License-Identifier: GPL-2.0
# Shared helpers for the scripts in this directory.  Source it; don't run it.

HPA_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HPA_BUILD=${HPA_BUILD:-$HPA_ROOT/build}
HPA_KERNELS_DEFAULT="6.1 6.12"

die() { echo "error: $*" >&2; exit 1; }
note() { echo ">>> $*" >&2; }

# Command-line checks for the scripts' option loops: a line that says what
# was wrong, exit status 2.
opt_bad() {
	echo "$(basename "$0"): $*" >&2
	echo "(usage: $(basename "$0") -h)" >&2
	exit 2
}
# opt_need OPTION "$#": the option must have a value after it
opt_need() { [ "$2" -ge 2 ] || opt_bad "$1 needs a value"; }
# opt_series VALUE: a kernel series the scripts know
opt_series() {
	[[ " $HPA_KERNELS_DEFAULT " == *" $1 "* ]] ||
		opt_bad "-k $1: no such kernel series ($HPA_KERNELS_DEFAULT)"
}

as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# apt-get update once per run of a script, and only when something is missing.
_hpa_apt_updated=
apt_install() {
	[ $# -gt 0 ] || return 0
	if [ -z "$_hpa_apt_updated" ]; then
		note "apt-get update"
		as_root apt-get -o DPkg::Lock::Timeout=600 update -qq ||
			die "apt-get update failed"
		_hpa_apt_updated=1
	fi
	note "installing: $*"
	# INITRD=No: a kernel image pulled in by a headers package needs no
	# initramfs here (the guests boot our own), and building one takes minutes.
	as_root env DEBIAN_FRONTEND=noninteractive INITRD=No \
		apt-get install -y -qq --no-install-recommends \
		-o DPkg::Lock::Timeout=600 "$@" >&2 ||
		die "apt-get install $* failed"
}

# Install the packages whose names are given, skipping those already there.
need_pkgs() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q "install ok installed" || missing+=("$p")
	done
	apt_install "${missing[@]}"
}

# The meta package that names the current Debian kernel of a series.
_meta_for_series() {
	case "$1" in
	6.1) echo linux-image-amd64 ;;
	6.12) echo linux-image-6.12-amd64 ;;
	*) die "unsupported kernel series '$1' (supported: $HPA_KERNELS_DEFAULT)" ;;
	esac
}

# Full release name (e.g. 6.1.0-56-amd64) for a series: the newest installed
# headers of that series, else what Debian's meta package points at now.
kernel_release() {
	local series=$1 rel meta
	case "$series" in
	6.1) rel=$(ls -d /usr/src/linux-headers-6.1.0-*-amd64 2>/dev/null) ;;
	6.12) rel=$(ls -d /usr/src/linux-headers-6.12.*+deb12-amd64 2>/dev/null) ;;
	*) die "unsupported kernel series '$series' (supported: $HPA_KERNELS_DEFAULT)" ;;
	esac
	if [ -n "$rel" ]; then
		basename "$(echo "$rel" | sort -V | tail -n1)" | sed 's/^linux-headers-//'
		return
	fi
	meta=$(_meta_for_series "$series")
	[ -n "$_hpa_apt_updated" ] || { as_root apt-get update -qq; _hpa_apt_updated=1; }
	rel=$(apt-cache depends "$meta" 2>/dev/null |
		sed -n 's/^ *Depends: linux-image-\(.*\)$/\1/p' | head -n1)
	[ -n "$rel" ] || die "cannot resolve the Debian kernel for $series ($meta)"
	echo "$rel"
}

# Headers for a release, installed when missing.
kernel_headers() {
	local rel=$1
	[ -d "/usr/src/linux-headers-$rel" ] || need_pkgs "linux-headers-$rel"
	echo "/usr/src/linux-headers-$rel"
}

# vmlinuz for a release: /boot if the image is installed, else the image
# package downloaded and unpacked under build/ (seconds, no initramfs run).
kernel_image() {
	local rel=$1
	local dir="$HPA_BUILD/kernels/$rel" deb
	if [ -r "/boot/vmlinuz-$rel" ]; then
		echo "/boot/vmlinuz-$rel"
		return
	fi
	if [ ! -r "$dir/boot/vmlinuz-$rel" ]; then
		# Unpack beside, then rename: an interrupted run must not leave
		# a vmlinuz without its modules.
		local tmp="$dir.tmp.$$"
		rm -rf "$dir" "$tmp"
		mkdir -p "$tmp/dl"
		note "downloading linux-image-$rel"
		(cd "$tmp/dl" && apt-get download -qq -o APT::Sandbox::User=root "linux-image-$rel" >&2 ||
			apt-get download -qq -o APT::Sandbox::User=root "linux-image-$rel-unsigned" >&2) ||
			die "cannot download linux-image-$rel"
		for deb in "$tmp"/dl/*.deb; do dpkg-deb -x "$deb" "$tmp"; done
		rm -rf "$tmp/dl"
		mv "$tmp" "$dir"
	fi
	echo "$dir/boot/vmlinuz-$rel"
}

# The directory holding a release's modules (for the guest's block device
# and filesystem drivers), next to the vmlinuz that kernel_image gave.
kernel_moddir() {
	local rel=$1 vmlinuz=$2
	case "$vmlinuz" in
	/boot/*) echo "/lib/modules/$rel" ;;
	*)
		local base
		base=$(dirname "$(dirname "$vmlinuz")")
		# An unpacked (not installed) image has no modules.dep yet.
		[ -r "$base/lib/modules/$rel/modules.dep" ] ||
			/sbin/depmod -b "$base" "$rel" ||
			die "depmod for the unpacked $rel failed"
		echo "$base/lib/modules/$rel"
		;;
	esac
}

# Host packages every build and test needs.
deps_build() {
	need_pkgs make gcc g++ libc6-dev bc kmod xz-utils pkg-config \
		libkmod-dev libjson-c-dev
}

deps_guest() {
	deps_build
	need_pkgs qemu-system-x86 busybox-static cpio e2fsprogs
}

deps_source() {
	need_pkgs linux-source-6.12
}
