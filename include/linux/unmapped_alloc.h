/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _LINUX_UNMAPPED_ALLOC_H
#define _LINUX_UNMAPPED_ALLOC_H

#include <linux/gfp_types.h>
#include <linux/numa.h>
#include <linux/errno.h>
#include <linux/types.h>

struct address_space;
struct folio;
struct page;

#ifdef CONFIG_UNMAPPED_ALLOC
struct page *unmapped_pages_alloc_node(int nid, gfp_t gfp, unsigned int order);
void unmapped_pages_free(struct page *page, unsigned int order);
struct folio *unmapped_folio_alloc_node(int nid, gfp_t gfp, unsigned int order);
void *unmapped_page_map_local(struct page *page);
void unmapped_page_unmap_local(void);
void unmapped_folio_scrub(struct folio *folio);
int unmapped_filemap_add_folio(struct address_space *mapping,
			       struct folio *folio, pgoff_t index, gfp_t gfp);
bool unmapped_alloc_available(void);
#else
static inline struct page *unmapped_pages_alloc_node(int nid, gfp_t gfp,
						     unsigned int order)
{
	return NULL;
}

static inline void unmapped_pages_free(struct page *page, unsigned int order)
{
}

static inline struct folio *unmapped_folio_alloc_node(int nid, gfp_t gfp,
							unsigned int order)
{
	return NULL;
}

/* Never called: without the pool no page is the pool's. */
static inline void *unmapped_page_map_local(struct page *page)
{
	return NULL;
}

static inline void unmapped_page_unmap_local(void)
{
}

static inline void unmapped_folio_scrub(struct folio *folio)
{
}

static inline int unmapped_filemap_add_folio(struct address_space *mapping,
					     struct folio *folio, pgoff_t index,
					     gfp_t gfp)
{
	return -EOPNOTSUPP;
}

static inline bool unmapped_alloc_available(void)
{
	return false;
}
#endif

/**
 * unmapped_pages_alloc - allocate pages absent from the direct map
 * @gfp: allocation flags, see unmapped_pages_alloc_node()
 * @order: log2 of the number of pages
 *
 * Context: Process context; may sleep.
 * Return: the first page, or NULL.
 */
static inline struct page *unmapped_pages_alloc(gfp_t gfp, unsigned int order)
{
	return unmapped_pages_alloc_node(NUMA_NO_NODE, gfp, order);
}

/**
 * unmapped_folio_alloc - allocate a folio absent from the direct map
 * @gfp: allocation flags, see unmapped_pages_alloc_node()
 * @order: log2 of the number of pages
 *
 * From the node the task's memory policy and cpuset choose, with the page
 * allocator's fallback to other allowed nodes.
 *
 * Context: Process context; may sleep.
 * Return: the folio, or NULL.
 */
static inline struct folio *unmapped_folio_alloc(gfp_t gfp, unsigned int order)
{
	return unmapped_folio_alloc_node(NUMA_NO_NODE, gfp, order);
}

#endif /* _LINUX_UNMAPPED_ALLOC_H */
