#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# 'make stress': build the KASAN flavour of the kernel, boot it, churn VMs
# under memory pressure for STRESS_SECONDS (600), then scan the kernel log.
# Ends with "N passed, N failed" over two results: the churn and the log.
set -euo pipefail
. "$(dirname "$0")/common.sh"

export GMEM_FLAVOUR=${GMEM_FLAVOUR:-kasan}
export RESULTS=$REPO/build/stress-results
export GUEST_STRESS_SECONDS=${STRESS_SECONDS:-600}
export GUEST_STRESS_WORKERS=${STRESS_WORKERS:-3}

log "building the $GMEM_FLAVOUR kernel"
"$REPO/pipeline/build-kernel.sh"

passed=0 failed=0
# Boot, KASAN's slower KUnit suites and the churn's last VMs take time too.
rc=0
"$REPO/pipeline/boot.sh" pipeline/guest/stress.sh $((GUEST_STRESS_SECONDS * 2 + 900)) || rc=$?
if [ $rc -eq 0 ]; then
	passed=$((passed + 1))
	sed -n '/churning processes/,$p' "$RESULTS/job.log"
else
	failed=$((failed + 1))
	log "churn failed (boot.sh status $rc): $RESULTS/job.log, $RESULTS/console.log"
fi
if "$REPO/pipeline/scan-log.sh" "$RESULTS/console.log"; then
	passed=$((passed + 1))
else
	failed=$((failed + 1))
fi
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
