// SPDX-License-Identifier: GPL-2.0
/*
 * guest_memfd with GUEST_MEMFD_FLAG_NO_DIRECT_MAP: folios from the
 * unmapped page pool, given back on punch hole and close, zeroed or not
 * by VM type, mapped with 2M entries when aligned.
 */
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <linux/falloc.h>
#include <linux/sizes.h>

#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "unmapped_pool_util.h"

#define FW_INIT_PARAM	"/sys/module/kvm/parameters/sw_protected_vm_firmware_init"
#define HWPOISON_DIR	"/sys/kernel/debug/hwpoison"

#define DATA_SLOT	10
#define DATA_GPA	(1ULL << 30)
#define DATA_SIZE	SZ_4M
#define PATTERN		0xa5a5a5a5a5a5a5a5ULL
#define MEMCG		"/sys/fs/cgroup/gmem-unmapped-test"

struct pool_stats {
	long used, free, blocks, zeroed, unzeroed, window_maps;
};

struct direct_map {
	long k4, m2, g1;
};

static void read_pool(struct pool_stats *p)
{
	p->used = file_sum(POOL_DIR "/stats", "pages_used");
	p->free = file_sum(POOL_DIR "/stats", "pages_free");
	p->blocks = file_sum(POOL_DIR "/stats", "blocks");
	p->zeroed = file_sum(POOL_DIR "/stats", "pages_zeroed");
	p->unzeroed = file_sum(POOL_DIR "/stats", "pages_unzeroed");
	p->window_maps = file_sum(POOL_DIR "/stats", "window_maps");
}

static void read_direct_map(struct direct_map *d)
{
	d->k4 = file_sum("/proc/meminfo", "DirectMap4k");
	d->m2 = file_sum("/proc/meminfo", "DirectMap2M");
	d->g1 = file_sum("/proc/meminfo", "DirectMap1G");
}

static void drain_pool(void)
{
	int fd = open(POOL_DIR "/drain", O_WRONLY);

	TEST_ASSERT(fd >= 0 && write(fd, "1", 1) == 1, "write %s/drain", POOL_DIR);
	close(fd);
}

/* Drain, and check nothing else holds pool memory. */
static void drain_empty_pool(void)
{
	struct pool_stats p;

	drain_pool();
	read_pool(&p);
	TEST_ASSERT(!p.blocks, "pool should be empty after a drain, has %ld blocks", p.blocks);
}

/*
 * Without THP the pool gives guest_memfd 4K folios only: a check that
 * needs 2M ones is reported as skipped.
 */
static bool have_2m_folios(const char *check)
{
	if (thp_configured())
		return true;
	ksft_test_result_skip("%s: needs 2 MiB folios: CONFIG_TRANSPARENT_HUGEPAGE is off\n",
			      check);
	return false;
}

static void set_fw_init(bool on)
{
	int fd = open(FW_INIT_PARAM, O_WRONLY);

	TEST_ASSERT(fd >= 0 && write(fd, on ? "Y" : "N", 1) == 1, "write %s", FW_INIT_PARAM);
	close(fd);
}

#define TAINT_USER	6

/* The test-only knob that skips zeroing taints the kernel when set. */
static void test_fw_init_taints(void)
{
	pr_info("Testing that the firmware-init knob taints the kernel\n");
	set_fw_init(false);
	TEST_ASSERT(!(taint_flags() & (1UL << TAINT_USER)),
		    "the kernel is tainted (U) before the knob was set: run the test on a fresh boot");
	set_fw_init(true);
	set_fw_init(false);
	TEST_ASSERT(taint_flags() & (1UL << TAINT_USER),
		    "setting %s should taint the kernel (U, bit %d); tainted is %#lx",
		    FW_INIT_PARAM, TAINT_USER, taint_flags());
}

static void test_cap_and_flags(unsigned long vm_type)
{
	static const uint64_t bad[] = { 1ULL << 0, 1ULL << 1, 1ULL << 3, 1ULL << 63 };
	struct kvm_vm *vm = vm_create_barebones_type(vm_type);
	uint64_t flags;
	int fd, i;

	pr_info("Testing the capability and flags, VM type %lu\n", vm_type);
	flags = vm_check_cap(vm, KVM_CAP_GUEST_MEMFD_FLAGS);
	TEST_ASSERT_EQ(flags, GUEST_MEMFD_FLAG_NO_DIRECT_MAP);

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		fd = __vm_create_guest_memfd(vm, SZ_2M, bad[i] | GUEST_MEMFD_FLAG_NO_DIRECT_MAP);
		TEST_ASSERT(fd == -1 && errno == EINVAL,
			    "flags %#llx should fail with EINVAL, got fd %d errno %d",
			    (unsigned long long)bad[i], fd, errno);
	}
	kvm_vm_free(vm);
}

/*
 * fallocate takes the file's memory from the pool in 2M folios; punching
 * a whole folio, a 4K page inside one (a split) and closing give it back;
 * a drain leaves the direct map as it was.
 */
static void test_fallocate_punch_close(void)
{
	struct kvm_vm *vm = vm_create_barebones_type(KVM_X86_SW_PROTECTED_VM);
	const long pages = DATA_SIZE / getpagesize();
	struct direct_map dm0, dm1;
	struct pool_stats p0, p;
	int fd;

	pr_info("Testing fallocate, punch hole and close\n");
	drain_empty_pool();
	read_direct_map(&dm0);
	read_pool(&p0);

	fd = vm_create_guest_memfd(vm, DATA_SIZE, GUEST_MEMFD_FLAG_NO_DIRECT_MAP);
	TEST_ASSERT(!fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, DATA_SIZE), "fallocate: %s",
		    strerror(errno));
	read_pool(&p);
	TEST_ASSERT_EQ(p.used - p0.used, pages);

	punch(fd, 0, SZ_2M);
	read_pool(&p);
	TEST_ASSERT_EQ(p.used - p0.used, pages - 512);

	punch(fd, SZ_2M + SZ_1M, getpagesize());
	read_pool(&p);
	TEST_ASSERT_EQ(p.used - p0.used, pages - 513);

	close(fd);
	kvm_vm_free(vm);
	read_pool(&p);
	TEST_ASSERT_EQ(p.used, p0.used);

	drain_empty_pool();
	read_direct_map(&dm1);
	TEST_ASSERT(dm1.k4 == dm0.k4 && dm1.m2 == dm0.m2 && dm1.g1 == dm0.g1,
		    "DirectMap 4k/2M/1G should be back to %ld/%ld/%ld kB, are %ld/%ld/%ld kB",
		    dm0.k4, dm0.m2, dm0.g1, dm1.k4, dm1.m2, dm1.g1);
}

/* A 4K hole gives exactly its page back, whether it splits a 2M folio or not. */
static void test_punch_frees_page(void)
{
	struct kvm_vm *vm = vm_create_barebones_type(KVM_X86_SW_PROTECTED_VM);
	long used0, used, now;
	int fd;

	pr_info("Testing that a 4K hole gives its page back to the pool\n");
	used0 = file_sum(POOL_DIR "/stats", "pages_used");
	fd = vm_create_guest_memfd(vm, SZ_4M, GUEST_MEMFD_FLAG_NO_DIRECT_MAP);
	TEST_ASSERT(!fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, SZ_4M), "fallocate: %s",
		    strerror(errno));
	used = file_sum(POOL_DIR "/stats", "pages_used");

	punch(fd, SZ_2M + SZ_1M, getpagesize());
	now = file_sum(POOL_DIR "/stats", "pages_used");
	TEST_ASSERT(now == used - 1,
		    "a 4K hole should take pages_used from %ld to %ld, it is %ld",
		    used, used - 1, now);

	close(fd);
	now = file_sum(POOL_DIR "/stats", "pages_used");
	TEST_ASSERT(now == used0,
		    "closing the file should bring pages_used back to %ld, it is %ld", used0, now);
	kvm_vm_free(vm);
}

/* Writes @pattern to every 8 bytes of the data range, or checks it if read. */
static void guest_fill(uint64_t pattern, bool check)
{
	uint64_t *p = (uint64_t *)DATA_GPA;
	uint64_t i;

	for (i = 0; i < DATA_SIZE / sizeof(*p); i += 512) {
		if (check)
			__GUEST_ASSERT(p[i] == pattern, "gpa %#lx holds %#lx, expected %#lx",
				       (unsigned long)(p + i), p[i], pattern);
		else
			p[i] = pattern;
	}
	GUEST_DONE();
}

static void guest_write_pattern(void)
{
	guest_fill(PATTERN, false);
}

static void guest_expect_zero(void)
{
	guest_fill(0, true);
}

static void guest_expect_pattern(void)
{
	guest_fill(PATTERN, true);
}

/* Bind @size bytes of guest_memfd @fd as private memory at DATA_GPA. */
static void bind_private_data(struct kvm_vm *vm, int fd, uint64_t size)
{
	vm_mem_add(vm, VM_MEM_SRC_ANONYMOUS, DATA_GPA, DATA_SLOT,
		   size / vm->page_size, KVM_MEM_GUEST_MEMFD, fd, 0);
	virt_map(vm, DATA_GPA, DATA_GPA, size / vm->page_size);
	vm_mem_set_private(vm, DATA_GPA, size);
}

/*
 * Give @vm @size bytes of private guest_memfd memory at DATA_GPA, backed
 * by the pool; returns the file, which the caller closes.
 */
static int add_private_data(struct kvm_vm *vm, uint64_t size)
{
	int fd = vm_create_guest_memfd(vm, size, GUEST_MEMFD_FLAG_NO_DIRECT_MAP);

	bind_private_data(vm, fd, size);
	return fd;
}

static const struct vm_shape sw_protected = {
	.mode = VM_MODE_DEFAULT,
	.type = KVM_X86_SW_PROTECTED_VM,
};

/* A software-protected VM whose data range is private guest_memfd memory. */
static struct kvm_vm *private_vm(void *guest_code, struct kvm_vcpu **vcpu)
{
	struct kvm_vm *vm = vm_create_shape_with_one_vcpu(sw_protected, vcpu, guest_code);

	close(add_private_data(vm, DATA_SIZE));
	return vm;
}

static void run_guest(struct kvm_vcpu *vcpu)
{
	struct ucall uc;

	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	switch (get_ucall(vcpu, &uc)) {
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT(uc);
	case UCALL_DONE:
		return;
	default:
		TEST_FAIL("unexpected ucall %lu", uc.cmd);
	}
}

/*
 * Private faults are served from the pool, in 2M folios mapped by 2M
 * entries (pages_2m); the VM's end gives the memory back.
 */
static void test_private_faults(void)
{
	struct pool_stats p0, p;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;

	pr_info("Testing private faults\n");
	drain_empty_pool();
	read_pool(&p0);
	vm = private_vm(guest_write_pattern, &vcpu);
	run_guest(vcpu);
	read_pool(&p);
	TEST_ASSERT_EQ(p.used - p0.used, DATA_SIZE / getpagesize());
	pr_info("    pool pages used %ld, pages_2m %lu\n", p.used - p0.used,
		vm_get_stat(vm, "pages_2m"));
	if (have_2m_folios("private memory mapped with 2M entries"))
		TEST_ASSERT(vm_get_stat(vm, "pages_2m") >= DATA_SIZE / SZ_2M,
			    "private memory should be mapped by %d 2M entries, pages_2m is %lu",
			    DATA_SIZE / SZ_2M, vm_get_stat(vm, "pages_2m"));
	kvm_vm_free(vm);
	read_pool(&p);
	TEST_ASSERT_EQ(p.used, p0.used);
	drain_empty_pool();
}

#define HOLE_OFF	(SZ_2M + SZ_1M)

static void guest_hole(void)
{
	uint64_t *p = (uint64_t *)DATA_GPA;
	uint64_t i, expect;

	for (i = 0; i < DATA_SIZE / sizeof(*p); i += 512)
		p[i] = PATTERN;
	GUEST_SYNC(0);
	for (i = 0; i < DATA_SIZE / sizeof(*p); i += 512) {
		expect = i * sizeof(*p) == HOLE_OFF ? 0 : PATTERN;
		__GUEST_ASSERT(p[i] == expect, "gpa %#lx holds %#lx, expected %#lx",
			       (unsigned long)(p + i), p[i], expect);
	}
	GUEST_DONE();
}

/*
 * A 4K hole punched in the middle of a 2M folio the guest has mapped: the
 * guest reads zeros there and its data everywhere else; the other folio
 * keeps its 2M entry, the split one is mapped with 4K entries.  With 4K
 * folios only, the guest's view and the pool's counts are still checked.
 */
static void test_hole_in_2m_mapping(void)
{
	struct pool_stats p0, p;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	bool thp;
	int fd;

	pr_info("Testing a 4K hole punched inside a 2M mapping\n");
	thp = have_2m_folios("a 4K hole splitting a 2M mapping");
	drain_empty_pool();
	read_pool(&p0);
	vm = vm_create_shape_with_one_vcpu(sw_protected, &vcpu, guest_hole);
	fd = add_private_data(vm, DATA_SIZE);
	vcpu_run(vcpu);
	TEST_ASSERT_EQ(get_ucall(vcpu, &uc), UCALL_SYNC);
	if (thp)
		TEST_ASSERT_EQ(vm_get_stat(vm, "pages_2m"), DATA_SIZE / SZ_2M);

	punch(fd, HOLE_OFF, getpagesize());
	read_pool(&p);
	TEST_ASSERT_EQ(p.used - p0.used, DATA_SIZE / getpagesize() - 1);
	run_guest(vcpu);
	read_pool(&p);
	TEST_ASSERT_EQ(p.used - p0.used, DATA_SIZE / getpagesize());
	if (thp)
		TEST_ASSERT_EQ(vm_get_stat(vm, "pages_2m"), DATA_SIZE / SZ_2M - 1);

	close(fd);
	kvm_vm_free(vm);
	drain_empty_pool();
}

#define ODD_OFFSET	SZ_1M

/* Every page gets its own value, so two gfns landing on one page would show. */
static void guest_write_and_check(void)
{
	uint64_t *p = (uint64_t *)DATA_GPA;
	uint64_t i;

	for (i = 0; i < DATA_SIZE / sizeof(*p); i += 512)
		p[i] = PATTERN ^ i;
	for (i = 0; i < DATA_SIZE / sizeof(*p); i += 512)
		__GUEST_ASSERT(p[i] == (PATTERN ^ i), "gpa %#lx holds %#lx, expected %#lx",
			       (unsigned long)(p + i), p[i], (uint64_t)(PATTERN ^ i));
	GUEST_DONE();
}

/*
 * A binding whose guest_memfd_offset is not 2M-aligned with its guest
 * address (QEMU binds RAM above 1M at offset 1M): the 2M folios cannot
 * be mapped with 2M entries, so KVM maps them with 4K ones.
 */
static void test_unaligned_binding(void)
{
	struct pool_stats p0, p;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	int fd;

	pr_info("Testing a binding at a 1M offset\n");
	drain_empty_pool();
	read_pool(&p0);
	vm = vm_create_shape_with_one_vcpu(sw_protected, &vcpu, guest_write_and_check);
	fd = vm_create_guest_memfd(vm, DATA_SIZE + SZ_2M, GUEST_MEMFD_FLAG_NO_DIRECT_MAP);
	vm_mem_add(vm, VM_MEM_SRC_ANONYMOUS, DATA_GPA, DATA_SLOT,
		   DATA_SIZE / vm->page_size, KVM_MEM_GUEST_MEMFD, fd, ODD_OFFSET);
	virt_map(vm, DATA_GPA, DATA_GPA, DATA_SIZE / vm->page_size);
	vm_mem_set_private(vm, DATA_GPA, DATA_SIZE);
	run_guest(vcpu);
	read_pool(&p);
	/*
	 * The range touches three 2M folios of the file, all taken whole;
	 * 4K folios are only the pages the guest wrote.
	 */
	if (have_2m_folios("three 2M folios taken whole"))
		TEST_ASSERT_EQ(p.used - p0.used, (DATA_SIZE + SZ_2M) / getpagesize());
	else
		TEST_ASSERT_EQ(p.used - p0.used, DATA_SIZE / getpagesize());
	TEST_ASSERT(vm_get_stat(vm, "pages_2m") == 0,
		    "folios misaligned with the slot should be mapped with 4K entries, pages_2m is %lu",
		    vm_get_stat(vm, "pages_2m"));
	close(fd);
	kvm_vm_free(vm);
	read_pool(&p);
	TEST_ASSERT_EQ(p.used, p0.used);
	drain_empty_pool();
}

/*
 * Guest A leaves a pattern in private memory; guest B gets the same pool
 * pages (the pool is not drained in between).  B reads zeros, unless the
 * test-only knob makes the VM type skip zeroing, as SEV-SNP does: then
 * no page is zeroed and every page is counted as handed out unzeroed.
 * Booted with init_on_free=1 (@init_on_free), A's pages were cleared when
 * A freed them: B reads zeros on that path too.  init_on_alloc=1 does not
 * make the host zero them: an SNP guest reads a private page only through
 * its own key, so host zeros would reach it as noise.
 */
static void test_no_leak_between_guests(bool fw_init, bool init_on_free)
{
	struct pool_stats p0, p;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	cpu_set_t cpus;

	pr_info("Testing the next guest's view of the same pages, %s\n",
		fw_init ? "firmware-initialised path" : "zeroing path");
	/*
	 * Both guests fault on one CPU: from a CPU of another node, B would
	 * rightly take that node's fresh blocks.
	 */
	TEST_ASSERT(!sched_getaffinity(0, sizeof(cpus), &cpus),
		    "sched_getaffinity() failed, errno %d", errno);
	kvm_pin_this_task_to_pcpu(sched_getcpu());
	drain_empty_pool();
	vm = private_vm(guest_write_pattern, &vcpu);
	run_guest(vcpu);
	kvm_vm_free(vm);

	set_fw_init(fw_init);
	read_pool(&p0);
	TEST_ASSERT_EQ(p0.used, 0);
	vm = private_vm(fw_init && !init_on_free ? guest_expect_pattern : guest_expect_zero,
			&vcpu);
	run_guest(vcpu);
	read_pool(&p);
	set_fw_init(false);
	if (fw_init) {
		TEST_ASSERT_EQ(p.zeroed, p0.zeroed);
		TEST_ASSERT_EQ(p.unzeroed - p0.unzeroed, DATA_SIZE / getpagesize());
	} else {
		TEST_ASSERT_EQ(p.zeroed - p0.zeroed, DATA_SIZE / getpagesize());
		TEST_ASSERT_EQ(p.unzeroed, p0.unzeroed);
	}
	TEST_ASSERT_EQ(p.blocks, p0.blocks);
	kvm_vm_free(vm);
	drain_empty_pool();
	TEST_ASSERT(!sched_setaffinity(0, sizeof(cpus), &cpus),
		    "sched_setaffinity() failed, errno %d", errno);
}

/* The pfn of the first block the pool lists. */
static unsigned long first_block_pfn(void)
{
	FILE *f = fopen(POOL_DIR "/blocks", "r");
	unsigned long pfn;
	int n;

	TEST_ASSERT(f, "open %s/blocks: %s", POOL_DIR, strerror(errno));
	n = fscanf(f, "node %*d pfn %lx", &pfn);
	fclose(f);
	TEST_ASSERT(n == 1, "no block listed in %s/blocks", POOL_DIR);
	return pfn;
}

/* Write @pfn to hwpoison_inject's @file; returns 0 or the write's errno. */
static int hwpoison_write(const char *file, unsigned long pfn)
{
	char path[128], buf[32];
	int fd, len, err = 0;

	snprintf(path, sizeof(path), "%s/%s", HWPOISON_DIR, file);
	fd = open(path, O_WRONLY);
	TEST_ASSERT(fd >= 0, "open %s: %s (CONFIG_HWPOISON_INJECT)", path, strerror(errno));
	len = snprintf(buf, sizeof(buf), "%#lx\n", pfn);
	if (write(fd, buf, len) != len)
		err = errno;
	close(fd);
	return err;
}

static void guest_write_sync_read(void)
{
	uint64_t *p = (uint64_t *)DATA_GPA;
	uint64_t i;

	for (i = 0; i < DATA_SIZE / sizeof(*p); i += 512)
		p[i] = PATTERN;
	GUEST_SYNC(0);
	guest_fill(PATTERN, true);
}

/*
 * A page of a guest's private memory poisoned while in use: memory
 * failure splits its folio and guest_memfd unmaps it; the guest's next
 * access to it fails with -EHWPOISON and KVM_EXIT_MEMORY_FAULT at that
 * page, the rest of its memory keeps its data, and the host carries on.
 * memory_failure() keeps a reference to the page, so the pool counts it
 * used until unpoison_memory() lets it go; then a drain releases all.
 */
static void test_poisoned_page_in_use(void)
{
	struct kvm_vcpu *vcpu;
	unsigned long bad;
	struct kvm_vm *vm;
	struct ucall uc;
	struct pool_stats p;
	uint64_t off;
	int r, err;

	pr_info("Testing a poisoned page of a running guest\n");
	drain_empty_pool();
	vm = private_vm(guest_write_sync_read, &vcpu);
	vcpu_run(vcpu);
	TEST_ASSERT_EQ(get_ucall(vcpu, &uc), UCALL_SYNC);

	bad = first_block_pfn() + 1;
	err = hwpoison_write("corrupt-pfn", bad);
	TEST_ASSERT(!err || err == EBUSY, "corrupt-pfn %#lx: %s", bad, strerror(err));
	r = __vcpu_run(vcpu);
	TEST_ASSERT(r == -1 && errno == EHWPOISON,
		    "KVM_RUN should fail with EHWPOISON on the poisoned page, got %d errno %d",
		    r, errno);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_MEMORY_FAULT);
	off = vcpu->run->memory_fault.gpa - DATA_GPA;
	TEST_ASSERT(off < DATA_SIZE && off % SZ_2M == getpagesize(),
		    "the fault should be at the second page of a 2M range of the data, is at gpa %#llx",
		    (unsigned long long)vcpu->run->memory_fault.gpa);
	kvm_vm_free(vm);

	read_pool(&p);
	TEST_ASSERT(p.used == 1, "only the poisoned page should stay in use (memory_failure() holds it), %ld pages are",
		    p.used);
	err = hwpoison_write("unpoison-pfn", bad);
	TEST_ASSERT(!err, "unpoison-pfn %#lx: %s", bad, strerror(err));
	read_pool(&p);
	TEST_ASSERT_EQ(p.used, 0);
	drain_empty_pool();
}

static int write_sysfs(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY), err = 0;

	TEST_ASSERT(fd >= 0, "open %s: %s", path, strerror(errno));
	if (write(fd, val, strlen(val)) != (ssize_t)strlen(val))
		err = errno;
	close(fd);
	return err;
}

/* Kernel log lines that contain @text. */
static int kmsg_count(const char *text)
{
	FILE *f = popen("dmesg", "r");
	char line[512];
	int n = 0;

	TEST_ASSERT(f, "popen(dmesg): %s", strerror(errno));
	while (fgets(line, sizeof(line), f))
		n += !!strstr(line, text);
	pclose(f);
	return n;
}

/*
 * Hibernation, as far as the freezer (pm_test): refused by the pool, with
 * EBUSY and its message, while guest memory is in use, and the pool is not
 * left frozen; once the memory is freed, allowed, and the pool drains
 * itself first.
 */
static void test_hibernation(void)
{
	struct kvm_vm *vm = vm_create_barebones_type(KVM_X86_SW_PROTECTED_VM);
	struct pool_stats p;
	int fd, fd2, err, refusals;

	pr_info("Testing hibernation (pm_test=freezer) with the pool in use and not\n");
	drain_empty_pool();
	TEST_ASSERT(!write_sysfs("/sys/power/pm_test", "freezer"),
		    "write /sys/power/pm_test (CONFIG_PM_DEBUG)");
	fd = vm_create_guest_memfd(vm, SZ_2M, GUEST_MEMFD_FLAG_NO_DIRECT_MAP);
	TEST_ASSERT(!fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, SZ_2M), "fallocate: %s",
		    strerror(errno));
	refusals = kmsg_count("hibernation refused");
	err = write_sysfs("/sys/power/state", "disk");
	TEST_ASSERT(err == EBUSY, "hibernation with guest memory in use should fail with EBUSY, got %s",
		    strerror(err));
	TEST_ASSERT(kmsg_count("hibernation refused") == refusals + 1,
		    "the pool should say it refused hibernation");
	fd2 = vm_create_guest_memfd(vm, SZ_2M, GUEST_MEMFD_FLAG_NO_DIRECT_MAP);
	TEST_ASSERT(!fallocate(fd2, FALLOC_FL_KEEP_SIZE, 0, SZ_2M),
		    "fallocate after a refused hibernation (the pool must not stay frozen): %s",
		    strerror(errno));
	close(fd2);

	close(fd);
	read_pool(&p);
	TEST_ASSERT(p.blocks > 0 && !p.used, "the freed memory should stay in the pool, %ld blocks %ld used",
		    p.blocks, p.used);
	err = write_sysfs("/sys/power/state", "disk");
	TEST_ASSERT(!err, "hibernation with no pool page in use should pass the freezer test, got %s",
		    strerror(err));
	read_pool(&p);
	TEST_ASSERT(!p.blocks, "hibernation should have drained the pool, %ld blocks left",
		    p.blocks);
	write_sysfs("/sys/power/pm_test", "none");

	fd = vm_create_guest_memfd(vm, SZ_2M, GUEST_MEMFD_FLAG_NO_DIRECT_MAP);
	TEST_ASSERT(!fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, SZ_2M),
		    "fallocate after hibernation: %s", strerror(errno));
	close(fd);
	kvm_vm_free(vm);
	drain_empty_pool();
}

/* Concurrency: vCPUs fault while one thread punches holes, one drains. */
#define NR_STRESS_VCPUS	3
#define STRESS_SECONDS	3

static bool stop_stress;
static unsigned long nr_passes, nr_holes, nr_drains;

static void guest_write_forever(uint64_t gpa, uint64_t size)
{
	uint64_t *p = (uint64_t *)gpa, pass, i;

	for (pass = 0; ; pass++) {
		for (i = 0; i < size / sizeof(*p); i += 512)
			p[i] = pass;
		GUEST_SYNC(pass);
	}
}

static void *stress_vcpu(void *arg)
{
	struct kvm_vcpu *vcpu = arg;
	struct ucall uc;

	while (!READ_ONCE(stop_stress)) {
		vcpu_run(vcpu);
		TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
		if (get_ucall(vcpu, &uc) == UCALL_ABORT)
			REPORT_GUEST_ASSERT(uc);
		TEST_ASSERT(uc.cmd == UCALL_SYNC, "unexpected ucall %lu", uc.cmd);
		__atomic_add_fetch(&nr_passes, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void *stress_punch(void *arg)
{
	int fd = *(int *)arg;
	unsigned int seed = 1;
	off_t off;

	while (!READ_ONCE(stop_stress)) {
		off = (rand_r(&seed) % (DATA_SIZE / getpagesize())) * getpagesize();
		if (rand_r(&seed) & 1)
			punch(fd, off, getpagesize());
		else
			punch(fd, off & ~(off_t)(SZ_2M - 1), SZ_2M);
		nr_holes++;
	}
	return NULL;
}

static void *stress_drain(void *arg)
{
	while (!READ_ONCE(stop_stress)) {
		drain_pool();
		nr_drains++;
		usleep(1000);
	}
	return NULL;
}

static void test_concurrent_faults_punch_drain(void)
{
	struct kvm_vcpu *vcpus[NR_STRESS_VCPUS];
	pthread_t threads[NR_STRESS_VCPUS + 2];
	struct pool_stats p0, p;
	struct kvm_vm *vm;
	int fd, i;

	pr_info("Testing %d vCPUs faulting while holes are punched and the pool drained, %d s\n",
		NR_STRESS_VCPUS, STRESS_SECONDS);
	drain_empty_pool();
	read_pool(&p0);
	vm = __vm_create_with_vcpus(sw_protected, NR_STRESS_VCPUS, 0,
				    guest_write_forever, vcpus);
	fd = add_private_data(vm, DATA_SIZE);
	for (i = 0; i < NR_STRESS_VCPUS; i++) {
		uint64_t part = DATA_SIZE / NR_STRESS_VCPUS & ~(uint64_t)(getpagesize() - 1);

		vcpu_args_set(vcpus[i], 2, DATA_GPA + i * part, part);
		pthread_create(&threads[i], NULL, stress_vcpu, vcpus[i]);
	}
	pthread_create(&threads[i++], NULL, stress_punch, &fd);
	pthread_create(&threads[i++], NULL, stress_drain, NULL);
	sleep(STRESS_SECONDS);
	WRITE_ONCE(stop_stress, true);
	for (i = 0; i < NR_STRESS_VCPUS + 2; i++)
		pthread_join(threads[i], NULL);
	pr_info("    %lu guest passes, %lu holes punched, %lu drains\n",
		nr_passes, nr_holes, nr_drains);
	TEST_ASSERT(nr_passes && nr_holes && nr_drains,
		    "every thread should have made progress");

	close(fd);
	kvm_vm_free(vm);
	read_pool(&p);
	TEST_ASSERT_EQ(p.used, p0.used);
	drain_empty_pool();
}

/* Memory cgroups: a cgroup at its limit gets ENOMEM, nobody is killed. */
static void write_file(const char *path, const char *fmt, long val)
{
	char buf[64];
	int fd = open(path, O_WRONLY);
	int len = snprintf(buf, sizeof(buf), fmt, val);

	TEST_ASSERT(fd >= 0 && write(fd, buf, len) == len, "write '%s' to %s", buf, path);
	close(fd);
}

static void memcg_enter(void)
{
	int fd = open("/sys/fs/cgroup/cgroup.subtree_control", O_WRONLY);

	TEST_ASSERT(fd >= 0 && write(fd, "+memory", 7) == 7, "enable the memory controller");
	close(fd);
	TEST_ASSERT(!mkdir(MEMCG, 0755) || errno == EEXIST, "mkdir %s", MEMCG);
	write_file(MEMCG "/cgroup.procs", "%ld", getpid());
}

static void memcg_leave(void)
{
	write_file("/sys/fs/cgroup/cgroup.procs", "%ld", getpid());
}

/* Allow @headroom bytes more than the cgroup uses now. */
static void memcg_limit_headroom(long headroom)
{
	FILE *f = fopen(MEMCG "/memory.current", "r");
	long current;

	TEST_ASSERT(f && fscanf(f, "%ld", &current) == 1, "read %s/memory.current", MEMCG);
	fclose(f);
	write_file(MEMCG "/memory.max", "%ld", current + headroom);
}

static void guest_touch_all(void)
{
	uint64_t *p = (uint64_t *)DATA_GPA;
	uint64_t i;

	for (i = 0; i < SZ_64M / sizeof(*p); i += 512)
		p[i] = i;
	GUEST_DONE();
}

static void memcg_child(void)
{
	struct kvm_vcpu *vcpu;
	struct pool_stats p0, p;
	struct kvm_vm *vm;
	int fd, r;

	read_pool(&p0);

	/*
	 * The file is created in the cgroup; its memory is charged there
	 * even after the process has left it.
	 */
	memcg_enter();
	vm = vm_create_shape_with_one_vcpu(sw_protected, &vcpu, guest_touch_all);
	fd = add_private_data(vm, SZ_64M);
	memcg_leave();

	/* fallocate: two 2M folios fit in the headroom, the third does not. */
	memcg_limit_headroom(SZ_4M + SZ_1M);
	r = fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, SZ_64M);
	TEST_ASSERT(r == -1 && errno == ENOMEM,
		    "fallocate over memory.max should fail with ENOMEM, got %d errno %d", r, errno);
	read_pool(&p);
	if (have_2m_folios("memory.max headroom counted in 2M folios"))
		TEST_ASSERT_EQ(p.used - p0.used, 2 * 512);
	punch(fd, 0, SZ_64M);
	read_pool(&p);
	TEST_ASSERT_EQ(p.used, p0.used);

	/* A private fault over the limit: KVM_RUN fails with ENOMEM. */
	memcg_limit_headroom(SZ_1M);
	r = __vcpu_run(vcpu);
	TEST_ASSERT(r == -1 && errno == ENOMEM,
		    "a fault over memory.max should fail KVM_RUN with ENOMEM, got %d errno %d",
		    r, errno);
	TEST_ASSERT_EQ(vcpu->run->exit_reason, KVM_EXIT_MEMORY_FAULT);

	close(fd);
	kvm_vm_free(vm);
	read_pool(&p);
	TEST_ASSERT_EQ(p.used, p0.used);
	exit(0);
}

/*
 * A 4K refault in a 2M range that a hole split: the range holds 4K folios
 * already, so the refault takes a 4K page, not a 2M chunk (zeroed, and
 * charged in full) that could never be added there.  A whole 2M folio
 * punched first leaves a 2M chunk in the pool for the wrong choice.
 */
static void refault_child(void)
{
	struct kvm_vm *vm;
	struct pool_stats p0, p;
	int fd, r;

	memcg_enter();
	vm = vm_create_barebones_type(KVM_X86_SW_PROTECTED_VM);
	fd = vm_create_guest_memfd(vm, SZ_4M, GUEST_MEMFD_FLAG_NO_DIRECT_MAP);
	TEST_ASSERT(!fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, SZ_4M), "fallocate: %s",
		    strerror(errno));
	punch(fd, SZ_2M, SZ_2M);
	punch(fd, SZ_1M, getpagesize());

	memcg_limit_headroom(SZ_1M);
	read_pool(&p0);
	r = fallocate(fd, FALLOC_FL_KEEP_SIZE, SZ_1M, getpagesize());
	TEST_ASSERT(!r, "a 4K refault with 1 MiB left below memory.max should succeed, got errno %d",
		    errno);
	read_pool(&p);
	TEST_ASSERT(p.used - p0.used == 1 && p.zeroed - p0.zeroed == 1,
		    "the refault should take and zero one page; it took %ld and zeroed %ld",
		    p.used - p0.used, p.zeroed - p0.zeroed);
	close(fd);
	kvm_vm_free(vm);
	exit(0);
}

static void run_in_memcg(void (*child)(void))
{
	int status;
	pid_t pid;

	drain_empty_pool();
	pid = fork();
	TEST_ASSERT(pid >= 0, "fork");
	if (!pid)
		child();
	TEST_ASSERT(waitpid(pid, &status, 0) == pid, "waitpid");
	TEST_ASSERT(WIFEXITED(status) && !WEXITSTATUS(status),
		    "the child in the cgroup should exit with 0, status %#x%s", status,
		    WIFSIGNALED(status) ? " (killed)" : "");
	TEST_ASSERT(!rmdir(MEMCG), "rmdir %s", MEMCG);
	drain_empty_pool();
}

static void test_refault_after_split(void)
{
	pr_info("Testing a 4K refault in a split 2M range, 1 MiB below memory.max\n");
	if (have_2m_folios("a 4K refault in a split 2M folio"))
		run_in_memcg(refault_child);
}

static void test_memcg_limit(void)
{
	pr_info("Testing memory.max of the creator's cgroup: ENOMEM from fallocate and from a fault, no kill\n");
	run_in_memcg(memcg_child);
}

/* Booted with unmapped_alloc=off: no flag, and files without it work. */
static void test_pool_off(unsigned long vm_type)
{
	struct kvm_vm *vm = vm_create_barebones_type(vm_type);
	int fd;

	pr_info("Testing the capability with the pool off, VM type %lu\n", vm_type);
	TEST_ASSERT_EQ(vm_check_cap(vm, KVM_CAP_GUEST_MEMFD_FLAGS), 0);
	fd = __vm_create_guest_memfd(vm, SZ_2M, GUEST_MEMFD_FLAG_NO_DIRECT_MAP);
	TEST_ASSERT(fd == -1 && errno == EINVAL,
		    "the flag without a pool should fail with EINVAL, got fd %d errno %d",
		    fd, errno);
	fd = vm_create_guest_memfd(vm, SZ_2M, 0);
	TEST_ASSERT(!fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, SZ_2M), "fallocate: %s",
		    strerror(errno));
	close(fd);
	kvm_vm_free(vm);
}

int main(int argc, char *argv[])
{
	TEST_REQUIRE(kvm_check_cap(KVM_CAP_VM_TYPES) & BIT(KVM_X86_SW_PROTECTED_VM));
	if (argc > 1 && !strcmp(argv[1], "--init-on-free")) {
		TEST_REQUIRE(!access(POOL_DIR "/drain", W_OK));
		test_no_leak_between_guests(true, true);
		test_no_leak_between_guests(false, true);
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "--pool-off")) {
		TEST_ASSERT(access(POOL_DIR, F_OK), "%s exists: the pool is not off", POOL_DIR);
		test_pool_off(VM_TYPE_DEFAULT);
		test_pool_off(KVM_X86_SW_PROTECTED_VM);
		return 0;
	}
	TEST_REQUIRE(!access(POOL_DIR "/drain", W_OK));
	TEST_REQUIRE(!access(FW_INIT_PARAM, W_OK));

	test_cap_and_flags(VM_TYPE_DEFAULT);
	test_cap_and_flags(KVM_X86_SW_PROTECTED_VM);
	test_fw_init_taints();
	test_fallocate_punch_close();
	test_punch_frees_page();
	test_private_faults();
	test_hole_in_2m_mapping();
	test_unaligned_binding();
	test_no_leak_between_guests(false, false);
	test_no_leak_between_guests(true, false);
	test_concurrent_faults_punch_drain();
	test_memcg_limit();
	test_refault_after_split();
	if (!access(HWPOISON_DIR "/corrupt-pfn", W_OK))
		test_poisoned_page_in_use();
	else
		print_skip("A poisoned page: no %s/corrupt-pfn (CONFIG_HWPOISON_INJECT)",
			   HWPOISON_DIR);
	if (!access("/sys/power/pm_test", W_OK) && !access("/sys/power/disk", F_OK))
		test_hibernation();
	else
		print_skip("Hibernation: no /sys/power/pm_test or /sys/power/disk (CONFIG_PM_DEBUG, CONFIG_HIBERNATION)");
	return 0;
}
