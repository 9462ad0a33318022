#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest job for pipeline/tests/pool_off.sh: the kernel was booted with
# unmapped_alloc=off.  KVM must report no guest_memfd flag, and secretmem
# must work on its 6.12 path.
set -eu
grep -qw unmapped_alloc=off /proc/cmdline
echo "guest-test: start guest_memfd_unmapped_test --pool-off"
cd "$KST/kvm" && ./x86_64/guest_memfd_unmapped_test --pool-off
echo "guest-test: start memfd_secret"
cd "$KST/mm" && ./memfd_secret
echo "guest-test: start qemu_refused.sh no-cap"
bash "$REPO/pipeline/tests/qemu_refused.sh" no-cap
