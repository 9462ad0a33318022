#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The main job inside the guest, for a person to read: KVM is running real
# vCPUs under TCG and guest_memfd works on the patched kernel.
set -u
section() { printf '\n--- %s\n' "$*"; }

section "kernel"
uname -r
section "KVM (kvm_amd under TCG's emulated SVM)"
printf 'kvm_amd.npt=%s  kvm.tdp_mmu=%s  sev=%s\n' \
	"$(cat /sys/module/kvm_amd/parameters/npt)" \
	"$(cat /sys/module/kvm/parameters/tdp_mmu)" \
	"$(cat /sys/module/kvm_amd/parameters/sev)"
section "direct map before"
grep DirectMap /proc/meminfo
grep direct_map /proc/vmstat

section "guest_memfd_test: KVM_CREATE_GUEST_MEMFD, fallocate, punch hole"
"$KST/kvm/guest_memfd_test" || exit 1
section "private_mem_conversions_test: a software-protected VM converting memory shared<->private"
(cd "$KST/kvm/x86_64" && ./private_mem_conversions_test) || exit 1

section "direct map after"
grep DirectMap /proc/meminfo
grep direct_map /proc/vmstat
