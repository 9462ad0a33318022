#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Host test: boot the kernel a second time with unmapped_alloc=off and run
# pipeline/guest/pool-off.sh there (KVM_CAP_GUEST_MEMFD_FLAGS is 0, the
# flag fails with EINVAL, secretmem still works); the kernel log of that
# boot is scanned like the main one's.  Results in build/results-pool-off.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
. "$REPO/pipeline/tests/boot_job.sh"
boot_job results-pool-off unmapped_alloc=off pipeline/guest/pool-off.sh \
	"the guest job with the pool off"
