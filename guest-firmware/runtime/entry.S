/* SPDX-License-Identifier: GPL-2.0 */
/*
 * uvmm enters the firmware like a 64-bit Linux kernel: long mode, flat
 * segments, the first 4 GiB identity-mapped, interrupts off, %rsi pointing
 * at a boot_params page that carries the e820 map and the command line.
 */
	.section .text.entry, "ax"
	.globl _start
_start:
	cli
	cld
	mov	%rsi, %rbx
	lea	__bss_start(%rip), %rdi
	lea	__fw_end(%rip), %rcx
	sub	%rdi, %rcx
	xor	%eax, %eax
	rep stosb
	lea	fw_stack_top(%rip), %rsp
	mov	%rbx, %rsi
	mov	%rsi, %rdi
	call	rt_main
1:	hlt
	jmp	1b

	.section .bss
	.balign 16
	.globl fw_stack_top
fw_stack:
	.skip	0x10000
fw_stack_top:

/* The interrupt self-test's handler (irq.c): count, EOI to the local APIC. */
	.text
	.globl rt_irq_stub
rt_irq_stub:
	push	%rax
	lock incl rt_irq_count(%rip)
	mov	$0xfee000b0, %rax
	movl	$0, (%rax)
	pop	%rax
	iretq

	.section .note.GNU-stack, "", @progbits
