// SPDX-License-Identifier: GPL-2.0
/*
 * The same work on four kinds of private guest_memfd memory, in one boot:
 * a software-protected VM with one vCPU gets SIZE of private memory,
 * fallocated (populate), then written by the guest one word per 4 KiB page
 * (fault); the VM exits (teardown) and a second VM does it all again on
 * the memory the first one freed (reuse).
 *
 *   a  6.12's guest_memfd: no flag, the memory stays in the direct map
 *   b  a model of per-folio removal as the GUEST_MEMFD_FLAG_NO_DIRECT_MAP
 *      series (v12, April 2026) does it: 4 KiB folios, each zapped with a
 *      TLB flush of its own when first used, mapped back when freed, no
 *      collapse (kvm.gmem_per_folio_model, virt/kvm/guest_memfd_model.c)
 *   c  the unmapped pool, host zeroing
 *   d  the unmapped pool without host zeroing, the SEV-SNP/TDX path
 *      (kvm.sw_protected_vm_firmware_init, which taints the kernel)
 *
 * Times are TCG's when run in the test VM: compare them within one run.
 *
 * usage: guest_memfd_bench [CSV_PATH]
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <linux/sizes.h>

#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "unmapped_pool_util.h"

#define FW_INIT_PARAM	"/sys/module/kvm/parameters/sw_protected_vm_firmware_init"
#define MODEL_PARAM	"/sys/module/kvm/parameters/gmem_per_folio_model"
#define DATA_SLOT	10
#define DATA_GPA	(1ULL << 30)
/* Left free besides the guest's memory and its page tables. */
#define MARGIN_MIB	512
/* A path runs 4 GiB only if its 1 GiB populate+fault took less than this. */
#define BIG_MAX_S	15.0

enum path { PLAIN, MODEL, POOL, POOL_NO_ZERO, NR_PATHS };

static const struct {
	const char *key, *name;
	bool flag, model, fw_init;
} paths[NR_PATHS] = {
	[PLAIN]        = { "a", "6.12 guest_memfd",            false, false, false },
	[MODEL]        = { "b", "per-folio removal (model)",   true,  true,  false },
	[POOL]         = { "c", "pool with zeroing",           true,  false, false },
	[POOL_NO_ZERO] = { "d", "pool without zeroing (tainted)", true, false, true },
};

static const unsigned long sizes_mib[] = { 256, 1024, 4096 };
#define NR_SIZES	ARRAY_SIZE(sizes_mib)

enum run { FIRST, REUSE, NR_RUNS };
static const char * const run_name[NR_RUNS] = { "first VM", "reuse" };

struct cell {
	bool done;
	const char *why;		/* why not done */
	double populate_s, fault_s, teardown_s;
	long calls, splits2, splits3;
	long dm4k_kb, dm2m_kb;		/* DirectMap growth after teardown + drain */
};

static struct cell cells[NR_SIZES][NR_PATHS][NR_RUNS];
static uint64_t guest_size;

static const struct vm_shape sw_protected = {
	.mode = VM_MODE_DEFAULT,
	.type = KVM_X86_SW_PROTECTED_VM,
};

static void guest_touch(void)
{
	uint64_t *p = (uint64_t *)DATA_GPA;
	uint64_t i;

	for (i = 0; i < guest_size / sizeof(*p); i += PAGE_SIZE / sizeof(*p))
		p[i] = i;
	GUEST_DONE();
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void set_param(const char *path, bool on)
{
	int fd = open(path, O_WRONLY);

	TEST_ASSERT(fd >= 0 && write(fd, on ? "Y" : "N", 1) == 1, "write %s", path);
	close(fd);
}

/* Knobs left set by a run that stopped half way would taint later tests. */
static void reset_knobs(void)
{
	set_param(MODEL_PARAM, false);
	set_param(FW_INIT_PARAM, false);
}

static void drain_pool(void)
{
	int fd = open(POOL_DIR "/drain", O_WRONLY);

	TEST_ASSERT(fd >= 0 && write(fd, "1", 1) == 1, "write %s/drain", POOL_DIR);
	close(fd);
}

/* Cross-CPU function calls so far, all CPUs: CAL in /proc/interrupts. */
static long cross_cpu_calls(void)
{
	char line[4096], *p, *end;
	FILE *f = fopen("/proc/interrupts", "r");
	long sum = -1, n;

	TEST_ASSERT(f, "open /proc/interrupts");
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
	TEST_ASSERT(sum >= 0, "no CAL line in /proc/interrupts");
	return sum;
}

/* One VM's life on @path's memory, @size bytes of it. */
static void one_vm(enum path path, uint64_t size, struct cell *c)
{
	long s2 = file_sum("/proc/vmstat", "direct_map_level2_splits");
	long s3 = file_sum("/proc/vmstat", "direct_map_level3_splits");
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	long calls;
	double t;
	int fd;

	/* Room in the default memslot for the guest's page tables. */
	vm = __vm_create_shape_with_one_vcpu(sw_protected, &vcpu, size / PAGE_SIZE, guest_touch);
	guest_size = size;
	sync_global_to_guest(vm, guest_size);
	fd = vm_create_guest_memfd(vm, size, paths[path].flag ? GUEST_MEMFD_FLAG_NO_DIRECT_MAP : 0);
	vm_mem_add(vm, VM_MEM_SRC_ANONYMOUS, DATA_GPA, DATA_SLOT, size / vm->page_size,
		   KVM_MEM_GUEST_MEMFD, fd, 0);
	virt_map(vm, DATA_GPA, DATA_GPA, size / vm->page_size);
	vm_mem_set_private(vm, DATA_GPA, size);

	calls = cross_cpu_calls();
	t = now_s();
	TEST_ASSERT(!fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, size),
		    "%s: fallocate %lu MiB: %s", paths[path].name, (unsigned long)(size >> 20),
		    strerror(errno));
	c->populate_s = now_s() - t;
	t = now_s();
	vcpu_run(vcpu);
	c->fault_s = now_s() - t;
	c->calls = cross_cpu_calls() - calls;
	TEST_ASSERT_EQ(get_ucall(vcpu, &uc), UCALL_DONE);
	c->splits2 = file_sum("/proc/vmstat", "direct_map_level2_splits") - s2;
	c->splits3 = file_sum("/proc/vmstat", "direct_map_level3_splits") - s3;

	t = now_s();
	close(fd);
	kvm_vm_free(vm);
	c->teardown_s = now_s() - t;
	c->done = true;
}

/* Whether @size_mib fits in this machine now, with room to spare. */
static bool fits(unsigned long size_mib)
{
	long avail_mib = file_sum("/proc/meminfo", "MemAvailable") >> 10;

	return size_mib + MARGIN_MIB + size_mib / 256 <= (unsigned long)avail_mib;
}

static void bench_cell(enum path path, int s)
{
	uint64_t size = (uint64_t)sizes_mib[s] << 20;
	long dm4k, dm2m;
	enum run r;

	set_param(MODEL_PARAM, paths[path].model);
	set_param(FW_INIT_PARAM, paths[path].fw_init);
	drain_pool();
	if (!fits(sizes_mib[s])) {
		cells[s][path][FIRST].why = "refused: does not fit in MemAvailable";
		printf("%s, %lu MiB: refused, %lu MiB + %u MiB margin exceed MemAvailable %ld MiB\n",
		       paths[path].name, sizes_mib[s], sizes_mib[s], MARGIN_MIB,
		       file_sum("/proc/meminfo", "MemAvailable") >> 10);
		return;
	}
	dm4k = file_sum("/proc/meminfo", "DirectMap4k");
	dm2m = file_sum("/proc/meminfo", "DirectMap2M");
	for (r = 0; r < NR_RUNS; r++)
		one_vm(path, size, &cells[s][path][r]);
	drain_pool();
	for (r = 0; r < NR_RUNS; r++) {
		cells[s][path][r].dm4k_kb = file_sum("/proc/meminfo", "DirectMap4k") - dm4k;
		cells[s][path][r].dm2m_kb = file_sum("/proc/meminfo", "DirectMap2M") - dm2m;
	}
	reset_knobs();
	printf("%s, %lu MiB: populate+fault %.3f s, reuse %.3f s\n", paths[path].name,
	       sizes_mib[s], cells[s][path][FIRST].populate_s + cells[s][path][FIRST].fault_s,
	       cells[s][path][REUSE].populate_s + cells[s][path][REUSE].fault_s);
	fflush(stdout);
}

static double total(const struct cell *c)
{
	return c->populate_s + c->fault_s;
}

/* Field @field of @c, printed as a time when it is one of the first four. */
static double field(const struct cell *c, int field)
{
	const double values[] = {
		c->populate_s, c->fault_s, total(c), c->teardown_s, c->calls,
		c->splits2, c->splits3, c->dm4k_kb,
	};

	return values[field];
}

static void print_row(const char *label, int s, enum run r, int f)
{
	enum path p;

	printf("  %-32s", label);
	for (p = 0; p < NR_PATHS; p++) {
		const struct cell *c = &cells[s][p][r];

		if (!c->done)
			printf("%16s", "-");
		else if (f < 4)
			printf("%16.3f", field(c, f));
		else
			printf("%16.0f", field(c, f));
	}
	printf("\n");
}

/* "x.xx" for @num / @den, or "-" where a cell is missing. */
static const char *ratio(char *buf, double num, double den, bool ok)
{
	if (!ok || den <= 0)
		return "-";
	snprintf(buf, 32, "%.2f", num / den);
	return buf;
}

static void print_ratios(int s, enum run r)
{
	const struct cell *a = &cells[s][PLAIN][r], *b = &cells[s][MODEL][r];
	const struct cell *c = &cells[s][POOL][r], *d = &cells[s][POOL_NO_ZERO][r];
	char b1[32], b2[32], b3[32], b4[32], b5[32];

	printf("  populate+fault vs (a): b %s, c %s, d %s   vs (b): c %s, d %s\n",
	       ratio(b1, total(b), total(a), a->done && b->done),
	       ratio(b2, total(c), total(a), a->done && c->done),
	       ratio(b3, total(d), total(a), a->done && d->done),
	       ratio(b4, total(c), total(b), b->done && c->done),
	       ratio(b5, total(d), total(b), b->done && d->done));
	printf("  cross-CPU calls, (b) / (c): %s, (b) / (d): %s\n",
	       ratio(b1, b->calls, c->calls ? c->calls : 1, b->done && c->done),
	       ratio(b2, b->calls, d->calls ? d->calls : 1, b->done && d->done));
}

static void print_table(void)
{
	static const char * const labels[] = {
		"populate: fallocate (s)", "fault: guest writes all (s)", "populate+fault (s)",
		"teardown: VM exit (s)", "cross-CPU calls (CAL)", "direct_map_level2_splits",
		"direct_map_level3_splits", "DirectMap4k growth, drained (kB)",
	};
	enum path p;
	enum run r;
	int s, f;

	printf("\nguest_memfd, SW-protected VM, one vCPU; times are TCG's\n");
	printf("(b) is a model of the GUEST_MEMFD_FLAG_NO_DIRECT_MAP series (v12, April 2026), not that series' code\n");
	for (p = 0; p < NR_PATHS; p++)
		printf("  (%s) %s\n", paths[p].key, paths[p].name);
	for (s = 0; s < (int)NR_SIZES; s++) {
		for (r = 0; r < NR_RUNS; r++) {
			printf("\n%lu MiB, %s%34s", sizes_mib[s], run_name[r], "");
			for (p = 0; p < NR_PATHS; p++)
				printf("%16s", paths[p].key);
			printf("\n");
			for (f = 0; f < (int)ARRAY_SIZE(labels); f++)
				print_row(labels[f], s, r, f);
			print_ratios(s, r);
		}
		for (p = 0; p < NR_PATHS; p++)
			if (cells[s][p][FIRST].why)
				printf("  (%s) %lu MiB: %s\n", paths[p].key, sizes_mib[s],
				       cells[s][p][FIRST].why);
	}
}

static void write_csv(const char *path)
{
	FILE *f = path ? fopen(path, "w") : NULL;
	enum path p;
	enum run r;
	int s;

	if (!path)
		return;
	TEST_ASSERT(f, "open %s", path);
	fprintf(f, "path,name,size_mib,run,populate_s,fault_s,populate_fault_s,teardown_s,cross_cpu_calls,level2_splits,level3_splits,directmap4k_growth_kb,directmap2m_growth_kb\n");
	for (s = 0; s < (int)NR_SIZES; s++)
		for (p = 0; p < NR_PATHS; p++)
			for (r = 0; r < NR_RUNS; r++) {
				const struct cell *c = &cells[s][p][r];

				if (!c->done)
					continue;
				fprintf(f, "%s,%s,%lu,%s,%.4f,%.4f,%.4f,%.4f,%ld,%ld,%ld,%ld,%ld\n",
					paths[p].key, paths[p].name, sizes_mib[s],
					r == FIRST ? "first" : "reuse", c->populate_s,
					c->fault_s, total(c), c->teardown_s, c->calls,
					c->splits2, c->splits3, c->dm4k_kb, c->dm2m_kb);
			}
	fclose(f);
	printf("\nCSV: %s\n", path);
}

/*
 * (b) last: the splits it leaves in the direct map would otherwise be
 * what (c) and (d) start from, and their drains would collapse them.
 */
static const enum path run_order[NR_PATHS] = { PLAIN, POOL, POOL_NO_ZERO, MODEL };

int main(int argc, char *argv[])
{
	enum path p;
	int i, s;

	TEST_REQUIRE(kvm_check_cap(KVM_CAP_VM_TYPES) & BIT(KVM_X86_SW_PROTECTED_VM));
	TEST_REQUIRE(!access(POOL_DIR "/drain", W_OK));
	TEST_REQUIRE(!access(FW_INIT_PARAM, W_OK));
	TEST_REQUIRE(!access(MODEL_PARAM, W_OK));

	atexit(reset_knobs);
	for (i = 0; i < NR_PATHS; i++) {
		p = run_order[i];
		for (s = 0; s < (int)NR_SIZES; s++) {
			const struct cell *gib = &cells[1][p][FIRST];

			if (sizes_mib[s] > 1024 && (!gib->done || total(gib) >= BIG_MAX_S)) {
				cells[s][p][FIRST].why = "skipped: its 1 GiB run took 15 s or more";
				continue;
			}
			bench_cell(p, s);
		}
	}
	print_table();
	printf("\nthe test knobs of (b) and (d) taint the kernel (U): tainted is %#lx\n",
	       taint_flags());
	write_csv(argc > 1 ? argv[1] : NULL);
	return 0;
}
