#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build hpalloc.ko for a Debian kernel, boot that kernel in a qemu TCG guest
# with three NUMA nodes, load the module, run the selftests (or the demo),
# unload it, and judge the run: test results, and the guest's kernel log.
set -euo pipefail
. "$(dirname "$0")/common.sh"

usage() {
	cat <<EOF
usage: scripts/vm-run.sh [-k SERIES]... [-t REGEX] [-p PARAMS] [--demo]
                         [--bench 'PROGRAM ARGS'] [--append ARGS]
                         [--timeout SECONDS] [--no-build]
  -k SERIES     kernel series to boot: 6.1 or 6.12 (repeatable; default: both)
  -t REGEX      run only the guest tests whose path matches REGEX
                (paths look like module/hpalloc_basic_test, lib/...)
  -p PARAMS     module parameters for insmod, after the default
                pages_1g=2:1 (HPA_GUEST_RESERVE= in the environment
                replaces that default)
  --demo        run the demonstration program instead of the tests
  --bench CMD   run one guest benchmark (build/guest-bench/, from
                selftests/module/*_bench.c) with its arguments instead
  --append ARGS more guest kernel command line (e.g. nokaslr)
  --timeout S   give up on a guest after S seconds (default 900)
  --no-build    don't run make for the selftests and library first
  --debug       boot with the kernel's debug checks that need no rebuild:
                slub_debug=FZPU page_poison=1 init_on_free=1
                debug_pagealloc=on
  --fuzz K=V    set HPA_FUZZ_SEED or HPA_FUZZ_OPS for the sequence fuzzer
                (repeatable; e.g. --fuzz HPA_FUZZ_OPS=1000000)
Results: build/vm/<release>/{console.log,tests.log,summary}.  Exit status is
non-zero if any test failed, the guest did not finish, the module build
warned, or the guest kernel log has a BUG/WARNING/Oops/general protection/
leak/Call Trace line.
Guest: 2 CPUs in 2 sockets, node0 1 GiB + cpu0, node1 2 GiB + cpu1,
node2 4 GiB without CPUs (a memory-only, CXL-like node).  Node 2 is the one
with room for 1 GiB pages: its first GiB starts with a slab page, its last
holds its own struct pages, and of the two between one or both are free at
boot (physical KASLR puts the kernel image anywhere, node 2 included; seen
at 6.05 GiB).  The module is loaded with one 1 GiB page reserved there,
before any test can fragment the node: tests that need a 1 GiB page take
that one (or skip when it is not there), never one that luck left free.
EOF
}

series=()
filter=
params=
mode=tests
bench_cmd=
append=
timeout_s=900
build_userspace=1
cmdline_extra=
fuzz_cfg=
while [ $# -gt 0 ]; do
	case "$1" in
	-k | -t | -p | --bench | --append | --timeout | --fuzz)
		opt_need "$1" $# ;;
	esac
	case "$1" in
	-k) opt_series "$2"; series+=("$2"); shift 2 ;;
	-t) filter=$2; shift 2 ;;
	-p) params=$2; shift 2 ;;
	--demo) mode=demo; shift ;;
	--bench) mode=bench; bench_cmd=$2; shift 2 ;;
	--append) append=$2; shift 2 ;;
	--timeout)
		[[ $2 =~ ^[1-9][0-9]*$ ]] ||
			opt_bad "--timeout $2: not a positive number of seconds"
		timeout_s=$2
		shift 2
		;;
	--no-build) build_userspace=; shift ;;
	--debug)
		cmdline_extra="slub_debug=FZPU page_poison=1 init_on_free=1 debug_pagealloc=on"
		shift
		;;
	--fuzz)
		[[ $2 =~ ^HPA_FUZZ_(SEED|OPS)=[0-9a-fA-Fx]+$ ]] ||
			opt_bad "--fuzz $2: not HPA_FUZZ_SEED=N or HPA_FUZZ_OPS=N"
		fuzz_cfg+="$2"$'\n'
		shift 2
		;;
	-h | --help) usage; exit 0 ;;
	*) opt_bad "$1: no such option" ;;
	esac
done
[ ${#series[@]} -gt 0 ] || read -r -a series <<<"$HPA_KERNELS_DEFAULT"
# The 1 GiB page the selftests use (hpa_reserved_1g_node()); -p comes after,
# and insmod takes the last value of a parameter given twice.
params="${HPA_GUEST_RESERVE-pages_1g=2:1}${params:+ $params}"

deps_guest
if [ -n "$build_userspace" ]; then
	make -s -C "$HPA_ROOT" ksft >&2
	make -s -C "$HPA_ROOT/selftests" >&2
	if [ -f "$HPA_ROOT/lib/Makefile" ]; then
		make -s -C "$HPA_ROOT/lib" >&2
	fi
	# the DPDK heap test (built only where libdpdk-dev is installed)
	if [ -f "$HPA_ROOT/examples/dpdk/Makefile" ]; then
		make -s -C "$HPA_ROOT/examples/dpdk" >&2
	fi
fi

# Kernel log lines that fail a run.  "Call Trace" catches any stack dump.
# Memory (MemFree + Cached, page cache dropped) after rmmod may be below
# what it was before insmod by this much: what the tests leave in the slab
# and in page tables.  A pool page that never went back is 2 MiB.
MEM_TOLERANCE_KB=16384
# The guest CPU: qemu's "max" less ERMS and FSRM.  TCG runs rep stosb and
# rep movsb a byte per step, and with those flags the guest kernel clears
# and copies pages with them (clear_page_erms, copy_user with FSRM) and
# glibc uses rep stosb for big memsets; without them both use 8- and
# 16-byte steps.  Measured on 6.12, back to back on the same host: insmod
# with a 1 GiB page reserved 4.7 s -> 2.5 s, the sequence fuzzer 58 s ->
# 31 s.  What the module does is the same either way.
guest_cpu=max,-erms,-fsrm
BAD_LOG='BUG|WARNING|Oops|general protection|[Ll]eak|Call Trace|UBSAN|KASAN|soft lockup|hung task|rcu.*stall|bad (pgd|p4d|pud|pmd)'

# Build the module out of tree against one kernel's headers, in a copy of
# the sources so that both kernels' objects can coexist.
build_module() {
	local rel=$1 kdir=$2 dir=$3
	rm -rf "$dir/src"
	mkdir -p "$dir/src"
	# Sources only: an in-tree build's leftovers (*.mod, modules.order ...)
	# would confuse this one.
	mkdir -p "$dir/src/kmod"
	cp -r "$HPA_ROOT/Kbuild" "$HPA_ROOT/include" "$dir/src/"
	cp "$HPA_ROOT"/kmod/Kbuild "$HPA_ROOT"/kmod/*.[ch] "$dir/src/kmod/"
	rm -f "$dir"/src/kmod/*.mod.c
	if ! make -C "$kdir" M="$dir/src" W=1 -j"$(nproc)" modules \
		>"$dir/build.log" 2>&1; then
		cat "$dir/build.log" >&2
		die "module build failed for $rel"
	fi
	if grep -q 'warning:' "$dir/build.log"; then
		grep -B2 -A4 'warning:' "$dir/build.log" >&2
		echo "module build for $rel has warnings" >&2
		return 1
	fi
	[ -r "$dir/src/kmod/hpalloc.ko" ] || die "no kmod/hpalloc.ko built for $rel"
}

# Kernel modules the guest loads before hpalloc: a virtio disk with ext4 on
# it, so that tests can do O_DIRECT I/O (which pins user pages) from a file,
# and vgem, a DRM driver that imports dma-bufs (the dma-buf export tests).
GUEST_KMODS="virtio_pci virtio_blk crc32c_generic ext4 vgem"

# Copy GUEST_KMODS and their dependencies (modules.dep lists them all, to be
# loaded last first), decompressed, and write the order to load them in.
copy_guest_kmods() {
	local moddir=$1 root=$2 m line deps d f name
	local -A seen=()
	mkdir -p "$root/kmods"
	: >"$root/etc/kmods"
	for m in $GUEST_KMODS; do
		if grep -Eq "(^|/)${m//_/[_-]}\.ko\$" "$moddir/modules.builtin"; then
			continue # built into this kernel
		fi
		line=$(grep -E "(^|/)${m//_/[_-]}\.ko(\.xz)?:" "$moddir/modules.dep") ||
			die "module $m not found in $moddir"
		deps=$(echo "${line#*:}" | tr ' ' '\n' | tac | tr '\n' ' ')
		for d in $deps "${line%%:*}"; do
			[ -n "$d" ] && [ -z "${seen[$d]:-}" ] || continue
			seen[$d]=1
			name=$(basename "$d")
			name=${name%.xz}
			f="$root/kmods/$name"
			case "$d" in
			*.xz) xz -dc "$moddir/$d" >"$f" ;;
			*) cp "$moddir/$d" "$f" ;;
			esac
			echo "/kmods/$name" >>"$root/etc/kmods"
		done
	done
}

# An ext4 image with a file of known contents: 8-byte words, each holding
# its own byte offset.  Tests find it at /mnt/disk/pattern.
make_disk() {
	local dir=$1 src=$1/disk-src
	[ -r "$dir/disk.img" ] && return 0
	rm -rf "$src"
	mkdir -p "$src"
	# perl-base is essential in Debian, so this needs no install.
	perl -e 'for my $c (0 .. 31) { print pack("Q<*", map { $_ * 8 }
		($c << 17) .. ((($c + 1) << 17) - 1)) }' >"$src/pattern"
	[ "$(stat -c %s "$src/pattern")" = $((32 * 1024 * 1024)) ] ||
		die "could not write the disk pattern file"
	mkfs.ext4 -q -F -O ^metadata_csum -d "$src" "$dir/disk.img" 96M ||
		die "mkfs.ext4 failed"
	rm -rf "$src"
}

# Copy a program and the shared libraries it loads into the initramfs tree.
copy_with_libs() {
	local bin=$1 root=$2 lib
	for lib in $(ldd "$bin" 2>/dev/null | grep -o '/[^ ]*' | sort -u); do
		[ -e "$root$lib" ] || cp -L --parents "$lib" "$root/"
	done
}

# hpalloc.ko in the guest's module tree, indexed by depmod so that libkmod
# (hpallocctl load) finds it, and hpallocctl with its libraries in /sbin.
install_ctl() {
	local dir=$1 root=$2 rel=$3 moddir=$4 ctl=$HPA_BUILD/lib/hpallocctl f
	mkdir -p "$root/lib/modules/$rel/extra"
	cp "$dir/src/kmod/hpalloc.ko" "$root/lib/modules/$rel/extra/"
	for f in modules.order modules.builtin modules.builtin.modinfo; do
		if [ -r "$moddir/$f" ]; then cp "$moddir/$f" "$root/lib/modules/$rel/"; fi
	done
	/sbin/depmod -b "$root" "$rel" || die "depmod of the guest's module tree failed"
	[ -x "$ctl" ] || return 0
	cp "$ctl" "$HPA_BUILD/lib/libhpalloc-user.so.1" "$root/sbin/"
	copy_with_libs "$ctl" "$root"
}

make_initramfs() {
	local dir=$1 moddir=$2 rel=$3 root=$1/initramfs f
	rm -rf "$root"
	mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,tests,etc,mnt/disk}
	copy_guest_kmods "$moddir" "$root"
	cp /bin/busybox "$root/bin/busybox"
	cp "$dir/src/kmod/hpalloc.ko" "$root/hpalloc.ko"
	install_ctl "$dir" "$root" "$rel" "$moddir"
	if [ "$mode" = demo ]; then
		cp -r "$HPA_BUILD/guest-demo" "$root/demo"
	elif [ "$mode" = bench ]; then
		cp -r "$HPA_BUILD/guest-bench" "$root/bench"
	elif [ -d "$HPA_BUILD/guest-tests" ]; then
		cp -r "$HPA_BUILD/guest-tests/." "$root/tests/"
	fi
	while IFS= read -r f; do
		copy_with_libs "$f" "$root"
	done < <(find "$root/tests" "$root/demo" "$root/bench" -type f -perm -u+x 2>/dev/null)
	printf '%s\n' "$filter" >"$root/etc/filter"
	printf '%s\n' "$params" >"$root/etc/params"
	printf '%s' "$fuzz_cfg" >"$root/etc/hpa-fuzz"
	printf '%s\n' "$mode" >"$root/etc/mode"
	printf '%s\n' "$bench_cmd" >"$root/etc/bench"
	cp "$HPA_ROOT/scripts/guest-init.sh" "$root/init"
	chmod +x "$root/init"
	(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$dir/initramfs.cpio.gz"
}

boot() {
	local vmlinuz=$1 dir=$2 rc=0
	rm -f "$dir/console.log" "$dir/tests.log"
	: >"$dir/tests.log"
	# Live view of the guest's test output while it runs.
	tail -n +1 -f "$dir/tests.log" &
	local tailpid=$!
	timeout --foreground -k 10 "$timeout_s" qemu-system-x86_64 \
		-nodefaults -no-user-config -display none -no-reboot \
		-accel tcg -cpu "$guest_cpu" -machine pc -m 7G \
		-smp 2,sockets=2,cores=1,threads=1 \
		-object memory-backend-ram,id=m0,size=1G \
		-object memory-backend-ram,id=m1,size=2G \
		-object memory-backend-ram,id=m2,size=4G \
		-numa node,nodeid=0,cpus=0,memdev=m0 \
		-numa node,nodeid=1,cpus=1,memdev=m1 \
		-numa node,nodeid=2,memdev=m2 \
		-kernel "$vmlinuz" -initrd "$dir/initramfs.cpio.gz" \
		-drive "file=$dir/disk.img,if=virtio,format=raw,cache=unsafe" \
		-append "console=ttyS0,115200 panic=-1 softlockup_all_cpu_backtrace=1 rdinit=/init${cmdline_extra:+ $cmdline_extra}${append:+ $append}" \
		-serial "file:$dir/console.log" -serial "file:$dir/tests.log" \
		</dev/null || rc=$?
	sleep 0.3
	kill "$tailpid" 2>/dev/null || true
	wait "$tailpid" 2>/dev/null || true
	return $rc
}

# Turn tests.log into pass/fail/skip counts: the harness's "# Totals:" line
# per program; a program that died without one, or whose exit status
# contradicts it, counts as one failure.
judge_tests() {
	awk -v tol="$MEM_TOLERANCE_KB" '
	/^HPA-BEGIN / { prog = $2; tp = tf = ts = -1; next }
	/^# Totals: / {
		for (i = 3; i <= NF; i++) {
			split($i, kv, ":")
			if (kv[1] == "pass") tp = kv[2]
			if (kv[1] == "fail") tf = kv[2]
			if (kv[1] == "skip") ts = kv[2]
			if (kv[1] == "error") tf += kv[2]
		}
		next
	}
	/^HPA-RESULT / {
		name = $2; sub(/^rc=/, "", $3); rc = $3 + 0
		if (name == "insmod" || name == "rmmod") {
			if (rc == 0) pass++; else { fail++; bad = bad " " name }
			next
		}
		if (tp < 0) {
			if (rc == 0) pass++
			else if (rc == 4) skip++
			else { fail++; bad = bad " " name }
		} else {
			pass += tp; fail += tf; skip += ts
			if (tf > 0 || (rc != 0 && rc != 4)) bad = bad " " name
			if (tf == 0 && rc != 0 && rc != 4) fail++
		}
		tp = tf = ts = -1
		next
	}
	/^HPA-MEM before / { mem0 = $3 }
	/^HPA-MEM after / {
		lost = mem0 - $3
		printf "memory before insmod %d kB, after rmmod %d kB\n", mem0, $3 >"/dev/stderr"
		if (mem0 > 0 && lost > tol) {
			fail++; bad = bad " memory-not-back(" int(lost / 1024) "MiB)"
		} else pass++
	}
	/^HPA-DONE/ { done = 1 }
	END {
		printf "%d %d %d %d%s\n", pass, fail, skip, done, bad
	}' "$1"
}

# One guest at a time per build tree: runs share build/vm/<release>/, and
# two TCG guests on a small machine only slow each other down.
mkdir -p "$HPA_BUILD/vm"
exec 9>"$HPA_BUILD/vm/.lock"
if ! flock -n 9; then
	note "another guest run holds $HPA_BUILD/vm/.lock; waiting"
	flock 9
fi

overall=0
for s in "${series[@]}"; do
	rel=$(kernel_release "$s")
	kdir=$(kernel_headers "$rel")
	vmlinuz=$(kernel_image "$rel")
	dir="$HPA_BUILD/vm/$rel"
	mkdir -p "$dir"
	note "kernel $rel: building hpalloc.ko (W=1)"
	warn=0
	build_module "$rel" "$kdir" "$dir" || warn=1
	make_initramfs "$dir" "$(kernel_moddir "$rel" "$vmlinuz")" "$rel"
	make_disk "$dir"
	note "kernel $rel: booting the guest ($mode)"
	start=$(date +%s)
	qrc=0
	boot "$vmlinuz" "$dir" || qrc=$?
	secs=$(($(date +%s) - start))
	read -r pass fail skip done bad < <(judge_tests "$dir/tests.log")
	[ "$warn" = 0 ] || { fail=$((fail + 1)); bad="$bad build-warnings"; }
	if [ "$done" != 1 ]; then
		fail=$((fail + 1))
		bad="$bad guest-did-not-finish(qemu-rc=$qrc)"
	fi
	if grep -E "$BAD_LOG" "$dir/console.log" >"$dir/badlog" 2>/dev/null; then
		fail=$((fail + 1))
		bad="$bad kernel-log"
		echo "--- guest kernel log: lines that fail the run ($dir/console.log)" >&2
		head -n 40 "$dir/badlog" >&2
		# CI keeps only what a failed run printed: the first reports
		# whole (a soft lockup brings every CPU's stack, see boot()).
		echo "--- the first of them with what follows" >&2
		grep -E -m 3 -A 60 "$BAD_LOG" "$dir/console.log" | head -n 200 >&2
	fi
	echo "$pass $fail $skip" >"$dir/summary"
	echo "kernel $rel ($mode, ${secs}s): $pass passed, $fail failed, $skip skipped${bad:+ — failing:$bad}"
	[ "$fail" = 0 ] || overall=1
done
exit $overall
