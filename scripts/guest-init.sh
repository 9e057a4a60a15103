#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
# /init of the test guest (scripts/vm-run.sh packs it into the initramfs).
# The kernel log goes to ttyS0; everything this script and the tests print
# goes to ttyS1, with HPA-* marker lines that the host parses.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs -o size=512m tmpfs /tmp
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
# cgroup v2 with the memory controller for the children (accounting=memcg
# tests), as a container host has it.
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null &&
	echo +memory >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null
exec >/dev/ttyS1 2>&1

filter=$(cat /etc/filter)
params=$(cat /etc/params)
mode=$(cat /etc/mode)
nodes=$(ls -d /sys/devices/system/node/node[0-9]* | wc -l)
echo "hpalloc guest: Linux $(uname -r), $(nproc) CPUs, $nodes NUMA nodes"

# The virtio disk with an ext4 filesystem (for O_DIRECT tests).
for m in $(cat /etc/kmods); do
	insmod "$m" || echo "hpalloc guest: insmod $m failed"
done
# The disk shows up asynchronously after virtio_blk loads.
i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
if mount -t ext4 /dev/vda /mnt/disk; then
	echo "hpalloc guest: /mnt/disk mounted (ext4 on virtio)"
else
	echo "hpalloc guest: no /mnt/disk; O_DIRECT tests will skip"
fi

# run_tests loaded|unloaded: the tests under /tests/unloaded/ (hpallocctl
# load/unload) run after the module is unloaded, all others while loaded.
run_tests() {
	for t in $(find /tests -type f -perm -u+x | sort); do
		name=${t#/tests/}
		case $name in
		unloaded/*) phase=unloaded ;;
		*) phase=loaded ;;
		esac
		[ "$phase" = "$1" ] || continue
		if [ -n "$filter" ] && ! echo "$name" | grep -Eq "$filter"; then
			continue
		fi
		run_one "$name" 600 "$t"
	done
}

run_one() { # name limit program [args...]
	name=$1 limit=$2
	shift 2
	echo "HPA-BEGIN $name"
	(cd /tmp && timeout "$limit" "$@")
	echo "HPA-RESULT $name rc=$?"
}

# Memory the system has, in kB: MemFree + Cached once the page cache is
# dropped (files in tmpfs stay in Cached), + the free pages sitting on the
# per-CPU lists (zoneinfo "count:"), which MemFree leaves out and which
# swing by 100 MiB as 2 MiB pages come and go.  Read before insmod and
# after rmmod: the host fails the run when it does not come back.
mem_kb() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
	{
		awk '/^(MemFree|Cached):/ { s += $2 } END { print s }' /proc/meminfo
		awk '$1 == "count:" { s += $2 } END { print s * 4 }' /proc/zoneinfo
	} | awk '{ s += $1 } END { print s }'
}

echo "HPA-MEM before $(mem_kb)"
# shellcheck disable=SC2086 # params is a word list on purpose
insmod /hpalloc.ko $params
rc=$?
echo "HPA-RESULT insmod rc=$rc"
if [ $rc -eq 0 ]; then
	if [ "$mode" = demo ]; then
		for t in /demo/*; do run_one "demo/${t##*/}" 600 "$t"; done
	elif [ "$mode" = bench ]; then
		# shellcheck disable=SC2046 # the benchmark's arguments, as words
		run_one bench 3000 $(sed 's|^|/bench/|' /etc/bench)
	else
		run_tests loaded
	fi
	rmmod hpalloc
	rc=$?
	echo "HPA-RESULT rmmod rc=$rc"
	[ $rc -ne 0 ] || echo "HPA-MEM after $(mem_kb)"
fi
[ "$mode" = demo ] || run_tests unloaded
umount /mnt/disk 2>/dev/null
echo "HPA-DONE"
sync
poweroff -f
