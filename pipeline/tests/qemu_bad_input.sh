#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Host test: bad input to the patched QEMU ends with a clear error.
# Malformed options run here on the host; sw-protected-guest on a KVM
# without KVM_X86_SW_PROTECTED_VM runs in a boot with kvm.tdp_mmu=0 (the
# VM type needs the TDP MMU).  The property on a kernel without the flag
# is checked in pool_off.sh's boot.  Guest results in build/results-no-type.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
echo "malformed options (host):"
"$REPO/pipeline/tests/qemu_refused.sh" options
export RESULTS=$REPO/build/results-no-type
export GMEM_APPEND="${GMEM_APPEND:-} kvm.tdp_mmu=0"
echo "booting with kvm.tdp_mmu=0"
rc=0
"$REPO/pipeline/boot.sh" pipeline/guest/no-sw-protected.sh $((600 * ${GUEST_TIMEOUT_SCALE:-1})) || rc=$?
sed 's/^/    /' "$RESULTS/job.log" 2>/dev/null | tail -n 20
if [ $rc -ne 0 ]; then
	echo "not ok - sw-protected-guest without the VM type (boot.sh exit $rc, see $RESULTS)"
	exit 1
fi
if ! "$REPO/pipeline/scan-log.sh" "$RESULTS/console.log"; then
	echo "not ok - kernel log of the boot with kvm.tdp_mmu=0"
	exit 1
fi
echo "ok - sw-protected-guest without the VM type, kernel log clean"
