// SPDX-License-Identifier: GPL-2.0
/*
 * Which VM types get guest_memfd pages zeroed by the host when the pages
 * come from the unmapped pool (GUEST_MEMFD_FLAG_NO_DIRECT_MAP).  The
 * security argument for each type is in the project's docs/.
 */
#include <linux/kvm_host.h>
#include <linux/moduleparam.h>

#ifdef CONFIG_KVM_SW_PROTECTED_VM
/*
 * Test only, and only in kernels built for testing software-protected
 * VMs: those VMs take the path SEV-SNP takes, without host zeroing, so
 * selftests and benchmarks run it without SNP hardware.
 */
static bool sw_protected_vm_firmware_init;
module_param(sw_protected_vm_firmware_init, bool, 0644);
MODULE_PARM_DESC(sw_protected_vm_firmware_init,
		 "Test only: guest_memfd of KVM_X86_SW_PROTECTED_VM skips host zeroing, as for SEV-SNP");
#endif

bool kvm_arch_gmem_needs_zeroing(struct kvm *kvm)
{
	switch (kvm->arch.vm_type) {
	case KVM_X86_SNP_VM:
		/*
		 * A private page is readable only through the guest's key and
		 * must be validated (PVALIDATE) before use; the firmware
		 * initialises the pages it measures (SNP_LAUNCH_UPDATE).
		 */
		return false;
#ifdef CONFIG_KVM_SW_PROTECTED_VM
	case KVM_X86_SW_PROTECTED_VM:
		return !READ_ONCE(sw_protected_vm_firmware_init);
#endif
	default:
		return true;
	}
}
