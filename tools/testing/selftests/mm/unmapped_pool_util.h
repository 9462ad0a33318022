/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for the unmapped page pool's mm selftests: its debugfs
 * directory, the sum of a key over the lines of a file (the pool's
 * per-node stats, /proc/meminfo, /proc/vmstat), pfns from pagemap and
 * memfd_secret mappings.
 */
#ifndef SELFTEST_MM_UNMAPPED_POOL_UTIL_H
#define SELFTEST_MM_UNMAPPED_POOL_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "../kselftest.h"

#define POOL_DIR	"/sys/kernel/debug/unmapped_alloc"

/* The sum of every "@key value" or "@key: value" line of @path. */
static inline long file_value(const char *path, const char *key)
{
	size_t len = strlen(key);
	char line[256];
	long sum = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		ksft_exit_fail_msg("open %s: %s\n", path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, len) || (line[len] != ' ' && line[len] != ':'))
			continue;
		sum = (sum < 0 ? 0 : sum) + atol(line + len + 1);
	}
	fclose(f);
	if (sum < 0)
		ksft_exit_fail_msg("no %s in %s\n", key, path);
	return sum;
}

/* The pfn of the page mapped at @addr, from /proc/self/pagemap (root). */
static inline uint64_t pagemap_pfn(void *addr)
{
	int fd = open("/proc/self/pagemap", O_RDONLY);
	off_t off = (uintptr_t)addr / getpagesize() * sizeof(uint64_t);
	uint64_t entry = 0;

	if (fd < 0 || pread(fd, &entry, sizeof(entry), off) != sizeof(entry))
		ksft_exit_fail_msg("/proc/self/pagemap: %s\n", strerror(errno));
	close(fd);
	if (!(entry >> 63) || !(entry & ((1ULL << 55) - 1)))
		ksft_exit_fail_msg("no pfn for %p in pagemap (%#llx)\n", addr,
				   (unsigned long long)entry);
	return entry & ((1ULL << 55) - 1);
}

/* @size of memfd_secret memory, mapped shared, on a new *@fd. */
static inline char *secretmem_map(unsigned long size, int *fd)
{
	char *mem;

	*fd = syscall(__NR_memfd_secret, 0);
	if (*fd < 0 || ftruncate(*fd, size))
		ksft_exit_fail_msg("memfd_secret: %s\n", strerror(errno));
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	if (mem == MAP_FAILED)
		ksft_exit_fail_msg("mmap secretmem: %s\n", strerror(errno));
	return mem;
}

#endif /* SELFTEST_MM_UNMAPPED_POOL_UTIL_H */
