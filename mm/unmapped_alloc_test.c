// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the unmapped page pool.  Included from unmapped_alloc.c
 * to reach the pools and their counters.  Every test starts by draining
 * the pools; nothing else allocates from them while the suite runs.
 */
#include <kunit/test.h>
#include <linux/cgroup.h>
#include <linux/suspend.h>

struct ua_counts {
	unsigned long blocks, used, free, unmapped, restored, fallbacks, kept;
	unsigned long poisoned;
};

static void ua_read_counts(struct unmapped_pool *pool, struct ua_counts *c)
{
	spin_lock_irq(&pool->lock);
	c->blocks = pool->nr_blocks;
	c->used = pool_sum(pool, pages_used);
	c->free = pool_sum(pool, pages_free);
	c->unmapped = pool->blocks_unmapped;
	c->restored = pool->blocks_restored;
	c->fallbacks = pool->fallbacks;
	c->kept = pool->blocks_kept;
	c->poisoned = pool->pages_poisoned;
	spin_unlock_irq(&pool->lock);
}

static struct unmapped_pool *ua_drained_local_pool(struct kunit *test)
{
	struct unmapped_pool *pool = pools[numa_mem_id()];
	struct ua_counts c;

	KUNIT_ASSERT_NOT_NULL_MSG(test, pool, "no pool for the local node");
	unmapped_alloc_drain();
	ua_read_counts(pool, &c);
	KUNIT_ASSERT_EQ_MSG(test, c.blocks, 0, "the pool is in use");
	return pool;
}

static int ua_dm_level(struct page *page, bool *present)
{
	unsigned int level;
	pte_t *pte = lookup_address((unsigned long)page_address(page), &level);

	*present = pte && (pte_val(*pte) & _PAGE_PRESENT);
	return level;
}

static void ua_alloc_free_every_order(struct kunit *test)
{
	struct unmapped_pool *pool = ua_drained_local_pool(test);
	struct ua_counts c;
	unsigned int order;

	for (order = 0; order <= PMD_ORDER; order++) {
		struct page *page = unmapped_pages_alloc(GFP_KERNEL, order);

		KUNIT_ASSERT_NOT_NULL_MSG(test, page, "order %u", order);
		KUNIT_EXPECT_FALSE(test, kernel_page_present(page));
		KUNIT_EXPECT_FALSE(test, kernel_page_present(page + (1UL << order) - 1));
		KUNIT_EXPECT_EQ(test, page_to_nid(page), numa_mem_id());
		KUNIT_EXPECT_EQ(test, page_ref_count(page), 1);
		ua_read_counts(pool, &c);
		KUNIT_EXPECT_EQ(test, c.used, 1UL << order);
		unmapped_pages_free(page, order);
	}
	ua_read_counts(pool, &c);
	KUNIT_EXPECT_EQ(test, c.used, 0);
	KUNIT_EXPECT_GE(test, c.blocks, 1);
	KUNIT_EXPECT_EQ(test, c.free, c.blocks << PMD_ORDER);

	unmapped_alloc_drain();
	ua_read_counts(pool, &c);
	KUNIT_EXPECT_EQ(test, c.blocks, 0);
	KUNIT_EXPECT_EQ(test, c.free, 0);
	/* Every block taken was given back, or kept for poison. */
	KUNIT_EXPECT_EQ(test, c.restored + c.kept, c.unmapped);
}

/*
 * Fill every page the pool holds with @pattern, free them all and take
 * them back with @gfp: the same pages, since no new block is needed.
 * Returns a mapping of them; the caller checks it.
 */
static void *ua_refill_after_pattern(struct kunit *test, struct page **pages,
				     int pattern, gfp_t gfp)
{
	struct unmapped_pool *pool = ua_drained_local_pool(test);
	unsigned long i, unmapped;
	struct ua_counts c;
	void *map;

	for (i = 0; i < BLOCK_PAGES; i++) {
		pages[i] = unmapped_pages_alloc(GFP_KERNEL, 0);
		KUNIT_ASSERT_NOT_NULL(test, pages[i]);
	}
	ua_read_counts(pool, &c);
	KUNIT_ASSERT_EQ_MSG(test, c.free, 0, "a 2M block was not available");
	unmapped = c.unmapped;

	map = vmap(pages, BLOCK_PAGES, VM_MAP, PAGE_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, map);
	memset(map, pattern, BLOCK_PAGES * PAGE_SIZE);
	vunmap(map);

	for (i = 0; i < BLOCK_PAGES; i++)
		unmapped_pages_free(pages[i], 0);
	for (i = 0; i < BLOCK_PAGES; i++) {
		pages[i] = unmapped_pages_alloc(gfp, 0);
		KUNIT_ASSERT_NOT_NULL(test, pages[i]);
	}
	ua_read_counts(pool, &c);
	KUNIT_EXPECT_EQ_MSG(test, c.unmapped, unmapped, "a new block was taken");

	map = vmap(pages, BLOCK_PAGES, VM_MAP, PAGE_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, map);
	return map;
}

static void ua_free_all_but_keep(struct page **pages)
{
	unsigned long i;

	for (i = 0; i < BLOCK_PAGES; i++)
		unmapped_pages_free(pages[i], 0);
}

static void ua_free_all(struct page **pages)
{
	ua_free_all_but_keep(pages);
	unmapped_alloc_drain();
}

/* __GFP_ZERO pages never show a previous user's data. */
static void ua_zero_hides_previous_data(struct kunit *test)
{
	struct page **pages = kunit_kcalloc(test, BLOCK_PAGES, sizeof(*pages), GFP_KERNEL);
	void *map;

	KUNIT_ASSERT_NOT_NULL(test, pages);
	map = ua_refill_after_pattern(test, pages, 0xa5, GFP_KERNEL | __GFP_ZERO);
	KUNIT_EXPECT_PTR_EQ(test, memchr_inv(map, 0, BLOCK_PAGES * PAGE_SIZE), NULL);
	vunmap(map);
	ua_free_all(pages);
}

/* Without __GFP_ZERO nothing is written: the firmware-initialised path. */
static void ua_no_zero_leaves_contents(struct kunit *test)
{
	struct page **pages = kunit_kcalloc(test, BLOCK_PAGES, sizeof(*pages), GFP_KERNEL);
	void *map;

	KUNIT_ASSERT_NOT_NULL(test, pages);
	map = ua_refill_after_pattern(test, pages, 0x5a, GFP_KERNEL);
	KUNIT_EXPECT_PTR_EQ(test, memchr_inv(map, 0x5a, BLOCK_PAGES * PAGE_SIZE), NULL);
	vunmap(map);
	ua_free_all(pages);
}

#define UA_TRIES 8

static void ua_free_held(struct page **held, int nheld)
{
	while (nheld--)
		unmapped_pages_free(held[nheld], PMD_ORDER);
}

/*
 * A 2M block leaves the direct map as one 2M entry and comes back whole.
 * The page allocator may hand the pool a block whose direct map someone
 * split to 4K on purpose before (set_memory_4k()); the pool leaves it so,
 * and the test takes another block.
 */
static void ua_block_unmapped_in_place(struct kunit *test)
{
	struct unmapped_pool *pool = ua_drained_local_pool(test);
	struct page *page = NULL, *held[UA_TRIES];
	unsigned long splits, *ev;
	struct ua_counts before, c;
	int level, tries, nheld = 0;
	bool present;

	ev = kunit_kcalloc(test, NR_VM_EVENT_ITEMS, sizeof(*ev), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, ev);
	for (tries = 0; tries < UA_TRIES && !page; tries++) {
		all_vm_events(ev);
		splits = ev[DIRECT_MAP_LEVEL2_SPLIT];
		ua_read_counts(pool, &before);
		page = unmapped_pages_alloc(GFP_KERNEL, PMD_ORDER);
		KUNIT_ASSERT_NOT_NULL(test, page);
		ua_read_counts(pool, &c);
		KUNIT_ASSERT_EQ_MSG(test, c.fallbacks, before.fallbacks, "no free 2M block");
		/* Split events only count once the system runs. */
		all_vm_events(ev);
		if (system_state == SYSTEM_RUNNING)
			KUNIT_EXPECT_EQ_MSG(test, ev[DIRECT_MAP_LEVEL2_SPLIT], splits,
					    "taking a 2M block split the direct map");
		level = ua_dm_level(page, &present);
		KUNIT_EXPECT_FALSE(test, present);
		if (level != PG_LEVEL_2M) {
			held[nheld++] = page;
			page = NULL;
		}
	}
	ua_free_held(held, nheld);
	KUNIT_ASSERT_NOT_NULL_MSG(test, page, "no 2M block mapped by a 2M entry in %d tries",
				  UA_TRIES);

	unmapped_pages_free(page, PMD_ORDER);
	unmapped_alloc_drain();
	KUNIT_EXPECT_GE(test, ua_dm_level(page, &present), PG_LEVEL_2M);
	KUNIT_EXPECT_TRUE(test, present);
}

/* Without a free 2M block the pool takes the largest that is free. */
static void ua_fallback_block(struct kunit *test)
{
	struct unmapped_pool *pool = ua_drained_local_pool(test);
	struct ua_counts before, c;
	struct page *page;
	struct alloc_target t = { .nid = pool->nid };
	bool zeroed;

	ua_read_counts(pool, &before);
	page = refill_and_take(&t, GFP_KERNEL | __GFP_THISNODE, 0, 3, true, &zeroed);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, page);
	/* What unmapped_pages_alloc_node() does with what it is given. */
	pool_account(pool, -1, 1);
	set_page_count(page, 1);
	ua_read_counts(pool, &c);
	KUNIT_EXPECT_EQ(test, c.fallbacks, before.fallbacks + 1);
	KUNIT_EXPECT_EQ(test, c.blocks, 1);
	KUNIT_EXPECT_EQ(test, c.used, 1);
	KUNIT_EXPECT_EQ(test, c.free, 7);
	KUNIT_EXPECT_FALSE(test, kernel_page_present(page));

	unmapped_pages_free(page, 0);
	unmapped_alloc_drain();
	ua_read_counts(pool, &c);
	KUNIT_EXPECT_EQ(test, c.blocks, 0);
	KUNIT_EXPECT_TRUE(test, kernel_page_present(page));
}

/*
 * Memory comes from the node asked for.  A node without memory gives
 * nothing with __GFP_THISNODE, and another node's memory without it, as
 * alloc_pages_node() does; a node that is not online gives nothing.
 */
static void ua_node_selection(struct kunit *test)
{
	struct page *page;
	long takes;
	int nid;

	ua_drained_local_pool(test);
	for_each_node_state(nid, N_MEMORY) {
		page = unmapped_pages_alloc_node(nid, GFP_KERNEL, 0);
		KUNIT_ASSERT_NOT_NULL_MSG(test, page, "node %d", nid);
		KUNIT_EXPECT_EQ(test, page_to_nid(page), nid);
		unmapped_pages_free(page, 0);
	}
	for_each_node(nid) {
		if (node_state(nid, N_MEMORY))
			continue;
		KUNIT_EXPECT_NULL_MSG(test,
				      unmapped_pages_alloc_node(nid, GFP_KERNEL | __GFP_THISNODE |
								__GFP_NOWARN, 0),
				      "node %d has no memory", nid);
		page = unmapped_pages_alloc_node(nid, GFP_KERNEL, 0);
		if (!node_online(nid)) {
			KUNIT_EXPECT_NULL_MSG(test, page, "node %d is offline", nid);
			continue;
		}
		KUNIT_ASSERT_NOT_NULL_MSG(test, page, "node %d: no fallback", nid);
		KUNIT_EXPECT_TRUE(test, node_state(page_to_nid(page), N_MEMORY));
		unmapped_pages_free(page, 0);
		/* Its pool, always empty, is not even tried. */
		takes = pool_sum(pools[nid], lock_takes);
		page = unmapped_pages_alloc_node(nid, GFP_KERNEL, 0);
		KUNIT_ASSERT_NOT_NULL_MSG(test, page, "node %d: no fallback", nid);
		KUNIT_EXPECT_EQ_MSG(test, pool_sum(pools[nid], lock_takes), takes,
				    "node %d has no memory: its pool's lock was taken", nid);
		unmapped_pages_free(page, 0);
	}
	unmapped_alloc_drain();
}

/* Drain and the shrinker release free blocks only; used pages stay. */
static void ua_release_leaves_used_pages(struct kunit *test)
{
	struct unmapped_pool *pool = ua_drained_local_pool(test);
	struct shrink_control sc = {
		.gfp_mask = GFP_KERNEL,
		.nid = pool->nid,
		.nr_to_scan = BLOCK_PAGES,
	};
	struct ua_counts c;
	struct page *page;

	page = unmapped_pages_alloc(GFP_KERNEL, 0);
	KUNIT_ASSERT_NOT_NULL(test, page);
	unmapped_alloc_drain();
	KUNIT_EXPECT_EQ(test, pool_shrink_scan(NULL, &sc), SHRINK_STOP);
	ua_read_counts(pool, &c);
	KUNIT_EXPECT_EQ(test, c.blocks, 1);
	KUNIT_EXPECT_FALSE(test, kernel_page_present(page));

	unmapped_pages_free(page, 0);
	KUNIT_EXPECT_EQ(test, pool_shrink_count(NULL, &sc), c.free + 1);
	KUNIT_EXPECT_EQ(test, pool_shrink_scan(NULL, &sc), c.free + 1);
	flush_work(&pool->collapse_work);
	ua_read_counts(pool, &c);
	KUNIT_EXPECT_EQ(test, c.blocks, 0);
	KUNIT_EXPECT_TRUE(test, kernel_page_present(page));
	KUNIT_EXPECT_EQ(test, pool_shrink_count(NULL, &sc), SHRINK_EMPTY);
}

/*
 * Hibernation: the pool drains itself and then takes no block until
 * hibernation ends; pages in use refuse it.
 */
static void ua_unfreeze(void *unused)
{
	pool_pm_callback(NULL, PM_POST_HIBERNATION, NULL);
}

static void ua_hibernation_drains_or_refuses(struct kunit *test)
{
	struct unmapped_pool *pool = ua_drained_local_pool(test);
	struct page *page, *again;
	unsigned long kept;
	struct ua_counts c;

	if (!IS_ENABLED(CONFIG_HIBERNATION))
		kunit_skip(test, "CONFIG_HIBERNATION is off");
	KUNIT_ASSERT_EQ(test, kunit_add_action(test, ua_unfreeze, NULL), 0);
	ua_read_counts(pool, &c);
	kept = c.kept;
	again = unmapped_pages_alloc(GFP_KERNEL, PMD_ORDER);
	KUNIT_ASSERT_NOT_NULL(test, again);
	page = unmapped_pages_alloc(GFP_KERNEL, 0);
	KUNIT_ASSERT_NOT_NULL(test, page);
	unmapped_pages_free(again, PMD_ORDER);
	/* Refused before anything is drained: the free block stays. */
	KUNIT_EXPECT_EQ(test, pool_pm_callback(NULL, PM_HIBERNATION_PREPARE, NULL),
			notifier_from_errno(-EBUSY));
	ua_read_counts(pool, &c);
	KUNIT_EXPECT_EQ(test, c.blocks, 2);
	/* The notifier that refused gets no PM_POST_*: nothing stays frozen. */
	again = unmapped_pages_alloc(GFP_KERNEL, PMD_ORDER);
	KUNIT_EXPECT_NOT_NULL(test, again);
	if (again)
		unmapped_pages_free(again, PMD_ORDER);
	again = unmapped_pages_alloc(GFP_KERNEL, 0);
	KUNIT_EXPECT_NOT_NULL(test, again);
	if (again)
		unmapped_pages_free(again, 0);

	unmapped_pages_free(page, 0);
	KUNIT_EXPECT_EQ(test, pool_pm_callback(NULL, PM_HIBERNATION_PREPARE, NULL), NOTIFY_OK);
	ua_read_counts(pool, &c);
	KUNIT_EXPECT_EQ(test, c.blocks, 0);
	KUNIT_EXPECT_EQ(test, c.kept, kept);
	KUNIT_EXPECT_NULL(test, unmapped_pages_alloc(GFP_KERNEL, 0));
	ua_read_counts(pool, &c);
	KUNIT_EXPECT_EQ(test, c.blocks, 0);
	pool_pm_callback(NULL, PM_POST_HIBERNATION, NULL);

	page = unmapped_pages_alloc(GFP_KERNEL, 0);
	KUNIT_EXPECT_NOT_NULL(test, page);
	if (page)
		unmapped_pages_free(page, 0);
}

/*
 * The kernel that restores an image drains its pools but never refuses:
 * the image replaces all of its memory, pages in use included.
 */
static void ua_restore_drains_never_refuses(struct kunit *test)
{
	struct unmapped_pool *pool = ua_drained_local_pool(test);
	struct page *page;
	struct ua_counts c;

	if (!IS_ENABLED(CONFIG_HIBERNATION))
		kunit_skip(test, "CONFIG_HIBERNATION is off");
	KUNIT_ASSERT_EQ(test, kunit_add_action(test, ua_unfreeze, NULL), 0);
	page = unmapped_pages_alloc(GFP_KERNEL, 0);
	KUNIT_ASSERT_NOT_NULL(test, page);
	KUNIT_EXPECT_EQ(test, pool_pm_callback(NULL, PM_RESTORE_PREPARE, NULL), NOTIFY_OK);
	ua_read_counts(pool, &c);
	KUNIT_EXPECT_EQ(test, c.used, 1);
	KUNIT_EXPECT_EQ(test, c.blocks, 1);
	pool_pm_callback(NULL, PM_POST_RESTORE, NULL);
	unmapped_pages_free(page, 0);
}

/*
 * Poison as memory_failure() leaves it on a page nobody holds, or on one
 * in use before the user frees it: the flag and the count of poisoned
 * pages.  unpoison_memory() undoes both on a page nobody holds.
 */
static void ua_unpoison(struct page *page)
{
	if (PageHWPoison(page)) {
		ClearPageHWPoison(page);
		num_poisoned_pages_sub(page_to_pfn(page), 1);
	}
}

static void ua_unpoison_action(void *page)
{
	ua_unpoison(page);
}

/* Undone however the case ends: the suite runs again on a live system. */
static void ua_poison(struct kunit *test, struct page *page)
{
	KUNIT_ASSERT_EQ(test, kunit_add_action(test, ua_unpoison_action, page), 0);
	SetPageHWPoison(page);
	num_poisoned_pages_inc(page_to_pfn(page));
}

static struct unmapped_pool *ua_poison_test_pool(struct kunit *test)
{
	if (!IS_ENABLED(CONFIG_MEMORY_FAILURE))
		kunit_skip(test, "CONFIG_MEMORY_FAILURE is off: no page is ever poisoned");
	return ua_drained_local_pool(test);
}

/*
 * After unpoisoning, the drain gives the page back to its block and
 * releases the block.
 */
static void ua_expect_unpoison_releases(struct kunit *test,
					struct unmapped_pool *pool,
					struct page *poisoned)
{
	struct ua_counts c;

	ua_unpoison(poisoned);
	unmapped_alloc_drain();
	ua_read_counts(pool, &c);
	KUNIT_EXPECT_EQ(test, c.poisoned, 0);
	KUNIT_EXPECT_EQ(test, c.blocks, 0);
	KUNIT_EXPECT_TRUE(test, kernel_page_present(poisoned));
}

/*
 * A free page poisoned inside a whole free block: no allocation of any
 * order gets it, and the drain neither gives the block to the page
 * allocator nor maps it back.
 */
static void ua_poisoned_free_page_not_handed_out(struct kunit *test)
{
	struct unmapped_pool *pool = ua_poison_test_pool(test);
	struct page *first, *poisoned, *page;
	struct page **pages;
	struct ua_counts c;
	unsigned long i;

	pages = kunit_kcalloc(test, BLOCK_PAGES, sizeof(*pages), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, pages);
	first = unmapped_pages_alloc(GFP_KERNEL, 0);
	KUNIT_ASSERT_NOT_NULL(test, first);
	unmapped_pages_free(first, 0);
	poisoned = first + 5;
	ua_poison(test, poisoned);

	page = unmapped_pages_alloc(GFP_KERNEL, PMD_ORDER);
	KUNIT_ASSERT_NOT_NULL(test, page);
	KUNIT_EXPECT_PTR_NE(test, page, first);
	unmapped_pages_free(page, PMD_ORDER);
	for (i = 0; i < BLOCK_PAGES; i++) {
		pages[i] = unmapped_pages_alloc(GFP_KERNEL, 0);
		KUNIT_ASSERT_NOT_NULL(test, pages[i]);
		KUNIT_EXPECT_PTR_NE(test, pages[i], poisoned);
	}
	ua_read_counts(pool, &c);
	KUNIT_EXPECT_EQ(test, c.poisoned, 1);
	for (i = 0; i < BLOCK_PAGES; i++)
		unmapped_pages_free(pages[i], 0);

	unmapped_alloc_drain();
	ua_read_counts(pool, &c);
	KUNIT_EXPECT_EQ(test, c.blocks, 1);
	KUNIT_EXPECT_EQ(test, c.used, 0);
	KUNIT_EXPECT_EQ(test, c.free, BLOCK_PAGES - 1);
	KUNIT_EXPECT_FALSE(test, kernel_page_present(poisoned));
	ua_expect_unpoison_releases(test, pool, poisoned);
}

/* A large folio freed with one poisoned page: the rest is reused, not it. */
static void ua_poisoned_subpage_of_freed_folio(struct kunit *test)
{
	struct unmapped_pool *pool = ua_poison_test_pool(test);
	struct page *poisoned, *page;
	struct folio *folio;
	struct ua_counts c;

	folio = unmapped_folio_alloc(GFP_KERNEL, PMD_ORDER);
	KUNIT_ASSERT_NOT_NULL(test, folio);
	poisoned = folio_page(folio, 3);
	ua_poison(test, poisoned);
	folio_put(folio);

	ua_read_counts(pool, &c);
	KUNIT_EXPECT_EQ(test, c.used, 0);
	KUNIT_EXPECT_EQ(test, c.poisoned, 1);
	KUNIT_EXPECT_EQ(test, c.free, (c.blocks << PMD_ORDER) - 1);
	page = unmapped_pages_alloc(GFP_KERNEL, 2);
	KUNIT_ASSERT_NOT_NULL(test, page);
	KUNIT_EXPECT_FALSE(test, poisoned >= page && poisoned < page + 4);
	unmapped_pages_free(page, 2);
	ua_expect_unpoison_releases(test, pool, poisoned);
}

/*
 * A page poisoned while in use comes back to the pool when freed (not
 * left out of it, in use for good, by free_pages_prepare()), and stays
 * out of the free lists.
 */
static void ua_poisoned_page_freed_in_use(struct kunit *test)
{
	struct unmapped_pool *pool = ua_poison_test_pool(test);
	struct page *page;
	struct ua_counts c;

	page = unmapped_pages_alloc(GFP_KERNEL, 0);
	KUNIT_ASSERT_NOT_NULL(test, page);
	ua_poison(test, page);
	__free_pages(page, 0);

	ua_read_counts(pool, &c);
	KUNIT_EXPECT_EQ(test, c.used, 0);
	KUNIT_EXPECT_EQ(test, c.poisoned, 1);
	KUNIT_EXPECT_EQ(test, c.free, BLOCK_PAGES - 1);
	ua_expect_unpoison_releases(test, pool, page);
}

/* Pages freed by the page allocator's own paths come back to the pool. */
static void ua_generic_free_returns_to_pool(struct kunit *test)
{
	struct unmapped_pool *pool = ua_drained_local_pool(test);
	struct ua_counts c;
	struct folio *folio;
	struct page *page;

	folio = unmapped_folio_alloc(GFP_KERNEL, 0);
	KUNIT_ASSERT_NOT_NULL(test, folio);
	KUNIT_EXPECT_TRUE(test, folio_test_unmapped_pool(folio));
	KUNIT_EXPECT_FALSE(test, kernel_page_present(&folio->page));
	folio_mark_uptodate(folio);
	folio_put(folio);
	ua_read_counts(pool, &c);
	KUNIT_EXPECT_EQ(test, c.used, 0);
	KUNIT_EXPECT_EQ(test, c.free, c.blocks << PMD_ORDER);

	page = unmapped_pages_alloc(GFP_KERNEL, 2);
	KUNIT_ASSERT_NOT_NULL(test, page);
	__free_pages(page, 2);
	ua_read_counts(pool, &c);
	KUNIT_EXPECT_EQ(test, c.used, 0);
	KUNIT_EXPECT_FALSE(test, kernel_page_present(page));

	unmapped_alloc_drain();
	KUNIT_EXPECT_FALSE(test, PageUnmappedPool(page));
	KUNIT_EXPECT_TRUE(test, kernel_page_present(page));
}

/*
 * Poison that reaches a block between its unlinking and its release keeps
 * the block; once unpoisoned, the next drain releases it.
 */
static void ua_kept_block_released_after_unpoison(struct kunit *test)
{
	struct unmapped_pool *pool = ua_poison_test_pool(test);
	struct page *page, *poisoned;
	struct ua_counts c0, c;
	LIST_HEAD(blocks);

	page = unmapped_pages_alloc(GFP_KERNEL, 0);
	KUNIT_ASSERT_NOT_NULL(test, page);
	unmapped_pages_free(page, 0);
	drain_caches(pool);	/* the chunk went to a CPU's cache */
	ua_read_counts(pool, &c0);
	KUNIT_ASSERT_EQ(test, take_free_blocks(pool, &blocks, ULONG_MAX), BLOCK_PAGES);
	poisoned = chunk_page(list_first_entry(&blocks, struct unmapped_block, list), 1);
	ua_poison(test, poisoned);
	release_blocks(pool, &blocks, true);
	ua_read_counts(pool, &c);
	KUNIT_EXPECT_EQ(test, c.kept, c0.kept + 1);
	KUNIT_EXPECT_FALSE(test, kernel_page_present(poisoned));

	ua_unpoison(poisoned);
	unmapped_alloc_drain();
	ua_read_counts(pool, &c);
	KUNIT_EXPECT_EQ(test, c.kept, c0.kept);
	KUNIT_EXPECT_EQ(test, c.restored, c0.restored + 1);
	KUNIT_EXPECT_TRUE(test, kernel_page_present(poisoned));
}

/* A released block is mapped back with no data left in it. */
static void ua_release_scrubs(struct kunit *test)
{
	struct page **pages = kunit_kcalloc(test, BLOCK_PAGES, sizeof(*pages), GFP_KERNEL);
	struct unmapped_block *block;
	LIST_HEAD(blocks);
	void *map;

	KUNIT_ASSERT_NOT_NULL(test, pages);
	map = ua_refill_after_pattern(test, pages, 0x3c, GFP_KERNEL);
	vunmap(map);
	ua_free_all_but_keep(pages);
	drain_caches(pools[numa_mem_id()]);	/* 4K chunks went to CPUs' caches */

	/* Release's first step, then look before the page allocator does. */
	KUNIT_ASSERT_EQ(test, take_free_blocks(pools[numa_mem_id()], &blocks, ULONG_MAX),
			BLOCK_PAGES);
	block = list_first_entry(&blocks, struct unmapped_block, list);
	KUNIT_ASSERT_EQ(test, restore_block(block), 0);
	KUNIT_EXPECT_PTR_EQ(test, memchr_inv(page_address(chunk_page(block, 0)), 0,
					     BLOCK_PAGES * PAGE_SIZE), NULL);
	KUNIT_EXPECT_FALSE(test, PageUnmappedPool(chunk_page(block, 0)));
	/* The rest of the release; restoring again changes nothing. */
	release_blocks(pools[numa_mem_id()], &blocks, true);
}

/* Fill a pool chunk with @c through the window. */
static void ua_fill(struct kunit *test, struct page *page, unsigned int order, int c)
{
	struct unmapped_pool *pool = pool_of(page_to_nid(page));
	void *map = window_map(pool, page, order);

	KUNIT_ASSERT_NOT_NULL(test, map);
	memset(map, c, PAGE_SIZE << order);
	window_unmap(pool, order);
}

/* Whether a pool chunk, free or not, holds only zeros. */
static bool ua_chunk_zero(struct kunit *test, struct page *page, unsigned int order)
{
	struct unmapped_pool *pool = pool_of(page_to_nid(page));
	void *map = window_map(pool, page, order);
	bool zero;

	KUNIT_ASSERT_NOT_NULL(test, map);
	zero = !memchr_inv(map, 0, PAGE_SIZE << order);
	window_unmap(pool, order);
	return zero;
}

/*
 * A page mapped for a moment at this CPU's slot reads and writes what
 * the window sees, and the slot is empty again afterwards.
 */
static void ua_map_local(struct kunit *test)
{
	struct unmapped_pool *pool = ua_drained_local_pool(test);
	struct page *page = unmapped_pages_alloc(GFP_KERNEL, 1);
	unsigned long maps;
	int cpu;
	u8 *map;

	KUNIT_ASSERT_NOT_NULL(test, page);
	ua_fill(test, page, 1, 0x3c);
	maps = pool_sum(pool, window_maps);
	map = unmapped_page_map_local(page + 1);
	KUNIT_EXPECT_TRUE(test, irqs_disabled());
	KUNIT_EXPECT_EQ(test, map[0], 0x3c);
	memset(map, 0, PAGE_SIZE);
	unmapped_page_unmap_local();
	KUNIT_EXPECT_FALSE(test, irqs_disabled());
	for_each_possible_cpu(cpu)
		KUNIT_EXPECT_TRUE(test, pte_none(ptep_get(per_cpu_ptr(&scrub_slots, cpu)->pte)));
	KUNIT_EXPECT_EQ(test, pool_sum(pool, window_maps), maps);
	KUNIT_EXPECT_FALSE(test, ua_chunk_zero(test, page, 1));
	KUNIT_EXPECT_TRUE(test, ua_chunk_zero(test, page + 1, 0));
	unmapped_pages_free(page, 1);
	unmapped_alloc_drain();
}

/* unmapped_folio_scrub() clears every page of a folio, mapped or not. */
static void ua_folio_scrub_clears(struct kunit *test)
{
	struct folio *folio;

	ua_drained_local_pool(test);
	folio = unmapped_folio_alloc(GFP_KERNEL, 3);
	KUNIT_ASSERT_NOT_NULL(test, folio);
	ua_fill(test, &folio->page, 3, 0x7e);
	unmapped_folio_scrub(folio);
	KUNIT_EXPECT_TRUE(test, ua_chunk_zero(test, &folio->page, 3));
	KUNIT_EXPECT_FALSE(test, kernel_page_present(&folio->page));
	folio_put(folio);
}

/*
 * Booted with init_on_free=1, freed pool pages are cleared at once, and
 * known to be zero: handing them out with __GFP_ZERO needs no window.
 */
static void ua_init_on_free_scrubs(struct kunit *test)
{
	struct unmapped_pool *pool = ua_drained_local_pool(test);
	unsigned long window_maps;
	struct page *page, *again;
	unsigned int order;

	if (!want_init_on_free())
		kunit_skip(test, "init_on_free is off (boot with init_on_free=1 to run it)");
	for (order = 0; order <= PMD_ORDER; order += PMD_ORDER) {
		page = unmapped_pages_alloc(GFP_KERNEL, order);
		KUNIT_ASSERT_NOT_NULL(test, page);
		ua_fill(test, page, order, 0x6b);
		unmapped_pages_free(page, order);
		KUNIT_EXPECT_TRUE_MSG(test, ua_chunk_zero(test, page, order), "order %u", order);

		window_maps = pool_sum(pool, window_maps);
		again = unmapped_pages_alloc(GFP_KERNEL | __GFP_ZERO, order);
		KUNIT_ASSERT_PTR_EQ(test, again, page);
		KUNIT_EXPECT_EQ(test, pool_sum(pool, window_maps), window_maps);
		unmapped_pages_free(again, order);
	}
}

/* Large folios and compound pages come back whole, freed either way. */
static void ua_compound_pages(struct kunit *test)
{
	struct unmapped_pool *pool = ua_drained_local_pool(test);
	struct ua_counts c;
	struct folio *folio;
	struct page *page;
	unsigned long i;

	folio = unmapped_folio_alloc(GFP_KERNEL, PMD_ORDER);
	KUNIT_ASSERT_NOT_NULL(test, folio);
	KUNIT_EXPECT_EQ(test, folio_order(folio), PMD_ORDER);
	/* The flag exists only with THP. */
	KUNIT_EXPECT_EQ(test, folio_test_large_rmappable(folio),
			IS_ENABLED(CONFIG_TRANSPARENT_HUGEPAGE));
	KUNIT_EXPECT_FALSE(test, kernel_page_present(folio_page(folio, BLOCK_PAGES - 1)));
	ua_read_counts(pool, &c);
	KUNIT_EXPECT_EQ(test, c.used, BLOCK_PAGES);
	page = &folio->page;
	folio_put(folio);
	ua_read_counts(pool, &c);
	KUNIT_EXPECT_EQ(test, c.used, 0);
	KUNIT_EXPECT_FALSE(test, PageHead(page));
	for (i = 1; i < BLOCK_PAGES; i++)
		if (PageTail(page + i) || !PageUnmappedPool(page + i))
			break;
	KUNIT_EXPECT_EQ_MSG(test, i, BLOCK_PAGES, "page %lu is a tail or left the pool", i);

	page = unmapped_pages_alloc(GFP_KERNEL | __GFP_COMP, 3);
	KUNIT_ASSERT_NOT_NULL(test, page);
	KUNIT_EXPECT_TRUE(test, PageHead(page));
	KUNIT_EXPECT_EQ(test, compound_order(page), 3);
	unmapped_pages_free(page, 3);
	ua_read_counts(pool, &c);
	KUNIT_EXPECT_EQ(test, c.used, 0);
	KUNIT_EXPECT_FALSE(test, PageHead(page));
	KUNIT_EXPECT_FALSE(test, PageTail(page + 7));

	unmapped_alloc_drain();
	ua_read_counts(pool, &c);
	KUNIT_EXPECT_EQ(test, c.blocks, 0);
}

/*
 * The memory cgroup the suite charges, made by the test runner with a
 * small memory.max; none at boot.
 */
#ifdef CONFIG_MEMCG
static struct mem_cgroup *ua_test_memcg(void)
{
	struct mem_cgroup *memcg = NULL;
	char name[16];

	while ((memcg = mem_cgroup_iter(NULL, memcg, NULL))) {
		if (mem_cgroup_is_root(memcg))
			continue;
		cgroup_name(memcg->css.cgroup, name, sizeof(name));
		if (!strcmp(name, "kunit")) {
			css_get(&memcg->css);
			mem_cgroup_iter_break(NULL, memcg);
			return memcg;
		}
	}
	return NULL;
}
#else
static struct mem_cgroup *ua_test_memcg(void)
{
	return NULL;
}
#endif

#define UA_MEMCG_TRIES 32

/* __GFP_ACCOUNT charges the cgroup; a failed charge gives the pages back. */
static void ua_account_charges_memcg(struct kunit *test)
{
	struct unmapped_pool *pool = ua_drained_local_pool(test);
	struct page **pages, *page;
	struct mem_cgroup *memcg, *old;
	unsigned int n = 0;
	struct ua_counts c;

	pages = kunit_kcalloc(test, UA_MEMCG_TRIES, sizeof(*pages), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, pages);
	memcg = ua_test_memcg();
	if (!memcg) {
		/*
		 * At boot only the root cgroup exists, and it is never
		 * charged.  (Not a skip: KUnit in 6.12 never runs a case that
		 * skipped once again, so the run after boot would skip too.)
		 */
		kunit_info(test, "no memory cgroup \"kunit\": uncharged path only\n");
		page = unmapped_pages_alloc(GFP_KERNEL_ACCOUNT, 2);
		KUNIT_ASSERT_NOT_NULL(test, page);
		KUNIT_EXPECT_FALSE(test, PageMemcgKmem(page));
		unmapped_pages_free(page, 2);
		unmapped_alloc_drain();
		return;
	}

	old = set_active_memcg(memcg);
	page = unmapped_pages_alloc(GFP_KERNEL_ACCOUNT, 2);
	KUNIT_EXPECT_NOT_NULL(test, page);
	if (page) {
		KUNIT_EXPECT_TRUE(test, PageMemcgKmem(page));
		rcu_read_lock();
		KUNIT_EXPECT_PTR_EQ(test, folio_memcg(page_folio(page)), memcg);
		rcu_read_unlock();
		unmapped_pages_free(page, 2);
		KUNIT_EXPECT_FALSE(test, PageMemcgKmem(page));
	}

	/* The cgroup's memory.max is a few 2M blocks. */
	while (n < UA_MEMCG_TRIES) {
		page = unmapped_pages_alloc(GFP_KERNEL_ACCOUNT | __GFP_NORETRY | __GFP_NOWARN,
					    PMD_ORDER);
		if (!page)
			break;
		pages[n++] = page;
	}
	set_active_memcg(old);
	mem_cgroup_put(memcg);

	KUNIT_EXPECT_LT_MSG(test, n, UA_MEMCG_TRIES, "memory.max never stopped a charge");
	ua_read_counts(pool, &c);
	KUNIT_EXPECT_EQ(test, c.used, (unsigned long)n << PMD_ORDER);
	KUNIT_EXPECT_GE_MSG(test, c.free, BLOCK_PAGES,
			    "the block of the failed charge is not back in the pool");
	while (n)
		unmapped_pages_free(pages[--n], PMD_ORDER);
	ua_read_counts(pool, &c);
	KUNIT_EXPECT_EQ(test, c.used, 0);
	unmapped_alloc_drain();
}

#ifdef CONFIG_FAULT_INJECTION
/* Fail the @nth check of fail_unmapped_alloc from now, once; 0: every one. */
static void ua_fail_nth(unsigned long nth)
{
	fail_unmapped_alloc.verbose = 0;
	fail_unmapped_alloc.count = 0;
	fail_unmapped_alloc.interval = nth ? nth : 1;
	atomic_set(&fail_unmapped_alloc.times, nth ? 1 : -1);
	fail_unmapped_alloc.probability = 100;
}

/* Fail checks @first, @first + @every, ... from now, @times of them. */
static void ua_fail_every(unsigned long first, unsigned long every, int times)
{
	fail_unmapped_alloc.verbose = 0;
	fail_unmapped_alloc.count = every - first;
	fail_unmapped_alloc.interval = every;
	atomic_set(&fail_unmapped_alloc.times, times);
	fail_unmapped_alloc.probability = 100;
}

static void ua_fail_none(void)
{
	fail_unmapped_alloc.probability = 0;
	fail_unmapped_alloc.interval = 1;
	atomic_set(&fail_unmapped_alloc.times, 1);
}
#else
static void ua_fail_nth(unsigned long nth)
{
}

static void ua_fail_every(unsigned long first, unsigned long every, int times)
{
}

static void ua_fail_none(void)
{
}
#endif

/*
 * A failure at each step of taking a block (page allocation, direct map
 * change, block lookup) returns NULL and leaves no block behind; a failed
 * zeroing leaves the block free in the pool.
 */
static void ua_alloc_failures(struct kunit *test)
{
	static const char * const step[] = {
		"", "page allocation", "direct map change", "block lookup",
	};
	struct unmapped_pool *pool = ua_drained_local_pool(test);
	unsigned long *ev, splits;
	struct ua_counts before, c;
	struct page *page;
	int nth;

	if (!IS_ENABLED(CONFIG_FAULT_INJECTION))
		kunit_skip(test, "CONFIG_FAULT_INJECTION is off");
	ev = kunit_kcalloc(test, NR_VM_EVENT_ITEMS, sizeof(*ev), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, ev);

	for (nth = 1; nth < ARRAY_SIZE(step); nth++) {
		ua_read_counts(pool, &before);
		all_vm_events(ev);
		splits = ev[DIRECT_MAP_LEVEL2_SPLIT];
		ua_fail_nth(nth);
		page = unmapped_pages_alloc(GFP_KERNEL, PMD_ORDER);
		ua_fail_none();
		KUNIT_EXPECT_NULL_MSG(test, page, "%s failed", step[nth]);
		if (page) {
			unmapped_pages_free(page, PMD_ORDER);
			unmapped_alloc_drain();
			continue;
		}
		ua_read_counts(pool, &c);
		all_vm_events(ev);
		KUNIT_EXPECT_EQ_MSG(test, c.used, 0, "%s failed", step[nth]);
		KUNIT_EXPECT_EQ_MSG(test, ev[DIRECT_MAP_LEVEL2_SPLIT], splits,
				    "%s failed", step[nth]);
		KUNIT_EXPECT_EQ_MSG(test, c.blocks, 0, "%s failed", step[nth]);
		KUNIT_EXPECT_EQ_MSG(test, c.unmapped, before.unmapped, "%s failed", step[nth]);
		KUNIT_EXPECT_TRUE_MSG(test, xa_empty(&blocks_by_pfn), "%s failed", step[nth]);
		unmapped_alloc_drain();
	}

	/* Zeroing fails on a chunk a previous user had: it stays free in the pool. */
	page = unmapped_pages_alloc(GFP_KERNEL, PMD_ORDER);
	KUNIT_ASSERT_NOT_NULL(test, page);
	unmapped_pages_free(page, PMD_ORDER);
	ua_fail_nth(1);
	page = unmapped_pages_alloc(GFP_KERNEL | __GFP_ZERO, PMD_ORDER);
	ua_fail_none();
	KUNIT_EXPECT_NULL_MSG(test, page, "zeroing failed");
	ua_read_counts(pool, &c);
	KUNIT_EXPECT_EQ(test, c.used, 0);
	KUNIT_EXPECT_EQ(test, c.blocks, 1);
	KUNIT_EXPECT_EQ(test, c.free, BLOCK_PAGES);
	if (page)
		unmapped_pages_free(page, PMD_ORDER);
	unmapped_alloc_drain();

	/* Every block allocation failing, down to the order asked for. */
	ua_read_counts(pool, &before);
	ua_fail_nth(0);
	page = unmapped_pages_alloc(GFP_KERNEL, 0);
	ua_fail_none();
	KUNIT_EXPECT_NULL(test, page);
	ua_read_counts(pool, &c);
	KUNIT_EXPECT_EQ(test, c.blocks, 0);
	KUNIT_EXPECT_EQ(test, c.fallbacks, before.fallbacks);

	/* Only the 2M allocation failing: a smaller block is taken. */
	ua_fail_nth(1);
	page = unmapped_pages_alloc(GFP_KERNEL, 0);
	ua_fail_none();
	KUNIT_ASSERT_NOT_NULL(test, page);
	ua_read_counts(pool, &c);
	KUNIT_EXPECT_EQ(test, c.fallbacks, before.fallbacks + 1);
	KUNIT_EXPECT_EQ(test, c.free + c.used, BLOCK_PAGES / 2);
	unmapped_pages_free(page, 0);
	unmapped_alloc_drain();
}

/* The level of the direct map entry that maps @page. */
static unsigned int ua_direct_map_level(struct page *page)
{
	unsigned int level;

	lookup_address((unsigned long)page_address(page), &level);
	return level;
}

#define UA_LARGE_TRIES	16

/*
 * A 2M block of the page allocator whose direct map is one large page,
 * after a collapse where needed.  Some 2M cannot be one (mapped 4K since
 * boot, more than one memory type): those are held until another block is
 * found, so that the page allocator does not hand them out again.
 */
static struct page *ua_alloc_large_mapped_block(struct kunit *test)
{
	struct page *tried[UA_LARGE_TRIES], *found = NULL;
	int i, n = 0;

	while (n < UA_LARGE_TRIES && !found) {
		tried[n] = alloc_pages(GFP_KERNEL, PMD_ORDER);
		if (!tried[n])
			break;
		collapse_direct_map(tried[n], PTRS_PER_PMD);
		if (ua_direct_map_level(tried[n]) >= PG_LEVEL_2M)
			found = tried[n];
		n++;
	}
	for (i = 0; i < n; i++)
		if (tried[i] != found)
			__free_pages(tried[i], PMD_ORDER);
	return found;
}

/*
 * A block smaller than 2M splits the large page around it when it leaves
 * the direct map.  When its setup fails after that, the block is mapped
 * back and freed, and the split is mended as after a release.  The checks
 * of fail_unmapped_alloc for a 4K allocation from a drained pool: 1 the 2M
 * block, 2 the 1M one, 3 the direct map change, 4 the block lookup.
 * (Split counters are not kept before the system runs: the test reads the
 * page tables.)
 */
static void ua_failed_setup_mends_split(struct kunit *test)
{
	struct unmapped_pool *pool = ua_drained_local_pool(test);
	struct page *page, *kept;
	struct ua_counts c;
	unsigned long i;

	if (!IS_ENABLED(CONFIG_FAULT_INJECTION))
		kunit_skip(test, "CONFIG_FAULT_INJECTION is off");

	/*
	 * Put a 1M block at the head of the page allocator's free list: the
	 * upper half of a 2M block mapped large, the lower half kept, so that
	 * the pool's 1M block is that one.
	 */
	kept = ua_alloc_large_mapped_block(test);
	if (!kept)
		kunit_skip(test, "none of %d 2M blocks could be mapped by a large page",
			   UA_LARGE_TRIES);
	split_page(kept, PMD_ORDER);
	for (i = PTRS_PER_PMD / 2; i < PTRS_PER_PMD; i++)
		__free_page(kept + i);
	drain_all_pages(page_zone(kept));

	ua_fail_every(1, 3, 2);
	page = unmapped_pages_alloc(GFP_KERNEL, 0);
	ua_fail_none();
	for (i = 0; i < PTRS_PER_PMD / 2; i++)
		__free_page(kept + i);
	KUNIT_EXPECT_NULL_MSG(test, page, "the block lookup failed");
	if (page) {
		unmapped_pages_free(page, 0);
		unmapped_alloc_drain();
		return;
	}
	unmapped_alloc_drain();
	ua_read_counts(pool, &c);
	KUNIT_EXPECT_EQ(test, c.blocks, 0);
	KUNIT_EXPECT_TRUE(test, xa_empty(&blocks_by_pfn));
	KUNIT_EXPECT_GE_MSG(test, ua_direct_map_level(kept), PG_LEVEL_2M,
			    "pfn %#lx: the 2M around the failed 1M block is still split after the drain",
			    page_to_pfn(kept));
}

/*
 * A block taken for a __GFP_ZERO allocation is zeroed by the page
 * allocator before it leaves the direct map: no window, no TLB flush.
 * Pages a previous user had are zeroed through the window.
 */
static void ua_fresh_block_zeroed_without_window(struct kunit *test)
{
	struct unmapped_pool *pool = ua_drained_local_pool(test);
	unsigned long maps;
	struct page *page;
	void *map;

	maps = pool_sum(pool, window_maps);
	page = unmapped_pages_alloc(GFP_KERNEL | __GFP_ZERO, PMD_ORDER);
	KUNIT_ASSERT_NOT_NULL(test, page);
	KUNIT_EXPECT_EQ(test, pool_sum(pool, window_maps), maps);
	map = vmap(&page, 1, VM_MAP, PAGE_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, map);
	KUNIT_EXPECT_PTR_EQ(test, memchr_inv(map, 0, PAGE_SIZE), NULL);
	memset(map, 0x77, PAGE_SIZE);
	vunmap(map);
	unmapped_pages_free(page, PMD_ORDER);

	page = unmapped_pages_alloc(GFP_KERNEL | __GFP_ZERO, PMD_ORDER);
	KUNIT_ASSERT_NOT_NULL(test, page);
	KUNIT_EXPECT_EQ(test, pool_sum(pool, window_maps), maps + 1);
	map = vmap(&page, 1, VM_MAP, PAGE_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, map);
	KUNIT_EXPECT_PTR_EQ(test, memchr_inv(map, 0, PAGE_SIZE), NULL);
	vunmap(map);
	unmapped_pages_free(page, PMD_ORDER);
	unmapped_alloc_drain();
}

static void ua_enable_collapse_work(void *pool)
{
	enable_work(&((struct unmapped_pool *)pool)->collapse_work);
}

/*
 * The shrinker releases a block and leaves its collapse to the worker.
 * Before the worker runs, the same 2M is unmapped in place again, as when
 * the pool takes it back from the page allocator: a non-present 2M entry,
 * which the worker must leave alone.  The block is released as
 * release_blocks() does it but kept from the page allocator, so the test
 * does not depend on getting the same block back from there, and the
 * worker is held off with disable_work_sync() until the entry is absent.
 */
static void ua_deferred_collapse_after_reuse(struct kunit *test)
{
	struct unmapped_pool *pool = ua_drained_local_pool(test);
	struct page *page = NULL, *held[UA_TRIES];
	struct unmapped_block *block;
	int tries, nheld = 0;
	LIST_HEAD(blocks);
	bool present;

	if (cc_platform_has(CC_ATTR_HOST_SEV_SNP))
		kunit_skip(test, "SEV-SNP hosts collapse nothing");

	/* A block unmapped in place; others stay used, so only it is released. */
	for (tries = 0; tries < UA_TRIES && !page; tries++) {
		page = unmapped_pages_alloc(GFP_KERNEL, PMD_ORDER);
		KUNIT_ASSERT_NOT_NULL(test, page);
		if (ua_dm_level(page, &present) != PG_LEVEL_2M) {
			held[nheld++] = page;
			page = NULL;
		}
	}
	if (!page)
		ua_free_held(held, nheld);
	KUNIT_ASSERT_NOT_NULL_MSG(test, page, "no 2M block mapped by a 2M entry in %d tries",
				  UA_TRIES);

	disable_work_sync(&pool->collapse_work);
	/* However the case ends, the worker runs again. */
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, ua_enable_collapse_work,
							pool), 0);
	unmapped_pages_free(page, PMD_ORDER);
	KUNIT_ASSERT_EQ(test, take_free_blocks(pool, &blocks, ULONG_MAX), BLOCK_PAGES);
	block = list_first_entry(&blocks, struct unmapped_block, list);
	KUNIT_ASSERT_PTR_EQ(test, chunk_page(block, 0), page);

	/* release_blocks() up to the page allocator: mapped back, queued. */
	KUNIT_ASSERT_EQ(test, restore_block(block), 0);
	count_vm_event(UNMAPPED_BLOCK_RESTORE);
	spin_lock_irq(&pool->lock);
	pool->blocks_restored++;
	pool->blocks_releasing--;
	list_move(&block->list, &pool->to_collapse);
	spin_unlock_irq(&pool->lock);

	/* Taken again and unmapped in place, as refill_and_take() does. */
	KUNIT_ASSERT_EQ(test, set_direct_map_valid_noflush(page, BLOCK_PAGES, false), 0);
	flush_tlb_kernel_range((unsigned long)page_address(page),
			       (unsigned long)page_address(page) + PMD_SIZE);
	KUNIT_EXPECT_EQ(test, ua_dm_level(page, &present), PG_LEVEL_2M);
	KUNIT_EXPECT_FALSE(test, present);

	kunit_release_action(test, ua_enable_collapse_work, pool);
	queue_work(system_unbound_wq, &pool->collapse_work);
	flush_work(&pool->collapse_work);
	KUNIT_EXPECT_EQ(test, ua_dm_level(page, &present), PG_LEVEL_2M);
	KUNIT_EXPECT_FALSE(test, present);

	/* What release_blocks() would have done with it. */
	KUNIT_ASSERT_EQ(test, map_back(page, PMD_ORDER), 0);
	collapse_direct_map(page, BLOCK_PAGES);
	KUNIT_EXPECT_TRUE(test, kernel_page_present(page));
	set_page_count(page, 1);
	__free_pages(page, PMD_ORDER);
	ua_free_held(held, nheld);
	unmapped_alloc_drain();
}

/*
 * A 4K chunk a previous user wrote is cleared at this CPU's slot when it
 * is handed out again with __GFP_ZERO: no window, so no TLB shootdown.
 */
static void ua_reused_page_cleared_at_slot(struct kunit *test)
{
	struct unmapped_pool *pool = ua_drained_local_pool(test);
	unsigned long maps, clears;
	struct page *page, *again;

	page = unmapped_pages_alloc(GFP_KERNEL, 0);
	KUNIT_ASSERT_NOT_NULL(test, page);
	ua_fill(test, page, 0, 0x5a);
	unmapped_pages_free(page, 0);
	maps = pool_sum(pool, window_maps);
	clears = pool_sum(pool, slot_clears);

	/* The block is one free chunk again: its first page comes back. */
	again = unmapped_pages_alloc(GFP_KERNEL | __GFP_ZERO, 0);
	KUNIT_ASSERT_PTR_EQ(test, again, page);
	KUNIT_EXPECT_EQ(test, pool_sum(pool, slot_clears), clears + 1);
	KUNIT_EXPECT_EQ(test, pool_sum(pool, window_maps), maps);
	KUNIT_EXPECT_TRUE(test, ua_chunk_zero(test, again, 0));
	unmapped_pages_free(again, 0);
	unmapped_alloc_drain();
}

static void ua_unpin(void *unused)
{
	set_cpus_allowed_ptr(current, cpu_possible_mask);
}

/* Keep the test on the CPU it runs on, and so on one CPU's caches. */
static int ua_pin(struct kunit *test)
{
	int cpu = raw_smp_processor_id();

	KUNIT_ASSERT_EQ(test, set_cpus_allowed_ptr(current, cpumask_of(cpu)), 0);
	KUNIT_ASSERT_EQ(test, kunit_add_action(test, ua_unpin, NULL), 0);
	return cpu;
}

/* A 4K pair in steady state: served by this CPU's cache, no pool->lock. */
static void ua_cache_serves_without_pool_lock(struct kunit *test)
{
	unsigned long takes, hits;
	struct unmapped_pool *pool;
	struct pool_cpu *pc;
	struct page *page;
	int cpu, i;

	ua_drained_local_pool(test);
	cpu = ua_pin(test);
	page = unmapped_pages_alloc(GFP_KERNEL, 0);
	KUNIT_ASSERT_NOT_NULL(test, page);
	pool = pool_of(page_to_nid(page));
	pc = per_cpu_ptr(pool->cpu, cpu);
	unmapped_pages_free(page, 0);
	takes = pc->lock_takes;
	hits = pc->cache_hits;
	for (i = 0; i < 1000; i++) {
		page = unmapped_pages_alloc(GFP_KERNEL, 0);
		KUNIT_ASSERT_NOT_NULL(test, page);
		KUNIT_ASSERT_EQ(test, page_to_nid(page), pool->nid);
		unmapped_pages_free(page, 0);
	}
	KUNIT_EXPECT_EQ(test, pc->lock_takes, takes);
	KUNIT_EXPECT_EQ(test, pc->cache_hits, hits + 1000);
	unmapped_alloc_drain();
}

/*
 * A cached chunk counts as free, keeps its block until the cache is
 * emptied, and goes back to the block when its CPU is dead.
 */
static void ua_cache_emptied_when_cpu_dies(struct kunit *test)
{
	struct unmapped_pool *pool;
	unsigned long block_pages;
	struct page *page;
	struct ua_counts c;
	LIST_HEAD(blocks);
	int cpu;

	ua_drained_local_pool(test);
	cpu = ua_pin(test);
	page = unmapped_pages_alloc(GFP_KERNEL, 0);
	KUNIT_ASSERT_NOT_NULL(test, page);
	pool = pool_of(page_to_nid(page));
	block_pages = 1UL << find_block(page_to_pfn(page))->order;
	unmapped_pages_free(page, 0);
	KUNIT_EXPECT_EQ(test, per_cpu_ptr(pool->cpu, cpu)->count, 1);
	ua_read_counts(pool, &c);
	KUNIT_EXPECT_EQ(test, c.used, 0);
	KUNIT_EXPECT_EQ(test, c.free, block_pages);
	KUNIT_EXPECT_EQ(test, take_free_blocks(pool, &blocks, ULONG_MAX), 0);

	/* What CPU hotplug calls once @cpu is dead. */
	pool_cpu_dead(cpu);
	KUNIT_EXPECT_EQ(test, per_cpu_ptr(pool->cpu, cpu)->count, 0);
	KUNIT_EXPECT_EQ(test, take_free_blocks(pool, &blocks, ULONG_MAX), block_pages);
	release_blocks(pool, &blocks, true);
	ua_read_counts(pool, &c);
	KUNIT_EXPECT_EQ(test, c.blocks, 0);
	KUNIT_EXPECT_TRUE(test, kernel_page_present(page));
}

/* A chunk poisoned while it is cached is held, never handed out. */
static void ua_poisoned_cached_page_not_handed_out(struct kunit *test)
{
	struct page *first, *second, *again;
	struct unmapped_pool *pool;
	struct ua_counts c;

	ua_poison_test_pool(test);
	ua_pin(test);
	first = unmapped_pages_alloc(GFP_KERNEL, 0);
	KUNIT_ASSERT_NOT_NULL(test, first);
	second = unmapped_pages_alloc(GFP_KERNEL, 0);
	KUNIT_ASSERT_NOT_NULL(test, second);
	pool = pool_of(page_to_nid(first));
	unmapped_pages_free(first, 0);
	unmapped_pages_free(second, 0);
	ua_poison(test, second);
	again = unmapped_pages_alloc(GFP_KERNEL, 0);
	KUNIT_ASSERT_NOT_NULL(test, again);
	/* The cache is last in, first out: the poisoned one was on top. */
	KUNIT_EXPECT_PTR_EQ(test, again, first);
	ua_read_counts(pool, &c);
	KUNIT_EXPECT_EQ(test, c.poisoned, 1);
	unmapped_pages_free(again, 0);
	ua_expect_unpoison_releases(test, pool, second);
}

static struct kunit_case unmapped_alloc_cases[] = {
	KUNIT_CASE(ua_alloc_free_every_order),
	KUNIT_CASE(ua_zero_hides_previous_data),
	KUNIT_CASE(ua_no_zero_leaves_contents),
	KUNIT_CASE(ua_block_unmapped_in_place),
	KUNIT_CASE(ua_fallback_block),
	KUNIT_CASE(ua_node_selection),
	KUNIT_CASE(ua_release_leaves_used_pages),
	KUNIT_CASE(ua_deferred_collapse_after_reuse),
	KUNIT_CASE(ua_hibernation_drains_or_refuses),
	KUNIT_CASE(ua_restore_drains_never_refuses),
	KUNIT_CASE(ua_poisoned_free_page_not_handed_out),
	KUNIT_CASE(ua_poisoned_subpage_of_freed_folio),
	KUNIT_CASE(ua_poisoned_page_freed_in_use),
	KUNIT_CASE(ua_kept_block_released_after_unpoison),
	KUNIT_CASE(ua_generic_free_returns_to_pool),
	KUNIT_CASE(ua_release_scrubs),
	KUNIT_CASE(ua_folio_scrub_clears),
	KUNIT_CASE(ua_init_on_free_scrubs),
	KUNIT_CASE(ua_compound_pages),
	KUNIT_CASE(ua_account_charges_memcg),
	KUNIT_CASE(ua_alloc_failures),
	KUNIT_CASE(ua_failed_setup_mends_split),
	KUNIT_CASE(ua_fresh_block_zeroed_without_window),
	KUNIT_CASE(ua_reused_page_cleared_at_slot),
	KUNIT_CASE(ua_map_local),
	KUNIT_CASE(ua_cache_serves_without_pool_lock),
	KUNIT_CASE(ua_cache_emptied_when_cpu_dies),
	KUNIT_CASE(ua_poisoned_cached_page_not_handed_out),
	{}
};

/*
 * The cases speak of the local node and its pool: run each on the CPUs of
 * the first node that has both CPUs and memory, so the local node has a
 * pool and stays the same while the case runs.
 */
static int ua_stay_on_node(struct kunit *test)
{
	int nid;

	for_each_node_state(nid, N_MEMORY)
		if (!cpumask_empty(cpumask_of_node(nid)))
			return set_cpus_allowed_ptr(current, cpumask_of_node(nid));
	kunit_skip(test, "no node has both CPUs and memory");
	return 0;
}

static struct kunit_suite unmapped_alloc_suite = {
	.name = "unmapped_alloc",
	.init = ua_stay_on_node,
	.test_cases = unmapped_alloc_cases,
};
kunit_test_suite(unmapped_alloc_suite);
