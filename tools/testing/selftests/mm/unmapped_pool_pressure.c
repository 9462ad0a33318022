// SPDX-License-Identifier: GPL-2.0
/*
 * Real memory pressure on the unmapped page pool.  The pool holds 1 GiB
 * of free blocks (secretmem faulted and closed), which MemAvailable does
 * not count.  A process then populates more anonymous memory than is
 * available without those blocks, while another keeps a secretmem
 * pattern and faults and frees more secretmem.  Reclaim must take the
 * free blocks through the pool's shrinker (pages_shrunk), nothing may be
 * OOM-killed, and the pattern must be intact.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../kselftest.h"
#include "unmapped_pool_util.h"

#define PAGE		4096UL
#define HELD_MIB	1024UL
#define KEPT_MIB	64UL
#define CHURN_MIB	32UL

static void write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);

	if (fd < 0 || write(fd, val, strlen(val)) != (ssize_t)strlen(val))
		ksft_exit_fail_msg("write %s: %s\n", path, strerror(errno));
	close(fd);
}

static void secret_unmap(char *mem, unsigned long size, int fd)
{
	munmap(mem, size);
	close(fd);
}

/* Fill the pool with free blocks: secretmem faulted, then given back. */
static void hold_free_blocks(void)
{
	unsigned long size = HELD_MIB << 20, off;
	char *mem;
	int fd;

	mem = secretmem_map(size, &fd);
	for (off = 0; off < size; off += PAGE)
		mem[off] = 1;
	secret_unmap(mem, size, fd);
	/* Folios still in a CPU's LRU batch: drop_caches drains those first. */
	write_file("/proc/sys/vm/drop_caches", "1");
}

/*
 * The other pool user: a pattern in KEPT_MIB of secretmem, and CHURN_MIB
 * more faulted and freed until a byte arrives on @stop (non-blocking).
 * Exits 0 if the pattern held.
 */
static void secretmem_user(int ready, int stop)
{
	unsigned long size = KEPT_MIB << 20, off, rounds = 0;
	char *kept, *churn, c;
	int fd, cfd;

	kept = secretmem_map(size, &fd);
	for (off = 0; off < size; off += PAGE)
		kept[off] = (char)(off / PAGE);
	if (write(ready, "r", 1) != 1)
		exit(2);
	while (read(stop, &c, 1) != 1) {
		churn = secretmem_map(CHURN_MIB << 20, &cfd);
		for (off = 0; off < CHURN_MIB << 20; off += PAGE)
			churn[off] = 1;
		secret_unmap(churn, CHURN_MIB << 20, cfd);
		rounds++;
	}
	for (off = 0; off < size; off += PAGE) {
		if (kept[off] != (char)(off / PAGE)) {
			printf("# secretmem page %lu lost its data\n", off / PAGE);
			exit(1);
		}
	}
	printf("# secretmem user: %lu rounds of %lu MiB faulted and freed\n", rounds, CHURN_MIB);
	exit(0);
}

int main(void)
{
	struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };
	long avail_kb, free_pages, oom0, shrunk0, oom, shrunk;
	unsigned long anon_size;
	int pipefd[2], stopfd[2], status;
	char *anon, c;
	pid_t user;

	ksft_print_header();
	if (access(POOL_DIR "/drain", W_OK))
		ksft_exit_skip("no %s (CONFIG_UNMAPPED_ALLOC, debugfs, root)\n", POOL_DIR);
	ksft_set_plan(4);
	if (setrlimit(RLIMIT_MEMLOCK, &unlimited))
		ksft_exit_fail_msg("setrlimit: %s\n", strerror(errno));

	write_file(POOL_DIR "/drain", "1");
	hold_free_blocks();
	free_pages = file_value(POOL_DIR "/stats", "pages_free");
	if (free_pages < (long)(HELD_MIB << 20) / (long)PAGE / 2)
		ksft_exit_fail_msg("the pool should hold about %lu MiB free, holds %ld pages\n",
				   HELD_MIB, free_pages);

	if (pipe(pipefd) || pipe2(stopfd, O_NONBLOCK))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	user = fork();
	if (user < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (!user)
		secretmem_user(pipefd[1], stopfd[0]);
	if (read(pipefd[0], &c, 1) != 1)
		ksft_exit_fail_msg("the secretmem user did not start\n");

	/* More than is available without the pool's free blocks: half of them. */
	avail_kb = file_value("/proc/meminfo", "MemAvailable");
	anon_size = avail_kb * 1024UL + free_pages * PAGE / 2;
	oom0 = file_value("/proc/vmstat", "oom_kill");
	shrunk0 = file_value(POOL_DIR "/stats", "pages_shrunk");
	ksft_print_msg("pool free %ld MiB, MemAvailable %ld MiB: populating %lu MiB of anonymous memory\n",
		       free_pages * PAGE >> 20, avail_kb >> 10, anon_size >> 20);
	anon = mmap(NULL, anon_size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (anon == MAP_FAILED)
		ksft_exit_fail_msg("mmap %lu MiB: %s\n", anon_size >> 20, strerror(errno));
	oom = file_value("/proc/vmstat", "oom_kill");
	shrunk = file_value(POOL_DIR "/stats", "pages_shrunk");
	munmap(anon, anon_size);

	if (write(stopfd[1], "s", 1) != 1)
		ksft_exit_fail_msg("stopping the secretmem user: %s\n", strerror(errno));
	if (waitpid(user, &status, 0) != user)
		ksft_exit_fail_msg("waitpid: %s\n", strerror(errno));

	if (shrunk > shrunk0)
		ksft_test_result_pass("the shrinker released %ld free pool pages\n",
				      shrunk - shrunk0);
	else
		ksft_test_result_fail("the shrinker released nothing (pages_shrunk %ld)\n", shrunk);
	if (oom == oom0)
		ksft_test_result_pass("nothing was OOM-killed\n");
	else
		ksft_test_result_fail("%ld OOM kills\n", oom - oom0);
	if (WIFEXITED(status) && !WEXITSTATUS(status))
		ksft_test_result_pass("the secretmem user's data is intact\n");
	else
		ksft_test_result_fail("the secretmem user ended with status %#x%s\n", status,
				      WIFSIGNALED(status) ? " (killed)" : "");

	write_file(POOL_DIR "/drain", "1");
	if (file_value(POOL_DIR "/stats", "pages_used") || file_value(POOL_DIR "/stats", "blocks"))
		ksft_test_result_fail("pool not empty after a drain: %ld used, %ld blocks\n",
				      file_value(POOL_DIR "/stats", "pages_used"),
				      file_value(POOL_DIR "/stats", "blocks"));
	else
		ksft_test_result_pass("the pool is empty after a drain\n");
	ksft_finished();
}
