// SPDX-License-Identifier: GPL-2.0
/*
 * Churn: processes that create and destroy software-protected VMs whose
 * private memory is guest_memfd, with and without
 * GUEST_MEMFD_FLAG_NO_DIRECT_MAP, 2-32 MiB each.  Each VM goes through
 * random rounds of punched holes, conversions between private and shared,
 * and fallocate, and after each round its vCPU checks every page: fresh
 * private memory reads zero, and what it wrote before is still there.
 * Invalid arguments are thrown at every ioctl on the way.  The pool's
 * fault injection fails allocations of some VMs at random.  Another
 * process keeps anonymous memory coming and going and drops caches, so
 * that the pool's shrinker releases blocks that the churn takes back soon
 * after.  At the end, after a drain, the pool holds no more pages than
 * before and every DirectMap line is as before (not on SEV-SNP hosts,
 * where the direct map is never collapsed, nor with -n, for runs beside
 * another process that drains the pool).
 *
 *   guest_memfd_churn_test [-d seconds] [-w workers] [-n]
 */
#include <dirent.h>
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
#define MAX_PAGES	(MAX_DATA_SIZE / PAGE_SIZE)
#define BAD_SLOT	11
#define BAD_GPA		(1ULL << 32)
#define MAX_ROUNDS	6
#define MAX_PRESSURE_SIZE	SZ_512M
#define PRESSURE_PAUSE_US	200000
/* A child still running this long after the end is stuck: SIGALRM ends it. */
#define STUCK_SECONDS	600
/* Blocks kswapd's shrinker took may still be on their way out: drain again. */
#define DRAIN_TRIES	20
#define DRAIN_PAUSE_US	100000

#define FAIL_DIR	POOL_DIR "/fail_unmapped_alloc"
/* Percent of the pool's allocation steps that fail in a VM that injects. */
#define FAIL_PROBABILITY	"30"

/* What the host writes into a page it converts to shared. */
#define SHARED_TAG	0x5ba5edULL

/* Per-process results, in shared memory; the parent reads them. */
struct churn_counts {
	unsigned long vms, flagged, passes, holes, to_shared, to_private, fallocs;
	unsigned long bad_calls, injecting_vms, injected_failures;
	unsigned long pressure_rounds;
};

/* One VM of the churn and what the host knows of its data pages. */
struct churn_vm {
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu;
	int fd;
	uint64_t size, pages;
	uint64_t *expected;	/* the guest's expected[], through the host */
	uint64_t *shared_mem;	/* the slot's shared backing */
	bool shared[MAX_PAGES];
	bool injecting;
};

/* Per worker: a second VM and its guest_memfd, for cross-VM misuse. */
struct other_vm {
	struct kvm_vm *vm;
	int fd;
	void *mem;
};

static const struct vm_shape sw_protected = {
	.mode = VM_MODE_DEFAULT,
	.type = KVM_X86_SW_PROTECTED_VM,
};

/*
 * What every data page must hold at the start of the guest's next pass, at
 * its first and its last word: 0 for a page whose private memory is fresh.
 * The guest writes it after each check; the host changes it where a hole
 * or a conversion changes the page.
 */
static uint64_t expected[MAX_PAGES];

static void guest_check_and_write(uint64_t gpa, uint64_t size)
{
	uint64_t pass, i, *p;

	for (pass = 1; ; pass++) {
		for (i = 0; i < size / PAGE_SIZE; i++) {
			p = (uint64_t *)(gpa + i * PAGE_SIZE);
			__GUEST_ASSERT(p[0] == expected[i] && p[511] == expected[i],
				       "page %lu should hold %#lx at both ends, holds %#lx and %#lx",
				       i, expected[i], p[0], p[511]);
			expected[i] = pass << 32 | i;
			p[0] = p[511] = expected[i];
		}
		GUEST_SYNC(pass);
	}
}

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

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	TEST_ASSERT(d, "opendir /proc/self/fd: %s", strerror(errno));
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void set_injecting(struct churn_vm *v, bool on)
{
	v->injecting = on;
	write_str("/proc/self/make-it-fail", on ? "1" : "0");
}

/*
 * One guest pass over every data page.  A pool allocation failed by
 * injection ends KVM_RUN with ENOMEM and a memory-fault exit; injection is
 * then switched off for this VM and the pass goes on where it stopped.
 */
static void run_pass(struct churn_vm *v, struct churn_counts *c)
{
	struct kvm_run *run = v->vcpu->run;
	struct ucall uc;

	while (__vcpu_run(v->vcpu)) {
		TEST_ASSERT(v->injecting && errno == ENOMEM &&
			    run->exit_reason == KVM_EXIT_MEMORY_FAULT,
			    "KVM_RUN should fail only by injection, with ENOMEM and a memory fault exit; got %s, exit reason %u",
			    strerror(errno), run->exit_reason);
		c->injected_failures++;
		set_injecting(v, false);
	}
	TEST_ASSERT_KVM_EXIT_REASON(v->vcpu, KVM_EXIT_IO);
	if (get_ucall(v->vcpu, &uc) == UCALL_ABORT)
		REPORT_GUEST_ASSERT(uc);
	TEST_ASSERT(uc.cmd == UCALL_SYNC, "expected UCALL_SYNC, got ucall %lu", uc.cmd);
	c->passes++;
}

/* A fallocate that only injection may fail; false if it did. */
static bool try_fallocate(struct churn_vm *v, int mode, off_t off, off_t len,
			  struct churn_counts *c)
{
	if (!fallocate(v->fd, mode, off, len))
		return true;
	TEST_ASSERT(v->injecting && errno == ENOMEM && !(mode & FALLOC_FL_PUNCH_HOLE),
		    "fallocate(mode %#x, %#lx, %#lx) should fail only by injection, with ENOMEM: %s",
		    mode, off, len, strerror(errno));
	c->injected_failures++;
	return false;
}

static void punch_private(struct churn_vm *v, uint64_t first, uint64_t n,
			  struct churn_counts *c)
{
	uint64_t i;

	punch(v->fd, first * PAGE_SIZE, n * PAGE_SIZE);
	for (i = first; i < first + n; i++)
		if (!v->shared[i])
			v->expected[i] = 0;
	c->holes++;
}

/* As QEMU converts: the private side is discarded, the host fills the shared side. */
static void convert_to_shared(struct churn_vm *v, uint64_t first, uint64_t n,
			      struct churn_counts *c)
{
	uint64_t i, *p;

	vm_mem_set_shared(v->vm, DATA_GPA + first * PAGE_SIZE, n * PAGE_SIZE);
	punch(v->fd, first * PAGE_SIZE, n * PAGE_SIZE);
	for (i = first; i < first + n; i++) {
		p = v->shared_mem + i * (PAGE_SIZE / sizeof(*p));
		v->expected[i] = SHARED_TAG << 32 | i;
		p[0] = p[511] = v->expected[i];
		v->shared[i] = true;
	}
	c->to_shared++;
}

/* ... and back: the shared side is discarded, private memory is fresh. */
static void convert_to_private(struct churn_vm *v, uint64_t first, uint64_t n,
			       struct churn_counts *c)
{
	uint64_t i;

	vm_mem_set_private(v->vm, DATA_GPA + first * PAGE_SIZE, n * PAGE_SIZE);
	TEST_ASSERT(!madvise(v->shared_mem + first * (PAGE_SIZE / sizeof(uint64_t)),
			     n * PAGE_SIZE, MADV_DONTNEED),
		    "madvise(MADV_DONTNEED): %s", strerror(errno));
	for (i = first; i < first + n; i++) {
		if (v->shared[i])
			v->expected[i] = 0;
		v->shared[i] = false;
	}
	c->to_private++;
}

/* One page, or the 2M around a random page: the split and the whole-folio paths. */
static void pick_range(struct churn_vm *v, unsigned int *seed, uint64_t *first, uint64_t *n)
{
	uint64_t per_2m = SZ_2M / PAGE_SIZE;

	*first = rand_r(seed) % v->pages;
	*n = 1;
	if (rand_r(seed) & 1) {
		*first &= ~(per_2m - 1);
		*n = per_2m;
	}
}

static void random_round(struct churn_vm *v, unsigned int *seed, struct churn_counts *c)
{
	uint64_t first, n;

	pick_range(v, seed, &first, &n);
	switch (rand_r(seed) % 4) {
	case 0:
		punch_private(v, first, n, c);
		break;
	case 1:
		convert_to_shared(v, first, n, c);
		break;
	case 2:
		convert_to_private(v, first, n, c);
		break;
	case 3:
		try_fallocate(v, FALLOC_FL_KEEP_SIZE, first * PAGE_SIZE, n * PAGE_SIZE, c);
		c->fallocs++;
		break;
	}
	run_pass(v, c);
}

/*
 * Invalid arguments, each with the errno the uapi gives it.  A call that
 * succeeds, or fails otherwise, fails the test; none may leave a file behind.
 */
struct bad_call {
	const char *what;
	int err;
	int (*call)(struct churn_vm *v, struct other_vm *o);
};

static int gmem_create(struct churn_vm *v, uint64_t size, uint64_t flags)
{
	int fd = __vm_create_guest_memfd(v->vm, size, flags);

	if (fd >= 0)
		close(fd);
	return fd;
}

static int bad_size_zero(struct churn_vm *v, struct other_vm *o)
{
	return gmem_create(v, 0, GUEST_MEMFD_FLAG_NO_DIRECT_MAP);
}

static int bad_size_unaligned(struct churn_vm *v, struct other_vm *o)
{
	return gmem_create(v, SZ_2M + 1, GUEST_MEMFD_FLAG_NO_DIRECT_MAP);
}

static int bad_size_negative(struct churn_vm *v, struct other_vm *o)
{
	return gmem_create(v, -(uint64_t)SZ_2M, GUEST_MEMFD_FLAG_NO_DIRECT_MAP);
}

static int bad_gmem_flags(struct churn_vm *v, struct other_vm *o)
{
	return gmem_create(v, SZ_2M, ~kvm_check_cap(KVM_CAP_GUEST_MEMFD_FLAGS));
}

static int bad_falloc_no_keep_size(struct churn_vm *v, struct other_vm *o)
{
	return fallocate(v->fd, 0, 0, PAGE_SIZE);
}

static int bad_falloc_mode(struct churn_vm *v, struct other_vm *o)
{
	return fallocate(v->fd, FALLOC_FL_KEEP_SIZE | FALLOC_FL_ZERO_RANGE, 0, PAGE_SIZE);
}

static int bad_falloc_unaligned(struct churn_vm *v, struct other_vm *o)
{
	return fallocate(v->fd, FALLOC_FL_KEEP_SIZE, 1, PAGE_SIZE);
}

static int bad_falloc_past_end(struct churn_vm *v, struct other_vm *o)
{
	return fallocate(v->fd, FALLOC_FL_KEEP_SIZE, v->size - PAGE_SIZE, SZ_2M);
}

static int bad_punch_unaligned(struct churn_vm *v, struct other_vm *o)
{
	return fallocate(v->fd, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE, 0, 100);
}

static int bad_truncate(struct churn_vm *v, struct other_vm *o)
{
	return ftruncate(v->fd, v->size * 2);
}

static int bad_mmap(struct churn_vm *v, struct other_vm *o)
{
	void *p = mmap(NULL, PAGE_SIZE, PROT_READ, MAP_SHARED, v->fd, 0);

	if (p == MAP_FAILED)
		return -1;
	munmap(p, PAGE_SIZE);
	return 0;
}

static int bad_slot(struct churn_vm *v, int fd, uint64_t off, uint64_t size, void *mem)
{
	return __vm_set_user_memory_region2(v->vm, BAD_SLOT, KVM_MEM_GUEST_MEMFD,
					    BAD_GPA, size, mem, fd, off);
}

static int bad_slot_other_vms_gmem(struct churn_vm *v, struct other_vm *o)
{
	return bad_slot(v, o->fd, 0, SZ_2M, o->mem);
}

static int bad_slot_offset_unaligned(struct churn_vm *v, struct other_vm *o)
{
	return bad_slot(v, v->fd, PAGE_SIZE / 2, SZ_2M - PAGE_SIZE, o->mem);
}

static int bad_slot_past_end(struct churn_vm *v, struct other_vm *o)
{
	return bad_slot(v, v->fd, v->size - PAGE_SIZE, SZ_2M, o->mem);
}

static int bad_slot_not_gmem(struct churn_vm *v, struct other_vm *o)
{
	return bad_slot(v, v->vm->fd, 0, SZ_2M, o->mem);
}

static int bad_slot_closed_fd(struct churn_vm *v, struct other_vm *o)
{
	return bad_slot(v, -1, 0, SZ_2M, o->mem);
}

static int set_attributes(struct churn_vm *v, uint64_t gpa, uint64_t size,
			  uint64_t attributes, uint64_t flags)
{
	struct kvm_memory_attributes attr = {
		.address = gpa, .size = size, .attributes = attributes, .flags = flags,
	};

	return __vm_ioctl(v->vm, KVM_SET_MEMORY_ATTRIBUTES, &attr);
}

static int bad_attr_flags(struct churn_vm *v, struct other_vm *o)
{
	return set_attributes(v, DATA_GPA, PAGE_SIZE, KVM_MEMORY_ATTRIBUTE_PRIVATE, 1);
}

static int bad_attr_unknown(struct churn_vm *v, struct other_vm *o)
{
	return set_attributes(v, DATA_GPA, PAGE_SIZE, 1ULL << 63, 0);
}

static int bad_attr_size_zero(struct churn_vm *v, struct other_vm *o)
{
	return set_attributes(v, DATA_GPA, 0, KVM_MEMORY_ATTRIBUTE_PRIVATE, 0);
}

static int bad_attr_unaligned(struct churn_vm *v, struct other_vm *o)
{
	return set_attributes(v, DATA_GPA + 1, PAGE_SIZE, KVM_MEMORY_ATTRIBUTE_PRIVATE, 0);
}

static int bad_attr_wraps(struct churn_vm *v, struct other_vm *o)
{
	return set_attributes(v, -(uint64_t)PAGE_SIZE, 2 * PAGE_SIZE,
			      KVM_MEMORY_ATTRIBUTE_PRIVATE, 0);
}

static int pre_fault(struct churn_vm *v, uint64_t gpa, uint64_t size, uint64_t flags)
{
	struct kvm_pre_fault_memory range = { .gpa = gpa, .size = size, .flags = flags };

	return __vcpu_ioctl(v->vcpu, KVM_PRE_FAULT_MEMORY, &range);
}

static int bad_prefault_flags(struct churn_vm *v, struct other_vm *o)
{
	return pre_fault(v, DATA_GPA, PAGE_SIZE, 1);
}

static int bad_prefault_size_zero(struct churn_vm *v, struct other_vm *o)
{
	return pre_fault(v, DATA_GPA, 0, 0);
}

static int bad_prefault_unaligned(struct churn_vm *v, struct other_vm *o)
{
	return pre_fault(v, DATA_GPA + 1, PAGE_SIZE, 0);
}

static const struct bad_call bad_calls[] = {
	{ "KVM_CREATE_GUEST_MEMFD, size 0", EINVAL, bad_size_zero },
	{ "KVM_CREATE_GUEST_MEMFD, size not page-aligned", EINVAL, bad_size_unaligned },
	{ "KVM_CREATE_GUEST_MEMFD, negative size", EINVAL, bad_size_negative },
	{ "KVM_CREATE_GUEST_MEMFD, unknown flags", EINVAL, bad_gmem_flags },
	{ "fallocate without FALLOC_FL_KEEP_SIZE", EOPNOTSUPP, bad_falloc_no_keep_size },
	{ "fallocate, FALLOC_FL_ZERO_RANGE", EOPNOTSUPP, bad_falloc_mode },
	{ "fallocate, offset not page-aligned", EINVAL, bad_falloc_unaligned },
	{ "fallocate past the end", EINVAL, bad_falloc_past_end },
	{ "punch, length not page-aligned", EINVAL, bad_punch_unaligned },
	{ "ftruncate", EINVAL, bad_truncate },
	{ "mmap", ENODEV, bad_mmap },
	{ "KVM_SET_USER_MEMORY_REGION2, another VM's guest_memfd", EINVAL,
	  bad_slot_other_vms_gmem },
	{ "KVM_SET_USER_MEMORY_REGION2, offset not page-aligned", EINVAL,
	  bad_slot_offset_unaligned },
	{ "KVM_SET_USER_MEMORY_REGION2, past the file's end", EINVAL, bad_slot_past_end },
	{ "KVM_SET_USER_MEMORY_REGION2, not a guest_memfd", EINVAL, bad_slot_not_gmem },
	{ "KVM_SET_USER_MEMORY_REGION2, fd -1", EBADF, bad_slot_closed_fd },
	{ "KVM_SET_MEMORY_ATTRIBUTES, flags", EINVAL, bad_attr_flags },
	{ "KVM_SET_MEMORY_ATTRIBUTES, unknown attribute", EINVAL, bad_attr_unknown },
	{ "KVM_SET_MEMORY_ATTRIBUTES, size 0", EINVAL, bad_attr_size_zero },
	{ "KVM_SET_MEMORY_ATTRIBUTES, address not page-aligned", EINVAL, bad_attr_unaligned },
	{ "KVM_SET_MEMORY_ATTRIBUTES, range wraps", EINVAL, bad_attr_wraps },
	{ "KVM_PRE_FAULT_MEMORY, flags", EINVAL, bad_prefault_flags },
	{ "KVM_PRE_FAULT_MEMORY, size 0", EINVAL, bad_prefault_size_zero },
	{ "KVM_PRE_FAULT_MEMORY, address not page-aligned", EINVAL, bad_prefault_unaligned },
};

static void throw_bad_calls(struct churn_vm *v, struct other_vm *o, unsigned int *seed,
			    struct churn_counts *c)
{
	int fds = open_fds(), i, r;
	const struct bad_call *b;

	for (i = 0; i < 4; i++) {
		b = &bad_calls[rand_r(seed) % ARRAY_SIZE(bad_calls)];
		errno = 0;
		r = b->call(v, o);
		TEST_ASSERT(r == -1 && errno == b->err,
			    "%s should fail with %s; returned %d, errno %s",
			    b->what, strerror(b->err), r, strerror(errno));
		c->bad_calls++;
	}
	TEST_ASSERT(open_fds() == fds, "invalid calls should leave no file open: %d fds before, %d after",
		    fds, open_fds());
}

static void create_vm(struct churn_vm *v, unsigned int *seed, uint64_t flags)
{
	v->size = SZ_2M * (1 + rand_r(seed) % (MAX_DATA_SIZE / SZ_2M));
	v->pages = v->size / PAGE_SIZE;
	v->vm = vm_create_shape_with_one_vcpu(sw_protected, &v->vcpu, guest_check_and_write);
	v->fd = vm_create_guest_memfd(v->vm, v->size, flags);
	vm_mem_add(v->vm, VM_MEM_SRC_ANONYMOUS, DATA_GPA, DATA_SLOT,
		   v->pages, KVM_MEM_GUEST_MEMFD, v->fd, 0);
	virt_map(v->vm, DATA_GPA, DATA_GPA, v->pages);
	vm_mem_set_private(v->vm, DATA_GPA, v->size);
	vcpu_args_set(v->vcpu, 2, DATA_GPA, v->size);
	v->expected = addr_gva2hva(v->vm, (vm_vaddr_t)expected);
	v->shared_mem = addr_gpa2hva(v->vm, DATA_GPA);
	memset(v->shared, 0, sizeof(v->shared));
}

/*
 * Worker @i's VMs alternate with and without the flag, odd workers
 * starting with it, so that short runs with few VMs have both.  The first
 * flagged VM of a worker injects faults, later ones at random.
 */
static void churn_one_vm(struct churn_vm *v, struct other_vm *o, int i, unsigned int *seed,
			 bool can_inject, struct churn_counts *c)
{
	uint64_t flags = (c->vms + i) & 1 ? GUEST_MEMFD_FLAG_NO_DIRECT_MAP : 0;
	int rounds = 1 + rand_r(seed) % MAX_ROUNDS;

	create_vm(v, seed, flags);
	throw_bad_calls(v, o, seed, c);
	if (flags && can_inject && (!c->flagged || (rand_r(seed) & 1))) {
		set_injecting(v, true);
		c->injecting_vms++;
	}
	if (rand_r(seed) & 1)
		try_fallocate(v, FALLOC_FL_KEEP_SIZE, 0, v->size, c);
	run_pass(v, c);
	while (rounds--)
		random_round(v, seed, c);
	if (v->injecting)
		set_injecting(v, false);

	close(v->fd);
	kvm_vm_free(v->vm);
	c->vms++;
	c->flagged += !!flags;
}

static void churn(int i, double end, bool can_inject, struct churn_counts *c)
{
	unsigned int seed = 0x9e3779b9u * (i + 1);
	struct churn_vm *v = calloc(1, sizeof(*v));
	struct other_vm o;

	TEST_ASSERT(v, "calloc");
	o.vm = vm_create_barebones_type(KVM_X86_SW_PROTECTED_VM);
	o.fd = vm_create_guest_memfd(o.vm, SZ_2M, GUEST_MEMFD_FLAG_NO_DIRECT_MAP);
	o.mem = mmap(NULL, SZ_2M, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	TEST_ASSERT(o.mem != MAP_FAILED, "mmap: %s", strerror(errno));

	while (now_s() < end)
		churn_one_vm(v, &o, i, &seed, can_inject, c);

	close(o.fd);
	kvm_vm_free(o.vm);
	munmap(o.mem, SZ_2M);
	free(v);
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

static pid_t spawn(int i, int workers, int seconds, bool can_inject, struct churn_counts *c)
{
	double end = now_s() + seconds;
	pid_t pid = fork();

	TEST_ASSERT(pid >= 0, "fork: %s", strerror(errno));
	if (pid)
		return pid;
	alarm(seconds + STUCK_SECONDS);
	if (i < workers)
		churn(i, end, can_inject, &c[i]);
	else
		pressure(end, &c[i]);
	exit(0);
}

/*
 * Fault injection for the tasks that ask for it (make-it-fail), silent:
 * the churn switches it on for some flagged VMs.
 */
static bool injection_on(bool on)
{
	if (access(FAIL_DIR "/probability", W_OK) || access("/proc/self/make-it-fail", W_OK))
		return false;
	write_str(FAIL_DIR "/verbose", "0");
	write_str(FAIL_DIR "/task-filter", on ? "Y" : "N");
	write_str(FAIL_DIR "/times", on ? "-1" : "1");
	write_str(FAIL_DIR "/probability", on ? FAIL_PROBABILITY : "0");
	return true;
}

static void read_direct_map(long dm[3])
{
	dm[0] = file_sum("/proc/meminfo", "DirectMap4k");
	dm[1] = file_sum("/proc/meminfo", "DirectMap2M");
	dm[2] = file_sum("/proc/meminfo", "DirectMap1G");
}

/* SEV-SNP hosts never collapse the direct map back (RMP faults). */
static bool snp_host(void)
{
	FILE *f = fopen("/sys/module/kvm_amd/parameters/sev_snp", "r");
	int c = f ? fgetc(f) : 0;

	if (f)
		fclose(f);
	return c == 'Y';
}

/* Drain until every DirectMap line is back to @dm0, or DRAIN_TRIES times. */
static void drain_until_direct_map(const long dm0[3], long dm1[3])
{
	int i;

	for (i = 0; i < DRAIN_TRIES; i++) {
		write_str(POOL_DIR "/drain", "1");
		read_direct_map(dm1);
		if (!memcmp(dm0, dm1, 3 * sizeof(*dm1)))
			return;
		usleep(DRAIN_PAUSE_US);
	}
}

static void add_counts(struct churn_counts *sum, const struct churn_counts *c)
{
	const unsigned long *from = (const unsigned long *)c;
	unsigned long *to = (unsigned long *)sum;
	size_t i;

	for (i = 0; i < sizeof(*c) / sizeof(*from); i++)
		to[i] += from[i];
}

int main(int argc, char *argv[])
{
	int seconds = 60, workers = 3, opt, i, j, status;
	bool check_direct_map = true;
	struct churn_counts *c, sum = {};
	long used0, dm0[3], dm1[3];
	bool can_inject;
	pid_t *pids;

	while ((opt = getopt(argc, argv, "d:w:n")) != -1) {
		switch (opt) {
		case 'd':
			seconds = atoi_positive("Duration in seconds", optarg);
			break;
		case 'w':
			workers = atoi_positive("Number of churning processes", optarg);
			break;
		case 'n':
			check_direct_map = false;
			break;
		default:
			fprintf(stderr, "usage: %s [-d seconds] [-w workers] [-n]\n", argv[0]);
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

	write_str(POOL_DIR "/drain", "1");
	used0 = file_sum(POOL_DIR "/stats", "pages_used");
	read_direct_map(dm0);
	can_inject = injection_on(true);
	pr_info("%d churning processes and one under memory pressure for %d s; fault injection %s\n",
		workers, seconds, can_inject ? "on at random" : "not available");
	fflush(stdout);
	for (i = 0; i <= workers; i++)
		pids[i] = spawn(i, workers, seconds, can_inject, c);
	for (i = 0; i <= workers; i++) {
		TEST_ASSERT(waitpid(pids[i], &status, 0) == pids[i], "waitpid");
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			for (j = i + 1; j <= workers; j++)
				kill(pids[j], SIGKILL);
			injection_on(false);
			TEST_FAIL("%s %d should exit with 0, status %#x",
				  i < workers ? "churning process" : "pressure process", i, status);
		}
		add_counts(&sum, &c[i]);
	}
	injection_on(false);

	pr_info("VMs %lu (%lu with the flag), guest passes %lu\n",
		sum.vms, sum.flagged, sum.passes);
	pr_info("holes %lu, to shared %lu, to private %lu, fallocate %lu\n",
		sum.holes, sum.to_shared, sum.to_private, sum.fallocs);
	pr_info("invalid calls %lu; VMs with fault injection %lu, injected failures %lu\n",
		sum.bad_calls, sum.injecting_vms, sum.injected_failures);
	pr_info("pressure rounds %lu; pool: blocks unmapped %ld, restored %ld, pages shrunk %ld\n",
		sum.pressure_rounds, file_sum(POOL_DIR "/stats", "blocks_unmapped"),
		file_sum(POOL_DIR "/stats", "blocks_restored"),
		file_sum(POOL_DIR "/stats", "pages_shrunk"));
	TEST_ASSERT(sum.flagged && sum.vms > sum.flagged && sum.pressure_rounds &&
		    sum.bad_calls && (!can_inject || sum.injecting_vms),
		    "every kind of work should have run: %lu VMs, %lu flagged, %lu pressure rounds, %lu invalid calls, %lu injecting VMs",
		    sum.vms, sum.flagged, sum.pressure_rounds, sum.bad_calls, sum.injecting_vms);

	if (snp_host() && check_direct_map) {
		pr_info("SEV-SNP host: the direct map is not collapsed back, DirectMap not compared\n");
		check_direct_map = false;
	}
	if (check_direct_map)
		drain_until_direct_map(dm0, dm1);
	else
		write_str(POOL_DIR "/drain", "1");
	read_direct_map(dm1);
	pr_info("direct map collapses: 2M %ld, 1G %ld; DirectMap 4k/2M/1G %ld/%ld/%ld kB\n",
		file_sum("/proc/vmstat", "direct_map_level2_collapses"),
		file_sum("/proc/vmstat", "direct_map_level3_collapses"), dm1[0], dm1[1], dm1[2]);
	TEST_ASSERT(file_sum(POOL_DIR "/stats", "pages_used") == used0,
		    "every VM is gone: the pool should have %ld pages used, as before, has %ld",
		    used0, file_sum(POOL_DIR "/stats", "pages_used"));
	TEST_ASSERT(!check_direct_map || !memcmp(dm0, dm1, sizeof(dm0)),
		    "after the drain, DirectMap 4k/2M/1G should be %ld/%ld/%ld kB as before, are %ld/%ld/%ld kB",
		    dm0[0], dm0[1], dm0[2], dm1[0], dm1[1], dm1[2]);
	return 0;
}
