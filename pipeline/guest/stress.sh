#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest job for 'make stress': software-protected VMs churned with and
# without GUEST_MEMFD_FLAG_NO_DIRECT_MAP while another process drives the
# shrinkers (guest_memfd_churn_test), then the pool and vmstat figures.
set -eu
echo "stress: ${GUEST_STRESS_SECONDS:-600} s, ${GUEST_STRESS_WORKERS:-3} churning processes"
cd "$KST/kvm"
./x86_64/guest_memfd_churn_test -d "${GUEST_STRESS_SECONDS:-600}" -w "${GUEST_STRESS_WORKERS:-3}"
echo "stress: pool after the drain:"
sed 's/^/    /' /sys/kernel/debug/unmapped_alloc/stats
grep -E '^direct_map_level[23]_(splits|collapses) ' /proc/vmstat | sed 's/^/    /'
