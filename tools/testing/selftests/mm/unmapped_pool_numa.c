// SPDX-License-Identifier: GPL-2.0
/*
 * Which node the unmapped page pool takes memory from, for its two users:
 * secretmem and guest_memfd with GUEST_MEMFD_FLAG_NO_DIRECT_MAP.  As with
 * the page allocator, the local node by default, the node a memory policy
 * names, the nodes a cpuset allows, another node when the chosen one is
 * full, and an answer (OOM kill for secretmem faults, ENOMEM for
 * guest_memfd) rather than a loop when every allowed node is full.
 * GUEST_MEMFD_FLAG_NO_DIRECT_MAP is offered on every CPU, also on one
 * whose node has no memory.  Memory onlined on a node that had none gets
 * a pool; offlining it fails at once while pool pages there are in use,
 * and succeeds once they are free.
 *
 * Needs at least two nodes with memory, CPU 0 on one of them.  A CPU on
 * a node without memory, where there is one, is used by the capability
 * test.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <linux/kvm.h>
#include <linux/mempolicy.h>

#include "../kselftest.h"

#define POOL_DIR	"/sys/kernel/debug/unmapped_alloc"
#define CGROUP		"/sys/fs/cgroup/unmapped_pool_numa"
#define PAGE		4096UL
#define MIB		(1UL << 20)
#define TEST_SIZE	(8 * MIB)
#define MAX_NODES	64

static int node_a, node_b;	/* two nodes with memory; CPU 0 is on node_a */

/*
 * A counter of the pool of @node (or of all pools for -1) from the pool's
 * debugfs statistics.
 */
static long pool_stat(int node, const char *key)
{
	size_t len = strlen(key);
	char line[256];
	long val = 0;
	int cur = -1;
	FILE *f = fopen(POOL_DIR "/stats", "r");

	if (!f)
		ksft_exit_fail_msg("open %s/stats: %s\n", POOL_DIR, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "node %d", &cur) == 1)
			continue;
		if ((node < 0 || cur == node) && !strncmp(line, key, len) && line[len] == ' ')
			val += atol(line + len + 1);
	}
	fclose(f);
	return val;
}

/* Pages the pool of @node has handed out. */
static long pool_used(int node)
{
	return pool_stat(node, "pages_used");
}

static void drain_pool(void)
{
	int fd = open(POOL_DIR "/drain", O_WRONLY);

	if (fd < 0 || write(fd, "1", 1) != 1)
		ksft_exit_fail_msg("%s/drain: %s\n", POOL_DIR, strerror(errno));
	close(fd);
}

static bool node_has(int node, const char *what)
{
	char path[128], buf[4096];
	bool ret = false;
	int fd, n;

	snprintf(path, sizeof(path), "/sys/devices/system/node/%s", what);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	/* A list such as "0-1,3". */
	for (char *p = strtok(buf, ",\n"); p; p = strtok(NULL, ",\n")) {
		int lo, hi;

		if (sscanf(p, "%d-%d", &lo, &hi) != 2)
			hi = lo = atoi(p);
		ret |= node >= lo && node <= hi;
	}
	return ret;
}

static int cpu_node(int cpu)
{
	char path[128];

	for (int node = 0; node < MAX_NODES; node++) {
		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/node%d", cpu, node);
		if (!access(path, F_OK))
			return node;
	}
	return -1;
}

static void run_on_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		ksft_exit_fail_msg("sched_setaffinity(cpu %d): %s\n", cpu, strerror(errno));
}

static long set_policy(int mode, int node)
{
	unsigned long mask = 1UL << node;

	return syscall(__NR_set_mempolicy, mode, mode == MPOL_DEFAULT ? NULL : &mask,
		       mode == MPOL_DEFAULT ? 0 : MAX_NODES);
}

/* Who takes the memory: both are faulted or allocated, then kept. */
enum user { SECRETMEM, GMEM };
static const char *const user_name[] = { "secretmem", "guest_memfd" };

struct held {
	int fd, vm;
	char *map;
};

static int gmem_create(int *vm, unsigned long size)
{
	struct kvm_create_guest_memfd args = {
		.size = size,
		.flags = GUEST_MEMFD_FLAG_NO_DIRECT_MAP,
	};
	int kvm = open("/dev/kvm", O_RDWR), fd;

	if (kvm < 0)
		ksft_exit_fail_msg("/dev/kvm: %s\n", strerror(errno));
	*vm = ioctl(kvm, KVM_CREATE_VM, 0);
	close(kvm);
	if (*vm < 0)
		ksft_exit_fail_msg("KVM_CREATE_VM: %s\n", strerror(errno));
	fd = ioctl(*vm, KVM_CREATE_GUEST_MEMFD, &args);
	if (fd < 0)
		ksft_exit_fail_msg("KVM_CREATE_GUEST_MEMFD(NO_DIRECT_MAP): %s\n",
				   strerror(errno));
	return fd;
}

/* Take @size bytes for @user: 0, or the errno the kernel gave. */
static int take(enum user user, unsigned long size, struct held *h)
{
	h->vm = -1;
	h->map = NULL;
	if (user == GMEM) {
		h->fd = gmem_create(&h->vm, size);
		return fallocate(h->fd, FALLOC_FL_KEEP_SIZE, 0, size) ? errno : 0;
	}
	h->fd = syscall(__NR_memfd_secret, 0);
	if (h->fd < 0 || ftruncate(h->fd, size))
		ksft_exit_fail_msg("memfd_secret: %s\n", strerror(errno));
	h->map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, h->fd, 0);
	if (h->map == MAP_FAILED)
		ksft_exit_fail_msg("mmap(secretmem): %s\n", strerror(errno));
	for (unsigned long off = 0; off < size; off += PAGE)
		h->map[off] = 1;
	return 0;
}

static void give_back(struct held *h, unsigned long size)
{
	if (h->map)
		munmap(h->map, size);
	close(h->fd);
	if (h->vm >= 0)
		close(h->vm);
}

/*
 * Take TEST_SIZE for @user and report which nodes' pools it came from:
 * true if all of it came from @want, with no more than @blocks_max 2M
 * blocks' worth of blocks; *@from_want gets the pages @want served.  The
 * caller drains the pool first (not here: draining frees memory, and may
 * undo a full node).
 */
static bool taken_from_counted(enum user user, int want, const char *why,
			       long blocks_max, long *from_want)
{
	long before[MAX_NODES], got = 0, elsewhere = 0, blocks;
	struct held h;
	int err;

	for (int n = 0; n < MAX_NODES; n++)
		before[n] = pool_used(n);
	blocks = pool_stat(-1, "blocks_unmapped");
	err = take(user, TEST_SIZE, &h);
	/* Whole 2M blocks, shared by the pages: never one block per page. */
	blocks = pool_stat(-1, "blocks_unmapped") - blocks;
	if (blocks > blocks_max) {
		ksft_print_msg("%s %s: %ld blocks taken for %lu MiB\n", user_name[user], why,
			       blocks, TEST_SIZE / MIB);
		err = err ? err : EOVERFLOW;
	}
	for (int n = 0; n < MAX_NODES; n++) {
		long d = pool_used(n) - before[n];

		if (n == want) {
			got = d;
		} else if (d > 0) {
			elsewhere += d;
			ksft_print_msg("%s %s: %ld pages from node %d\n",
				       user_name[user], why, d, n);
		}
	}
	give_back(&h, TEST_SIZE);
	*from_want = err ? 0 : got;	/* 0 also for too many blocks */
	if (err || got != TEST_SIZE / PAGE || elsewhere)
		ksft_print_msg("%s %s: expected %lu pages from node %d, got %ld there and %ld elsewhere (%s)\n",
			       user_name[user], why, TEST_SIZE / PAGE, want, got, elsewhere,
			       err ? strerror(err) : "no error");
	return !err && got == TEST_SIZE / PAGE && !elsewhere;
}

static bool taken_from(enum user user, int want, const char *why)
{
	long got;

	return taken_from_counted(user, want, why, TEST_SIZE / (2 * MIB) + 1, &got);
}

static void test_default_local(enum user user)
{
	run_on_cpu(0);
	drain_pool();
	ksft_test_result(taken_from(user, node_a, "default policy on CPU 0"),
			 "%s: default policy takes the local node's pool\n", user_name[user]);
}

static void test_policy(enum user user, int mode, const char *mode_name)
{
	bool ok;

	run_on_cpu(0);
	if (set_policy(mode, node_b))
		ksft_exit_fail_msg("set_mempolicy(%s, node %d): %s\n", mode_name, node_b,
				   strerror(errno));
	drain_pool();
	ok = taken_from(user, node_b, mode_name);
	set_policy(MPOL_DEFAULT, 0);
	ksft_test_result(ok, "%s: %s names the node\n", user_name[user], mode_name);
}

static bool write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	bool ok = fd >= 0 && write(fd, val, strlen(val)) == (ssize_t)strlen(val);

	if (fd >= 0)
		close(fd);
	return ok;
}

/* A child in a cpuset whose mems exclude its CPU's node. */
static void test_cpuset(enum user user)
{
	char val[32];
	int status;
	pid_t pid;

	run_on_cpu(0);
	if (!write_file("/sys/fs/cgroup/cgroup.subtree_control", "+cpuset")) {
		ksft_test_result_skip("%s: cpuset: no cpuset controller (%s)\n",
				      user_name[user], strerror(errno));
		return;
	}
	drain_pool();
	mkdir(CGROUP, 0755);
	snprintf(val, sizeof(val), "%d", node_b);
	if (!write_file(CGROUP "/cpuset.cpus", "0") || !write_file(CGROUP "/cpuset.mems", val))
		ksft_exit_fail_msg("%s: cpuset.cpus=0 mems=%s: %s\n", CGROUP, val, strerror(errno));

	pid = fork();
	if (!pid) {
		snprintf(val, sizeof(val), "%d", getpid());
		if (!write_file(CGROUP "/cgroup.procs", val))
			_exit(2);
		_exit(taken_from(user, node_b, "cpuset.mems excludes CPU 0's node") ? 0 : 1);
	}
	waitpid(pid, &status, 0);
	rmdir(CGROUP);
	ksft_test_result(WIFEXITED(status) && !WEXITSTATUS(status),
			 "%s: cpuset.mems is obeyed\n", user_name[user]);
}

static void set_huge_pages(int node, long nr)
{
	char path[128], val[32];

	snprintf(path, sizeof(path),
		 "/sys/devices/system/node/node%d/hugepages/hugepages-2048kB/nr_hugepages", node);
	snprintf(val, sizeof(val), "%ld", nr);
	if (!write_file(path, val))
		ksft_exit_fail_msg("%s = %s: %s\n", path, val, strerror(errno));
}

/* The node of a fresh anonymous page faulted by this task. */
static int anon_page_node(void)
{
	char *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int node = -1;

	if (p == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	p[0] = 1;
	if (syscall(__NR_get_mempolicy, &node, NULL, 0, p, MPOL_F_NODE | MPOL_F_ADDR))
		ksft_exit_fail_msg("get_mempolicy(MPOL_F_ADDR): %s\n", strerror(errno));
	munmap(p, PAGE);
	return node;
}

static pid_t filler = -1;
static char boost_factor[32], pcp_fraction[32];

/* Saves a vm sysctl's value in @old and writes @val. */
static void set_vm_sysctl(const char *name, const char *val, char *old, size_t len)
{
	char path[96];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/sys/vm/%s", name);
	f = fopen(path, "r");
	if (!f || !fgets(old, len, f) || !write_file(path, val))
		ksft_exit_fail_msg("vm.%s: %s\n", name, strerror(errno));
	fclose(f);
}

static void restore_vm_sysctl(const char *name, const char *old)
{
	char path[96];

	snprintf(path, sizeof(path), "/proc/sys/vm/%s", name);
	if (!write_file(path, old))
		ksft_exit_fail_msg("vm.%s = %s: %s\n", name, old, strerror(errno));
}

/* The largest number in a zoneinfo "protection: (a, b, ...)" line. */
static long max_protection(const char *line)
{
	const char *p = strchr(line, '(');
	long max = 0, v;

	while (p && sscanf(p + 1, "%ld", &v) == 1) {
		max = v > max ? v : max;
		p = strchr(p + 1, ',');
	}
	return max;
}

/*
 * Whether every zone of @node is at most half way from its min to its low
 * watermark (plus the protection kept for higher zones): the page
 * allocator's fast path falls back to another node, kswapd has some way
 * to go before that changes, and nothing yet needs the OOM killer.
 */
static bool node_below_low(int node)
{
	long free = 0, min = 0, low = 0;
	bool below = true, in_node = false;
	char line[512], key[32];
	int cur;
	long v;
	FILE *f = fopen("/proc/zoneinfo", "r");

	if (!f)
		ksft_exit_fail_msg("/proc/zoneinfo: %s\n", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Node %d,", &cur) == 1) {
			in_node = cur == node;
			free = min = low = 0;
			continue;
		}
		if (!in_node)
			continue;
		if (strstr(line, "protection: (")) {
			if (low && free > (min + low) / 2 + max_protection(line))
				below = false;
		} else if (sscanf(line, " pages free %ld", &v) == 1) {
			free = v;
		} else if (sscanf(line, " %31s %ld", key, &v) == 2) {
			if (!strcmp(key, "min"))
				min = v;
			else if (!strcmp(key, "low"))
				low = v;
		}
	}
	fclose(f);
	return below;
}

/*
 * Start the child that keeps @node below its low watermarks; true once it
 * got there, false if it was killed on the way.
 */
static bool start_filler(int node)
{
	int pipefd[2], status;
	bool told = false;
	char c;

	if (pipe(pipefd))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	filler = fork();
	if (!filler) {
		close(pipefd[0]);
		/* Not left behind if the test ends early. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		write_file("/proc/self/oom_score_adj", "500");
		if (set_policy(MPOL_BIND, node))
			_exit(2);
		for (;;) {
			if (node_below_low(node)) {
				if (!told && write(pipefd[1], "f", 1) != 1)
					_exit(3);
				told = true;
				usleep(20000);
				continue;
			}
			mmap(NULL, 64 * PAGE, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		}
	}
	close(pipefd[1]);
	told = read(pipefd[0], &c, 1) == 1;
	close(pipefd[0]);
	if (told)
		return true;
	waitpid(filler, &status, 0);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		ksft_exit_fail_msg("the filler of node %d exited (status %#x)\n", node, status);
	return false;
}

/*
 * Fill @node until the page allocator itself falls back from it, for a
 * task on CPU 0 with the default policy: huge pages first (quick, and
 * nothing reclaims them), leaving 64 MiB, then anonymous memory of a
 * child bound to the node, down to the low watermarks and not below, and
 * kept there while kswapd reclaims.  Should the OOM killer run anyway,
 * the child goes before anything but the test's own volunteers
 * (oom_score_adj 500).  Checked by faulting an anonymous page from CPU 0.
 */
static void fill_node(int node)
{
	long hugepages = 0;
	char path[128];
	FILE *f;

	/* Less for kswapd to reclaim, and to lift the node again, later. */
	write_file("/proc/sys/vm/drop_caches", "3");
	/* No boosted watermarks: kswapd would lift the node past them. */
	set_vm_sysctl("watermark_boost_factor", "0", boost_factor, sizeof(boost_factor));
	/*
	 * Small per-CPU page lists: pages on them are not counted free, and
	 * with large ones the node's free count swung past its min watermark
	 * and the filler was OOM-killed with megabytes on the lists.
	 */
	set_vm_sysctl("percpu_pagelist_high_fraction", "10000", pcp_fraction,
		      sizeof(pcp_fraction));
	set_huge_pages(node, 1L << 20);
	snprintf(path, sizeof(path),
		 "/sys/devices/system/node/node%d/hugepages/hugepages-2048kB/nr_hugepages", node);
	f = fopen(path, "r");
	if (!f || fscanf(f, "%ld", &hugepages) != 1)
		ksft_exit_fail_msg("%s: %s\n", path, strerror(errno));
	fclose(f);
	set_huge_pages(node, hugepages > 32 ? hugepages - 32 : 0);

	run_on_cpu(0);
	/*
	 * The filler's faults, bound to the node, may meet the OOM killer
	 * (seen once in the THP-off boot, the node's zones under their min
	 * watermarks): the kernel doing its job for a bound task, so fill
	 * again.
	 */
	for (int tries = 1; !start_filler(node); tries++) {
		if (tries == 3)
			ksft_exit_fail_msg("the filler of node %d died %d times\n", node, tries);
		ksft_print_msg("the filler of node %d was killed; filling again\n", node);
	}
	if (anon_page_node() == node)
		ksft_print_msg("node %d below its low watermarks, yet an anonymous page came from it\n",
			       node);
}

/* Reaps the filler if it died: then filler is -1. */
static bool filler_alive(void)
{
	if (waitpid(filler, NULL, WNOHANG) == 0)
		return true;
	filler = -1;
	return false;
}

static void unfill_node(int node)
{
	if (filler > 0) {
		kill(filler, SIGKILL);
		waitpid(filler, NULL, 0);
	}
	filler = -1;
	set_huge_pages(node, 0);
	restore_vm_sysctl("watermark_boost_factor", boost_factor);
	restore_vm_sysctl("percpu_pagelist_high_fraction", pcp_fraction);
}

/*
 * Most of it from the other node: kswapd may lift the full node above its
 * low watermark for a moment, and then it serves, as it would serve the
 * page allocator.  In whole blocks, never one per page (checked by
 * taken_from()).
 */
static void test_fallback_when_full(enum user user)
{
	bool ok, alive;
	long got;

	run_on_cpu(0);
	for (int tries = 1; ; tries++) {
		drain_pool();
		fill_node(node_a);
		/* Smaller blocks of the full node: twice the 2M blocks at most. */
		taken_from_counted(user, node_b, "local node full", 2 * TEST_SIZE / (2 * MIB),
				   &got);
		/* Its memory freed, the node was no longer full. */
		alive = filler_alive();
		unfill_node(node_a);
		if (alive || tries == 3)
			break;
		ksft_print_msg("the filler of node %d died while the node was full: again\n",
			       node_a);
	}
	ok = alive && got >= (long)(TEST_SIZE / PAGE) * 3 / 4;
	ksft_test_result(ok, "%s: a full local node falls back to another\n", user_name[user]);
}

/*
 * MPOL_BIND to a full node: secretmem's fault ends in the OOM killer, as
 * folio_alloc() would, so the child is killed (it volunteers, with
 * oom_score_adj 1000); guest_memfd fails with ENOMEM.  Never a retry loop:
 * the alarm would end that.
 */
static void test_bind_full(enum user user)
{
	struct held h;
	bool ok, killed;
	int status;
	pid_t pid;

	run_on_cpu(0);
	drain_pool();
	fill_node(node_a);
	/* The child alone takes the node below its watermarks from here. */
	kill(filler, SIGSTOP);
	pid = fork();
	if (!pid) {
		write_file("/proc/self/oom_score_adj", "1000");
		alarm(120);
		if (user == GMEM) {
			/*
			 * The VM first, and errno's page copied after the
			 * fork: those allocations may OOM-kill.
			 */
			h.fd = gmem_create(&h.vm, 256 * MIB);
			errno = 0;
			if (set_policy(MPOL_BIND, node_a))
				_exit(3);
			_exit(fallocate(h.fd, FALLOC_FL_KEEP_SIZE, 0, 256 * MIB) &&
			      errno == ENOMEM ? 0 : 1);
		}
		if (set_policy(MPOL_BIND, node_a))
			_exit(3);
		take(user, 256 * MIB, &h);
		_exit(1);
	}
	waitpid(pid, &status, 0);
	unfill_node(node_a);
	/*
	 * guest_memfd: ENOMEM, or the OOM kill 6.12 gave: a 4K block can
	 * need a page table to split the direct map, allocated by CPA with
	 * GFP_KERNEL under the task's policy.
	 */
	killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
	if (user == SECRETMEM)
		ok = killed;
	else
		ok = killed || (WIFEXITED(status) && !WEXITSTATUS(status));
	if (!ok)
		ksft_print_msg("%s: child %s %d\n", user_name[user],
			       WIFSIGNALED(status) ? "killed by signal" : "exited with",
			       WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	ksft_test_result(ok, "%s: MPOL_BIND to a full node: %s\n", user_name[user],
			 user == SECRETMEM ? "OOM kill" : killed ? "OOM kill" : "ENOMEM");
}

#define MEMORY_DIR	"/sys/devices/system/memory"

static int block_node(const char *block)
{
	char path[300];

	for (int node = 0; node < MAX_NODES; node++) {
		snprintf(path, sizeof(path), MEMORY_DIR "/%s/node%d", block, node);
		if (!access(path, F_OK))
			return node;
	}
	return -1;
}

/* An offline memory block of a node that has no memory, or -1. */
static int offline_block(int *node)
{
	struct dirent *d;
	char path[300], state[32];
	int found = -1;
	DIR *dir = opendir(MEMORY_DIR);
	FILE *f;

	while (dir && found < 0 && (d = readdir(dir))) {
		if (strncmp(d->d_name, "memory", 6) || !strchr("0123456789", d->d_name[6]))
			continue;
		snprintf(path, sizeof(path), MEMORY_DIR "/%s/state", d->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fscanf(f, "%31s", state) == 1 && !strcmp(state, "offline")) {
			*node = block_node(d->d_name);
			if (*node >= 0 && !node_has(*node, "has_memory"))
				found = atoi(d->d_name + 6);
		}
		fclose(f);
	}
	if (dir)
		closedir(dir);
	return found;
}

static void on_alarm(int sig)
{
}

/* Write @state to memory block @nr's state file: 0, or the errno. */
static int set_block_state(int nr, const char *state)
{
	struct sigaction sa = { .sa_handler = on_alarm };	/* no SA_RESTART */
	char path[128];
	int fd, err = 0;

	snprintf(path, sizeof(path), MEMORY_DIR "/memory%d/state", nr);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return errno;
	sigaction(SIGALRM, &sa, NULL);
	alarm(60);
	if (write(fd, state, strlen(state)) < 0)
		err = errno;
	alarm(0);
	close(fd);
	return err;
}

/* How often the pool refused an offline, from the kernel log. */
static long pool_refusals(void)
{
	FILE *f = popen("dmesg | grep -c 'unmapped_alloc: pfn .* holds pages in use or poisoned'", "r");
	long n = 0;

	if (!f || fscanf(f, "%ld", &n) != 1)
		n = 0;
	if (f)
		pclose(f);
	return n;
}

static void shrink_slabs(void)
{
	struct dirent *d;
	char path[300];
	DIR *dir = opendir("/sys/kernel/slab");

	while (dir && (d = readdir(dir))) {
		snprintf(path, sizeof(path), "/sys/kernel/slab/%s/shrink", d->d_name);
		write_file(path, "1");
	}
	if (dir)
		closedir(dir);
}

static void test_hotplug(void)
{
	unsigned long size = 4 * MIB;
	int node, nr = offline_block(&node), err;
	struct timespec t0, t1;
	long refusals;
	bool ok, intact, slab_first;
	struct held h;
	long before;

	if (nr < 0) {
		ksft_test_result_skip("hotplug: no offline memory block on a node without memory\n");
		ksft_test_result_skip("hotplug: offline with pool pages in use\n");
		ksft_test_result_skip("hotplug: offline with pool pages free\n");
		return;
	}
	err = set_block_state(nr, "online_kernel");
	if (err)
		ksft_exit_fail_msg("memory%d (node %d): online_kernel: %s\n",
				   nr, node, strerror(err));
	ksft_print_msg("memory%d onlined on node %d\n", nr, node);

	run_on_cpu(0);
	drain_pool();
	before = pool_used(node);
	if (set_policy(MPOL_BIND, node))
		ksft_exit_fail_msg("set_mempolicy(MPOL_BIND, node %d): %s\n",
				   node, strerror(errno));
	err = take(SECRETMEM, size, &h);
	set_policy(MPOL_DEFAULT, 0);
	ok = !err && pool_used(node) - before == (long)(size / PAGE);
	if (!ok)
		ksft_print_msg("node %d pool: %ld pages used, expected %lu\n", node,
			       pool_used(node) - before, size / PAGE);
	ksft_test_result(ok, "hotplug: memory onlined on a node without memory gets a pool\n");

	/*
	 * Unmapped, the file keeps its pages but the page tables, which the
	 * policy also put on the node, are gone: only the pool's pages hold
	 * the block.
	 */
	memset(h.map, 0x5a, size);
	munmap(h.map, size);
	refusals = pool_refusals();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = set_block_state(nr, "offline");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	h.map = mmap(NULL, size, PROT_READ, MAP_SHARED, h.fd, 0);
	if (h.map == MAP_FAILED)
		ksft_exit_fail_msg("mmap(secretmem) again: %s\n", strerror(errno));
	intact = true;
	for (unsigned long off = 0; off < size; off++)
		intact &= h.map[off] == 0x5a;
	/* Refused by the pool, not by isolation failing on other pages. */
	/*
	 * Slab pages the policy put on the node while the file was set up
	 * (page cache nodes, still in use) fail the isolation before the
	 * pool is asked: then neither case can be judged.  The default
	 * kernel's slab reuses its partial slabs elsewhere; a KASAN kernel's
	 * quarantine keeps freed objects, and new slabs land on the node.
	 */
	slab_first = err == EBUSY && intact && pool_refusals() == refusals;
	ok = err == EBUSY && t1.tv_sec - t0.tv_sec < 30 && intact &&
	     pool_refusals() > refusals;
	if (!ok)
		ksft_print_msg("offline memory%d: %s after %lds, expected EBUSY at once, data %s\n",
			       nr, err ? strerror(err) : "succeeded", (long)(t1.tv_sec - t0.tv_sec),
			       intact ? "intact" : "changed");
	if (slab_first)
		ksft_test_result_skip("hotplug: offline with pool pages in use fails with EBUSY: pages that are not the pool's failed the isolation first (the kernel log dumps them)\n");
	else
		ksft_test_result(ok, "hotplug: offline with pool pages in use fails with EBUSY\n");

	/* Let the caches give back the empty slabs the policy put there. */
	give_back(&h, size);
	shrink_slabs();
	err = set_block_state(nr, "offline");
	if (err)
		ksft_print_msg("offline memory%d: %s\n", nr, strerror(err));
	if (err == EBUSY && slab_first)
		ksft_test_result_skip("hotplug: offline with pool pages free succeeds: the same pages still hold the block\n");
	else
		ksft_test_result(!err, "hotplug: offline with pool pages free succeeds\n");
	if (err)
		set_block_state(nr, "offline");
}

/* Every CPU gets the same answer, also one on a node without memory. */
static void test_cap_every_cpu(void)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int kvm = open("/dev/kvm", O_RDWR), memless = -1;
	bool ok = true;

	if (kvm < 0)
		ksft_exit_fail_msg("/dev/kvm: %s\n", strerror(errno));
	for (int cpu = 0; cpu < ncpu; cpu++) {
		int node = cpu_node(cpu), r;

		run_on_cpu(cpu);
		r = ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_GUEST_MEMFD_FLAGS);
		if (!node_has(node, "has_memory"))
			memless = cpu;
		if (!(r & GUEST_MEMFD_FLAG_NO_DIRECT_MAP)) {
			ksft_print_msg("CPU %d (node %d): KVM_CAP_GUEST_MEMFD_FLAGS = %#x, expected NO_DIRECT_MAP\n",
				       cpu, node, r);
			ok = false;
		}
	}
	close(kvm);
	run_on_cpu(0);
	/* The case that matters: a CPU whose node has no pool of its own. */
	if (ok && memless < 0)
		ksft_test_result_skip("KVM_CAP_GUEST_MEMFD_FLAGS on every CPU: no CPU on a node without memory\n");
	else
		ksft_test_result(ok, "KVM_CAP_GUEST_MEMFD_FLAGS is the same on every CPU, CPU %d on a node without memory\n",
				 memless);
}

int main(void)
{
	int nodes = 0;

	struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };

	ksft_print_header();
	/* secretmem counts against RLIMIT_MEMLOCK. */
	if (setrlimit(RLIMIT_MEMLOCK, &unlimited))
		ksft_exit_fail_msg("setrlimit(RLIMIT_MEMLOCK): %s\n", strerror(errno));
	if (access(POOL_DIR "/stats", R_OK))
		ksft_exit_skip("no %s (CONFIG_UNMAPPED_ALLOC, debugfs)\n", POOL_DIR);
	node_a = cpu_node(0);
	for (int n = 0; n < MAX_NODES && !nodes; n++)
		if (node_has(n, "has_memory") && n != node_a)
			node_b = n, nodes++;
	if (node_a < 0 || !node_has(node_a, "has_memory") || !nodes)
		ksft_exit_skip("needs CPU 0 on a node with memory and another node with memory\n");
	ksft_print_msg("CPU 0 on node %d, other node %d\n", node_a, node_b);

	ksft_set_plan(16);
	test_cap_every_cpu();
	for (enum user user = SECRETMEM; user <= GMEM; user++) {
		test_default_local(user);
		test_policy(user, MPOL_BIND, "MPOL_BIND");
		test_policy(user, MPOL_PREFERRED, "MPOL_PREFERRED");
		test_cpuset(user);
		test_fallback_when_full(user);
		test_bind_full(user);
	}
	test_hotplug();
	drain_pool();
	ksft_finished();
}
