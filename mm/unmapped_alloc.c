// SPDX-License-Identifier: GPL-2.0
/*
 * A pool of pages absent from the kernel's direct map.
 *
 * Pages come from the page allocator in blocks, PMD-sized where possible.
 * A block leaves the direct map with one change and one TLB flush; a
 * PMD-sized block clears its 2M entry in place, so the direct map is not
 * split into 4K pages for it.  Inside the blocks a buddy system hands out
 * 2^order pages.  A block that is entirely free again can be released: it
 * is mapped again, the direct map around it is collapsed to large pages
 * where possible, and it goes back to the page allocator.  The shrinker
 * and the debugfs "drain" file release blocks; nothing else does.
 *
 * Every page of a block carries PG_unmapped_pool while the pool holds the
 * block, so that a page freed by any path (folio_put() of a page cache
 * folio, __free_pages()) comes back here from free_pages_prepare() rather
 * than reaching the page allocator's lists.  A block is scrubbed when it
 * is released: no data of the pool's users reaches the page allocator.
 *
 * There is one pool per possible node, made at boot from boot memory so
 * that nothing of the pool's own pins memory hot-added later, and a pool
 * only holds memory of its node.  The node an allocation starts from is
 * the caller's, or the one the task's memory policy and cpuset name; when
 * that node has nothing at hand, free chunks of the other allowed nodes'
 * pools come before fresh memory from them (see unmapped_pages_alloc_node()).
 *
 * Free 4K chunks are cached per CPU, as the page allocator caches pages:
 * most 4K allocations and frees take no lock shared between CPUs.  A
 * cached chunk counts as free for the pool's users and as used for its
 * block, which therefore stays until the caches are drained: by a drain,
 * the shrinker, memory going offline, and when its CPU goes away.
 *
 * Locking: pool->lock protects the free lists, the block list, the state
 * of every free block and chunk in the pool and the pool's block
 * counters.  It is a spinlock always taken with interrupts off (a split
 * takes it under the page cache's irq-safe xa_lock, and frees may come
 * from any context), never held while the direct map changes or memory
 * is allocated, zeroed or freed.  The state of a used chunk changes only
 * by its holder, who frees or splits it.  A CPU's cache has its own lock
 * (struct pool_cpu).  pool->window_lock serialises users of the pool's
 * window, a short-lived mapping for zeroing chunks larger than a page.
 * blocks_by_pfn has its own lock; a block is added to it before it joins
 * its pool and removed under pool->lock when it leaves, so a block found
 * there under pool->lock, or holding a used chunk, is alive.
 *
 * Lock order, outer first; every spinlock here is taken with interrupts
 * off, so none is irq-unsafe for lockdep:
 *   pool_cpu->lock -> pool->lock -> blocks_by_pfn
 *   mapping->i_pages (a folio split) -> pool->lock
 *   pool->window_lock -> the vmalloc and page table locks of the window
 * The locks of collapse_direct_map() (memory hotplug, init_mm's mmap
 * lock, cpa_lock, pgd_lock) are never taken under any of these.
 */
#include <linux/cacheflush.h>
#include <linux/cc_platform.h>
#include <linux/cpuhotplug.h>
#include <linux/cpuset.h>
#include <linux/debugfs.h>
#include <linux/fault-inject.h>
#include <linux/highmem.h>
#include <linux/list.h>
#include <linux/memcontrol.h>
#include <linux/memory.h>
#include <linux/mempolicy.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/nodemask.h>
#include <linux/page-isolation.h>
#include <linux/seq_file.h>
#include <linux/suspend.h>
#include <linux/set_memory.h>
#include <linux/shrinker.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/unmapped_alloc.h>
#include <linux/vmalloc.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>
#include <asm/tlbflush.h>

#include "internal.h"

#define BLOCK_PAGES	(1UL << PMD_ORDER)

/*
 * Block state at the first page of each chunk; 0 elsewhere.  A poisoned
 * page the pool took out of its free lists is a chunk of its own, held by
 * the pool until the poison is cleared.
 */
#define CHUNK_FREE	0x40
#define CHUNK_USED	0x80
#define CHUNK_POISONED	0x20
#define CHUNK_ORDER	0x1f

/* A CPU's cache refills and spills this many chunks under pool->lock. */
#define CACHE_BATCH	64
#define CACHE_HIGH	(3 * CACHE_BATCH)
/* page->private of a cached chunk: it holds zeros. */
#define CACHED_ZEROED	1UL

struct unmapped_block {
	struct list_head list;		/* pool->blocks, or a release list */
	struct rcu_head rcu;		/* find_block() reads blocks under RCU */
	unsigned long pfn;		/* first page, aligned to its order */
	unsigned int order;		/* PMD_ORDER unless allocation fell back */
	unsigned long nr_free;		/* free pages */
	unsigned long nr_poisoned;	/* CHUNK_POISONED pages */
	u8 state[BLOCK_PAGES];		/* CHUNK_FREE or CHUNK_USED | order */
	/* Free pages known to hold zeros: never handed out since zeroed. */
	DECLARE_BITMAP(zeroed, BLOCK_PAGES);
};

/*
 * A CPU's part of a pool: its cache of free 4K chunks and the counters
 * that move on every allocation, summed when read (pool_sum()).  lock
 * protects chunks and count; the CPU's tasks take it (lock_cache()), and
 * so do drains from any CPU, always with interrupts off.  The counters
 * change only by this_cpu operations.
 */
struct pool_cpu {
	spinlock_t lock;
	struct list_head chunks;	/* page->lru; page->private: CACHED_ZEROED */
	unsigned int count;
	long pages_free;		/* free or cached, for the pool's users */
	long pages_used;		/* handed out */
	unsigned long cache_hits;	/* 4K allocations served by the cache */
	unsigned long cache_misses;	/* those that refilled it first */
	unsigned long lock_takes;	/* pool->lock acquisitions */
	unsigned long pages_zeroed;	/* handed out with __GFP_ZERO */
	unsigned long pages_unzeroed;	/* handed out as the last user left them */
	unsigned long window_maps;	/* uses of the window: a TLB flush each */
	unsigned long slot_clears;	/* reused 4K chunks cleared at a CPU's slot */
};

#define pool_sum(pool, field) ({					\
	long __sum = 0;							\
	int __cpu;							\
									\
	for_each_possible_cpu(__cpu)					\
		__sum += per_cpu_ptr((pool)->cpu, __cpu)->field;	\
	__sum;								\
})

struct unmapped_pool {
	int nid;
	struct pool_cpu __percpu *cpu;
	/* Irq-safe; everything below up to window_lock, and block state. */
	spinlock_t lock;
	/* Free chunk heads, linked by page->lru; page->private is the block. */
	struct list_head free_list[PMD_ORDER + 1];
	unsigned long nr_free_chunks[PMD_ORDER + 1];
	struct list_head blocks;
	unsigned long nr_blocks;
	unsigned long blocks_unmapped;
	unsigned long blocks_restored;
	unsigned long fallbacks;
	/*
	 * Blocks poisoned or not restorable at release: freed by a drain
	 * once they are neither (take_kept_blocks()).
	 */
	struct list_head kept;
	unsigned long blocks_kept;
	/* Unlinked, and neither freed nor kept yet: release_blocks() runs. */
	unsigned long blocks_releasing;
	unsigned long pages_shrunk;	/* released by the shrinker */
	unsigned long pages_poisoned;	/* neither free nor used: never handed out */

	/*
	 * Released blocks whose direct map is collapsed later, by
	 * collapse_work; under lock.
	 */
	struct list_head to_collapse;
	struct work_struct collapse_work;

	/* Serialises the users of window and window_pages. */
	struct mutex window_lock;
	struct vm_struct *window;	/* BLOCK_PAGES pages of address space */
	struct page **window_pages;
};

/* Set at boot, before any user can see them; NULL where setup failed. */
static struct unmapped_pool *pools[MAX_NUMNODES] __ro_after_init;
static bool pools_enabled __ro_after_init;
/*
 * Set while a hibernation image may be made: no block joins a pool and no
 * chunk a CPU's cache.  Written by the PM notifier; read under pool->lock
 * where a block joins and under a cache's lock where a chunk is cached.
 */
static bool pools_frozen;
/* Its lock nests in pool->lock, which is irq-safe: so is this one. */
static DEFINE_XARRAY_FLAGS(blocks_by_pfn, XA_FLAGS_LOCK_IRQ);

static struct unmapped_pool *pool_of(int nid)
{
	return pools[nid];
}

static unsigned long unlink_block(struct unmapped_pool *pool,
				  struct unmapped_block *block,
				  struct list_head *out);
static void release_blocks(struct unmapped_pool *pool, struct list_head *blocks,
			   bool collapse);

/*
 * Fault injection for the steps that can fail when the pool takes a block
 * or zeroes a chunk: each step checks it once.
 */
static DECLARE_FAULT_ATTR(fail_unmapped_alloc);

static struct page *chunk_page(struct unmapped_block *block, unsigned long off)
{
	return pfn_to_page(block->pfn + off);
}

/* The pool's counters and its node's vmstat gauges move together. */
static void pool_account(struct unmapped_pool *pool, long free, long used)
{
	this_cpu_add(pool->cpu->pages_free, free);
	this_cpu_add(pool->cpu->pages_used, used);
	mod_node_page_state(NODE_DATA(pool->nid), NR_UNMAPPED_FREE, free);
	mod_node_page_state(NODE_DATA(pool->nid), NR_UNMAPPED_USED, used);
}

/* pool->lock, counted: what the CPUs' caches save is counted there. */
static void lock_pool(struct unmapped_pool *pool)
{
	spin_lock_irq(&pool->lock);
	this_cpu_inc(pool->cpu->lock_takes);
}

static void unlock_pool(struct unmapped_pool *pool)
{
	spin_unlock_irq(&pool->lock);
}

static unsigned long lock_pool_irqsave(struct unmapped_pool *pool)
{
	unsigned long flags;

	spin_lock_irqsave(&pool->lock, flags);
	this_cpu_inc(pool->cpu->lock_takes);
	return flags;
}

static void unlock_pool_irqrestore(struct unmapped_pool *pool, unsigned long flags)
{
	spin_unlock_irqrestore(&pool->lock, flags);
}

static void add_free_chunk(struct unmapped_pool *pool,
			   struct unmapped_block *block, unsigned long off,
			   unsigned int order)
{
	struct page *page = chunk_page(block, off);

	block->state[off] = CHUNK_FREE | order;
	set_page_private(page, (unsigned long)block);
	list_add(&page->lru, &pool->free_list[order]);
	pool->nr_free_chunks[order]++;
}

static void del_free_chunk(struct unmapped_pool *pool,
			   struct unmapped_block *block, unsigned long off,
			   unsigned int order)
{
	struct page *page = chunk_page(block, off);

	list_del(&page->lru);
	set_page_private(page, 0);
	block->state[off] = 0;
	pool->nr_free_chunks[order]--;
}

static bool range_hwpoisoned(struct unmapped_block *block, unsigned long off,
			     unsigned int order)
{
	unsigned long i;

	for (i = 0; i < (1UL << order); i++)
		if (PageHWPoison(chunk_page(block, off + i)))
			return true;
	return false;
}

/*
 * Poison in a chunk given back or about to be released: memory_failure()
 * counts a page in num_poisoned_pages after it set the flag, and until
 * some page is poisoned this check costs nothing.  What it misses in
 * between, take_chunk() finds: it always checks the pages it hands out.
 */
static bool chunk_hwpoisoned(struct unmapped_block *block, unsigned long off,
			     unsigned int order)
{
#ifdef CONFIG_MEMORY_FAILURE
	if (unlikely(atomic_long_read(&num_poisoned_pages)))
		return range_hwpoisoned(block, off, order);
#endif
	return false;
}

/*
 * [@off, @off + 2^@order) of @block is free but on no free list: put its
 * healthy parts on the free lists and hold its poisoned pages.
 * memory_failure() leaves a page that nobody holds to the allocator that
 * has it (it only sets the flag), so this is where they leave use.  The
 * parts cannot merge: each has a buddy holding poison.
 */
static void hold_poisoned(struct unmapped_pool *pool, struct unmapped_block *block,
			  unsigned long off, unsigned int order)
{
	lockdep_assert_held(&pool->lock);
	if (!range_hwpoisoned(block, off, order)) {
		add_free_chunk(pool, block, off, order);
	} else if (order) {
		hold_poisoned(pool, block, off, order - 1);
		hold_poisoned(pool, block, off + (1UL << (order - 1)), order - 1);
	} else {
		block->state[off] = CHUNK_POISONED;
		clear_bit(off, block->zeroed);
		block->nr_free--;
		block->nr_poisoned++;
		pool->pages_poisoned++;
		pool_account(pool, -1, 0);
	}
}

/* Count a chunk handed out: where it was cleared, and whether. */
static void count_handed_out(struct unmapped_pool *pool, unsigned int order,
			     gfp_t gfp, bool cleared)
{
	if (gfp & __GFP_ZERO)
		this_cpu_add(pool->cpu->pages_zeroed, 1UL << order);
	else
		this_cpu_add(pool->cpu->pages_unzeroed, 1UL << order);
	if (cleared && !order)
		this_cpu_inc(pool->cpu->slot_clears);
}

/*
 * The smallest free chunk of at least @order, split down to @order, whose
 * pages carry no poison, and in *@zeroed whether all of them hold zeros.
 * For its block it is used from now on.
 */
static struct page *take_chunk(struct unmapped_pool *pool, unsigned int order,
			       bool *zeroed)
{
	struct unmapped_block *block;
	unsigned long off;
	struct page *page;
	unsigned int o;

	lockdep_assert_held(&pool->lock);
again:
	for (o = order; o <= PMD_ORDER; o++) {
		page = list_first_entry_or_null(&pool->free_list[o], struct page, lru);
		if (page)
			break;
	}
	if (!page)
		return NULL;

	block = (struct unmapped_block *)page_private(page);
	off = page_to_pfn(page) - block->pfn;
	del_free_chunk(pool, block, off, o);
	if (unlikely(range_hwpoisoned(block, off, order))) {
		hold_poisoned(pool, block, off, o);
		goto again;
	}
	while (o > order) {
		o--;
		add_free_chunk(pool, block, off + (1UL << o), o);
	}
	block->state[off] = CHUNK_USED | order;
	*zeroed = find_next_zero_bit(block->zeroed, off + (1UL << order), off) ==
		  off + (1UL << order);
	bitmap_clear(block->zeroed, off, 1UL << order);
	block->nr_free -= 1UL << order;
	return page;
}

/* Free a chunk that is on no list, merging it with free buddies. */
static void merge_free_chunk(struct unmapped_pool *pool,
			     struct unmapped_block *block, unsigned long off,
			     unsigned int order)
{
	lockdep_assert_held(&pool->lock);
	block->state[off] = 0;
	while (order < block->order) {
		unsigned long buddy = off ^ (1UL << order);

		if (block->state[buddy] != (CHUNK_FREE | order))
			break;
		del_free_chunk(pool, block, buddy, order);
		off = min(off, buddy);
		order++;
	}
	add_free_chunk(pool, block, off, order);
}

/*
 * Give a used chunk back.  A page poisoned while it was in use stays out
 * of the free lists with the pool: the page allocator isolates only
 * order-0 pages, and before this.
 */
static void put_chunk(struct unmapped_pool *pool, struct unmapped_block *block,
		      unsigned long off, unsigned int order)
{
	lockdep_assert_held(&pool->lock);
	block->nr_free += 1UL << order;
	if (unlikely(chunk_hwpoisoned(block, off, order))) {
		block->state[off] = 0;
		hold_poisoned(pool, block, off, order);
		return;
	}
	merge_free_chunk(pool, block, off, order);
}

/* Free again the held pages of @block whose poison was cleared. */
static void release_unpoisoned(struct unmapped_pool *pool,
			       struct unmapped_block *block)
{
	unsigned long off;

	lockdep_assert_held(&pool->lock);
	for (off = 0; block->nr_poisoned && off < (1UL << block->order); off++) {
		if (block->state[off] != CHUNK_POISONED ||
		    PageHWPoison(chunk_page(block, off)))
			continue;
		block->nr_poisoned--;
		pool->pages_poisoned--;
		block->nr_free++;
		pool_account(pool, 1, 0);
		merge_free_chunk(pool, block, off, 0);
	}
}

/*
 * The block holding @pfn.  The blocks tried at other alignments may be
 * leaving their pool meanwhile: they are freed after an RCU grace period.
 * The block found stays while the caller holds pool->lock or a used
 * chunk of it.
 */
static struct unmapped_block *find_block(unsigned long pfn)
{
	struct unmapped_block *block = NULL;
	int order;

	rcu_read_lock();
	for (order = PMD_ORDER; order >= 0; order--) {
		block = xa_load(&blocks_by_pfn, ALIGN_DOWN(pfn, 1UL << order));
		if (block && READ_ONCE(block->order) == order)
			break;
		block = NULL;
	}
	rcu_read_unlock();
	return block;
}

/*
 * The page allocator flags for a block: unmovable, never zeroed or
 * charged there, with the caller's reclaim, cpuset and node choices.
 */
static gfp_t block_gfp(gfp_t gfp)
{
	return gfp & (GFP_RECLAIM_MASK | __GFP_HARDWALL | __GFP_THISNODE) & ~__GFP_NOFAIL;
}

static int map_back(struct page *page, unsigned int order)
{
	return set_direct_map_valid_noflush(page, 1U << order, true);
}

/*
 * A block tried only in passing is taken only if it is free now, on @nid
 * only: no reclaim or compaction for it and no reserves, as THP faults
 * by default (GFP_TRANSHUGE_LIGHT).
 */
static gfp_t light(gfp_t gfp)
{
	return (gfp & ~__GFP_RECLAIM) | __GFP_THISNODE | __GFP_NORETRY | __GFP_NOWARN |
	       __GFP_NOMEMALLOC;
}

/*
 * Where an allocation starts and which nodes it may use.  @nid is the
 * caller's, or NUMA_NO_NODE: then the task's memory policy names the
 * node (interleaving advances once per allocation) and, for MPOL_BIND,
 * the nodes.  A node the task's cpuset forbids gives way to the first
 * allowed one in its fallback order, as the page allocator would.
 */
struct alloc_target {
	int nid;
	nodemask_t *nodes;
	/* Fault injection decides once for blocks of the order asked for. */
	bool fail_checked, fail;
};

static bool order_fails(struct alloc_target *t, unsigned int order)
{
	if (!t->fail_checked) {
		t->fail = should_fail(&fail_unmapped_alloc, PAGE_SIZE << order);
		t->fail_checked = true;
	}
	return t->fail;
}

static inline bool cpuset_allows(int nid, gfp_t gfp)
{
#ifdef CONFIG_CPUSETS
	return !cpusets_enabled() || cpuset_node_allowed(nid, gfp);
#else
	return true;
#endif
}

static struct alloc_target alloc_target(int nid, gfp_t gfp)
{
	struct alloc_target t = { .nid = nid };
#ifdef CONFIG_NUMA
	struct mempolicy *pol = in_task() ? current->mempolicy : NULL;
	struct zoneref *z;
	struct zone *zone;

	if (nid == NUMA_NO_NODE) {
		t.nid = mempolicy_slab_node();
		/*
		 * As policy_nodemask(): a bind to movable memory only, or to
		 * nodes the cpuset has none of, is ignored.
		 */
		if (pol && pol->mode == MPOL_BIND &&
		    nodes_intersects(pol->nodes, node_states[N_NORMAL_MEMORY]) &&
		    cpuset_nodemask_valid_mems_allowed(&pol->nodes))
			t.nodes = &pol->nodes;
	}
	if (cpuset_allows(t.nid, gfp))
		return t;
	for_each_zone_zonelist_nodemask(zone, z, node_zonelist(t.nid, gfp),
					gfp_zone(gfp), t.nodes) {
		if (cpuset_allows(zone_to_nid(zone), gfp)) {
			t.nid = zone_to_nid(zone);
			break;
		}
	}
#else
	t.nid = numa_mem_id();
#endif
	return t;
}

/*
 * Whether @nid has a free block of @order above its low watermark: where
 * the page allocator's fast path would take it.  Its slow path would go
 * down to the min watermark even without reclaim, eating the reserves of
 * a node that a small allocation would already have fallen back from.
 */
static bool node_has_block_at_hand(int nid, unsigned int order)
{
	pg_data_t *pgdat = NODE_DATA(nid);
	int z;

	for (z = 0; z <= ZONE_NORMAL; z++) {
		struct zone *zone = &pgdat->node_zones[z];

		if (managed_zone(zone) &&
		    zone_watermark_ok(zone, order, low_wmark_pages(zone), ZONE_NORMAL, 0))
			return true;
	}
	return false;
}

/*
 * A block for a chunk of @order.  With @local: a block free now on the
 * target node, 2M down to @order, as THP faults try the local node before
 * they fall back.  Otherwise: 2M free now on any node the policy and
 * cpuset allow, then the block of @order with the caller's reclaim flags
 * and the page allocator's fallback, so running out behaves as it would
 * with the page allocator: reclaim, the OOM killer within the policy's
 * nodes, or NULL for __GFP_NORETRY and __GFP_RETRY_MAYFAIL.
 */
static struct page *alloc_block(struct alloc_target *t, gfp_t gfp,
				unsigned int order, unsigned int max_order,
				bool local, unsigned int *block_order)
{
	gfp_t bgfp = block_gfp(gfp) | (gfp & __GFP_ZERO);
	struct page *page = NULL;
	unsigned int o = max(max_order, order);

	if (local) {
		for (;; o--) {
			bool fail = o == order ? order_fails(t, order) :
				    should_fail(&fail_unmapped_alloc, PAGE_SIZE << o);

			if (!fail && node_has_block_at_hand(t->nid, o))
				page = __alloc_pages(light(bgfp), o, t->nid, NULL);
			if (page || o == order)
				break;
		}
		*block_order = o;
		return page;
	}
	if (o > order && !(gfp & __GFP_THISNODE) &&
	    !should_fail(&fail_unmapped_alloc, PAGE_SIZE << o)) {
		page = __alloc_pages(light(bgfp) & ~__GFP_THISNODE, o, t->nid, t->nodes);
		if (page) {
			*block_order = o;
			return page;
		}
	}
	*block_order = order;
	if (order_fails(t, order))
		return NULL;
	return __alloc_pages(bgfp, order, t->nid, t->nodes);
}

/*
 * Take a block from the page allocator (see alloc_block()), remove it
 * from the direct map, add it to the pool of the node it came from and
 * take a chunk of @order there.  With __GFP_ZERO the page allocator
 * zeroes the block while it is still mapped, which costs no window and no
 * TLB flush.  Returns the chunk, NULL if no block was had, or
 * ERR_PTR(-ENOMEM) if a block could not be set up (the allocation then
 * fails: no other block is tried).
 *
 * Memory going offline is isolated before pool_memory_callback() looks
 * for pool blocks in it.  A block whose pages looked free to the
 * isolation (reference count 0) but joined the pool after the callback
 * looked would hold the offlining forever: a block found isolated once it
 * is in the pool goes back to the page allocator instead.  The check is
 * under pool->lock, which the callback takes after the isolation, so if
 * the callback missed the block this check sees the isolation.  So is
 * pools_frozen: pool_pm_callback() takes every pool->lock after setting it.
 */
static struct page *refill_and_take(struct alloc_target *t, gfp_t gfp,
				    unsigned int order, unsigned int max_order,
				    bool local, bool *zeroed)
{
	struct unmapped_block *block = NULL;
	struct unmapped_pool *pool;
	unsigned long addr, i;
	struct page *page;
	unsigned int o;

	page = alloc_block(t, gfp, order, max_order, local, &o);
	if (!page)
		return NULL;
	pool = pool_of(page_to_nid(page));
	/* Not on the block's own node, which may be memory that goes away. */
	block = kzalloc_node(sizeof(*block), gfp & GFP_RECLAIM_MASK, numa_mem_id());
	if (!pool || !block)
		goto free_page;

	addr = (unsigned long)page_address(page);
	if (should_fail(&fail_unmapped_alloc, PAGE_SIZE << o) ||
	    set_direct_map_valid_noflush(page, 1U << o, false))
		goto restore;
	flush_tlb_kernel_range(addr, addr + (PAGE_SIZE << o));

	block->pfn = page_to_pfn(page);
	block->order = o;
	block->nr_free = 1UL << o;
	if (should_fail(&fail_unmapped_alloc, PAGE_SIZE << o) ||
	    xa_err(xa_store_irq(&blocks_by_pfn, block->pfn, block, gfp & GFP_RECLAIM_MASK)))
		goto restore;
	set_page_count(page, 0);
	for (i = 0; i < (1UL << o); i++)
		SetPageUnmappedPool(page + i);
	if (gfp & __GFP_ZERO)
		bitmap_fill(block->zeroed, 1UL << o);
	count_vm_event(UNMAPPED_BLOCK_UNMAP);

	lock_pool(pool);
	list_add(&block->list, &pool->blocks);
	pool->nr_blocks++;
	pool->blocks_unmapped++;
	if (o < PMD_ORDER)
		pool->fallbacks++;
	pool_account(pool, 1L << o, 0);
	add_free_chunk(pool, block, 0, o);
	if (unlikely(is_migrate_isolate_page(page) || READ_ONCE(pools_frozen))) {
		LIST_HEAD(isolated);

		unlink_block(pool, block, &isolated);
		unlock_pool(pool);
		release_blocks(pool, &isolated, false);
		return NULL;
	}
	page = take_chunk(pool, order, zeroed);
	unlock_pool(pool);
	return page;

restore:
	/* Part of the block may be unmapped already. */
	if (WARN_ONCE(map_back(page, o), "unmapped_alloc: pfn %#lx order %u stays unmapped\n",
		      page_to_pfn(page), o))
		goto free_block;
	__free_pages(page, o);
	/*
	 * Unmapping may have split the large page around the block: mend it
	 * as after a release, later (the caller may hold reclaim locks).
	 */
	if (!cc_platform_has(CC_ATTR_HOST_SEV_SNP)) {
		block->pfn = page_to_pfn(page);
		block->order = o;
		lock_pool(pool);
		list_add_tail(&block->list, &pool->to_collapse);
		unlock_pool(pool);
		queue_work(system_unbound_wq, &pool->collapse_work);
		return ERR_PTR(-ENOMEM);
	}
	goto free_block;
free_page:
	__free_pages(page, o);
free_block:
	kfree(block);
	return ERR_PTR(-ENOMEM);
}

/*
 * This CPU's cache of @pool, locked: the task cannot move to another CPU
 * until unlock_cache(), so a cache is only ever filled on its own CPU,
 * and a CPU that goes offline waits for its users to leave.  As the page
 * allocator's pcp_spin_lock(), with migration off on PREEMPT_RT, where
 * the lock sleeps, and preemption off elsewhere.
 */
static struct pool_cpu *lock_cache(struct unmapped_pool *pool, unsigned long *flags)
{
	struct pool_cpu *pc;

	if (IS_ENABLED(CONFIG_PREEMPT_RT))
		migrate_disable();
	else
		preempt_disable();
	pc = this_cpu_ptr(pool->cpu);
	spin_lock_irqsave(&pc->lock, *flags);
	return pc;
}

static void unlock_cache(struct pool_cpu *pc, unsigned long flags)
{
	spin_unlock_irqrestore(&pc->lock, flags);
	if (IS_ENABLED(CONFIG_PREEMPT_RT))
		migrate_enable();
	else
		preempt_enable();
}

/*
 * Give cached chunks back to their blocks, the oldest first, up to @nr of
 * them.  The cache's lock is held, with interrupts off but on PREEMPT_RT.
 */
static void spill_cache(struct unmapped_pool *pool, struct pool_cpu *pc,
			unsigned int nr)
{
	struct unmapped_block *block;
	struct page *page;
	unsigned long off;

	if (!nr || !pc->count)
		return;
	spin_lock(&pool->lock);		/* nested in the cache's, irq-safe */
	this_cpu_inc(pool->cpu->lock_takes);
	while (nr-- && pc->count) {
		page = list_last_entry(&pc->chunks, struct page, lru);
		list_del(&page->lru);
		pc->count--;
		/* Used for its block: the block is alive. */
		block = find_block(page_to_pfn(page));
		off = page_to_pfn(page) - block->pfn;
		if (page_private(page) & CACHED_ZEROED)
			__set_bit(off, block->zeroed);
		set_page_private(page, 0);
		put_chunk(pool, block, off, 0);
	}
	spin_unlock(&pool->lock);
}

/* Take up to CACHE_BATCH free 4K chunks into a cache whose lock is held. */
static void fill_cache(struct unmapped_pool *pool, struct pool_cpu *pc)
{
	struct page *page;
	unsigned int i;
	bool zeroed;

	spin_lock(&pool->lock);		/* nested in the cache's, irq-safe */
	this_cpu_inc(pool->cpu->lock_takes);
	for (i = 0; i < CACHE_BATCH; i++) {
		page = take_chunk(pool, 0, &zeroed);
		if (!page)
			break;
		set_page_private(page, zeroed ? CACHED_ZEROED : 0);
		list_add_tail(&page->lru, &pc->chunks);
		pc->count++;
	}
	spin_unlock(&pool->lock);
}

/*
 * A 4K chunk from this CPU's cache, refilled from the pool when empty.
 * A chunk poisoned while it was cached goes back to be held.
 */
static struct page *take_cached(struct unmapped_pool *pool, bool *zeroed)
{
	struct pool_cpu *pc;
	struct page *page;
	unsigned long flags;

	pc = lock_cache(pool, &flags);
	if (pc->count) {
		this_cpu_inc(pool->cpu->cache_hits);
	} else {
		this_cpu_inc(pool->cpu->cache_misses);
		fill_cache(pool, pc);
	}
	while ((page = list_first_entry_or_null(&pc->chunks, struct page, lru))) {
		if (likely(!PageHWPoison(page))) {
			list_del(&page->lru);
			pc->count--;
			*zeroed = page_private(page) & CACHED_ZEROED;
			set_page_private(page, 0);
			break;
		}
		list_move_tail(&page->lru, &pc->chunks);
		spill_cache(pool, pc, 1);
	}
	unlock_cache(pc, flags);
	return page;
}

/*
 * Cache a 4K chunk its user freed, unless it is poisoned or the pools are
 * frozen (pool_pm_callback() drains every cache after freezing them).
 */
static bool cache_chunk(struct unmapped_pool *pool, struct page *page,
			bool zeroed)
{
	struct pool_cpu *pc;
	unsigned long flags;
	bool cached = false;

	if (unlikely(PageHWPoison(page)))
		return false;
	pc = lock_cache(pool, &flags);
	if (likely(!READ_ONCE(pools_frozen))) {
		set_page_private(page, zeroed ? CACHED_ZEROED : 0);
		list_add(&page->lru, &pc->chunks);
		if (++pc->count > CACHE_HIGH)
			spill_cache(pool, pc, CACHE_BATCH);
		cached = true;
	}
	unlock_cache(pc, flags);
	return cached;
}

/* Give every chunk in @cpu's cache of @pool back to its block. */
static void drain_cache(struct unmapped_pool *pool, int cpu)
{
	struct pool_cpu *pc = per_cpu_ptr(pool->cpu, cpu);
	unsigned long flags;

	spin_lock_irqsave(&pc->lock, flags);
	spill_cache(pool, pc, pc->count);
	spin_unlock_irqrestore(&pc->lock, flags);
}

static void drain_caches(struct unmapped_pool *pool)
{
	int cpu;

	for_each_possible_cpu(cpu)
		drain_cache(pool, cpu);
}

/*
 * Chunks the CPUs cache keep their blocks: before a chunk larger than 4K
 * takes a fresh block (a direct map change and a TLB flush on every CPU),
 * they go back to their blocks and the pool is looked at again.
 */
static struct page *take_after_draining(struct unmapped_pool *pool,
					unsigned int order, bool *zeroed)
{
	struct page *page;

	if (!pool || !order || !pool_sum(pool, count))
		return NULL;
	drain_caches(pool);
	lock_pool(pool);
	page = take_chunk(pool, order, zeroed);
	unlock_pool(pool);
	return page;
}

static struct page *take_from_pool(struct unmapped_pool *pool, unsigned int order,
				   bool *zeroed)
{
	struct page *page;

	if (!pool)
		return NULL;
	if (!order)
		return take_cached(pool, zeroed);
	lock_pool(pool);
	page = take_chunk(pool, order, zeroed);
	unlock_pool(pool);
	return page;
}

/*
 * A free chunk of the other nodes' pools, in the target node's fallback
 * order, of the nodes the policy and cpuset allow.  Taken before fresh
 * memory of those nodes: otherwise every small allocation for a node that
 * has nothing at hand would take a new 2M block elsewhere.
 */
static struct page *take_from_other_pools(struct alloc_target *t, gfp_t gfp,
					  unsigned int order, bool *zeroed)
{
	struct page *page = NULL;
	struct zoneref *z;
	struct zone *zone;
	int nid, last = t->nid;

	for_each_zone_zonelist_nodemask(zone, z, node_zonelist(t->nid, gfp),
					gfp_zone(block_gfp(gfp)), t->nodes) {
		nid = zone_to_nid(zone);
		if (nid == last || !cpuset_allows(nid, gfp))
			continue;
		last = nid;
		page = take_from_pool(pool_of(nid), order, zeroed);
		if (page)
			break;
	}
	return page;
}

static void *window_map(struct unmapped_pool *pool, struct page *page,
			unsigned int order)
{
	unsigned long addr = (unsigned long)pool->window->addr;
	unsigned long end = addr + (PAGE_SIZE << order);
	unsigned long i;

	mutex_lock(&pool->window_lock);
	this_cpu_inc(pool->cpu->window_maps);
	for (i = 0; i < (1UL << order); i++)
		pool->window_pages[i] = page + i;
	if (vmap_pages_range_noflush(addr, end, PAGE_KERNEL, pool->window_pages,
				     PAGE_SHIFT)) {
		vunmap_range(addr, end);
		mutex_unlock(&pool->window_lock);
		return NULL;
	}
	flush_cache_vmap(addr, end);
	return (void *)addr;
}

/*
 * vunmap_range() clears the window and flushes the TLB before it returns,
 * so no mapping of the pages outlives the window's use.
 */
static void window_unmap(struct unmapped_pool *pool, unsigned int order)
{
	unsigned long addr = (unsigned long)pool->window->addr;

	vunmap_range(addr, addr + (PAGE_SIZE << order));
	mutex_unlock(&pool->window_lock);
}

/*
 * A page of address space per CPU and its PTE, to reach pool pages from
 * any context but NMI: used with interrupts off and torn down with a
 * flush of this CPU's TLB only, as kmap_local() does where it maps
 * highmem.  No other CPU ever uses the address.
 */
struct scrub_slot {
	unsigned long addr;
	pte_t *pte;
	unsigned long irq_flags;	/* of slot_map(), for slot_unmap() */
};

static DEFINE_PER_CPU(struct scrub_slot, scrub_slots);

/* Map @page at this CPU's slot; interrupts stay off until slot_unmap(). */
static void *slot_map(struct page *page)
{
	struct scrub_slot *slot;
	unsigned long flags;

	local_irq_save(flags);
	slot = this_cpu_ptr(&scrub_slots);
	/* One page at a time: a second map would lose the first's flags. */
	VM_WARN_ON_ONCE(pte_present(ptep_get(slot->pte)));
	slot->irq_flags = flags;
	set_pte(slot->pte, mk_pte(page, PAGE_KERNEL));
	return (void *)slot->addr;
}

static void slot_unmap(void)
{
	struct scrub_slot *slot = this_cpu_ptr(&scrub_slots);

	pte_clear(&init_mm, slot->addr, slot->pte);
	flush_tlb_one_kernel(slot->addr);
	local_irq_restore(slot->irq_flags);
}

/*
 * Clear @nr pages from any context but NMI, those poisoned excepted
 * (they are never read again), and set in @cleared, if given, the bit of
 * each page cleared.  For init_on_free: the pool's free pages hold no data of their
 * last users, as the page allocator's do not.
 */
static void scrub_pages(struct page *page, unsigned long nr, unsigned long *cleared)
{
	unsigned long i;

	for (i = 0; i < nr; i++) {
		if (PageHWPoison(page + i))
			continue;
		if (cleared)
			__set_bit(i, cleared);
		clear_page(slot_map(page + i));
		slot_unmap();
	}
}

/*
 * Clear a chunk a previous user had.  A 4K chunk is cleared at this CPU's
 * slot, so that 4K users (secretmem faults, refaults after a split) send
 * no TLB shootdown per page; a larger one through the window, one flush
 * for the whole chunk.
 */
static int zero_chunk(struct unmapped_pool *pool, struct page *page,
		      unsigned int order)
{
	void *addr;

	if (should_fail(&fail_unmapped_alloc, PAGE_SIZE << order))
		return -ENOMEM;
	if (!order) {
		clear_page(slot_map(page));
		slot_unmap();
		return 0;
	}
	addr = window_map(pool, page, order);
	if (!addr)
		return -ENOMEM;
	memset(addr, 0, PAGE_SIZE << order);
	window_unmap(pool, order);
	return 0;
}

static int __init scrub_slot_pte(pte_t *pte, unsigned long addr, void *data)
{
	*(pte_t **)data = pte;
	return 0;
}

static int __init scrub_slots_init(void)
{
	struct vm_struct *area;
	int cpu;

	for_each_possible_cpu(cpu) {
		struct scrub_slot *slot = per_cpu_ptr(&scrub_slots, cpu);

		area = get_vm_area(PAGE_SIZE, VM_MAP);
		if (!area)
			return -ENOMEM;
		slot->addr = (unsigned long)area->addr;
		/* Makes the page tables down to the PTE, which stays empty. */
		if (apply_to_page_range(&init_mm, slot->addr, PAGE_SIZE, scrub_slot_pte,
					&slot->pte))
			return -ENOMEM;
	}
	return 0;
}

static struct unmapped_pool *page_pool(struct page *page, unsigned int order)
{
	struct unmapped_pool *pool = order <= PMD_ORDER ? pool_of(page_to_nid(page)) : NULL;

	WARN_ONCE(!pool, "unmapped_alloc: free of pfn %#lx order %u: no pool\n",
		  page_to_pfn(page), order);
	return pool;
}

/*
 * The block in which @page heads a used chunk of @order, or NULL after a
 * warning: the page is not from the pool, or this is a double free or a
 * free with the wrong order.  Called by the chunk's holder: no lock is
 * needed, a used chunk's state changes only by its holder, and its block
 * stays while the chunk is used.
 */
static struct unmapped_block *used_chunk_block(struct page *page,
					       unsigned int order)
{
	unsigned long pfn = page_to_pfn(page);
	struct unmapped_block *block;
	const char *why;
	u8 state = 0;

	block = find_block(pfn);
	if (!block) {
		why = "not from the pool";
	} else {
		state = READ_ONCE(block->state[pfn - block->pfn]);
		if (state == (CHUNK_USED | order))
			return block;
		why = (state & CHUNK_USED) ? "wrong order" : "not allocated";
	}
	WARN_ONCE(1, "unmapped_alloc: free of pfn %#lx order %u: %s (state %#x)\n",
		  pfn, order, why, state);
	return NULL;
}

/*
 * Give a used chunk whose last reference is gone back to its pool: a 4K
 * one to this CPU's cache, others to their block.
 */
static void pool_free(struct page *page, unsigned int order)
{
	struct unmapped_pool *pool = page_pool(page, order);
	DECLARE_BITMAP(cleared, BLOCK_PAGES);
	struct unmapped_block *block;
	unsigned long flags, off, i;

	if (!pool)
		return;
	if (WARN_ONCE(page_ref_count(page),
		      "unmapped_alloc: free of pfn %#lx with reference count %d\n",
		      page_to_pfn(page), page_ref_count(page)))
		return;
	block = used_chunk_block(page, order);
	if (!block)
		return;
	off = page_to_pfn(page) - block->pfn;
	pool_account(pool, 1L << order, -(1L << order));
	bitmap_zero(cleared, 1UL << order);
	if (want_init_on_free()) {
		/* Neither used nor free while it is cleared: a second free is refused. */
		WRITE_ONCE(block->state[off], 0);
		scrub_pages(page, 1UL << order, cleared);
		WRITE_ONCE(block->state[off], CHUNK_USED | order);
	}
	if (!order && cache_chunk(pool, page, test_bit(0, cleared)))
		return;

	flags = lock_pool_irqsave(pool);
	/* Not what is unpoisoned meanwhile: it was skipped. */
	for_each_set_bit(i, cleared, 1UL << order)
		__set_bit(off + i, block->zeroed);
	put_chunk(pool, block, off, order);
	unlock_pool_irqrestore(pool, flags);
}

/**
 * unmapped_pages_alloc_node - allocate pages absent from the direct map
 * @nid: preferred node, or NUMA_NO_NODE for the task's memory policy
 * @gfp: allocation flags
 * @order: log2 of the number of pages, at most PMD_ORDER
 *
 * The target node is @nid, or with NUMA_NO_NODE the node the task's
 * memory policy names (mempolicy_slab_node()); a node the task's cpuset
 * forbids gives way to the first allowed one in its fallback order.  The
 * pages come, in this order, from: the target node's pool (a 4K chunk
 * from this CPU's cache of it, refilled in batches; for a larger chunk,
 * after the CPUs' caches went back to their blocks); a block free
 * now on the target node; a free chunk of the pools of the other nodes
 * the policy (MPOL_BIND) and cpuset allow, in fallback order; a 2M block
 * free now on one of those nodes; a block of @order from the page
 * allocator with its fallback and reclaim.  A target node without memory
 * for the kernel starts with the other nodes' pools.  With __GFP_THISNODE
 * only the target node is used.  With __GFP_ZERO the pages are zeroed; without
 * it they hold whatever the pool's previous user left there, which is
 * what callers whose memory is initialised by firmware want.  The reclaim
 * and warning modifiers of @gfp (__GFP_NORETRY, __GFP_NOWARN, ...) apply
 * when the pool takes memory from the page allocator.  __GFP_ACCOUNT
 * charges the pages to the current memory cgroup, and the call fails when
 * the charge does; __GFP_COMP makes a compound page, as alloc_pages()
 * does.  __GFP_NOFAIL is not honoured: the call may fail.
 *
 * The first page has a reference count of one, as from alloc_pages().
 * The pages go back with unmapped_pages_free() and the same @order, or
 * when the last reference is dropped (put_page(), folio_put()): they
 * return to the pool either way, never to the page allocator.
 *
 * Context: Process context.  May sleep: it allocates memory, changes the
 * direct map and flushes TLBs on all CPUs.
 * Return: the first page, or NULL.
 */
struct page *unmapped_pages_alloc_node(int nid, gfp_t gfp, unsigned int order)
{
	struct unmapped_pool *pool;
	struct alloc_target t;
	struct page *page;
	bool zeroed = false;
	bool must_clear, has_memory;

	if (WARN_ONCE(order > PMD_ORDER, "unmapped_alloc: order %u above %u\n",
		      order, PMD_ORDER))
		return NULL;
	might_sleep();

	if (!pools_enabled ||
	    (nid != NUMA_NO_NODE && (nid < 0 || nid >= MAX_NUMNODES || !node_online(nid))))
		return NULL;
	/* Hibernating: the pools hold nothing (checked again under the lock). */
	if (READ_ONCE(pools_frozen))
		return NULL;
	t = alloc_target(nid, gfp);
	/*
	 * A node without memory for the kernel (a CPU's on x86, or one with
	 * ZONE_MOVABLE only) has nothing in its pool and no block to give:
	 * its allocations start with the other nodes' pools.
	 */
	has_memory = node_state(t.nid, N_NORMAL_MEMORY);
	/* Where the cpuset allows no node, t.nid is a forbidden one. */
	page = NULL;
	if (has_memory && cpuset_allows(t.nid, gfp)) {
		page = take_from_pool(pool_of(t.nid), order, &zeroed);
		if (!page)
			page = take_after_draining(pool_of(t.nid), order, &zeroed);
	}
	if (!page && has_memory)
		page = refill_and_take(&t, gfp, order, PMD_ORDER, true, &zeroed);
	if (!page && !(gfp & __GFP_THISNODE))
		page = take_from_other_pools(&t, gfp, order, &zeroed);
	if (!page)
		page = refill_and_take(&t, gfp, order, PMD_ORDER, false, &zeroed);
	if (IS_ERR_OR_NULL(page))
		return NULL;
	/* Another node's pool may have served it. */
	pool = pool_of(page_to_nid(page));
	pool_account(pool, -(1L << order), 1L << order);

	must_clear = (gfp & __GFP_ZERO) && !zeroed;
	if (must_clear && zero_chunk(pool, page, order)) {
		pool_free(page, order);
		return NULL;
	}
	set_page_count(page, 1);
	if ((gfp & __GFP_COMP) && order)
		prep_compound_page(page, order);
	/* The page allocator does the same: a failed charge frees the pages. */
	if ((gfp & __GFP_ACCOUNT) && memcg_kmem_charge_page(page, gfp, order)) {
		__free_pages(page, order);
		return NULL;
	}
	count_handed_out(pool, order, gfp, must_clear);
	return page;
}

/**
 * unmapped_folio_alloc_node - allocate a folio absent from the direct map
 * @nid: preferred node, or NUMA_NO_NODE for the task's memory policy
 * @gfp: allocation flags, as for unmapped_pages_alloc_node()
 * @order: log2 of the number of pages, at most PMD_ORDER
 *
 * The folio, large when @order is not 0, is taken as by
 * unmapped_pages_alloc_node() and returns to the pool when its last
 * reference is dropped, e.g. after it left the page cache.  A folio
 * added to the page cache is charged to a memory cgroup there: do not
 * pass __GFP_ACCOUNT for one.
 *
 * Context: Process context; may sleep.
 * Return: the folio, or NULL.
 */
struct folio *unmapped_folio_alloc_node(int nid, gfp_t gfp, unsigned int order)
{
	struct page *page = unmapped_pages_alloc_node(nid, gfp | __GFP_COMP, order);

	return page_rmappable_folio(page);
}
EXPORT_SYMBOL_GPL(unmapped_folio_alloc_node);

/**
 * unmapped_pages_free - give pages back to their pool
 * @page: first page, as returned by unmapped_pages_alloc_node()
 * @order: the order it was allocated with
 *
 * The caller must hold the only reference.  The pages go through the
 * page allocator's checks on freeing (and a memory cgroup uncharge) and
 * stay out of the direct map, in the pool, until the pool releases their
 * whole block.  A page that is not from a pool, a double free or a wrong
 * order is refused with a warning and the pages are left alone.
 *
 * Context: Any context that may take a spinlock.
 */
void unmapped_pages_free(struct page *page, unsigned int order)
{
	if (!page_pool(page, order))
		return;
	if (WARN_ONCE(page_ref_count(page) != 1,
		      "unmapped_alloc: free of pfn %#lx with reference count %d\n",
		      page_to_pfn(page), page_ref_count(page)))
		return;
	/* Checked first: a wrong order would reset other users' pages. */
	if (used_chunk_block(page, order))
		__free_pages(page, order);
}

/*
 * free_pages_prepare() found a pool page whose last reference is gone,
 * checked it and took a compound page apart.  Reset the head's flags as
 * the page allocator would, mark every page as the pool's again (the
 * tails' flags were cleared) and give the chunk back.
 */
void unmapped_pool_free_frozen(struct page *page, unsigned int order)
{
	unsigned long i;

	page->flags &= ~PAGE_FLAGS_CHECK_AT_PREP;
	page->private = 0;
	page_cpupid_reset_last(page);
	for (i = 0; i < (1UL << order); i++)
		SetPageUnmappedPool(page + i);
	pool_free(page, order);
}

/**
 * unmapped_page_map_local - map one pool page on this CPU for a moment
 * @page: a page of the pool the caller holds
 *
 * For the few users that must write or flush pool pages by address
 * (copying a guest's initial image in, flushing caches).  The page is
 * mapped at this CPU's slot with interrupts off until
 * unmapped_page_unmap_local(), which removes the mapping and flushes this
 * CPU's TLB only: no other CPU ever saw it, so no TLB shootdown is sent.
 * One page at a time: never map twice before unmapping.
 *
 * Context: Any context but NMI; the caller must not sleep or fault until
 * unmapped_page_unmap_local().
 * Return: the address of the page.
 */
void *unmapped_page_map_local(struct page *page)
{
	return slot_map(page);
}
EXPORT_SYMBOL_GPL(unmapped_page_map_local);

/**
 * unmapped_page_unmap_local - remove the mapping of unmapped_page_map_local()
 *
 * Context: on the CPU, and in the context, that mapped the page.
 */
void unmapped_page_unmap_local(void)
{
	slot_unmap();
}
EXPORT_SYMBOL_GPL(unmapped_page_unmap_local);

/**
 * unmapped_folio_scrub - clear a pool folio its user is done with
 * @folio: a folio of the pool that the caller still holds
 *
 * For users that clear their data when they free it, as secretmem does:
 * the pool's free pages then hold none of it.  No TLB shootdown.
 *
 * Context: Any context but NMI.
 */
void unmapped_folio_scrub(struct folio *folio)
{
	scrub_pages(&folio->page, folio_nr_pages(folio), NULL);
}

/**
 * unmapped_filemap_add_folio - add a pool folio to a page cache
 * @mapping: the file's mapping
 * @folio: a locked folio from unmapped_folio_alloc_node()
 * @index: its index in the file
 * @gfp: flags for the page cache and the memory cgroup charge
 *
 * As filemap_add_folio(), which also queues the folio for the LRU in a
 * per-CPU batch that holds a reference.  The batch is flushed at once, on
 * the same CPU, so a folio that leaves the file goes back to the pool when
 * the file drops it, not when the batch is flushed some time later.
 *
 * Context: Process context; may sleep.
 * Return: 0, or the error of filemap_add_folio().
 */
int unmapped_filemap_add_folio(struct address_space *mapping,
			       struct folio *folio, pgoff_t index, gfp_t gfp)
{
	int err;

	VM_WARN_ON_ONCE_FOLIO(!folio_test_unmapped_pool(folio), folio);
	migrate_disable();
	err = filemap_add_folio(mapping, folio, index, gfp);
	if (!err)
		lru_add_drain();
	migrate_enable();
	return err;
}
EXPORT_SYMBOL_GPL(unmapped_filemap_add_folio);

/*
 * A large pool folio is being split (__split_huge_page(), its reference
 * count frozen): its chunk becomes chunks of @new_order, each freed on
 * its own from now on.
 */
void unmapped_pool_split(struct page *page, unsigned int order,
			 unsigned int new_order)
{
	struct unmapped_pool *pool = page_pool(page, order);
	struct unmapped_block *block;
	unsigned long off, i, flags;

	if (!pool)
		return;
	flags = lock_pool_irqsave(pool);
	block = used_chunk_block(page, order);
	if (block) {
		off = page_to_pfn(page) - block->pfn;
		for (i = 0; i < (1UL << order); i += 1UL << new_order)
			block->state[off + i] = CHUNK_USED | new_order;
	}
	unlock_pool_irqrestore(pool, flags);
}

/**
 * unmapped_alloc_available - whether unmapped allocations can succeed
 *
 * They can unless the architecture cannot change its direct map or the
 * kernel was booted with unmapped_alloc=off.  The answer is the same on
 * every CPU, whether its node has memory or a pool yet.
 *
 * Context: Any context.
 * Return: true if the pools are in use.
 */
bool unmapped_alloc_available(void)
{
	return pools_enabled;
}
EXPORT_SYMBOL_GPL(unmapped_alloc_available);

/* Whether any pool holds a block, kept ones and those in release included. */
static bool pools_hold_blocks(void)
{
	struct unmapped_pool *pool;
	int nid;

	for_each_node(nid) {
		pool = pool_of(nid);
		if (pool && (READ_ONCE(pool->nr_blocks) || READ_ONCE(pool->blocks_kept) ||
			     READ_ONCE(pool->blocks_releasing)))
			return true;
	}
	return false;
}

static bool block_is_free(struct unmapped_block *block)
{
	return block->nr_free == 1UL << block->order;
}

/* Take a whole free block out of @pool onto @out: it is no longer found. */
static unsigned long unlink_block(struct unmapped_pool *pool,
				  struct unmapped_block *block,
				  struct list_head *out)
{
	lockdep_assert_held(&pool->lock);
	del_free_chunk(pool, block, 0, block->order);
	xa_lock(&blocks_by_pfn);		/* interrupts are off */
	__xa_erase(&blocks_by_pfn, block->pfn);
	xa_unlock(&blocks_by_pfn);
	list_move(&block->list, out);
	pool->nr_blocks--;
	pool->blocks_releasing++;
	pool_account(pool, -(1L << block->order), 0);
	return 1UL << block->order;
}

static bool block_hwpoisoned(struct unmapped_block *block)
{
	return range_hwpoisoned(block, 0, block->order);
}

/*
 * Whether @block is free and may leave the pool.  Pages whose poison was
 * cleared are freed first; a free block found poisoned keeps its poisoned
 * pages held and stays.  (release_blocks() checks once more, outside the
 * lock, for poison that came later.)
 */
static bool block_releasable(struct unmapped_pool *pool,
			     struct unmapped_block *block)
{
	lockdep_assert_held(&pool->lock);
	if (unlikely(block->nr_poisoned))
		release_unpoisoned(pool, block);
	if (!block_is_free(block))
		return false;
	if (unlikely(chunk_hwpoisoned(block, 0, block->order))) {
		del_free_chunk(pool, block, 0, block->order);
		hold_poisoned(pool, block, 0, block->order);
		return false;
	}
	return true;
}

/* Unlink whole free blocks until at least @max_pages pages are taken. */
static unsigned long take_free_blocks(struct unmapped_pool *pool,
				      struct list_head *out,
				      unsigned long max_pages)
{
	struct unmapped_block *block, *next;
	unsigned long pages = 0;

	lock_pool(pool);
	list_for_each_entry_safe(block, next, &pool->blocks, list) {
		if (pages >= max_pages)
			break;
		if (block_releasable(pool, block))
			pages += unlink_block(pool, block, out);
	}
	unlock_pool(pool);
	return pages;
}

static bool block_in_range(struct unmapped_block *block, unsigned long start,
			   unsigned long end)
{
	return block->pfn < end && block->pfn + (1UL << block->order) > start;
}

/*
 * Unlink every block of @pool in [@start, @end), or none and -EBUSY if one
 * of them has pages in use or poisoned, or was kept (release would keep
 * those, and the memory could never go offline).
 */
static int take_range(struct unmapped_pool *pool, unsigned long start,
		      unsigned long end, struct list_head *out)
{
	struct unmapped_block *block, *next;
	int ret = 0;

	lock_pool(pool);
	list_for_each_entry(block, &pool->blocks, list) {
		if (!block_in_range(block, start, end))
			continue;
		if (unlikely(block->nr_poisoned))
			release_unpoisoned(pool, block);
		if (!block_is_free(block) || block_hwpoisoned(block)) {
			ret = -EBUSY;
			goto unlock;
		}
	}
	list_for_each_entry(block, &pool->kept, list) {
		if (block_in_range(block, start, end)) {
			ret = -EBUSY;
			goto unlock;
		}
	}
	list_for_each_entry_safe(block, next, &pool->blocks, list)
		if (block_in_range(block, start, end))
			unlink_block(pool, block, out);
unlock:
	unlock_pool(pool);
	return ret;
}

/*
 * Map a block back and scrub it: the page allocator gets no data of the
 * pool's users.  The flag goes last, so a block that stays unmapped also
 * stays the pool's.
 */
static int restore_block(struct unmapped_block *block)
{
	struct page *page = chunk_page(block, 0);
	unsigned long i;
	int ret;

	ret = map_back(page, block->order);
	if (ret)
		return ret;
	for (i = 0; i < (1UL << block->order); i++) {
		clear_highpage(page + i);
		ClearPageUnmappedPool(page + i);
	}
	return 0;
}

/*
 * Map unlinked blocks back and free them to the page allocator.  Memory
 * that is poisoned, or could not be mapped, is never given back.  With
 * @collapse the direct map is collapsed now, after the blocks are freed:
 * collapsing takes the hotplug lock, and memory going offline waits for
 * free pages to reach the page allocator while it holds that lock.
 * Otherwise the blocks wait on pool->to_collapse for collapse_work.  On
 * SEV-SNP hosts nothing is collapsed (collapse_direct_map() says why).
 */
static void release_blocks(struct unmapped_pool *pool, struct list_head *blocks,
			   bool collapse)
{
	struct unmapped_block *block, *next;
	unsigned long restored = 0, kept = 0;
	LIST_HEAD(later);
	LIST_HEAD(keep);

	list_for_each_entry_safe(block, next, blocks, list) {
		struct page *page = chunk_page(block, 0);

		list_del_init(&block->list);
		if (block_hwpoisoned(block) ||
		    WARN_ONCE(restore_block(block),
			      "unmapped_alloc: pfn %#lx order %u stays unmapped\n",
			      block->pfn, block->order)) {
			kept++;
			list_add(&block->list, &keep);
			continue;
		}
		restored++;
		if (!cc_platform_has(CC_ATTR_HOST_SEV_SNP))
			/* Only pfn and order are used from here on. */
			list_add_tail(&block->list, &later);
		set_page_count(page, 1);
		__free_pages(page, block->order);
		if (list_empty(&block->list))
			kfree_rcu(block, rcu);
	}
	if (collapse) {
		list_for_each_entry_safe(block, next, &later, list) {
			collapse_direct_map(pfn_to_page(block->pfn), 1UL << block->order);
			list_del(&block->list);
			kfree_rcu(block, rcu);
		}
	}

	count_vm_events(UNMAPPED_BLOCK_RESTORE, restored);
	lock_pool(pool);
	pool->blocks_restored += restored;
	pool->blocks_kept += kept;
	pool->blocks_releasing -= restored + kept;
	list_splice(&keep, &pool->kept);
	list_splice(&later, &pool->to_collapse);
	unlock_pool(pool);
	if (!list_empty(&later))
		queue_work(system_unbound_wq, &pool->collapse_work);
}

/*
 * Collapsing sleeps and flushes all TLBs, so reclaim leaves it to this
 * worker.  Only the range is kept from the release: the memory may have
 * been reused meanwhile, even taken back by a pool and unmapped again, and
 * collapse_direct_map() decides from the page tables as they are under its
 * locks.
 */
static void collapse_worker(struct work_struct *work)
{
	struct unmapped_pool *pool = container_of(work, struct unmapped_pool,
						  collapse_work);
	struct unmapped_block *block, *next;
	LIST_HEAD(blocks);

	lock_pool(pool);
	list_splice_init(&pool->to_collapse, &blocks);
	unlock_pool(pool);

	list_for_each_entry_safe(block, next, &blocks, list) {
		collapse_direct_map(pfn_to_page(block->pfn), 1UL << block->order);
		kfree_rcu(block, rcu);
	}
}

/*
 * Unlink the kept blocks that are no longer poisoned: poison cleared by
 * unpoison_memory(), or a mapping that failed.  Their release is tried
 * again; one that fails again is kept again.
 */
static void take_kept_blocks(struct unmapped_pool *pool, struct list_head *out)
{
	struct unmapped_block *block, *next;

	lock_pool(pool);
	list_for_each_entry_safe(block, next, &pool->kept, list) {
		if (block_hwpoisoned(block))
			continue;
		list_move_tail(&block->list, out);
		pool->blocks_kept--;
		pool->blocks_releasing++;
	}
	unlock_pool(pool);
}

/*
 * Release every whole free block of @pool now, the CPUs' caches emptied
 * first, kept ones again, and collapse.
 */
static unsigned long drain_pool(struct unmapped_pool *pool)
{
	unsigned long pages;
	LIST_HEAD(blocks);

	drain_caches(pool);
	pages = take_free_blocks(pool, &blocks, ULONG_MAX);
	take_kept_blocks(pool, &blocks);
	release_blocks(pool, &blocks, true);
	flush_work(&pool->collapse_work);
	return pages;
}

static unsigned long unmapped_alloc_drain(void)
{
	unsigned long pages = 0;
	int nid;

	/*
	 * Page cache folios (secretmem's) that left their file may still be
	 * held by per-CPU LRU batches: let those go first.
	 */
	lru_add_drain_all();
	for_each_node(nid)
		if (pool_of(nid))
			pages += drain_pool(pool_of(nid));
	return pages;
}

static unsigned long pool_shrink_count(struct shrinker *shrinker,
				       struct shrink_control *sc)
{
	struct unmapped_pool *pool = pool_of(sc->nid);
	long free = pool ? pool_sum(pool, pages_free) : 0;

	return free > 0 ? free : SHRINK_EMPTY;
}

static unsigned long pool_shrink_scan(struct shrinker *shrinker,
				      struct shrink_control *sc)
{
	struct unmapped_pool *pool = pool_of(sc->nid);
	unsigned long pages;
	LIST_HEAD(blocks);

	if (!pool)
		return SHRINK_STOP;
	pages = take_free_blocks(pool, &blocks, sc->nr_to_scan);
	if (!pages) {
		/* A cached 4K chunk keeps its whole block from the allocator. */
		drain_caches(pool);
		pages = take_free_blocks(pool, &blocks, sc->nr_to_scan);
	}
	if (!pages)
		return SHRINK_STOP;
	lock_pool(pool);
	pool->pages_shrunk += pages;
	unlock_pool(pool);
	release_blocks(pool, &blocks, false);
	return pages;
}

/* The per-CPU part of the statistics: sums, and the chunks each CPU caches. */
static void cpu_stats_show(struct seq_file *m, struct unmapped_pool *pool)
{
	int cpu;

	seq_printf(m, "pages_used %ld\npages_free %ld\n",
		   pool_sum(pool, pages_used), pool_sum(pool, pages_free));
	seq_printf(m, "pages_zeroed %ld\npages_unzeroed %ld\nwindow_maps %ld\nslot_clears %ld\n",
		   pool_sum(pool, pages_zeroed), pool_sum(pool, pages_unzeroed),
		   pool_sum(pool, window_maps), pool_sum(pool, slot_clears));
	seq_printf(m, "cache_hits %ld\ncache_misses %ld\nlock_takes %ld\ncached",
		   pool_sum(pool, cache_hits), pool_sum(pool, cache_misses),
		   pool_sum(pool, lock_takes));
	/* A snapshot for tests and people: each count may change meanwhile. */
	for_each_possible_cpu(cpu)
		seq_printf(m, " %d:%u", cpu, READ_ONCE(per_cpu_ptr(pool->cpu, cpu)->count));
	seq_putc(m, '\n');
}

static int stats_show(struct seq_file *m, void *v)
{
	struct unmapped_pool *pool;
	unsigned int o;
	int nid;

	for_each_node(nid) {
		pool = pool_of(nid);
		if (!pool)
			continue;
		seq_printf(m, "node %d\n", nid);
		cpu_stats_show(m, pool);
		lock_pool(pool);
		seq_puts(m, "free_chunks");
		for (o = 0; o <= PMD_ORDER; o++)
			seq_printf(m, " %lu", pool->nr_free_chunks[o]);
		seq_printf(m, "\nblocks %lu\nblocks_unmapped %lu\nblocks_restored %lu\n",
			   pool->nr_blocks, pool->blocks_unmapped, pool->blocks_restored);
		seq_printf(m, "fallbacks %lu\nblocks_kept %lu\npages_poisoned %lu\npages_shrunk %lu\n",
			   pool->fallbacks, pool->blocks_kept, pool->pages_poisoned,
			   pool->pages_shrunk);
		unlock_pool(pool);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(stats);

/* One line per block: where it is, for tests that poison pool pages. */
static int blocks_show(struct seq_file *m, void *v)
{
	struct unmapped_block *block;
	struct unmapped_pool *pool;
	int nid;

	for_each_node(nid) {
		pool = pool_of(nid);
		if (!pool)
			continue;
		lock_pool(pool);
		list_for_each_entry(block, &pool->blocks, list)
			seq_printf(m, "node %d pfn %#lx order %u free %lu poisoned %lu\n",
				   nid, block->pfn, block->order, block->nr_free,
				   block->nr_poisoned);
		unlock_pool(pool);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(blocks);

static ssize_t drain_write(struct file *file, const char __user *buf,
			   size_t count, loff_t *ppos)
{
	unmapped_alloc_drain();
	return count;
}

static const struct file_operations drain_fops = {
	.write = drain_write,
	.llseek = noop_llseek,
};

static void __init pool_destroy(struct unmapped_pool *pool)
{
	if (pool->window)
		free_vm_area(pool->window);
	kfree(pool->window_pages);
	free_percpu(pool->cpu);
	kfree(pool);
}

static struct unmapped_pool * __init pool_create(int nid)
{
	int mem_nid = node_state(nid, N_MEMORY) ? nid : NUMA_NO_NODE;
	struct unmapped_pool *pool;
	unsigned int o;
	int cpu;

	pool = kzalloc_node(sizeof(*pool), GFP_KERNEL, mem_nid);
	if (!pool)
		return NULL;
	pool->window_pages = kcalloc_node(BLOCK_PAGES, sizeof(*pool->window_pages),
					  GFP_KERNEL, mem_nid);
	pool->window = get_vm_area(PAGE_SIZE << PMD_ORDER, VM_MAP);
	pool->cpu = alloc_percpu(struct pool_cpu);
	if (!pool->window_pages || !pool->window || !pool->cpu) {
		pool_destroy(pool);
		return NULL;
	}
	for_each_possible_cpu(cpu) {
		struct pool_cpu *pc = per_cpu_ptr(pool->cpu, cpu);

		spin_lock_init(&pc->lock);
		INIT_LIST_HEAD(&pc->chunks);
	}
	pool->nid = nid;
	spin_lock_init(&pool->lock);
	for (o = 0; o <= PMD_ORDER; o++)
		INIT_LIST_HEAD(&pool->free_list[o]);
	INIT_LIST_HEAD(&pool->blocks);
	INIT_LIST_HEAD(&pool->kept);
	INIT_LIST_HEAD(&pool->to_collapse);
	INIT_WORK(&pool->collapse_work, collapse_worker);
	mutex_init(&pool->window_lock);
	return pool;
}

/* What keeps a block in some pool: pages in use, poisoned, kept blocks. */
struct pools_load {
	unsigned long used, poisoned, kept, releasing;
};

static bool pools_load(struct pools_load *l)
{
	struct unmapped_pool *pool;
	int nid;

	memset(l, 0, sizeof(*l));
	for_each_node(nid) {
		pool = pool_of(nid);
		if (!pool)
			continue;
		l->used += max(pool_sum(pool, pages_used), 0L);
		l->poisoned += READ_ONCE(pool->pages_poisoned);
		l->kept += READ_ONCE(pool->blocks_kept);
		l->releasing += READ_ONCE(pool->blocks_releasing);
	}
	return l->used || l->poisoned || l->kept;
}

static bool pools_in_use(void)
{
	struct pools_load l;

	return pools_load(&l);
}

static int refuse_hibernation(void)
{
	struct pools_load l;

	pools_load(&l);
	pr_err("unmapped_alloc: hibernation refused: %lu pages in use, %lu poisoned, %lu blocks kept unmapped, %lu being released\n",
	       l.used, l.poisoned, l.kept, l.releasing);
	return notifier_from_errno(-EBUSY);
}

/*
 * A hibernation image holds every page the page allocator does not count
 * free: the pool's free pages too, with what their last users left there.
 * So every block is released before the image is made, and none is taken
 * until hibernation ends.  A pool with pages in use refuses hibernation
 * before anything is frozen or drained: its users keep allocating.  The
 * kernel that restores an image drains too, but never refuses: the image
 * replaces all of its memory, pages in use included.
 * Once pools_frozen is seen set under a pool's lock no block joins that
 * pool, and a block that joined before is seen by the drain.
 */
static int pool_pm_callback(struct notifier_block *nb, unsigned long action,
			    void *data)
{
	int nid;

	if (action == PM_POST_HIBERNATION || action == PM_POST_RESTORE) {
		WRITE_ONCE(pools_frozen, false);
		return NOTIFY_OK;
	}
	if (action != PM_HIBERNATION_PREPARE && action != PM_RESTORE_PREPARE)
		return NOTIFY_DONE;
	if (action == PM_HIBERNATION_PREPARE && pools_in_use())
		return refuse_hibernation();

	WRITE_ONCE(pools_frozen, true);
	for_each_node(nid) {
		if (!pool_of(nid))
			continue;
		lock_pool(pool_of(nid));
		unlock_pool(pool_of(nid));
	}
	unmapped_alloc_drain();
	if (action == PM_RESTORE_PREPARE || !pools_hold_blocks())
		return NOTIFY_OK;
	/* The notifier that fails gets no PM_POST_* of its own. */
	WRITE_ONCE(pools_frozen, false);
	return refuse_hibernation();
}

/*
 * Memory going offline must hold no pool block: free ones go back to the
 * page allocator, whose isolated free lists then hold them; a block with
 * pages in use fails the offlining at once instead of leaving it to retry
 * migrations that cannot succeed.  Their direct map is collapsed later
 * by collapse_work (collapsing takes the hotplug lock, held here).
 */
static int pool_memory_callback(struct notifier_block *nb,
				unsigned long action, void *arg)
{
	struct memory_notify *mn = arg;
	struct unmapped_pool *pool;
	LIST_HEAD(blocks);
	int ret;

	if (action != MEM_GOING_OFFLINE)
		return NOTIFY_OK;
	pool = pool_of(pfn_to_nid(mn->start_pfn));
	if (!pool)
		return NOTIFY_OK;
	/* Freed folios still in a CPU's LRU batch hold a reference. */
	lru_add_drain_all();
	drain_caches(pool);
	ret = take_range(pool, mn->start_pfn, mn->start_pfn + mn->nr_pages, &blocks);
	if (ret) {
		pr_info_ratelimited("unmapped_alloc: pfn %#lx-%#lx holds pages in use or poisoned: not offlined\n",
				    mn->start_pfn, mn->start_pfn + mn->nr_pages - 1);
		return notifier_from_errno(ret);
	}
	release_blocks(pool, &blocks, false);
	return NOTIFY_OK;
}

/* A CPU that is gone keeps no chunk: its cache goes to the blocks. */
static int pool_cpu_dead(unsigned int cpu)
{
	int nid;

	for_each_node(nid)
		if (pool_of(nid))
			drain_cache(pool_of(nid), cpu);
	return 0;
}

static bool unmapped_alloc_off __initdata;

/*
 * "unmapped_alloc=off": no pools; users fall back or report no support.
 * "on" is the default; anything else is reported and ignored.
 */
static int __init unmapped_alloc_setup(char *arg)
{
	if (arg && !strcmp(arg, "off"))
		unmapped_alloc_off = true;
	else if (!arg || strcmp(arg, "on"))
		pr_warn("unmapped_alloc: unknown value \"%s\" ignored: use on or off (default on)\n",
			arg ? arg : "");
	return 0;
}
early_param("unmapped_alloc", unmapped_alloc_setup);

static int __init unmapped_alloc_init(void)
{
	struct shrinker *shrinker;
	struct dentry *dir;
	int nid;

	if (unmapped_alloc_off) {
		pr_info("unmapped_alloc: off (unmapped_alloc=off)\n");
		return 0;
	}
	if (!can_set_direct_map())
		return 0;
	/* Never freed: the areas of the CPUs done stay unused if one fails. */
	if (scrub_slots_init()) {
		pr_err("unmapped_alloc: no scrub slots: off\n");
		return 0;
	}

	/*
	 * Every possible node: memory may be hot-added to any of them.  A
	 * block can come from any node, so without a pool for one of them
	 * there is none at all.
	 */
	for_each_node(nid) {
		pools[nid] = pool_create(nid);
		if (!pools[nid]) {
			pr_err("unmapped_alloc: no pool for node %d: off\n", nid);
			for_each_node(nid) {
				if (pools[nid])
					pool_destroy(pools[nid]);
				pools[nid] = NULL;
			}
			return 0;
		}
	}
	pools_enabled = true;
	hotplug_memory_notifier(pool_memory_callback, DEFAULT_CALLBACK_PRI);
	/* Dynamic states before CPUHP_BP_PREPARE_DYN_END run once the CPU is dead. */
	if (cpuhp_setup_state_nocalls(CPUHP_BP_PREPARE_DYN, "mm/unmapped_alloc:dead",
				      NULL, pool_cpu_dead) < 0)
		pr_warn("unmapped_alloc: no CPU hotplug callback: an offline CPU's cache is emptied only by drains\n");
	if (IS_ENABLED(CONFIG_HIBERNATION))
		pm_notifier(pool_pm_callback, 0);

	shrinker = shrinker_alloc(SHRINKER_NUMA_AWARE, "unmapped-alloc");
	if (shrinker) {
		shrinker->count_objects = pool_shrink_count;
		shrinker->scan_objects = pool_shrink_scan;
		shrinker->batch = BLOCK_PAGES;
		shrinker_register(shrinker);
	} else {
		pr_warn("unmapped_alloc: no shrinker: free blocks are only released by drain\n");
	}

	dir = debugfs_create_dir("unmapped_alloc", NULL);
	debugfs_create_file("stats", 0400, dir, NULL, &stats_fops);
	debugfs_create_file("blocks", 0400, dir, NULL, &blocks_fops);
	debugfs_create_file("drain", 0200, dir, NULL, &drain_fops);
	fault_create_debugfs_attr("fail_unmapped_alloc", dir, &fail_unmapped_alloc);
	return 0;
}
subsys_initcall(unmapped_alloc_init);

#ifdef CONFIG_UNMAPPED_ALLOC_KUNIT_TEST
#include "unmapped_alloc_test.c"
#endif
