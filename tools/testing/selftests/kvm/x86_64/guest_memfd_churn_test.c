// SPDX-License-Identifier: GPL-2.0
/*
 * Churn: processes that create and destroy software-protected VMs whose
 * private memory is guest_memfd, with and without
 * GUEST_MEMFD_FLAG_NO_DIRECT_MAP, 2-32 MiB each (fallocate, guest faults,
 * punched holes, close), while another process keeps anonymous memory
 * coming and going and drops caches, so that the pool's shrinker releases
 * blocks that the churn takes back soon after.  The kernel must survive it
 * and the pool must end empty after a drain.
 *
 *   guest_memfd_churn_test [-d seconds] [-w workers]
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <linux/falloc.h>
#include <linux/sizes.h>

#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "unmapped_pool_util.h"

#define DATA_SLOT	10
#define DATA_GPA	(1ULL << 30)
#define MAX_DATA_SIZE	SZ_32M
#define MAX_PRESSURE_SIZE	SZ_512M
#define PRESSURE_PAUSE_US	200000
/* A child still running this long after the end is stuck: SIGALRM ends it. */
#define STUCK_SECONDS	600

/* Per-process results, in shared memory; the parent reads them. */
struct churn_counts {
	unsigned long vms, flagged, holes, pressure_rounds;
};

static const struct vm_shape sw_protected = {
	.mode = VM_MODE_DEFAULT,
	.type = KVM_X86_SW_PROTECTED_VM,
};

static void write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);

	TEST_ASSERT(fd >= 0 && write(fd, s, strlen(s)) == (ssize_t)strlen(s),
		    "write '%s' to %s: %s", s, path, strerror(errno));
	close(fd);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Writes one word per 4K page of [gpa, gpa + size), then again after a hole. */
static void guest_touch(uint64_t gpa, uint64_t size)
{
	uint64_t *p = (uint64_t *)gpa, pass, i;

	for (pass = 0; ; pass++) {
		for (i = 0; i < size / sizeof(*p); i += 512)
			p[i] = pass;
		GUEST_SYNC(pass);
	}
}

static void run_pass(struct kvm_vcpu *vcpu)
{
	struct ucall uc;

	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	if (get_ucall(vcpu, &uc) == UCALL_ABORT)
		REPORT_GUEST_ASSERT(uc);
	TEST_ASSERT(uc.cmd == UCALL_SYNC, "expected UCALL_SYNC, got ucall %lu", uc.cmd);
}

/* One VM: guest_memfd of @size, faulted by the guest, holes, refaulted, closed. */
static void churn_one_vm(unsigned int *seed, struct churn_counts *c)
{
	uint64_t size = SZ_2M * (1 + rand_r(seed) % (MAX_DATA_SIZE / SZ_2M));
	uint64_t flags = c->vms & 1 ? GUEST_MEMFD_FLAG_NO_DIRECT_MAP : 0;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	off_t off;
	int fd;

	vm = vm_create_shape_with_one_vcpu(sw_protected, &vcpu, guest_touch);
	fd = vm_create_guest_memfd(vm, size, flags);
	if (rand_r(seed) & 1)
		TEST_ASSERT(!fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, size),
			    "fallocate %#lx bytes: %s", size, strerror(errno));
	vm_mem_add(vm, VM_MEM_SRC_ANONYMOUS, DATA_GPA, DATA_SLOT,
		   size / vm->page_size, KVM_MEM_GUEST_MEMFD, fd, 0);
	virt_map(vm, DATA_GPA, DATA_GPA, size / vm->page_size);
	vm_mem_set_private(vm, DATA_GPA, size);
	vcpu_args_set(vcpu, 2, DATA_GPA, size);
	run_pass(vcpu);

	off = (rand_r(seed) % (size / getpagesize())) * getpagesize();
	punch(fd, off, getpagesize());
	punch(fd, off & ~(off_t)(SZ_2M - 1), SZ_2M);
	c->holes += 2;
	run_pass(vcpu);

	close(fd);
	kvm_vm_free(vm);
	c->vms++;
	c->flagged += !!flags;
}

static void churn(unsigned int seed, double end, struct churn_counts *c)
{
	while (now_s() < end)
		churn_one_vm(&seed, c);
}

/*
 * Anonymous memory in and out, caches and slabs dropped: shrinkers run.
 * A quarter of what is available, so the churn is never OOM-killed for it.
 */
static void pressure(double end, struct churn_counts *c)
{
	size_t size = file_sum("/proc/meminfo", "MemAvailable") * 1024 / 4;
	char *p;

	if (size > MAX_PRESSURE_SIZE)
		size = MAX_PRESSURE_SIZE;
	while (now_s() < end) {
		p = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		TEST_ASSERT(p != MAP_FAILED, "mmap %zu MiB: %s", size >> 20, strerror(errno));
		memset(p, 0x5a, size);
		munmap(p, size);
		write_str("/proc/sys/vm/drop_caches", "3");
		c->pressure_rounds++;
		usleep(PRESSURE_PAUSE_US);
	}
}

static pid_t spawn(int i, int workers, int seconds, struct churn_counts *c)
{
	double end = now_s() + seconds;
	pid_t pid = fork();

	TEST_ASSERT(pid >= 0, "fork: %s", strerror(errno));
	if (pid)
		return pid;
	alarm(seconds + STUCK_SECONDS);
	if (i < workers)
		churn(0x9e3779b9u * (i + 1), end, &c[i]);
	else
		pressure(end, &c[i]);
	exit(0);
}

int main(int argc, char *argv[])
{
	int seconds = 30, workers = 3, opt, i, j, status;
	struct churn_counts *c, sum = {};
	long used0;
	pid_t *pids;

	while ((opt = getopt(argc, argv, "d:w:")) != -1) {
		switch (opt) {
		case 'd':
			seconds = atoi_positive("Duration in seconds", optarg);
			break;
		case 'w':
			workers = atoi_positive("Number of churning processes", optarg);
			break;
		default:
			fprintf(stderr, "usage: %s [-d seconds] [-w workers]\n", argv[0]);
			exit(KSFT_FAIL);
		}
	}
	TEST_REQUIRE(kvm_check_cap(KVM_CAP_VM_TYPES) & BIT(KVM_X86_SW_PROTECTED_VM));
	TEST_REQUIRE(kvm_check_cap(KVM_CAP_GUEST_MEMFD_FLAGS) & GUEST_MEMFD_FLAG_NO_DIRECT_MAP);
	TEST_REQUIRE(!access(POOL_DIR "/drain", W_OK));

	c = mmap(NULL, (workers + 1) * sizeof(*c), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	TEST_ASSERT(c != MAP_FAILED, "mmap counters: %s", strerror(errno));
	memset(c, 0, (workers + 1) * sizeof(*c));
	pids = calloc(workers + 1, sizeof(*pids));
	TEST_ASSERT(pids, "calloc");

	used0 = file_sum(POOL_DIR "/stats", "pages_used");
	pr_info("%d churning processes and one under memory pressure for %d s\n",
		workers, seconds);
	fflush(stdout);
	for (i = 0; i <= workers; i++)
		pids[i] = spawn(i, workers, seconds, c);
	for (i = 0; i <= workers; i++) {
		TEST_ASSERT(waitpid(pids[i], &status, 0) == pids[i], "waitpid");
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			for (j = i + 1; j <= workers; j++)
				kill(pids[j], SIGKILL);
			TEST_FAIL("%s %d should exit with 0, status %#x",
				  i < workers ? "churning process" : "pressure process", i, status);
		}
		sum.vms += c[i].vms;
		sum.flagged += c[i].flagged;
		sum.holes += c[i].holes;
		sum.pressure_rounds += c[i].pressure_rounds;
	}

	pr_info("VMs %lu (%lu with the flag), holes %lu, pressure rounds %lu\n",
		sum.vms, sum.flagged, sum.holes, sum.pressure_rounds);
	pr_info("pool: blocks unmapped %ld, restored %ld; direct map collapses: 2M %ld, 1G %ld\n",
		file_sum(POOL_DIR "/stats", "blocks_unmapped"),
		file_sum(POOL_DIR "/stats", "blocks_restored"),
		file_sum("/proc/vmstat", "direct_map_level2_collapses"),
		file_sum("/proc/vmstat", "direct_map_level3_collapses"));
	TEST_ASSERT(sum.flagged && sum.vms > sum.flagged && sum.pressure_rounds,
		    "every kind of work should have run: %lu VMs, %lu flagged, %lu pressure rounds",
		    sum.vms, sum.flagged, sum.pressure_rounds);

	write_str(POOL_DIR "/drain", "1");
	TEST_ASSERT(file_sum(POOL_DIR "/stats", "pages_used") == used0,
		    "every VM is gone: the pool should have %ld pages used, as before, has %ld",
		    used0, file_sum(POOL_DIR "/stats", "pages_used"));
	return 0;
}
