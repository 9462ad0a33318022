/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reset vector and switch to 32-bit protected mode for convert-guest.bin,
 * a 64 KiB image that QEMU maps at 4G - 64K (-bios).  After reset CS's
 * base is 0xffff0000, so 16-bit code addresses the image by its offset.
 */
#define STACK_TOP	0x8000		/* in low RAM, shared memory */

	.section .start16, "ax"
	.code16
	.globl image_start
image_start:
	cli
	cld
	lgdtl	%cs:(gdt_desc - image_start)
	movl	%cr0, %eax
	orl	$1, %eax			/* PE */
	movl	%eax, %cr0
	ljmpl	$0x08, $start32

	.code32
start32:
	movw	$0x10, %ax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %ss
	movw	%ax, %fs
	movw	%ax, %gs
	movl	$STACK_TOP, %esp
	call	guest_main
1:	hlt
	jmp	1b

	.p2align 3
gdt:
	.quad	0				/* null */
	.quad	0x00cf9b000000ffff		/* 0x08: code, flat 4G, 32-bit */
	.quad	0x00cf93000000ffff		/* 0x10: data, flat 4G */
gdt_desc:
	.word	gdt_desc - gdt - 1
	.long	gdt

	/* The CPU starts here, 16 bytes below 4G. */
	.section .reset16, "ax"
	.code16
reset:
	jmp	image_start
	.p2align 4, 0xf4

	.section .note.GNU-stack, "", @progbits
