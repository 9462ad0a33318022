#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build the patched QEMU (pipeline/qemu.sh, cached outside the clone) and
# the test guest (qemu-guest/), and record both in build/qemu.env, which
# boot.sh passes to guest jobs and host tests read.
set -euo pipefail
. "$(dirname "$0")/common.sh"

qemu=$("$REPO/pipeline/qemu.sh" | tail -n1)
log "building qemu-guest/convert-guest.bin"
image=$("$REPO/qemu-guest/build.sh" "$REPO/build/qemu-guest" | tail -n1)
cat >"$REPO/build/qemu.env" <<ENV
export GUEST_QEMU='$qemu'
export GUEST_CONVERT_GUEST='$image'
ENV
log "QEMU: $qemu"
