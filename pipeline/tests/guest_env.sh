#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The test guest provides what the other tests rely on: kvm_amd with nested
# paging and the TDP MMU (without them software-protected VMs are not
# offered and guest_memfd tests skip), and a direct map that uses 1 GiB
# pages (so splitting it is measurable).
fail=0
expect()	# what expected got
{
	if [ "$2" = "$3" ]; then
		echo "ok: $1 = $3"
	else
		echo "FAIL: $1: expected $2, got ${3:-nothing}"
		fail=1
	fi
}
param() { cat "/sys/module/$1/parameters/$2" 2>/dev/null; }

expect "kvm_amd.npt" Y "$(param kvm_amd npt)"
expect "kvm.tdp_mmu" Y "$(param kvm tdp_mmu)"
gb=$(awk '/^DirectMap1G:/ {print $2}' /proc/meminfo)
expect "DirectMap1G > 0" yes "$([ "${gb:-0}" -gt 0 ] && echo yes || echo "no (${gb:-absent} kB)")"
for c in direct_map_level2_splits direct_map_level3_splits; do
	expect "$c in /proc/vmstat" yes "$(grep -q "^$c " /proc/vmstat && echo yes || echo no)"
done
exit $fail
