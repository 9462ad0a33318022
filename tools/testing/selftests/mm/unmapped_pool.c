// SPDX-License-Identifier: GPL-2.0
/*
 * The unmapped page pool seen from userspace, through its two users:
 * secretmem, 1 GiB faulted 4 KiB at a time, and guest_memfd with
 * GUEST_MEMFD_FLAG_NO_DIRECT_MAP, 1 GiB in 2 MiB folios, then in mixed
 * 2 MiB and 4 KiB folios (holes punched, a tail smaller than 2 MiB); in
 * 4 KiB folios only without THP.
 * Taking the memory removes whole 2 MiB blocks from the direct map
 * without splitting it into 4 KiB pages; /proc/kcore reads pool pages as
 * zeros; closing gives the pages back to the pool; draining the pool
 * puts the direct map back as it was.  secretmem faulted again on the
 * pool's reused pages costs no TLB shootdown per page, and its 4 KiB
 * pages come from a per-CPU cache, rarely taking the pool's lock; a CPU
 * that goes offline leaves nothing in its cache.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <linux/kvm.h>

#include "../kselftest.h"
#include "unmapped_pool_util.h"

#define SIZE_MIB	1024UL
#define PAGE		4096UL
#define REUSE_MIB	64UL
/* TLB shootdowns allowed per 2 MiB of reused memory handed out again. */
#define REUSE_FLUSHES_PER_2M	2
/* pool->lock acquisitions allowed per 4 KiB allocation and free. */
#define LOCKS_PER_PAIR		0.1
#define TRACING		"/sys/kernel/tracing"
#define TRACE_INSTANCE	TRACING "/instances/unmapped_pool"

struct snapshot {
	long dm4k, dm2m, dm1g;		/* kB, /proc/meminfo */
	long splits2, splits3;		/* /proc/vmstat */
	long used, free, blocks;	/* the pool's exact counters, all nodes */
};

static void take_snapshot(struct snapshot *s)
{
	s->dm4k = file_value("/proc/meminfo", "DirectMap4k");
	s->dm2m = file_value("/proc/meminfo", "DirectMap2M");
	s->dm1g = file_value("/proc/meminfo", "DirectMap1G");
	s->splits2 = file_value("/proc/vmstat", "direct_map_level2_splits");
	s->splits3 = file_value("/proc/vmstat", "direct_map_level3_splits");
	s->used = file_value(POOL_DIR "/stats", "pages_used");
	s->free = file_value(POOL_DIR "/stats", "pages_free");
	s->blocks = file_value(POOL_DIR "/stats", "blocks");
}

static void drain_pool(void)
{
	int fd = open(POOL_DIR "/drain", O_WRONLY);

	if (fd < 0 || write(fd, "1", 1) != 1)
		ksft_exit_fail_msg("%s: %s\n", POOL_DIR "/drain", strerror(errno));
	close(fd);
}

/*
 * Read the page at @pfn through /proc/kcore's direct-map segments (those
 * below the kernel text mapping, whose p_paddr is the physical address).
 */
static void kcore_read_page(uint64_t pfn, char *buf)
{
	uint64_t phys = pfn * PAGE;
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	int fd, i;

	fd = open("/proc/kcore", O_RDONLY);
	if (fd < 0 || pread(fd, &eh, sizeof(eh), 0) != sizeof(eh))
		ksft_exit_fail_msg("/proc/kcore: %s\n", strerror(errno));
	for (i = 0; i < eh.e_phnum; i++) {
		if (pread(fd, &ph, sizeof(ph), eh.e_phoff + i * sizeof(ph)) != sizeof(ph))
			ksft_exit_fail_msg("/proc/kcore phdr %d: %s\n", i, strerror(errno));
		if (ph.p_type != PT_LOAD || ph.p_vaddr >= 0xffffffff80000000ULL ||
		    phys < ph.p_paddr || phys - ph.p_paddr >= ph.p_memsz)
			continue;
		if (pread(fd, buf, PAGE, ph.p_offset + phys - ph.p_paddr) != PAGE)
			ksft_exit_fail_msg("/proc/kcore read: %s\n", strerror(errno));
		close(fd);
		return;
	}
	ksft_exit_fail_msg("pfn %#llx is in no /proc/kcore segment\n",
			   (unsigned long long)pfn);
}

static bool all_bytes(const char *buf, int c, size_t len)
{
	while (len--)
		if (*buf++ != (char)c)
			return false;
	return true;
}

/*
 * The same read of an ordinary page finds its contents, so the zeros
 * read for a pool page are not an artefact of the reading.
 */
static void kcore_hides_pool_page(char *secret)
{
	char *plain = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, -1, 0);
	char buf[PAGE];

	if (plain == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	memset(plain, 0x5a, PAGE);
	memset(secret, 0xa5, PAGE);

	kcore_read_page(pagemap_pfn(plain), buf);
	if (!all_bytes(buf, 0x5a, PAGE))
		ksft_exit_fail_msg("/proc/kcore does not show an ordinary page's contents\n");
	kcore_read_page(pagemap_pfn(secret), buf);
	if (all_bytes(buf, 0, PAGE))
		ksft_test_result_pass("/proc/kcore reads a pool page as zeros\n");
	else
		ksft_test_result_fail("/proc/kcore shows a pool page's contents\n");
	munmap(plain, PAGE);
}

static void expect(bool ok, const char *what, long expected, long got)
{
	if (ok)
		ksft_test_result_pass("%s\n", what);
	else
		ksft_test_result_fail("%s: expected %ld, got %ld\n", what, expected, got);
}

static void drain_empty_pool(struct snapshot *before)
{
	drain_pool();
	take_snapshot(before);
	if (before->blocks)
		ksft_exit_fail_msg("the pool holds %ld blocks after a drain: this test's pages leaked, or another user took some\n",
				   before->blocks);
}

/*
 * After a drain: nothing used, no block, the direct map split no more than
 * @before.  It may be split less: collapsing a released block also mends
 * ranges around it that something else split earlier.
 */
static void expect_restored(struct snapshot *before, const char *what)
{
	struct snapshot drained;

	drain_pool();
	take_snapshot(&drained);
	if (drained.used || drained.blocks)
		ksft_test_result_fail("%s: %ld pages used and %ld blocks left after a drain\n",
				      what, drained.used, drained.blocks);
	else if (drained.dm4k > before->dm4k || drained.dm1g < before->dm1g)
		ksft_test_result_fail("%s: DirectMap 4k/2M/1G were %ld/%ld/%ld kB, are %ld/%ld/%ld kB\n",
				      what, before->dm4k, before->dm2m, before->dm1g,
				      drained.dm4k, drained.dm2m, drained.dm1g);
	else
		ksft_test_result_pass("%s: pool empty, direct map split no more than before\n",
				      what);
}

static void punch(int fd, off_t off, off_t len)
{
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len))
		ksft_exit_fail_msg("fallocate(PUNCH_HOLE) %#lx+%#lx: %s\n",
				   (unsigned long)off, (unsigned long)len, strerror(errno));
}

/* The results test_guest_memfd() reports. */
#define GMEM_RESULTS	4

/*
 * 1 GiB of guest_memfd.  With @mixed, the file is 64 KiB longer (a tail
 * of 4 KiB folios) and a 4 KiB hole is punched in every other 2 MiB
 * folio, which splits it: the pool hands out and takes back both orders.
 */
static void test_guest_memfd(int kvm, bool mixed, const char *what)
{
	unsigned long size = (SIZE_MIB << 20) + (mixed ? 64 << 10 : 0);
	long npages = size / PAGE, holes = 0;
	struct kvm_create_guest_memfd args = {
		.size = size,
		.flags = GUEST_MEMFD_FLAG_NO_DIRECT_MAP,
	};
	struct snapshot before, mapped;
	unsigned long off;
	int vm, fd;

	drain_empty_pool(&before);
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		ksft_exit_fail_msg("KVM_CREATE_VM: %s\n", strerror(errno));
	fd = ioctl(vm, KVM_CREATE_GUEST_MEMFD, &args);
	if (fd < 0)
		ksft_exit_fail_msg("KVM_CREATE_GUEST_MEMFD: %s\n", strerror(errno));
	if (fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, size))
		ksft_exit_fail_msg("fallocate: %s\n", strerror(errno));
	for (off = 0; mixed && off + (4UL << 20) <= size; off += 4UL << 20, holes++)
		punch(fd, off + (1UL << 20), PAGE);
	take_snapshot(&mapped);

	if (mapped.used - before.used == npages - holes)
		ksft_test_result_pass("%s: every page of the file is a pool page\n", what);
	else
		ksft_test_result_fail("%s: expected %ld pool pages in use, got %ld\n",
				      what, npages - holes, mapped.used - before.used);
	if (mapped.splits2 == before.splits2 && mapped.dm4k == before.dm4k)
		ksft_test_result_pass("%s: no 2M page of the direct map was split\n", what);
	else
		ksft_test_result_fail("%s: level-2 splits %ld -> %ld, DirectMap4k %ld -> %ld kB\n",
				      what, before.splits2, mapped.splits2,
				      before.dm4k, mapped.dm4k);

	close(fd);
	close(vm);
	take_snapshot(&mapped);
	if (mapped.used == before.used)
		ksft_test_result_pass("%s: closing gave every page back to the pool\n", what);
	else
		ksft_test_result_fail("%s: %ld pages still used after close\n", what,
				      mapped.used - before.used);
	expect_restored(&before, what);
}

static void write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);

	if (fd < 0 || write(fd, val, strlen(val)) != (ssize_t)strlen(val))
		ksft_exit_fail_msg("write %s: %s\n", path, strerror(errno));
	close(fd);
}

/* Cross-CPU function calls so far, all CPUs (CAL in /proc/interrupts). */
static long cross_cpu_calls(void)
{
	char line[4096], *p, *end;
	FILE *f = fopen("/proc/interrupts", "r");
	long sum = -1, n;

	if (!f)
		ksft_exit_fail_msg("/proc/interrupts: %s\n", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		p = line + strspn(line, " ");
		if (strncmp(p, "CAL:", 4))
			continue;
		sum = 0;
		for (p += 4; ; p = end) {
			n = strtol(p, &end, 10);
			if (end == p)
				break;
			sum += n;
		}
	}
	fclose(f);
	if (sum < 0)
		ksft_exit_fail_msg("no CAL line in /proc/interrupts\n");
	return sum;
}

/*
 * Which cross-CPU calls are TLB shootdowns: the csd_queue_cpu event names
 * the function each one runs, once per target CPU.  The rest of CAL is timers and
 * wakeups, which grow with the time a slow (TCG) run takes.  A trace
 * instance of its own leaves the global trace alone.
 */
static bool ipi_trace_start(void)
{
	if (access(TRACING "/instances", F_OK) &&
	    mount("nodev", TRACING, "tracefs", 0, NULL))
		return false;
	if (mkdir(TRACE_INSTANCE, 0755) && errno != EEXIST)
		return false;
	if (access(TRACE_INSTANCE "/events/csd/csd_queue_cpu/enable", W_OK)) {
		rmdir(TRACE_INSTANCE);
		return false;
	}
	write_file(TRACE_INSTANCE "/buffer_size_kb", "8192");
	write_file(TRACE_INSTANCE "/events/csd/csd_queue_cpu/enable", "1");
	return true;
}

static long ipi_trace_stop_tlb_flushes(void)
{
	static const char * const flushes[] = {
		"func=do_kernel_range_flush", "func=do_flush_tlb_all",
		"func=flush_tlb_func",
	};
	FILE *f = fopen(TRACE_INSTANCE "/trace", "r");
	char line[512];
	long n = 0;
	size_t i;

	write_file(TRACE_INSTANCE "/events/csd/csd_queue_cpu/enable", "0");
	if (!f)
		ksft_exit_fail_msg("%s/trace: %s\n", TRACE_INSTANCE, strerror(errno));
	while (fgets(line, sizeof(line), f))
		for (i = 0; i < ARRAY_SIZE(flushes); i++)
			n += !!strstr(line, flushes[i]);
	fclose(f);
	rmdir(TRACE_INSTANCE);
	return n;
}

/* Map @size of secretmem on a new *@fd and fault it 4 KiB at a time. */
static char *secretmem_fault(unsigned long size, int *fd)
{
	char *mem = secretmem_map(size, fd);
	unsigned long off;

	for (off = 0; off < size; off += PAGE)
		mem[off] = 1;
	return mem;
}

/* Fault @size of secretmem, then close it. */
static void secretmem_round(unsigned long size)
{
	int fd;

	munmap(secretmem_fault(size, &fd), size);
	close(fd);
}

/*
 * The second round gets the pages the first one freed: the pool clears
 * each before handing it out, on this CPU, with no TLB shootdown.  Pinned
 * to one CPU, so that unmapping the user's mapping sends none either.
 */
static void pin_to_cpu(int cpu)
{
	cpu_set_t one;

	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (sched_setaffinity(0, sizeof(one), &one))
		ksft_exit_fail_msg("sched_setaffinity to CPU %d: %s\n", cpu, strerror(errno));
}

static void unpin(void)
{
	cpu_set_t all;
	int cpu;

	CPU_ZERO(&all);
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++)
		CPU_SET(cpu, &all);
	if (sched_setaffinity(0, sizeof(all), &all))
		ksft_exit_fail_msg("sched_setaffinity: %s\n", strerror(errno));
}

static void test_secretmem_reuse(void)
{
	unsigned long size = REUSE_MIB << 20, limit = REUSE_FLUSHES_PER_2M * (size >> 21);
	unsigned long pairs = size / PAGE;
	long calls, flushes, takes, hits;
	bool traced;

	pin_to_cpu(sched_getcpu());
	secretmem_round(size);
	traced = ipi_trace_start();
	calls = cross_cpu_calls();
	takes = file_value(POOL_DIR "/stats", "lock_takes");
	hits = file_value(POOL_DIR "/stats", "cache_hits");
	secretmem_round(size);
	takes = file_value(POOL_DIR "/stats", "lock_takes") - takes;
	hits = file_value(POOL_DIR "/stats", "cache_hits") - hits;
	calls = cross_cpu_calls() - calls;
	if (traced) {
		flushes = ipi_trace_stop_tlb_flushes();
		ksft_test_result(flushes <= (long)limit,
				 "secretmem %lu MiB again on reused pool pages: %ld TLB shootdowns, at most %lu expected (%ld cross-CPU calls in all)\n",
				 REUSE_MIB, flushes, limit, calls);
	} else {
		ksft_test_result_skip("secretmem again on reused pool pages: no tracefs csd events to tell TLB shootdowns apart\n");
	}
	ksft_test_result(takes < LOCKS_PER_PAIR * pairs,
			 "secretmem %lu MiB again: %.3f pool lock acquisitions per 4 KiB alloc+free (%ld for %lu), below %.1f expected; %ld cache hits\n",
			 REUSE_MIB, (double)takes / pairs, takes, pairs, LOCKS_PER_PAIR, hits);
	unpin();
	drain_pool();
}

/* The 4 KiB chunks cached on @cpu, all nodes ("cached CPU:N ..."), or -1. */
static long cached_on(int cpu)
{
	FILE *f = fopen(POOL_DIR "/stats", "r");
	char line[4096], *p;
	long sum = -1, n;
	int c, len;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "cached ", 7))
			continue;
		for (p = line + 7; sscanf(p, " %d:%ld%n", &c, &n, &len) == 2; p += len)
			if (c == cpu)
				sum = (sum < 0 ? 0 : sum) + n;
	}
	fclose(f);
	return sum;
}

/* The highest CPU in /sys/devices/system/cpu/online ("0-1", "0,2-3"). */
static int last_online_cpu(void)
{
	FILE *f = fopen("/sys/devices/system/cpu/online", "r");
	char buf[256], *p;
	int cpu = -1;

	if (!f || !fgets(buf, sizeof(buf), f))
		ksft_exit_fail_msg("/sys/devices/system/cpu/online: %s\n", strerror(errno));
	fclose(f);
	for (p = buf; *p; p++)
		if ((p == buf || p[-1] == ',' || p[-1] == '-') && *p >= '0' && *p <= '9')
			cpu = atoi(p);
	return cpu;
}

/* A CPU that goes offline gives the chunks it cached back to their blocks. */
static void test_cache_cpu_offline(void)
{
	const char *what = "CPU offline empties its cache of 4 KiB chunks";
	int cpu = last_online_cpu();
	char path[128];
	long before, after;

	/* CPU 0 may not go offline: the highest online CPU does. */
	snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/online", cpu);
	if (cpu < 1 || access(path, W_OK)) {
		ksft_test_result_skip("%s: no second CPU that can go offline\n", what);
		return;
	}
	pin_to_cpu(cpu);
	secretmem_round(4UL << 20);
	unpin();
	before = cached_on(cpu);
	write_file(path, "0");
	after = cached_on(cpu);
	write_file(path, "1");
	if (before <= 0)
		ksft_test_result_fail("%s: CPU %d cached %ld after secretmem was freed there\n",
				      what, cpu, before);
	else
		ksft_test_result(after == 0, "%s: CPU %d cached %ld, %ld after it went offline\n",
				 what, cpu, before, after);
	drain_pool();
}

int main(void)
{
	struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };
	unsigned long size = SIZE_MIB << 20, npages = size / PAGE;
	struct snapshot before, mapped, drained;
	char *mem;
	int fd, kvm, i;

	ksft_print_header();
	if (access(POOL_DIR "/drain", W_OK))
		ksft_exit_skip("no %s (CONFIG_UNMAPPED_ALLOC, debugfs, root)\n", POOL_DIR);
	/* secretmem is charged to RLIMIT_MEMLOCK as it is faulted. */
	if (setrlimit(RLIMIT_MEMLOCK, &unlimited))
		ksft_exit_fail_msg("setrlimit: %s\n", strerror(errno));

	drain_pool();
	take_snapshot(&before);
	if (before.blocks)
		ksft_exit_skip("the pool holds %ld blocks after a drain: another user has pages, or they leaked; the counts would not be this test's\n",
			       before.blocks);
	ksft_set_plan(19);

	mem = secretmem_fault(size, &fd);
	take_snapshot(&mapped);

	expect(mapped.used == (long)npages, "every faulted page is a pool page",
	       npages, mapped.used);
	expect(mapped.splits2 == before.splits2,
	       "no 2M page of the direct map was split into 4K pages",
	       before.splits2, mapped.splits2);
	expect(mapped.dm4k == before.dm4k, "DirectMap4k did not grow",
	       before.dm4k, mapped.dm4k);
	if (access("/proc/kcore", R_OK))
		ksft_test_result_skip("/proc/kcore: %s (CONFIG_PROC_KCORE)\n", strerror(errno));
	else
		kcore_hides_pool_page(mem);

	munmap(mem, size);
	close(fd);
	/* Drain also empties the per-CPU LRU batches that may hold folios. */
	drain_pool();
	take_snapshot(&drained);
	expect(drained.used == 0, "closing gave every page back to the pool",
	       0, drained.used);
	expect(drained.blocks == 0, "drain releases every block", 0, drained.blocks);
	expect(drained.dm1g >= before.dm1g, "DirectMap1G is not below its value before",
	       before.dm1g, drained.dm1g);
	expect(drained.dm4k <= before.dm4k, "DirectMap4k is not above its value before",
	       before.dm4k, drained.dm4k);

	test_secretmem_reuse();
	test_cache_cpu_offline();

	kvm = open("/dev/kvm", O_RDWR);
	if (kvm < 0) {
		ksft_print_msg("/dev/kvm: %s: no guest_memfd cases\n", strerror(errno));
		for (i = 0; i < 2 * GMEM_RESULTS; i++)
			ksft_test_result_skip("guest_memfd needs /dev/kvm\n");
		ksft_finished();
	}
	if (!access("/sys/kernel/mm/transparent_hugepage", F_OK)) {
		test_guest_memfd(kvm, false, "guest_memfd 1 GiB, 2 MiB folios");
		test_guest_memfd(kvm, true, "guest_memfd 1 GiB, mixed folios");
	} else {
		test_guest_memfd(kvm, false, "guest_memfd 1 GiB, 4 KiB folios");
		test_guest_memfd(kvm, true, "guest_memfd 1 GiB, 4 KiB folios and holes");
	}
	close(kvm);

	ksft_finished();
}
