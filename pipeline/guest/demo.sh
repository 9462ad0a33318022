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
	# shellcheck disable=SC2086 # $3 may carry options
	if (cd "$KST/$2" && ./$3 >/tmp/demo.out 2>&1); then
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

section "guest_memfd on the unmapped pool (GUEST_MEMFD_FLAG_NO_DIRECT_MAP)"
printf 'KVM_CAP_GUEST_MEMFD_FLAGS: see guest_memfd_unmapped_test; pool stats before:\n'
grep -E '^(pages_used|pages_free|blocks) ' /sys/kernel/debug/unmapped_alloc/stats
if (cd "$KST/kvm" && ./x86_64/guest_memfd_unmapped_test >/tmp/demo.out 2>&1); then
	grep -E '^Testing|^    ' /tmp/demo.out
	echo "passed"
else
	cat /tmp/demo.out
	echo "FAILED"
	exit 1
fi
run "the same conversions with the guest_memfd on the pool (-u)" \
	kvm/x86_64 "private_mem_conversions_test -u -n 2"

section "QEMU: a confidential guest whose private memory comes from the pool"
echo "The patched QEMU launches qemu-guest/convert-guest.bin as a sw-protected-guest"
echo "(KVM_X86_SW_PROTECTED_VM); the guest converts 4 MiB to private, fills it,"
echo "waits while the figures are read, converts it back.  Once with"
echo "guest-memfd-no-direct-map=on, once with ordinary guest_memfd."
if ! bash "$REPO/pipeline/tests/qemu_launch.sh"; then
	echo "FAILED"
	exit 1
fi
echo "With the property the private 4 MiB are 1024 pool pages in two 2 MiB blocks,"
echo "each taken out of the direct map whole: never a level-2 split (2 MiB entry"
echo "into 4 KiB ones); a block inside a 1 GiB entry costs one level-3 split, which"
echo "the drain re-collapses.  Without the property the pool does not move."

section "direct map after"
direct_map
echo
echo "Private memory above came from the unmapped pool in 2 MiB blocks: no"
echo "level-2 split of the direct map, and the pool is drained between tests."
echo "'make bench' compares 1 GiB of it with 6.12's guest_memfd and secretmem."
