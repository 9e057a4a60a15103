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

run_one() {
	echo "HPA-BEGIN $1"
	(cd /tmp && timeout 600 "$2")
	echo "HPA-RESULT $1 rc=$?"
}

# shellcheck disable=SC2086 # params is a word list on purpose
insmod /hpalloc.ko $params
rc=$?
echo "HPA-RESULT insmod rc=$rc"
if [ $rc -eq 0 ]; then
	if [ "$mode" = demo ]; then
		for t in /demo/*; do run_one "demo/${t##*/}" "$t"; done
	else
		for t in $(find /tests -type f -perm -u+x | sort); do
			name=${t#/tests/}
			if [ -n "$filter" ] && ! echo "$name" | grep -Eq "$filter"; then
				continue
			fi
			run_one "$name" "$t"
		done
	fi
	rmmod hpalloc
	echo "HPA-RESULT rmmod rc=$?"
fi
echo "HPA-DONE"
sync
poweroff -f
