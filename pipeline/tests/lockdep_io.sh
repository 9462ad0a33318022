#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Lock order under lockdep (PROVE_LOCKING): writeback to the scratch
# virtio-blk disk takes the page cache's i_pages lock in hard-interrupt
# context (with two queues the driver completes requests in its interrupt
# handler), while guest_memfd punches holes that split pool folios under
# its own i_pages lock (one lockdep class for every mapping) and the pool
# is drained.  A lockdep report turns debug_locks off, fails here and
# fails the kernel-log check.
set -eu
disk=/dev/vda
[ -b "$disk" ] || { echo "FAIL: no scratch disk $disk (pipeline/boot.sh adds it)"; exit 1; }
queues=$(ls -d /sys/block/vda/mq/* | wc -l)
echo "scratch disk $disk, $queues hardware queues"
[ "$queues" -ge 2 ] || { echo "FAIL: one queue completes in softirq context, not in the interrupt"; exit 1; }
grep -q 'debug_locks: *1' /proc/lockdep_stats || { echo "FAIL: lockdep is off before the test"; exit 1; }

writes=/tmp/lockdep_io.writes
: >"$writes"
(while :; do
	dd if=/dev/zero of="$disk" bs=1M count=32 conv=fsync status=none
	echo >>"$writes"
done) &
io=$!
(while :; do echo 1 >/sys/kernel/debug/unmapped_alloc/drain; sleep 0.2; done) &
drain=$!
rc=0
# -n: the drain loop above changes the direct map while the test compares it.
(cd "$KST/kvm" && ./x86_64/guest_memfd_churn_test -d 20 -w 2 -n) || rc=$?
kill "$io" "$drain"
wait "$io" "$drain" 2>/dev/null || true

echo "$(wc -l <"$writes") passes of 32 MiB written back to $disk"
[ -s "$writes" ] || { echo "FAIL: no write to $disk completed"; exit 1; }
grep -q 'debug_locks: *1' /proc/lockdep_stats || { echo "FAIL: lockdep reported a problem (debug_locks is off)"; exit 1; }
exit "$rc"
