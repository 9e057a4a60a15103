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

run_one() { # name limit program [args...]
	name=$1 limit=$2
	shift 2
	echo "HPA-BEGIN $name"
	(cd /tmp && timeout "$limit" "$@")
	echo "HPA-RESULT $name rc=$?"
}

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
		for t in $(find /tests -type f -perm -u+x | sort); do
			name=${t#/tests/}
			if [ -n "$filter" ] && ! echo "$name" | grep -Eq "$filter"; then
				continue
			fi
			run_one "$name" 600 "$t"
		done
	fi
	rmmod hpalloc
	echo "HPA-RESULT rmmod rc=$?"
fi
umount /mnt/disk 2>/dev/null
echo "HPA-DONE"
sync
poweroff -f
