# SPDX-License-Identifier: GPL-2.0
# Sourced first by every guest job.  KVM is built as modules, as
# distributions build them: load them from the kernel's own module tree
# (MODROOT, made by 'make build'; the host may have no /lib/modules).
if [ -d "$MODROOT/lib/modules/$(uname -r)" ]; then
	modprobe -d "$MODROOT" kvm_amd || { echo "guest: modprobe kvm_amd failed"; exit 1; }
fi
