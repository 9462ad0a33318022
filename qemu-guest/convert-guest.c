// SPDX-License-Identifier: GPL-2.0
/*
 * A guest for QEMU's sw-protected-guest: it converts a range of its RAM
 * to private with KVM_HC_MAP_GPA_RANGE, checks that private memory is a
 * separate, zeroed copy, waits on the serial port while the host looks at
 * where that memory came from, tries conversions QEMU must refuse,
 * converts the range back and checks the shared side.  QEMU's exit
 * status is the verdict (isa-debug-exit): GUEST_OK, or 2 * step + 1 for
 * the step that failed; the serial port says which and why.
 *
 * 32-bit protected mode, flat segments, no interrupts, no paging.
 */
#include <stdint.h>

#define RANGE_GPA		0x01000000u	/* 16 MiB */
#define RANGE_SIZE		0x00400000u	/* 4 MiB: two 2 MiB folios */
#define OUTSIDE_RAM_GPA		0x10000000u	/* 256 MiB: above -m 64M */
#define PAST_RAM_SIZE		0x04000000u	/* from RANGE_GPA past the end of RAM */
#define PAGE_SIZE		4096u

#define KVM_HC_MAP_GPA_RANGE	12
#define MAP_GPA_ENCRYPTED	(1u << 4)	/* to private */
#define MAP_GPA_DECRYPTED	0u		/* to shared */

#define COM1			0x3f8
#define DEBUG_EXIT_PORT		0xf4
#define GUEST_OK		0x31		/* QEMU exits with 99 */

enum step {
	STEP_SHARED_WRITE = 1,
	STEP_TO_PRIVATE,
	STEP_PRIVATE_ZERO,
	STEP_PRIVATE_PATTERN,
	STEP_MISALIGNED,
	STEP_OUTSIDE_RAM,
	STEP_PAST_RAM,
	STEP_STILL_PRIVATE,
	STEP_TO_SHARED,
	STEP_SHARED_DISCARDED,
	STEP_SHARED_AGAIN,
};

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static void putc_serial(char c)
{
	while (!(inb(COM1 + 5) & 0x20))		/* transmitter empty */
		;
	outb(COM1, c);
}

static char getc_serial(void)
{
	while (!(inb(COM1 + 5) & 0x01))		/* data ready */
		;
	return inb(COM1);
}

static void puts_serial(const char *s)
{
	while (*s)
		putc_serial(*s++);
}

static void puthex(uint32_t v)
{
	int i;

	puts_serial("0x");
	for (i = 28; i >= 0; i -= 4)
		putc_serial("0123456789abcdef"[(v >> i) & 0xf]);
}

static __attribute__((noreturn)) void report(uint32_t code)
{
	outl(DEBUG_EXIT_PORT, code);
	for (;;)
		__asm__ volatile("hlt");
}

static __attribute__((noreturn)) void fail(enum step step, const char *what,
					   uint32_t gpa, uint32_t value)
{
	puts_serial("convert-guest: FAIL step ");
	puthex(step);
	puts_serial(": ");
	puts_serial(what);
	puts_serial(" at ");
	puthex(gpa);
	puts_serial(", value ");
	puthex(value);
	puts_serial("\n");
	report(step);		/* QEMU exits with 2 * step + 1 */
}

static int cpu_is_amd(void)
{
	uint32_t eax = 0, ebx, ecx, edx;

	__asm__ volatile("cpuid" : "+a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx));
	/* "AuthenticAMD" or "HygonGenuine": vmmcall; otherwise vmcall. */
	return ebx == 0x68747541 || ebx == 0x6f677948;
}

static int32_t map_gpa_range(uint32_t gpa, uint32_t size, uint32_t attrs)
{
	uint32_t ret = KVM_HC_MAP_GPA_RANGE;

	if (cpu_is_amd())
		__asm__ volatile("vmmcall" : "+a"(ret)
				 : "b"(gpa), "c"(size / PAGE_SIZE), "d"(attrs) : "memory");
	else
		__asm__ volatile("vmcall" : "+a"(ret)
				 : "b"(gpa), "c"(size / PAGE_SIZE), "d"(attrs) : "memory");
	return (int32_t)ret;
}

/* One word per 64 bytes, so a 4 MiB range is checked in a few ms. */
#define STRIDE	16

static uint32_t pattern(uint32_t seed, volatile uint32_t *p)
{
	return seed ^ (uint32_t)(uintptr_t)p;
}

static void fill(uint32_t seed)
{
	volatile uint32_t *p = (volatile uint32_t *)RANGE_GPA;
	volatile uint32_t *end = (volatile uint32_t *)(RANGE_GPA + RANGE_SIZE);

	for (; p < end; p += STRIDE)
		*p = pattern(seed, p);
}

/* Checks the range holds @seed's pattern, or zeros for seed 0. */
static void check(enum step step, uint32_t seed, const char *what)
{
	volatile uint32_t *p = (volatile uint32_t *)RANGE_GPA;
	volatile uint32_t *end = (volatile uint32_t *)(RANGE_GPA + RANGE_SIZE);

	for (; p < end; p += STRIDE) {
		uint32_t want = seed ? pattern(seed, p) : 0;

		if (*p != want)
			fail(step, what, (uint32_t)(uintptr_t)p, *p);
	}
}

static void fill_and_check(enum step step, uint32_t seed, const char *memory)
{
	fill(seed);
	check(step, seed, memory);
}

static void convert(enum step step, uint32_t gpa, uint32_t size, uint32_t attrs)
{
	int32_t ret = map_gpa_range(gpa, size, attrs);

	if (ret)
		fail(step, "KVM_HC_MAP_GPA_RANGE failed", gpa, (uint32_t)ret);
}

static void expect_refused(enum step step, uint32_t gpa, uint32_t size, uint32_t attrs)
{
	int32_t ret = map_gpa_range(gpa, size, attrs);

	if (ret >= 0)
		fail(step, "KVM_HC_MAP_GPA_RANGE should have failed", gpa, (uint32_t)ret);
	puts_serial("convert-guest: refused as expected: ");
	puthex(gpa);
	puts_serial(" error ");
	puthex((uint32_t)ret);
	puts_serial("\n");
}

void guest_main(void)
{
	puts_serial("convert-guest: start\n");

	fill_and_check(STEP_SHARED_WRITE, 0x5a5a0000, "shared memory does not hold what was written");

	convert(STEP_TO_PRIVATE, RANGE_GPA, RANGE_SIZE, MAP_GPA_ENCRYPTED);
	check(STEP_PRIVATE_ZERO, 0, "new private memory is not zero");
	fill_and_check(STEP_PRIVATE_PATTERN, 0xa5a50000,
		       "private memory does not hold what was written");

	/* The host samples its figures now; any byte lets the guest go on. */
	puts_serial("convert-guest: private ");
	puthex(RANGE_GPA);
	puts_serial(" ");
	puthex(RANGE_SIZE);
	puts_serial("\n");
	getc_serial();

	expect_refused(STEP_MISALIGNED, RANGE_GPA + 1, PAGE_SIZE, MAP_GPA_ENCRYPTED);
	expect_refused(STEP_OUTSIDE_RAM, OUTSIDE_RAM_GPA, PAGE_SIZE, MAP_GPA_ENCRYPTED);
	/* Starts at the private range, ends past RAM: nothing may change. */
	expect_refused(STEP_PAST_RAM, RANGE_GPA, PAST_RAM_SIZE, MAP_GPA_DECRYPTED);
	check(STEP_STILL_PRIVATE, 0xa5a50000, "a refused conversion changed private memory");

	convert(STEP_TO_SHARED, RANGE_GPA, RANGE_SIZE, MAP_GPA_DECRYPTED);
	check(STEP_SHARED_DISCARDED, 0, "shared memory was not discarded by the conversion");
	fill_and_check(STEP_SHARED_AGAIN, 0x3c3c0000, "shared memory does not hold what was written");

	puts_serial("convert-guest: ok\n");
	report(GUEST_OK);
}
