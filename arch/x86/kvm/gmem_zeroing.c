// SPDX-License-Identifier: GPL-2.0
/*
 * Per VM type policy for guest_memfd pages from the unmapped pool
 * (GUEST_MEMFD_FLAG_NO_DIRECT_MAP): whether the host zeroes them, and the
 * largest folio.  The host zeroes for every type whose guest could read
 * what the page's previous user left; each exception says why below.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kvm_host.h>
#include <linux/moduleparam.h>
#include <linux/panic.h>

#ifdef CONFIG_KVM_SW_PROTECTED_VM
/*
 * Test only, and only in kernels built for testing software-protected
 * VMs: those VMs take the path SEV-SNP takes, without host zeroing, so
 * selftests and benchmarks run it without SNP hardware.  Their guests
 * then read what the pool's previous user left, which may be another
 * process's secretmem: turning it on taints the kernel.
 */
static bool sw_protected_vm_firmware_init;

static int set_firmware_init(const char *val, const struct kernel_param *kp)
{
	int ret = param_set_bool(val, kp);

	if (!ret && READ_ONCE(sw_protected_vm_firmware_init)) {
		pr_warn_once("sw_protected_vm_firmware_init is for tests only: software-protected guests now read memory other users left; tainting the kernel\n");
		add_taint(TAINT_USER, LOCKDEP_STILL_OK);
	}
	return ret;
}

static const struct kernel_param_ops firmware_init_ops = {
	.set = set_firmware_init,
	.get = param_get_bool,
};
module_param_cb(sw_protected_vm_firmware_init, &firmware_init_ops,
		&sw_protected_vm_firmware_init, 0644);
MODULE_PARM_DESC(sw_protected_vm_firmware_init,
		 "Test only, taints the kernel: guest_memfd of KVM_X86_SW_PROTECTED_VM skips host zeroing, as for SEV-SNP");
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

int kvm_arch_gmem_max_folio_order(struct kvm *kvm)
{
	/*
	 * SNP prepares (makes private) a folio from its first pfn and tracks
	 * "prepared" per folio; a 2M folio launched in part would leave pages
	 * shared in the RMP.  4K folios until that is tracked per page.
	 */
	if (kvm->arch.vm_type == KVM_X86_SNP_VM)
		return 0;
	return PMD_ORDER;
}
