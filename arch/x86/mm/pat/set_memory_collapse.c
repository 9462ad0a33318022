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
 * made absent and present again lacks them.  A PUD that points to
 * 512 such 2M leaves becomes a 1G leaf likewise, where 1G pages are used
 * for the direct map at all.  Neither is made where MTRRs give the range
 * more than one memory type, as in pmd_set_huge().
 *
 * Locking: the memory hotplug lock keeps memory hot-remove from freeing
 * direct-map tables of a neighbouring block in the same 1G; init_mm's mmap
 * lock, taken for write, keeps ptdump out of the tables freed here; cpa_lock keeps __change_page_attr() from updating a
 * PTE page between its lookup and its write; pgd_lock serialises with
 * the splits in should_split_large_page().  The replaced table pages are
 * freed only after flush_tlb_all(), when no CPU can still walk them from
 * its paging-structure caches.
 */

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
 * shadow-stack encoding (dirty without RW); global unless PTI forbids it.
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

static bool ptes_collapsible(pte_t *ptes)
{
	pteval_t first = pte_val(ptes[0]) & ~COLLAPSE_IGNORED_BITS;
	int i;

	if (!(first & _PAGE_PRESENT) || (first & _PAGE_KERNEL_4K) ||
	    !IS_ALIGNED(pte_pfn(ptes[0]), PTRS_PER_PMD))
		return false;

	for (i = 1; i < PTRS_PER_PTE; i++)
		if ((pte_val(ptes[i]) & ~COLLAPSE_IGNORED_BITS) != first + i * PAGE_SIZE)
			return false;

	return mtrr_uniform(PFN_PHYS(pte_pfn(ptes[0])), PMD_SIZE);
}

static bool pmds_collapsible(pmd_t *pmds)
{
	pmdval_t first = pmd_val(pmds[0]) & ~COLLAPSE_IGNORED_BITS;
	int i;

	if (!(first & _PAGE_PRESENT) || !(first & _PAGE_PSE) ||
	    !IS_ALIGNED(pmd_pfn(pmds[0]), PUD_SIZE >> PAGE_SHIFT))
		return false;

	for (i = 1; i < PTRS_PER_PMD; i++)
		if ((pmd_val(pmds[i]) & ~COLLAPSE_IGNORED_BITS) != first + i * PMD_SIZE)
			return false;

	return mtrr_uniform(PFN_PHYS(pmd_pfn(pmds[0])), PUD_SIZE);
}

/* The PUD entry of @addr if it points to a table, else NULL. */
static pud_t *pud_table_entry(unsigned long addr)
{
	pgd_t *pgd = pgd_offset_k(addr);
	p4d_t *p4d;
	pud_t *pud;

	if (pgd_none(*pgd))
		return NULL;
	p4d = p4d_offset(pgd, addr);
	if (p4d_none(*p4d) || p4d_leaf(*p4d))
		return NULL;
	pud = pud_offset(p4d, addr);
	if (pud_none(*pud) || pud_leaf(*pud))
		return NULL;
	return pud;
}

static int collapse_pmd(unsigned long addr, struct list_head *tables)
{
	pud_t *pud = pud_table_entry(addr);
	pmd_t *pmd;
	pte_t *ptes;
	pgprot_t prot;

	if (!pud)
		return 0;
	pmd = pmd_offset(pud, addr);
	if (pmd_none(*pmd) || pmd_leaf(*pmd))
		return 0;

	ptes = (pte_t *)pmd_page_vaddr(*pmd);
	if (!ptes_collapsible(ptes))
		return 0;

	list_add(&pmd_page(*pmd)->lru, tables);
	prot = pgprot_4k_2_large(pte_pgprot(ptes[0]));
	pgprot_val(prot) = collapsed_kernel_bits(pgprot_val(prot) | _PAGE_PSE);
	set_pmd(pmd, pfn_pmd(pte_pfn(ptes[0]), prot));
	collapse_page_count(addr, PG_LEVEL_2M);
	return 1;
}

static int collapse_pud(unsigned long addr, struct list_head *tables)
{
	pud_t *pud = pud_table_entry(addr);
	pmd_t *pmds;

	if (!pud)
		return 0;

	pmds = (pmd_t *)pud_pgtable(*pud);
	if (!pmds_collapsible(pmds))
		return 0;

	list_add(&pud_page(*pud)->lru, tables);
	/* 2M and 1G leaves share one format: the first entry is the new one. */
	set_pud(pud, __pud(collapsed_kernel_bits(pmd_val(pmds[0]))));
	collapse_page_count(addr, PG_LEVEL_1G);
	return 1;
}

static void free_collapsed_tables(struct list_head *tables)
{
	struct page *page, *next;

	list_for_each_entry_safe(page, next, tables, lru) {
		list_del(&page->lru);
		/* Tables made at boot come from memblock. */
		if (PageReserved(page))
			free_reserved_page(page);
		else
			__free_page(page);
	}
}

/**
 * collapse_direct_map - map part of the direct map with large pages again
 * @page: first page of the range
 * @nr: number of pages in the range
 *
 * Every 2M and then every 1G region of the direct map that overlaps the
 * range is mapped by one large entry again where the entries below it
 * allow (see the top of this file).  The caller has made the range
 * present again, e.g. with set_direct_map_valid_noflush().
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
	if (!nr || debug_pagealloc_enabled() || cpu_feature_enabled(X86_FEATURE_XENPV))
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
	spin_unlock(&cpa_lock);

	if (made)
		flush_tlb_all();
	mmap_write_unlock(&init_mm);
	put_online_mems();

	free_collapsed_tables(&tables);
	return made;
}
