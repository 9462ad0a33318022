#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Host test: boot the kernel a second time with unmapped_alloc=off and run
# pipeline/guest/pool-off.sh there (KVM_CAP_GUEST_MEMFD_FLAGS is 0, the
# flag fails with EINVAL, secretmem still works); the kernel log of that
# boot is scanned like the main one's.  Results in build/results-pool-off.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
export RESULTS=$REPO/build/results-pool-off
export GMEM_APPEND="${GMEM_APPEND:-} unmapped_alloc=off"
echo "booting with unmapped_alloc=off"
rc=0
"$REPO/pipeline/boot.sh" pipeline/guest/pool-off.sh 600 || rc=$?
sed 's/^/    /' "$RESULTS/job.log" 2>/dev/null | tail -n 20
if [ $rc -ne 0 ]; then
	echo "not ok 1 - the guest job with the pool off (boot.sh exit $rc, see $RESULTS)"
	exit 1
fi
echo "ok 1 - the guest job with the pool off"
if ! "$REPO/pipeline/scan-log.sh" "$RESULTS/console.log"; then
	echo "not ok 2 - kernel log of the boot with the pool off"
	exit 1
fi
echo "ok 2 - kernel log of the boot with the pool off"
