// SPDX-License-Identifier: GPL-2.0
/*
 * guest_memfd files created with GUEST_MEMFD_FLAG_NO_DIRECT_MAP: their
 * folios come from the unmapped page pool, so guest memory is never in
 * the host's direct map, and return to it when they leave the file
 * (punch hole, truncation at release).
 *
 * A folio is 2M when its aligned 2M range lies inside the file and no
 * smaller folio is in that range yet; otherwise 4K.  A hole punched inside
 * a 2M folio splits it (truncate_inode_partial_folio()); the pool follows
 * the split, and the pages of the hole go back to it.
 *
 * The memory is charged to the memory cgroup of the task that created the
 * file, whoever faults or fallocates it later; the cgroup is held in the
 * mapping's i_private_data from creation to the file's release (one file
 * per inode in 6.12).
 *
 * Zeroing is decided when the file is created, by the VM type
 * (kvm_arch_gmem_needs_zeroing()), never by userspace: the pool zeroes a
 * folio when it hands it out (__GFP_ZERO), or leaves it as the previous
 * user left it for VM types whose firmware initialises private memory.
 */
#include <linux/kvm_host.h>
#include <linux/memcontrol.h>
#include <linux/pagemap.h>
#include <linux/unmapped_alloc.h>

#include "kvm_mm.h"

/* Internal inode flags, never accepted from userspace. */
#define KVM_GMEM_SKIP_ZEROING	BIT_ULL(63)
#define KVM_GMEM_SMALL_FOLIOS	BIT_ULL(62)
#define KVM_GMEM_PER_FOLIO_MODEL	BIT_ULL(61)	/* guest_memfd_model.c */

static u64 gmem_inode_flags(struct inode *inode)
{
	return (u64)(unsigned long)inode->i_private;
}

/* The flags KVM_CREATE_GUEST_MEMFD accepts; @kvm may be NULL. */
u64 kvm_gmem_supported_flags(struct kvm *kvm)
{
	return unmapped_alloc_available() ? GUEST_MEMFD_FLAG_NO_DIRECT_MAP : 0;
}

/* @flags, validated, with what the kernel decides for @kvm's files. */
u64 kvm_gmem_internal_flags(struct kvm *kvm, u64 flags)
{
	if (!(flags & GUEST_MEMFD_FLAG_NO_DIRECT_MAP))
		return flags;
	if (!kvm_arch_gmem_needs_zeroing(kvm))
		flags |= KVM_GMEM_SKIP_ZEROING;
	if (kvm_arch_gmem_max_folio_order(kvm) < PMD_ORDER)
		flags |= KVM_GMEM_SMALL_FOLIOS;
	if (kvm_gmem_model_wanted(kvm))
		flags |= KVM_GMEM_PER_FOLIO_MODEL;
	return flags;
}

bool kvm_gmem_no_direct_map(struct inode *inode)
{
	return gmem_inode_flags(inode) & GUEST_MEMFD_FLAG_NO_DIRECT_MAP;
}

void kvm_gmem_unmapped_init_mapping(struct inode *inode)
{
	if (gmem_inode_flags(inode) & KVM_GMEM_PER_FOLIO_MODEL)
		kvm_gmem_model_init_mapping(inode);
	else
		mapping_set_large_folios(inode->i_mapping);
	inode->i_mapping->i_private_data = get_mem_cgroup_from_mm(current->mm);
}

/* The file is released: no folio is added any more. */
void kvm_gmem_unmapped_release(struct inode *inode)
{
	mem_cgroup_put(inode->i_mapping->i_private_data);
	inode->i_mapping->i_private_data = NULL;
}

/*
 * PMD_ORDER if the 2M range around @index lies inside the file, holds no
 * folio yet, and both the VM type and the page cache allow 2M folios.
 * Without THP the page cache takes no large folios (and could not split
 * one when a hole is punched), so every folio is 4K there.  A range that
 * a hole split keeps its 4K folios: a 2M one could not be added there,
 * and taking it first would zero and charge 2M for a 4K fault.
 */
static unsigned int gmem_folio_order(struct inode *inode, pgoff_t index)
{
	pgoff_t start = ALIGN_DOWN(index, 1UL << PMD_ORDER);
	pgoff_t end = start + (1UL << PMD_ORDER);

	if ((gmem_inode_flags(inode) & KVM_GMEM_SMALL_FOLIOS) ||
	    mapping_max_folio_order(inode->i_mapping) < PMD_ORDER ||
	    end > i_size_read(inode) >> PAGE_SHIFT)
		return 0;
	if (filemap_range_has_page(inode->i_mapping, (loff_t)start << PAGE_SHIFT,
				   ((loff_t)end << PAGE_SHIFT) - 1))
		return 0;
	return PMD_ORDER;
}

/*
 * The folio is charged to the creator's memory cgroup, with
 * __GFP_RETRY_MAYFAIL so that a cgroup at its limit fails the charge
 * (fallocate and faults get -ENOMEM) instead of OOM-killing a task: guest
 * memory is unevictable and killing would not be the caller's choice.
 * (On the LRU, the unevictable list, a large folio can be split when a
 * hole is punched.)
 */
static int gmem_add_folio(struct address_space *mapping, struct folio *folio,
			  pgoff_t index, gfp_t gfp)
{
	struct mem_cgroup *old = set_active_memcg(mapping->i_private_data);
	int err;

	err = unmapped_filemap_add_folio(mapping, folio, index, gfp | __GFP_RETRY_MAYFAIL);
	/*
	 * Dirty, as guest memory is: a large folio whose split fails when a
	 * hole is punched is then kept whole rather than dropped
	 * (truncate_inode_partial_folio()), and cache invalidation never
	 * evicts it.
	 */
	if (!err)
		folio_mark_dirty(folio);
	set_active_memcg(old);
	return err;
}

/*
 * Returns a locked folio of the file at @index, allocating it from the
 * pool when the file has none there.  A charge over the limit of the
 * creator's memory cgroup fails with -ENOMEM.
 */
struct folio *kvm_gmem_unmapped_get_folio(struct inode *inode, pgoff_t index)
{
	struct address_space *mapping = inode->i_mapping;
	gfp_t gfp = mapping_gfp_mask(mapping);
	unsigned int order = gmem_folio_order(inode, index);
	struct folio *folio;
	int err;

	if (gmem_inode_flags(inode) & KVM_GMEM_PER_FOLIO_MODEL)
		return kvm_gmem_model_get_folio(inode, index);
	if (!(gmem_inode_flags(inode) & KVM_GMEM_SKIP_ZEROING))
		gfp |= __GFP_ZERO;

	for (;;) {
		folio = filemap_lock_folio(mapping, index);
		if (!IS_ERR(folio))
			return folio;

		/*
		 * 2M with one light attempt (__GFP_NORETRY: at most one pass
		 * of compaction and reclaim), as THP faults do: 4K otherwise.
		 * Out of memory on every node the task's policy allows, the
		 * 4K folio gets -ENOMEM rather than the OOM killer, as for the
		 * memory cgroup charge (the direct map's page tables, which
		 * CPA allocates with GFP_KERNEL, may still meet it).
		 */
		folio = unmapped_folio_alloc(order ? gfp | __GFP_NORETRY | __GFP_NOWARN :
					     gfp | __GFP_RETRY_MAYFAIL | __GFP_NOWARN, order);
		if (!folio) {
			if (!order)
				return ERR_PTR(-ENOMEM);
			order = 0;
			continue;
		}
		__folio_set_locked(folio);
		err = gmem_add_folio(mapping, folio, ALIGN_DOWN(index, 1UL << order),
				     gfp & ~__GFP_ZERO);
		if (!err)
			return folio;
		__folio_clear_locked(folio);
		folio_put(folio);
		if (err != -EEXIST)
			return ERR_PTR(err);
		/*
		 * Raced with another fault, which may have added a smaller
		 * folio to the 2M range: look again, and take 4K from now on.
		 */
		order = 0;
	}
}

/* The order KVM may map @folio with in @slot: its own when aligned. */
int kvm_gmem_max_order(struct kvm_memory_slot *slot, struct folio *folio)
{
	if (!folio_test_large(folio) ||
	    !IS_ALIGNED(slot->base_gfn - slot->gmem.pgoff, folio_nr_pages(folio)))
		return 0;
	return folio_order(folio);
}
