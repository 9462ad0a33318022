#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Host test: boot with unmapped_alloc=bogus.  The kernel warns about the
# value and keeps the default: the pools are on (pipeline/guest/
# pool-param.sh).  The kernel log of that boot is scanned like the main
# one's.  Results in build/results-pool-param.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
. "$REPO/pipeline/tests/boot_job.sh"
boot_job results-pool-param unmapped_alloc=bogus pipeline/guest/pool-param.sh \
	"unknown unmapped_alloc= value: warning and default"
