/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for tests of guest_memfd on the unmapped page pool: the pool's
 * debugfs files, summed over nodes, punching holes, the taint flags.
 */
#ifndef SELFTEST_KVM_UNMAPPED_POOL_UTIL_H
#define SELFTEST_KVM_UNMAPPED_POOL_UTIL_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/falloc.h>

#include "test_util.h"

#define POOL_DIR	"/sys/kernel/debug/unmapped_alloc"

/* The sum of every "@key value" or "@key: value" line of @path. */
static inline long file_sum(const char *path, const char *key)
{
	size_t len = strlen(key);
	char line[256];
	long sum = -1;
	FILE *f = fopen(path, "r");

	TEST_ASSERT(f, "open %s", path);
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, len) || (line[len] != ' ' && line[len] != ':'))
			continue;
		sum = (sum < 0 ? 0 : sum) + atol(line + len + 1);
	}
	fclose(f);
	TEST_ASSERT(sum >= 0, "no %s in %s", key, path);
	return sum;
}

static inline void punch(int fd, off_t off, off_t len)
{
	int r = fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len);

	TEST_ASSERT(!r, "fallocate(PUNCH_HOLE) at %#lx+%#lx: %s", off, len, strerror(errno));
}

/* /proc/sys/kernel/tainted: the test-only knobs set TAINT_USER. */
static inline unsigned long taint_flags(void)
{
	FILE *f = fopen("/proc/sys/kernel/tainted", "r");
	unsigned long taint;

	TEST_ASSERT(f && fscanf(f, "%lu", &taint) == 1, "read /proc/sys/kernel/tainted");
	fclose(f);
	return taint;
}

#endif /* SELFTEST_KVM_UNMAPPED_POOL_UTIL_H */
