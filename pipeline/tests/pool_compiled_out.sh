#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest test of the nopool flavour (make check-configs): with
# CONFIG_UNMAPPED_ALLOC=n there is no pool in debugfs, KVM reports no
# guest_memfd flag and refuses the flag with EINVAL while files without it
# work, and QEMU refuses the pool for want of the capability.
set -eu
case "$(uname -r)" in
*-nopool) ;;
*) echo "FAIL: running $(uname -r), not the nopool flavour"; exit 1 ;;
esac
echo "guest-test: start guest_memfd_unmapped_test --pool-off"
cd "$KST/kvm" && ./x86_64/guest_memfd_unmapped_test --pool-off
echo "guest-test: start qemu_refused.sh no-cap"
bash "$REPO/pipeline/tests/qemu_refused.sh" no-cap
