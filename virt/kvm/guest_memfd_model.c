// SPDX-License-Identifier: GPL-2.0
/*
 * A model of per-folio direct map removal, for benchmarks only: what
 * guest_memfd with GUEST_MEMFD_FLAG_NO_DIRECT_MAP costs when it is built
 * as in the "KVM: guest_memfd: Add flag to remove from direct map" series
 * (v12, April 2026) instead of on the unmapped pool.  Modelled on the
 * series' design, not its code:
 *  - folios are 4K, from the page allocator, zeroed by the host;
 *  - each leaves the direct map when the file first takes it (fallocate
 *    or fault), with set_direct_map_valid_noflush() and one
 *    flush_tlb_kernel_range() of its own (set_direct_map_valid());
 *  - ->free_folio maps it back; the direct map is never collapsed.
 *
 * Files get the model instead of the pool while kvm.gmem_per_folio_model
 * is set, for VM types without an arch prepare step (those that may have
 * 2M pool folios): the folio is zeroed and marked up to date, i.e.
 * prepared, before it leaves the direct map.  Unlike the pool's files it
 * always zeroes, and its folios are charged as 6.12's are.  Setting it
 * taints the kernel: it exists to compare, not to run guests.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kvm_host.h>
#include <linux/moduleparam.h>
#include <linux/pagemap.h>
#include <linux/panic.h>
#include <linux/set_memory.h>

#include "kvm_mm.h"

static bool gmem_per_folio_model;

static int set_model(const char *val, const struct kernel_param *kp)
{
	int ret = param_set_bool(val, kp);

	if (!ret && READ_ONCE(gmem_per_folio_model)) {
		pr_warn_once("gmem_per_folio_model is for benchmarks only: new GUEST_MEMFD_FLAG_NO_DIRECT_MAP files model per-folio removal; tainting the kernel\n");
		add_taint(TAINT_USER, LOCKDEP_STILL_OK);
	}
	return ret;
}

static const struct kernel_param_ops model_ops = {
	.set = set_model,
	.get = param_get_bool,
};
module_param_cb(gmem_per_folio_model, &model_ops, &gmem_per_folio_model, 0644);
MODULE_PARM_DESC(gmem_per_folio_model,
		 "Benchmarks only, taints the kernel: GUEST_MEMFD_FLAG_NO_DIRECT_MAP files model per-folio direct map removal instead of using the unmapped pool");

/* Whether a new file of @kvm with the flag gets the model. */
bool kvm_gmem_model_wanted(struct kvm *kvm)
{
	return READ_ONCE(gmem_per_folio_model) && kvm &&
	       kvm_arch_gmem_max_folio_order(kvm) == PMD_ORDER;
}

static void model_free_folio(struct folio *folio);

/* kvm_gmem_aops with model_free_folio(); made from the first file's. */
static struct address_space_operations model_aops;
static const struct address_space_operations *gmem_aops;
static DEFINE_MUTEX(model_aops_lock);

void kvm_gmem_model_init_mapping(struct inode *inode)
{
	mutex_lock(&model_aops_lock);
	if (!gmem_aops) {
		gmem_aops = inode->i_mapping->a_ops;
		model_aops = *gmem_aops;
		model_aops.free_folio = model_free_folio;
	}
	mutex_unlock(&model_aops_lock);
	inode->i_mapping->a_ops = &model_aops;
}

/* A locked 4K folio of the file at @index, out of the direct map. */
struct folio *kvm_gmem_model_get_folio(struct inode *inode, pgoff_t index)
{
	struct folio *folio = filemap_grab_folio(inode->i_mapping, index);
	struct page *page;
	int err;

	if (IS_ERR(folio) || folio_test_uptodate(folio))
		return folio;
	page = folio_page(folio, 0);
	clear_highpage(page);
	/* One TLB flush for this folio alone. */
	err = set_direct_map_valid(page, 1, false);
	if (err) {
		folio_unlock(folio);
		folio_put(folio);
		return ERR_PTR(err);
	}
	folio_mark_uptodate(folio);
	return folio;
}

/*
 * Up to date means zapped: kvm_gmem_model_get_folio() sets it last.  A
 * folio that cannot be mapped back is leaked, with a reference of its own:
 * the page allocator must never get a page absent from the direct map.
 */
static void model_free_folio(struct folio *folio)
{
	struct page *page = folio_page(folio, 0);

	if (gmem_aops->free_folio)
		gmem_aops->free_folio(folio);
	if (folio_test_uptodate(folio) && set_direct_map_valid(page, 1, true)) {
		pr_err_ratelimited("kvm: gmem model: pfn %#lx stays unmapped, leaked\n",
				   page_to_pfn(page));
		folio_get(folio);
	}
}
