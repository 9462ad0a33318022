#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Host test: boot with unmapped_alloc=bogus.  The kernel warns about the
# value and keeps the default: the pools are on (pipeline/guest/
# pool-param.sh).  The kernel log of that boot is scanned like the main
# one's.  Results in build/results-pool-param.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
export RESULTS=$REPO/build/results-pool-param
export GMEM_APPEND="${GMEM_APPEND:-} unmapped_alloc=bogus"
echo "booting with unmapped_alloc=bogus"
rc=0
"$REPO/pipeline/boot.sh" pipeline/guest/pool-param.sh 600 || rc=$?
sed 's/^/    /' "$RESULTS/job.log" 2>/dev/null | tail -n 20
if [ $rc -ne 0 ]; then
	echo "not ok 1 - unknown unmapped_alloc= value: warning and default (boot.sh exit $rc, see $RESULTS)"
	exit 1
fi
echo "ok 1 - unknown unmapped_alloc= value: warning and default"
if ! "$REPO/pipeline/scan-log.sh" "$RESULTS/console.log"; then
	echo "not ok 2 - kernel log of the boot with unmapped_alloc=bogus"
	exit 1
fi
echo "ok 2 - kernel log of the boot with unmapped_alloc=bogus"
