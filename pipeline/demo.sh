#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The main job of 'make': boot the patched kernel and show the feature.
set -euo pipefail
. "$(dirname "$0")/common.sh"

rc=0
"$REPO/pipeline/boot.sh" pipeline/guest/demo.sh "${DEMO_TIMEOUT:-900}" || rc=$?
[ -f "$RESULTS/job.log" ] && cat "$RESULTS/job.log"
if ! "$REPO/pipeline/scan-log.sh" "$RESULTS/console.log"; then
	die "the kernel reported a problem during the demo (see above)"
fi
[ $rc -eq 0 ] || die "the demo failed (boot.sh status $rc; console: $RESULTS/console.log)"
log "demo done; 'make check' runs the tests"
