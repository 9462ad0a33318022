// SPDX-License-Identifier: GPL-2.0
/*
 * Poisoned pages of the unmapped page pool, through hwpoison_inject.
 * memory_failure() on a page nobody holds only sets its flag: the pool
 * must never hand that page out again, must keep it (and so its block)
 * from the page allocator, and must give it back to its block once
 * unpoison_memory() cleared the flag, so that a drain releases the block.
 * The pages are secretmem's, whose pfns /proc/self/pagemap tells.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../kselftest.h"
#include "unmapped_pool_util.h"

#define HWPOISON_DIR	"/sys/kernel/debug/hwpoison"
#define PAGE		4096UL
#define BLOCK_PAGES	512UL
#define KPF_HWPOISON	19

static long pool_value(const char *key)
{
	return file_value(POOL_DIR "/stats", key);
}

/* Write @val to @path; returns 0 or the errno of the write. */
static int write_value(const char *path, unsigned long val)
{
	char buf[32];
	int fd, len, err = 0;

	fd = open(path, O_WRONLY);
	if (fd < 0)
		ksft_exit_fail_msg("open %s: %s\n", path, strerror(errno));
	len = snprintf(buf, sizeof(buf), "%#lx\n", val);
	if (write(fd, buf, len) != len)
		err = errno;
	close(fd);
	return err;
}

static void drain_pool(void)
{
	int err = write_value(POOL_DIR "/drain", 1);

	if (err)
		ksft_exit_fail_msg("write %s/drain: %s\n", POOL_DIR, strerror(err));
}

static bool pfn_hwpoisoned(uint64_t pfn)
{
	int fd = open("/proc/kpageflags", O_RDONLY);
	uint64_t flags = 0;

	if (fd < 0 || pread(fd, &flags, sizeof(flags), pfn * sizeof(flags)) != sizeof(flags))
		ksft_exit_fail_msg("/proc/kpageflags: %s\n", strerror(errno));
	close(fd);
	return flags & (1ULL << KPF_HWPOISON);
}

struct secret {
	int fd;
	char *mem;
	unsigned long npages;
};

/* @npages of secretmem, each faulted; @pfns (if set) gets their pfns. */
static void secret_fault(struct secret *s, unsigned long npages, uint64_t *pfns)
{
	unsigned long i;

	s->npages = npages;
	s->fd = syscall(__NR_memfd_secret, 0);
	if (s->fd < 0)
		ksft_exit_fail_msg("memfd_secret: %s\n", strerror(errno));
	if (ftruncate(s->fd, npages * PAGE))
		ksft_exit_fail_msg("ftruncate: %s\n", strerror(errno));
	s->mem = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
	if (s->mem == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	for (i = 0; i < npages; i++) {
		s->mem[i * PAGE] = 1;
		if (pfns)
			pfns[i] = pagemap_pfn(s->mem + i * PAGE);
	}
}

static void secret_close(struct secret *s)
{
	munmap(s->mem, s->npages * PAGE);
	close(s->fd);
}

/*
 * Poison a free pool page: one of a block's pages, faulted and given back.
 * memory_failure() ignores a page it cannot take (-EBUSY) after setting
 * its flag; the flag is what counts.
 */
static uint64_t poison_free_pool_page(void)
{
	uint64_t pfns[BLOCK_PAGES];
	struct secret s;
	int err;

	drain_pool();
	if (pool_value("blocks"))
		ksft_exit_fail_msg("the pool holds %ld blocks after a drain: in use\n",
				   pool_value("blocks"));
	secret_fault(&s, BLOCK_PAGES, pfns);
	secret_close(&s);
	/* Folios still in a CPU's LRU batch: drop_caches drains those first. */
	err = write_value("/proc/sys/vm/drop_caches", 1);
	if (err)
		ksft_exit_fail_msg("write /proc/sys/vm/drop_caches: %s\n", strerror(err));
	if (pool_value("pages_used"))
		ksft_exit_fail_msg("%ld pool pages used after close\n", pool_value("pages_used"));

	err = write_value(HWPOISON_DIR "/corrupt-pfn", pfns[5]);
	if (err && err != EBUSY)
		ksft_exit_fail_msg("corrupt-pfn %#llx: %s\n", (unsigned long long)pfns[5],
				   strerror(err));
	if (!pfn_hwpoisoned(pfns[5]))
		ksft_exit_fail_msg("pfn %#llx is not marked poisoned after corrupt-pfn\n",
				   (unsigned long long)pfns[5]);
	return pfns[5];
}

/* Twice the block's pages: every healthy page of the block is reused. */
static void test_not_handed_out(uint64_t bad)
{
	uint64_t pfns[2 * BLOCK_PAGES];
	unsigned long i, hits = 0;
	struct secret s;

	secret_fault(&s, 2 * BLOCK_PAGES, pfns);
	for (i = 0; i < 2 * BLOCK_PAGES; i++)
		hits += pfns[i] == bad;
	if (hits)
		ksft_test_result_fail("the poisoned pfn %#llx was handed out %lu times\n",
				      (unsigned long long)bad, hits);
	else if (pool_value("pages_poisoned") != 1)
		ksft_test_result_fail("pages_poisoned should be 1, is %ld\n",
				      pool_value("pages_poisoned"));
	else
		ksft_test_result_pass("a poisoned free pool page is not handed out again\n");
	secret_close(&s);
}

/*
 * The drain keeps the block holding the poisoned page, all its other pages
 * free: one line of the blocks file, "node N pfn P order O free F poisoned H".
 */
static void test_drain_keeps_block(uint64_t bad)
{
	unsigned long pfn, free, poisoned;
	unsigned int order;
	int n = 0, lines = 0;
	char line[256];
	FILE *f;

	drain_pool();
	f = fopen(POOL_DIR "/blocks", "r");
	if (!f)
		ksft_exit_fail_msg("open %s/blocks: %s\n", POOL_DIR, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		n = sscanf(line, "node %*d pfn %lx order %u free %lu poisoned %lu",
			   &pfn, &order, &free, &poisoned);
		lines++;
	}
	fclose(f);
	if (lines != 1 || n != 4 || bad < pfn || bad >= pfn + (1UL << order) ||
	    poisoned != 1 || free != (1UL << order) - 1 || pool_value("pages_used") ||
	    !pfn_hwpoisoned(bad))
		ksft_test_result_fail("after a drain: expected one block holding pfn %#llx with 1 poisoned page and the rest free; %d blocks, last: %s",
				      (unsigned long long)bad, lines, lines ? line : "none\n");
	else
		ksft_test_result_pass("the drain keeps the block of a poisoned page, not the page allocator\n");
}

/* After unpoison_memory() the page is the block's again and the drain releases it. */
static void test_unpoison_releases(uint64_t bad)
{
	int err = write_value(HWPOISON_DIR "/unpoison-pfn", bad);
	long blocks, poisoned;

	if (err)
		ksft_exit_fail_msg("unpoison-pfn %#llx: %s\n", (unsigned long long)bad,
				   strerror(err));
	drain_pool();
	blocks = pool_value("blocks");
	poisoned = pool_value("pages_poisoned");
	if (blocks || poisoned)
		ksft_test_result_fail("after unpoison and a drain: expected no block and no poisoned page, got %ld blocks, %ld poisoned\n",
				      blocks, poisoned);
	else
		ksft_test_result_pass("after unpoison_memory() the drain releases the block\n");
}

int main(void)
{
	struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };
	uint64_t bad;

	ksft_print_header();
	if (access(POOL_DIR "/drain", W_OK))
		ksft_exit_skip("no %s (CONFIG_UNMAPPED_ALLOC, debugfs, root)\n", POOL_DIR);
	if (access(HWPOISON_DIR "/corrupt-pfn", W_OK))
		ksft_exit_skip("no %s/corrupt-pfn (CONFIG_HWPOISON_INJECT)\n", HWPOISON_DIR);
	ksft_set_plan(3);
	if (setrlimit(RLIMIT_MEMLOCK, &unlimited))
		ksft_exit_fail_msg("setrlimit: %s\n", strerror(errno));

	bad = poison_free_pool_page();
	test_not_handed_out(bad);
	test_drain_keeps_block(bad);
	test_unpoison_releases(bad);
	ksft_finished();
}
