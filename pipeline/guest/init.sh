#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# PID 1 of the test guest.  The root is the host's / over read-only
# virtio-9p; results go to a writable 9p share.  The job's exit status
# leaves through isa-debug-exit: QEMU exits with (status << 1) | 1.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t debugfs debugfs /sys/kernel/debug
mount -t cgroup2 cgroup2 /sys/fs/cgroup
# /tmp is writable but still shows the host's /tmp (a clone may live
# there): an overlay with a tmpfs upper layer.
mount -t tmpfs tmpfs /run
mkdir -p /run/tmp/upper /run/tmp/work
mount -t overlay overlay -o lowerdir=/tmp,upperdir=/run/tmp/upper,workdir=/run/tmp/work /tmp
mkdir -p /tmp/results
mount -t 9p -o trans=virtio,version=9p2000.L results /tmp/results

echo "guest: $(uname -r), $(nproc) CPUs, $(awk '/MemTotal/ {print $2 " kB"}' /proc/meminfo)"
status=1
if [ -f /tmp/results/job.sh ]; then
	# The job's output goes to the console (live) and to job.log.
	cd /tmp
	mkfifo /tmp/job.fifo
	tee /tmp/results/job.log </tmp/job.fifo &
	sh /tmp/results/job.sh >/tmp/job.fifo 2>&1
	status=$?
	wait
else
	echo "guest: no job in the results share"
fi
echo "guest: job exited with status $status"
sync

# One byte to the exit port; if that fails, power off without a verdict.
printf "\\$(printf '%03o' "$status")" | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
echo o >/proc/sysrq-trigger
sleep 10
