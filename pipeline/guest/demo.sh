#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The main job inside the guest, for a person to read: KVM runs real vCPUs
# under TCG and guest_memfd works on the patched kernel.
set -u
section() { printf '\n--- %s\n' "$*"; }
direct_map()
{
	grep DirectMap /proc/meminfo
	grep '^direct_map' /proc/vmstat
}
# run <what it shows> <dir> <binary>
run()
{
	section "$3: $1"
	if (cd "$KST/$2" && "./$3" >/tmp/demo.out 2>&1); then
		echo "passed"
	else
		cat /tmp/demo.out
		echo "FAILED"
		exit 1
	fi
}

section "kernel"
uname -r
section "KVM: kvm_amd on TCG's emulated AMD SVM"
printf 'nested paging (kvm_amd.npt): %s\nTDP MMU (kvm.tdp_mmu):       %s\n' \
	"$(cat /sys/module/kvm_amd/parameters/npt)" \
	"$(cat /sys/module/kvm/parameters/tdp_mmu)"
section "direct map before"
direct_map

run "KVM_CREATE_GUEST_MEMFD, sizes and flags, fallocate, punch hole, file ops" \
	kvm guest_memfd_test
run "a software-protected VM whose vCPUs convert memory shared <-> private" \
	kvm/x86_64 private_mem_conversions_test
run "private accesses to memory without a guest_memfd page exit to userspace" \
	kvm/x86_64 private_mem_kvm_exits_test

section "direct map after"
direct_map
echo
echo "guest_memfd does not use the unmapped page pool yet: its pages still come"
echo "from the page allocator and stay in the direct map. secretmem uses the pool:"
echo "'make bench' shows what 1 GiB of it does to the direct map."
