#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Host test: boot with init_on_alloc=1 init_on_free=1 (pipeline/guest/
# init-on-free.sh): freed pool pages are cleared before anyone can reuse
# them, and the firmware-initialised path still skips host zeroing.  The
# kernel log of that boot is scanned like the main one's.  Results in
# build/results-init-on-free.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
. "$REPO/pipeline/tests/boot_job.sh"
boot_job results-init-on-free \
	"init_on_alloc=1 init_on_free=1 kunit.filter_glob=unmapped_alloc.ua_init_on_free_scrubs" \
	pipeline/guest/init-on-free.sh "init_on_free=1: freed pool pages cleared"
