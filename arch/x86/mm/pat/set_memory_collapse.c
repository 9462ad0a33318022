// SPDX-License-Identifier: GPL-2.0-only
/*
 * Map the direct map with large pages again after it was split.
 *
 * Included from set_memory.c: it rewrites the same page tables under the
 * same locks and keeps direct_pages_count (DirectMap* in /proc/meminfo)
 * truthful.
 *
 * A PMD that points to a page of PTEs becomes a 2M leaf again when the 512
 * PTEs differ only in their physical address, which grows page by page
 * from a 2M-aligned start, and none carries _PAGE_KERNEL_4K.  Comparing
 * whole entries rather than selected flags keeps the present, protection,
 * caching and encryption bits equal by construction.  Only accessed, dirty
 * and global may differ: the CPU sets the first two, and CPA clears dirty
 * with RW and global with present without setting them back, so an entry
 * made absent and present again lacks them.  A PUD that points to 512
 * such 2M leaves becomes a 1G leaf likewise, where 1G pages are used for
 * the direct map at all and the memory is System RAM present since boot.
 * Neither is made where MTRRs give the range more than one memory type,
 * as in pmd_set_huge().
 *
 * Nothing is collapsed on SEV-SNP hosts: any page may be RMP-assigned
 * (guest memory, a VMSA) while its direct-map entry is 4K, and then a host
 * access anywhere under a large entry over it faults.  adjust_direct_map()
 * splits around a page it assigns only where the entry is larger than 4K,
 * so no mark tells those pages apart.
 *
 * Only entries that are present and not leaves are followed to a table
 * (points_to_table()): the pool makes 2M leaves absent in place, and a
 * deferred collapse may meet one when the pool took the range back and
 * unmapped it again after the collapse was queued.  An absent entry keeps
 * its PSE bit and pfn, so it is neither none nor a pointer to a table.
 *
 * Locking: the memory hotplug lock keeps memory hot-remove from freeing
 * direct-map tables of a neighbouring block in the same 1G; init_mm's mmap
 * lock, taken for write, keeps ptdump out of the tables freed here;
 * cpa_lock keeps __change_page_attr() from updating a PTE page between its
 * lookup and its write; pgd_lock serialises with the splits in
 * should_split_large_page().  Everything is decided and written under all
 * four.  The replaced table pages are freed only after flush_tlb_all(),
 * when no CPU can still walk them from its paging-structure caches.
 */

#include <kunit/static_stub.h>

#ifdef CONFIG_PROC_FS
static void collapse_page_count(unsigned long addr, int level)
{
	if (!virt_addr_valid(addr) ||
	    !pfn_range_is_mapped(PFN_DOWN(__pa(addr)), PFN_DOWN(__pa(addr)) + 1))
		return;

	direct_pages_count[level - 1] -= PTRS_PER_PTE;
	direct_pages_count[level]++;
	/* Like splits, only what happens after boot is an event. */
	if (system_state == SYSTEM_RUNNING)
		count_vm_event(level == PG_LEVEL_2M ? DIRECT_MAP_LEVEL2_COLLAPSE :
						      DIRECT_MAP_LEVEL3_COLLAPSE);
}
#else
static inline void collapse_page_count(unsigned long addr, int level) { }
#endif

#define COLLAPSE_IGNORED_BITS	(_PAGE_ACCESSED | _PAGE_DIRTY | _PAGE_GLOBAL)

/*
 * The ignored bits of a new large entry, as in __PAGE_KERNEL and
 * __PAGE_KERNEL_RO: accessed; dirty only when writable, never the
 * shadow-stack encoding (dirty without RW); global unless PTI forbids it,
 * as CPA itself makes every present large entry it writes.
 */
static u64 collapsed_kernel_bits(u64 val)
{
	val = (val & ~COLLAPSE_IGNORED_BITS) | _PAGE_ACCESSED;
	if (val & _PAGE_RW)
		val |= _PAGE_DIRTY;
	return val | (_PAGE_GLOBAL & __default_kernel_pte_mask);
}

static bool mtrr_uniform(phys_addr_t start, unsigned long size)
{
	u8 uniform;

	mtrr_type_lookup(start, start + size, &uniform);
	return uniform;
}

/*
 * Whether a kernel page-table entry points to a table of the next level:
 * present and not a leaf.  An absent entry is never a table, whatever its
 * other bits say.  CPA makes a large leaf absent in place and clears
 * _PAGE_PSE together with _PAGE_PRESENT, and x86 stores the frame bits of
 * absent entries inverted (L1TF), so such an entry is neither none nor a
 * leaf to pXd_none() and pXd_leaf(); lookup_address() treats it as a leaf
 * for the same reason.
 */
static bool points_to_table(unsigned long val)
{
	return (val & (_PAGE_PRESENT | _PAGE_PSE)) == _PAGE_PRESENT;
}

/*
 * Entries are read once each (READ_ONCE) and decided on from that value:
 * under cpa_lock and pgd_lock no other CPU rewrites them, but the CPU
 * still sets accessed and dirty bits at any time.
 */
static bool ptes_collapsible(pte_t *ptes, pte_t *first)
{
	pteval_t val;
	int i;

	*first = READ_ONCE(ptes[0]);
	val = pte_val(*first) & ~COLLAPSE_IGNORED_BITS;
	if (!(val & _PAGE_PRESENT) || (val & _PAGE_KERNEL_4K) ||
	    !IS_ALIGNED(pte_pfn(*first), PTRS_PER_PMD))
		return false;

	for (i = 1; i < PTRS_PER_PTE; i++)
		if ((pte_val(READ_ONCE(ptes[i])) & ~COLLAPSE_IGNORED_BITS) !=
		    val + i * PAGE_SIZE)
			return false;

	return mtrr_uniform(PFN_PHYS(pte_pfn(*first)), PMD_SIZE);
}

/*
 * Memory hot-remove clears a 1G leaf only when it removes all of it
 * (remove_pud_table() walks a partly removed one as a table of PMDs), so
 * a 1G leaf is made only over System RAM that was there at boot: no worse
 * than the 1G leaves boot made itself.  Hot-added memory, and device
 * memory added into part of a boot section, may go away in pieces.
 */
static bool pud_hot_removable(unsigned long addr)
{
	unsigned long pfn = PFN_DOWN(__pa(addr));
	unsigned long end = pfn + (PUD_SIZE >> PAGE_SHIFT);

	if (!IS_ENABLED(CONFIG_MEMORY_HOTREMOVE))
		return false;
	if (region_intersects(PFN_PHYS(pfn), PUD_SIZE, IORESOURCE_SYSTEM_RAM,
			      IORES_DESC_NONE) != REGION_INTERSECTS)
		return true;
	for (; pfn < end; pfn += PAGES_PER_SECTION)
		if (!early_section(__pfn_to_section(pfn)))
			return true;
	return false;
}

static bool pmds_collapsible(pmd_t *pmds, pmd_t *first)
{
	pmdval_t val;
	int i;

	*first = READ_ONCE(pmds[0]);
	val = pmd_val(*first) & ~COLLAPSE_IGNORED_BITS;
	if (!(val & _PAGE_PRESENT) || !(val & _PAGE_PSE) ||
	    !IS_ALIGNED(pmd_pfn(*first), PUD_SIZE >> PAGE_SHIFT))
		return false;

	for (i = 1; i < PTRS_PER_PMD; i++)
		if ((pmd_val(READ_ONCE(pmds[i])) & ~COLLAPSE_IGNORED_BITS) !=
		    val + i * PMD_SIZE)
			return false;

	return mtrr_uniform(PFN_PHYS(pmd_pfn(*first)), PUD_SIZE);
}

/*
 * The PUD entry of @addr if it points to a table of PMDs, with the value
 * read in *@pudv; else NULL.
 */
static pud_t *pud_table_entry(unsigned long addr, pud_t *pudv)
{
	pgd_t *pgdp = pgd_offset_k(addr), pgd = READ_ONCE(*pgdp);
	p4d_t *p4dp, p4d;
	pud_t *pudp;

	if (!pgd_present(pgd))
		return NULL;
	p4dp = p4d_offset_lockless(pgdp, pgd, addr);
	p4d = READ_ONCE(*p4dp);
	if (!points_to_table(p4d_val(p4d)))
		return NULL;
	pudp = pud_offset_lockless(p4dp, p4d, addr);
	*pudv = READ_ONCE(*pudp);
	return points_to_table(pud_val(*pudv)) ? pudp : NULL;
}

static int collapse_pmd(unsigned long addr, struct list_head *tables)
{
	pud_t pudv, *pud = pud_table_entry(addr, &pudv);
	pmd_t *pmd, pmdv;
	pgprot_t prot;
	pte_t first;

	if (!pud)
		return 0;
	pmd = pud_pgtable(pudv) + pmd_index(addr);
	pmdv = READ_ONCE(*pmd);
	if (!points_to_table(pmd_val(pmdv)) ||
	    !ptes_collapsible((pte_t *)pmd_page_vaddr(pmdv), &first))
		return 0;

	list_add(&pmd_page(pmdv)->lru, tables);
	prot = pgprot_4k_2_large(pte_pgprot(first));
	pgprot_val(prot) = collapsed_kernel_bits(pgprot_val(prot) | _PAGE_PSE);
	set_pmd(pmd, pfn_pmd(pte_pfn(first), prot));
	collapse_page_count(addr, PG_LEVEL_2M);
	return 1;
}

static int collapse_pud(unsigned long addr, struct list_head *tables)
{
	pud_t pudv, *pud = pud_table_entry(addr, &pudv);
	pmd_t first;

	if (!pud || pud_hot_removable(addr) ||
	    !pmds_collapsible(pud_pgtable(pudv), &first))
		return 0;

	list_add(&pud_page(pudv)->lru, tables);
	/* 2M and 1G leaves share one format: the first entry is the new one. */
	set_pud(pud, __pud(collapsed_kernel_bits(pmd_val(first))));
	collapse_page_count(addr, PG_LEVEL_1G);
	return 1;
}

/*
 * The first tables of the direct map come from the kernel image's .brk
 * area (alloc_low_pages()), which the kernel image mapping still maps:
 * freed, such a page would be reused with that second mapping left.  Only
 * the part of .brk in use is reserved; the rest was freed at boot.
 */
static bool table_in_brk(struct page *page)
{
	phys_addr_t pa = page_to_phys(page);

	return pa >= __pa_symbol(__brk_base) && pa < __pa_symbol(_brk_end);
}

static void free_collapsed_tables(struct list_head *tables)
{
	struct page *page, *next;

	list_for_each_entry_safe(page, next, tables, lru) {
		list_del(&page->lru);
		if (table_in_brk(page))
			continue;
		/* Other tables made at boot come from memblock. */
		if (PageReserved(page))
			free_reserved_page(page);
		else
			__free_page(page);
	}
}

/* Whether any page may be RMP-assigned: see the top of this file. */
static bool direct_map_may_hold_rmp_pages(void)
{
	KUNIT_STATIC_STUB_REDIRECT(direct_map_may_hold_rmp_pages);
	return cc_platform_has(CC_ATTR_HOST_SEV_SNP);
}

/**
 * collapse_direct_map - map part of the direct map with large pages again
 * @page: first page of the range
 * @nr: number of pages in the range
 *
 * Every 2M and then every 1G region of the direct map that overlaps the
 * range is mapped by one large entry again where the entries below it
 * allow (see the top of this file); on SEV-SNP hosts none is.  The caller
 * has made the range present again, e.g. with set_direct_map_valid_noflush().
 *
 * Context: Process context.  Sleeps on the memory hotplug lock and on
 * init_mm's mmap lock; flushes the TLB on all CPUs when anything was
 * collapsed.
 * Return: the number of large entries made.
 */
int collapse_direct_map(struct page *page, unsigned long nr)
{
	unsigned long start = (unsigned long)page_address(page);
	unsigned long end = start + nr * PAGE_SIZE;
	unsigned long addr;
	LIST_HEAD(tables);
	int made = 0;

	might_sleep();
	/* debug_pagealloc maps 4K on purpose and runs CPA without cpa_lock. */
	if (!nr || debug_pagealloc_enabled() || cpu_feature_enabled(X86_FEATURE_XENPV) ||
	    direct_map_may_hold_rmp_pages())
		return 0;

	get_online_mems();
	mmap_write_lock(&init_mm);
	spin_lock(&cpa_lock);
	spin_lock(&pgd_lock);
	for (addr = ALIGN_DOWN(start, PMD_SIZE); addr < end; addr += PMD_SIZE)
		made += collapse_pmd(addr, &tables);
	if (direct_gbpages)
		for (addr = ALIGN_DOWN(start, PUD_SIZE); addr < end; addr += PUD_SIZE)
			made += collapse_pud(addr, &tables);
	spin_unlock(&pgd_lock);
	/*
	 * As after a split (__split_large_page()): flush before another CPA
	 * can change the new entries while CPUs still hold the old ones.
	 */
	if (made)
		flush_tlb_all();
	spin_unlock(&cpa_lock);
	mmap_write_unlock(&init_mm);
	put_online_mems();

	free_collapsed_tables(&tables);
	return made;
}
