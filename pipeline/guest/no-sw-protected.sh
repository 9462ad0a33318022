#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest job for pipeline/tests/qemu_bad_input.sh: booted with
# kvm.tdp_mmu=0, so KVM offers no KVM_X86_SW_PROTECTED_VM.
set -eu
grep -qw kvm.tdp_mmu=0 /proc/cmdline
exec bash "$REPO/pipeline/tests/qemu_refused.sh" no-type
