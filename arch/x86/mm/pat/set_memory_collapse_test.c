// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests for set_direct_map_valid_noflush() and collapse_direct_map().
 *
 * Included from set_memory.c to read direct_pages_count, which is what
 * /proc/meminfo reports as DirectMap4k/2M/1G.  The vmstat split and
 * collapse events only count once the system runs, so they are checked
 * only then (the suite can be run again after boot through debugfs).
 */
#include <kunit/static_stub.h>
#include <kunit/test.h>

struct dm_counts {
	unsigned long pages[PG_LEVEL_NUM];
	unsigned long splits2, splits3, collapses2, collapses3;
};

static void dm_read_counts(struct kunit *test, struct dm_counts *c)
{
	unsigned long *ev = kunit_kcalloc(test, NR_VM_EVENT_ITEMS, sizeof(*ev),
					  GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, ev);
	spin_lock(&pgd_lock);
	memcpy(c->pages, direct_pages_count, sizeof(c->pages));
	spin_unlock(&pgd_lock);
	all_vm_events(ev);
	c->splits2 = ev[DIRECT_MAP_LEVEL2_SPLIT];
	c->splits3 = ev[DIRECT_MAP_LEVEL3_SPLIT];
	c->collapses2 = ev[DIRECT_MAP_LEVEL2_COLLAPSE];
	c->collapses3 = ev[DIRECT_MAP_LEVEL3_COLLAPSE];
	kunit_kfree(test, ev);
}

static bool dm_events_counted(void)
{
	return system_state == SYSTEM_RUNNING;
}

/* Page size of the direct-map entry that maps @page, and if it is present. */
static int dm_level(struct page *page, bool *present)
{
	unsigned int level;
	pte_t *pte = lookup_address((unsigned long)page_address(page), &level);

	*present = pte && (pte_val(*pte) & _PAGE_PRESENT);
	return level;
}

/* A free 2M block that the direct map maps with a @level page. */
static struct page *dm_alloc_block(struct kunit *test, int level)
{
	/*
	 * Boot-time attribute changes split the lowest GiB of ZONE_NORMAL,
	 * where allocations start, and the local node may have no 1G page
	 * left: look through every 2M block of memory if need be (32G at
	 * most).
	 */
	unsigned long max_tries = min(totalram_pages() >> PMD_ORDER, 16384UL);
	struct page **other, *page = NULL;
	unsigned long tries, nother = 0;
	bool present;

	if (level == PG_LEVEL_1G && !direct_gbpages)
		kunit_skip(test, "the direct map uses no 1G pages");

	other = kunit_kcalloc(test, max_tries, sizeof(*other), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, other);
	for (tries = 0; tries < max_tries && !page; tries++) {
		page = alloc_pages(GFP_KERNEL | __GFP_NOWARN, PMD_ORDER);
		if (!page)
			break;
		if (dm_level(page, &present) != level) {
			other[nother++] = page;
			page = NULL;
		}
	}
	while (nother--)
		__free_pages(other[nother], PMD_ORDER);
	kunit_kfree(test, other);
	/*
	 * Which 1G pages boot leaves whole, and what is free in them, varies
	 * from boot to boot (DirectMap1G was 4 GiB in some boots, 5 in most).
	 */
	if (!page)
		kunit_skip(test, "no free 2M block inside a level-%d mapping in %lu tries",
			   level, tries);
	return page;
}

static void dm_flush(struct page *page, unsigned long nr)
{
	unsigned long addr = (unsigned long)page_address(page);

	flush_tlb_kernel_range(addr, addr + nr * PAGE_SIZE);
}

static void dm_expect_counts_restored(struct kunit *test, struct dm_counts *before)
{
	struct dm_counts after;
	int l;

	dm_read_counts(test, &after);
	for (l = PG_LEVEL_4K; l <= PG_LEVEL_1G; l++)
		KUNIT_EXPECT_EQ_MSG(test, after.pages[l], before->pages[l],
				    "direct-map page count of level %d", l);
}

/* Collapse events since @before; they only count once the system runs. */
static void dm_expect_collapses(struct kunit *test, struct dm_counts *before,
				unsigned long pmds, unsigned long puds)
{
	struct dm_counts after;

	if (!dm_events_counted())
		return;
	dm_read_counts(test, &after);
	KUNIT_EXPECT_EQ(test, after.collapses2, before->collapses2 + pmds);
	KUNIT_EXPECT_EQ(test, after.collapses3, before->collapses3 + puds);
}

/*
 * A whole, aligned 2M block leaves and re-enters the direct map in place;
 * a 1G page around it is split into 2M pages only, and collapses again.
 */
static void dm_unmap_block_in_place(struct kunit *test)
{
	int level = *(const int *)test->param_value;
	struct page *page = dm_alloc_block(test, level);
	struct dm_counts before, after;
	bool present;

	dm_read_counts(test, &before);
	KUNIT_ASSERT_EQ(test, set_direct_map_valid_noflush(page, PTRS_PER_PMD, false), 0);
	dm_flush(page, PTRS_PER_PMD);
	KUNIT_EXPECT_EQ(test, dm_level(page, &present), PG_LEVEL_2M);
	KUNIT_EXPECT_FALSE(test, present);
	KUNIT_EXPECT_EQ(test, dm_level(page + PTRS_PER_PMD - 1, &present), PG_LEVEL_2M);
	KUNIT_EXPECT_FALSE(test, present);

	dm_read_counts(test, &after);
	KUNIT_EXPECT_EQ_MSG(test, after.pages[PG_LEVEL_4K], before.pages[PG_LEVEL_4K],
			    "a 2M block was split into 4K pages");
	if (dm_events_counted()) {
		KUNIT_EXPECT_EQ(test, after.splits2, before.splits2);
		KUNIT_EXPECT_EQ(test, after.splits3,
				before.splits3 + (level == PG_LEVEL_1G));
	}

	KUNIT_ASSERT_EQ(test, set_direct_map_valid_noflush(page, PTRS_PER_PMD, true), 0);
	KUNIT_EXPECT_EQ(test, dm_level(page, &present), PG_LEVEL_2M);
	KUNIT_EXPECT_TRUE(test, present);

	KUNIT_EXPECT_EQ(test, collapse_direct_map(page, PTRS_PER_PMD),
			level == PG_LEVEL_1G ? 1 : 0);
	KUNIT_EXPECT_EQ(test, dm_level(page, &present), level);
	KUNIT_EXPECT_TRUE(test, present);
	dm_expect_counts_restored(test, &before);
	dm_expect_collapses(test, &before, 0, level == PG_LEVEL_1G);
	__free_pages(page, PMD_ORDER);
}

/* One 4K page out of a block splits it; once back, the block collapses. */
static void dm_split_then_collapse(struct kunit *test)
{
	int level = *(const int *)test->param_value;
	struct page *page = dm_alloc_block(test, level);
	struct dm_counts before, split;
	bool present;

	dm_read_counts(test, &before);
	KUNIT_ASSERT_EQ(test, set_direct_map_invalid_noflush(page + 7), 0);
	dm_flush(page + 7, 1);
	KUNIT_EXPECT_EQ(test, dm_level(page + 7, &present), PG_LEVEL_4K);
	KUNIT_EXPECT_FALSE(test, present);
	KUNIT_EXPECT_EQ(test, dm_level(page, &present), PG_LEVEL_4K);
	KUNIT_EXPECT_TRUE(test, present);
	dm_read_counts(test, &split);
	KUNIT_EXPECT_EQ(test, split.pages[PG_LEVEL_4K],
			before.pages[PG_LEVEL_4K] + PTRS_PER_PTE);
	if (dm_events_counted())
		KUNIT_EXPECT_EQ(test, split.splits2, before.splits2 + 1);

	/* With one page still absent there is nothing to collapse. */
	KUNIT_EXPECT_EQ(test, collapse_direct_map(page, PTRS_PER_PMD), 0);
	KUNIT_EXPECT_EQ(test, dm_level(page, &present), PG_LEVEL_4K);

	KUNIT_ASSERT_EQ(test, set_direct_map_default_noflush(page + 7), 0);
	KUNIT_EXPECT_EQ(test, collapse_direct_map(page, PTRS_PER_PMD),
			level == PG_LEVEL_1G ? 2 : 1);
	KUNIT_EXPECT_EQ(test, dm_level(page + 7, &present), level);
	KUNIT_EXPECT_TRUE(test, present);
	dm_expect_counts_restored(test, &before);
	dm_expect_collapses(test, &before, 1, level == PG_LEVEL_1G);
	__free_pages(page, PMD_ORDER);
}

/* A page whose PTE differs in more than the address prevents collapse. */
static void dm_mixed_protections_stay_split(struct kunit *test)
{
	int level = *(const int *)test->param_value;
	struct page *page = dm_alloc_block(test, level);
	unsigned long addr = (unsigned long)page_address(page + 3);
	struct dm_counts before;
	bool present;

	dm_read_counts(test, &before);
	KUNIT_ASSERT_EQ(test, set_memory_ro(addr, 1), 0);
	KUNIT_EXPECT_EQ(test, dm_level(page, &present), PG_LEVEL_4K);
	KUNIT_EXPECT_EQ(test, collapse_direct_map(page, PTRS_PER_PMD), 0);
	KUNIT_EXPECT_EQ(test, dm_level(page, &present), PG_LEVEL_4K);

	KUNIT_ASSERT_EQ(test, set_memory_rw(addr, 1), 0);
	KUNIT_EXPECT_EQ(test, collapse_direct_map(page, PTRS_PER_PMD),
			level == PG_LEVEL_1G ? 2 : 1);
	KUNIT_EXPECT_EQ(test, dm_level(page, &present), level);
	dm_expect_counts_restored(test, &before);
	__free_pages(page, PMD_ORDER);
}

/*
 * A block made absent in place is a 2M entry with neither _PAGE_PRESENT nor
 * _PAGE_PSE, whose frame bits x86 stores inverted: neither none nor a leaf
 * by pmd_none() and pmd_leaf().  Collapse must not take it for a table of
 * PTEs, and must not make a 1G page over it.
 */
static void dm_collapse_skips_unmapped_block(struct kunit *test)
{
	int level = *(const int *)test->param_value;
	struct page *page = dm_alloc_block(test, level);
	struct dm_counts before;
	bool present;

	KUNIT_ASSERT_EQ(test, set_direct_map_valid_noflush(page, PTRS_PER_PMD, false), 0);
	dm_flush(page, PTRS_PER_PMD);
	dm_read_counts(test, &before);
	KUNIT_EXPECT_EQ(test, collapse_direct_map(page, PTRS_PER_PMD), 0);
	KUNIT_EXPECT_EQ(test, dm_level(page, &present), PG_LEVEL_2M);
	KUNIT_EXPECT_FALSE(test, present);
	dm_expect_counts_restored(test, &before);
	dm_expect_collapses(test, &before, 0, 0);

	KUNIT_ASSERT_EQ(test, set_direct_map_valid_noflush(page, PTRS_PER_PMD, true), 0);
	KUNIT_EXPECT_EQ(test, collapse_direct_map(page, PTRS_PER_PMD),
			level == PG_LEVEL_1G ? 1 : 0);
	KUNIT_EXPECT_EQ(test, dm_level(page, &present), level);
	KUNIT_EXPECT_TRUE(test, present);
	__free_pages(page, PMD_ORDER);
}

/*
 * set_memory_4k() is a request for 4K pages (SEV-SNP's RMP fault
 * avoidance, kfence): collapse leaves them alone.  The block stays split
 * after the test, as it would for those users.
 */
static void dm_set_memory_4k_is_kept(struct kunit *test)
{
	struct page *page = dm_alloc_block(test, PG_LEVEL_2M);
	bool present;

	KUNIT_ASSERT_EQ(test, set_memory_4k((unsigned long)page_address(page + 1), 1), 0);
	KUNIT_EXPECT_EQ(test, dm_level(page, &present), PG_LEVEL_4K);
	KUNIT_EXPECT_EQ(test, collapse_direct_map(page, PTRS_PER_PMD), 0);
	KUNIT_EXPECT_EQ(test, dm_level(page, &present), PG_LEVEL_4K);
	KUNIT_EXPECT_EQ(test, dm_level(page + 1, &present), PG_LEVEL_4K);
	__free_pages(page, PMD_ORDER);
}

static bool dm_snp_host(void)
{
	return true;
}

/*
 * On an SEV-SNP host nothing is collapsed: a page under the new entry may
 * be RMP-assigned.  Once the host check answers no, the same range does.
 */
static void dm_snp_host_never_collapses(struct kunit *test)
{
	int level = *(const int *)test->param_value;
	struct page *page = dm_alloc_block(test, level);
	struct dm_counts before;
	bool present;

	dm_read_counts(test, &before);
	KUNIT_ASSERT_EQ(test, set_direct_map_invalid_noflush(page + 7), 0);
	dm_flush(page + 7, 1);
	KUNIT_ASSERT_EQ(test, set_direct_map_default_noflush(page + 7), 0);

	kunit_activate_static_stub(test, direct_map_may_hold_rmp_pages, dm_snp_host);
	KUNIT_EXPECT_EQ(test, collapse_direct_map(page, PTRS_PER_PMD), 0);
	KUNIT_EXPECT_EQ(test, dm_level(page, &present), PG_LEVEL_4K);
	kunit_deactivate_static_stub(test, direct_map_may_hold_rmp_pages);

	KUNIT_EXPECT_EQ(test, collapse_direct_map(page, PTRS_PER_PMD),
			level == PG_LEVEL_1G ? 2 : 1);
	KUNIT_EXPECT_EQ(test, dm_level(page, &present), level);
	dm_expect_counts_restored(test, &before);
	__free_pages(page, PMD_ORDER);
}

/* A table page from .brk is never freed; one from the page allocator is. */
static void dm_brk_tables_kept(struct kunit *test)
{
	struct page *page = alloc_page(GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, page);
	KUNIT_EXPECT_TRUE(test, table_in_brk(virt_to_page(lm_alias(__brk_base))));
	KUNIT_EXPECT_FALSE(test, table_in_brk(page));
	__free_page(page);
}

/* Each case runs on a block inside a 2M page and on one inside a 1G page. */
static const int dm_levels[] = { PG_LEVEL_2M, PG_LEVEL_1G };

static void dm_level_desc(const int *level, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%s",
		 *level == PG_LEVEL_1G ? "in_1g" : "in_2m");
}

KUNIT_ARRAY_PARAM(dm_levels, dm_levels, dm_level_desc);

static struct kunit_case direct_map_collapse_cases[] = {
	KUNIT_CASE_PARAM(dm_unmap_block_in_place, dm_levels_gen_params),
	KUNIT_CASE_PARAM(dm_split_then_collapse, dm_levels_gen_params),
	KUNIT_CASE_PARAM(dm_mixed_protections_stay_split, dm_levels_gen_params),
	KUNIT_CASE_PARAM(dm_collapse_skips_unmapped_block, dm_levels_gen_params),
	KUNIT_CASE_PARAM(dm_snp_host_never_collapses, dm_levels_gen_params),
	/* Only in 2M: it leaves its region split, and 1G regions are few. */
	KUNIT_CASE(dm_set_memory_4k_is_kept),
	KUNIT_CASE(dm_brk_tables_kept),
	{}
};

/* On SEV-SNP hosts nothing collapses: the cases expect collapses. */
static int dm_init(struct kunit *test)
{
	if (cc_platform_has(CC_ATTR_HOST_SEV_SNP))
		kunit_skip(test, "SEV-SNP host: collapse_direct_map() collapses nothing");
	return 0;
}

static struct kunit_suite direct_map_collapse_suite = {
	.name = "x86_direct_map_collapse",
	.init = dm_init,
	.test_cases = direct_map_collapse_cases,
};
kunit_test_suite(direct_map_collapse_suite);
