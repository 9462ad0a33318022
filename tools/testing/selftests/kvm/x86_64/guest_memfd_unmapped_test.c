// SPDX-License-Identifier: GPL-2.0
/*
 * guest_memfd with GUEST_MEMFD_FLAG_NO_DIRECT_MAP: folios from the
 * unmapped page pool, given back on punch hole and close, zeroed or not
 * by VM type, mapped with 2M entries when aligned.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <linux/sizes.h>

#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"

#define POOL_DIR	"/sys/kernel/debug/unmapped_alloc"
#define FW_INIT_PARAM	"/sys/module/kvm/parameters/sw_protected_vm_firmware_init"

#define DATA_SLOT	10
#define DATA_GPA	(1ULL << 30)
#define DATA_SIZE	SZ_4M
#define PATTERN		0xa5a5a5a5a5a5a5a5ULL

struct pool_stats {
	long used, free, blocks, zeroed, unzeroed;
};

struct direct_map {
	long k4, m2, g1;
};

static long file_sum(const char *path, const char *key)
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

static void read_pool(struct pool_stats *p)
{
	p->used = file_sum(POOL_DIR "/stats", "pages_used");
	p->free = file_sum(POOL_DIR "/stats", "pages_free");
	p->blocks = file_sum(POOL_DIR "/stats", "blocks");
	p->zeroed = file_sum(POOL_DIR "/stats", "pages_zeroed");
	p->unzeroed = file_sum(POOL_DIR "/stats", "pages_unzeroed");
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

static void set_fw_init(bool on)
{
	int fd = open(FW_INIT_PARAM, O_WRONLY);

	TEST_ASSERT(fd >= 0 && write(fd, on ? "Y" : "N", 1) == 1, "write %s", FW_INIT_PARAM);
	close(fd);
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

	fd = vm_create_guest_memfd(vm, SZ_2M, GUEST_MEMFD_FLAG_NO_DIRECT_MAP);
	close(fd);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		fd = __vm_create_guest_memfd(vm, SZ_2M, bad[i] | GUEST_MEMFD_FLAG_NO_DIRECT_MAP);
		TEST_ASSERT(fd == -1 && errno == EINVAL,
			    "flags %#llx should fail with EINVAL, got fd %d errno %d",
			    (unsigned long long)bad[i], fd, errno);
	}
	kvm_vm_free(vm);
}

static void punch(int fd, off_t off, off_t len)
{
	int r = fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len);

	TEST_ASSERT(!r, "fallocate(PUNCH_HOLE) at %#lx+%#lx: %s", off, len, strerror(errno));
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

/* A software-protected VM whose data range is private guest_memfd memory. */
static struct kvm_vm *private_vm(void *guest_code, struct kvm_vcpu **vcpu)
{
	const struct vm_shape shape = {
		.mode = VM_MODE_DEFAULT,
		.type = KVM_X86_SW_PROTECTED_VM,
	};
	struct kvm_vm *vm = vm_create_shape_with_one_vcpu(shape, vcpu, guest_code);
	int fd = vm_create_guest_memfd(vm, DATA_SIZE, GUEST_MEMFD_FLAG_NO_DIRECT_MAP);

	vm_mem_add(vm, VM_MEM_SRC_ANONYMOUS, DATA_GPA, DATA_SLOT,
		   DATA_SIZE / vm->page_size, KVM_MEM_GUEST_MEMFD, fd, 0);
	close(fd);
	virt_map(vm, DATA_GPA, DATA_GPA, DATA_SIZE / vm->page_size);
	vm_mem_set_private(vm, DATA_GPA, DATA_SIZE);
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
	TEST_ASSERT(vm_get_stat(vm, "pages_2m") >= DATA_SIZE / SZ_2M,
		    "private memory should be mapped by %d 2M entries, pages_2m is %lu",
		    DATA_SIZE / SZ_2M, vm_get_stat(vm, "pages_2m"));
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
 */
static void test_no_leak_between_guests(bool fw_init)
{
	struct pool_stats p0, p;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;

	pr_info("Testing the next guest's view of the same pages, %s\n",
		fw_init ? "firmware-initialised path" : "zeroing path");
	drain_empty_pool();
	vm = private_vm(guest_write_pattern, &vcpu);
	run_guest(vcpu);
	kvm_vm_free(vm);

	set_fw_init(fw_init);
	read_pool(&p0);
	TEST_ASSERT_EQ(p0.used, 0);
	vm = private_vm(fw_init ? guest_expect_pattern : guest_expect_zero, &vcpu);
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
}

int main(int argc, char *argv[])
{
	TEST_REQUIRE(kvm_check_cap(KVM_CAP_VM_TYPES) & BIT(KVM_X86_SW_PROTECTED_VM));
	TEST_REQUIRE(!access(POOL_DIR "/drain", W_OK));
	TEST_REQUIRE(!access(FW_INIT_PARAM, W_OK));

	test_cap_and_flags(VM_TYPE_DEFAULT);
	test_cap_and_flags(KVM_X86_SW_PROTECTED_VM);
	test_fallocate_punch_close();
	test_private_faults();
	test_no_leak_between_guests(false);
	test_no_leak_between_guests(true);
	return 0;
}
