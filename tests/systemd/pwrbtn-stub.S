/*
 * The partitions' guest in tests/systemd (test-systemd.sh assembles it with
 * `as` and `objcopy -O binary`): a 5 KiB bzImage that uvfw boots from the
 * test disk. It writes 'U' to COM1 and sleeps in hlt at no CPU cost until the
 * ACPI power button is pressed (uvmm's SIGPWR: the stop of its scope, a
 * host's power-off, `uvctl shutdown`); then it writes 'P' and enters S5, so
 * uvmm exits 0, as a guest running systemd-logind or acpid would end.
 *
 * The button, as uvmm's platform has it (vmm/pm.c, vmm/layout.h, the MADT of
 * vmm/acpi.c): PM1 status at port 0x600 (PWRBTN_STS bit 8, write 1 to
 * clear), enable at 0x602, control at 0x604 (S5 is SLP_TYP 5 | SLP_EN); the
 * SCI on GSI 9, level-triggered, active high. The stub routes GSI 9 through
 * the IOAPIC (0xfec00000) to vector 0x30 of the local APIC (0xfee00000),
 * both identity-mapped by uvfw (the first 4 GiB), with an IDT of its own
 * whose 64 gates all lead to one handler. The 8259s stay masked.
 *
 * Only the 64-bit entry (startup_64, 0x200 into the protected-mode code)
 * does this: it is the one uvfw and uvmm enter. The others just halt.
 * Memory used beyond the file (IDT, stack) is within init_size (64 KiB),
 * which the loader keeps free for the kernel; addresses are RIP-relative.
 */
	.text
	.code16
	.org	0x1f1
	.byte	1			/* setup_sects */
	.org	0x1f4
	.long	0x100			/* syssize: 4096 bytes, in 16-byte units */
	.org	0x1fe
	.word	0xaa55			/* boot_flag */
	.org	0x200
	.byte	0xeb, real_mode - hdr	/* jmp real_mode */
hdr:	.ascii	"HdrS"
	.word	0x020c			/* boot protocol 2.12 */
	.org	0x211
	.byte	1			/* loadflags: LOADED_HIGH */
	.org	0x214
	.long	0x100000		/* code32_start */
	.org	0x22c
	.long	0x7fffffff		/* initrd_addr_max */
	.org	0x230
	.long	0x200000		/* kernel_alignment */
	.org	0x236
	.word	1			/* xloadflags: XLF_KERNEL_64 */
	.org	0x238
	.long	0x7ff			/* cmdline_size */
	.org	0x258
	.quad	0x1000000		/* pref_address */
	.org	0x260
	.long	0x10000			/* init_size */
	.org	0x268
real_mode:
	mov	$0x3f8, %dx
	mov	$'U', %al
	out	%al, %dx
	cli
1:	hlt
	jmp	1b

	.org	0x400			/* the protected-mode code: the 32-bit entry */
	.code32
	mov	$0x3f8, %dx
	mov	$'U', %al
	out	%al, %dx
	cli
1:	hlt
	jmp	1b

	.set	IDT_OFF, 0x1000		/* from startup_64, in init_size */
	.set	IDTR_OFF, 0xf00
	.set	STACK_OFF, 0x8000
	.set	VECTOR, 0x30
	.set	SCI_GSI, 9

	.org	0x600
	.code64
startup_64:
	cli
	lea	startup_64 + STACK_OFF(%rip), %rsp
	mov	$0x3f8, %dx
	mov	$'U', %al
	out	%al, %dx

	/* 64 interrupt gates (present, DPL 0, type 0xe) to isr, in our code segment. */
	lea	startup_64 + IDT_OFF(%rip), %rdi
	lea	isr(%rip), %rax
	mov	%cs, %cx
	mov	$64, %r8d
1:	mov	%ax, (%rdi)
	mov	%cx, 2(%rdi)
	movw	$0x8e00, 4(%rdi)
	mov	%rax, %rdx
	shr	$16, %rdx
	mov	%dx, 6(%rdi)
	shr	$16, %rdx
	mov	%edx, 8(%rdi)
	movl	$0, 12(%rdi)
	add	$16, %rdi
	dec	%r8d
	jnz	1b
	lea	startup_64 + IDTR_OFF(%rip), %rsi
	movw	$64 * 16 - 1, (%rsi)
	lea	startup_64 + IDT_OFF(%rip), %rax
	mov	%rax, 2(%rsi)
	lidt	(%rsi)

	/* Mask both 8259s; software-enable the local APIC (SVR). */
	mov	$0xff, %al
	out	%al, $0x21
	out	%al, $0xa1
	mov	$0xfee00000, %ebx
	movl	$0x1ff, 0xf0(%rbx)

	/* IOAPIC pin 9: VECTOR, fixed, physical to APIC 0, active high, level. */
	mov	$0xfec00000, %esi
	movl	$0x10 + 2 * SCI_GSI + 1, (%rsi)
	movl	$0, 0x10(%rsi)
	movl	$0x10 + 2 * SCI_GSI, (%rsi)
	movl	$VECTOR | (1 << 15), 0x10(%rsi)

	/* PM1: clear every status bit, enable the power button's. */
	mov	$0x600, %dx
	mov	$0xffff, %ax
	out	%ax, %dx
	mov	$0x602, %dx
	mov	$0x100, %ax
	out	%ax, %dx

	/* sti's shadow covers hlt: no interrupt slips in between. */
2:	sti
	hlt
	jmp	2b

isr:
	push	%rax
	push	%rdx
	push	%rbx
	mov	$0x600, %dx
	in	%dx, %ax
	test	$0x100, %ax
	jz	3f
	mov	$0x3f8, %dx
	mov	$'P', %al
	out	%al, %dx
	mov	$0x604, %dx
	mov	$(5 << 10) | (1 << 13), %ax
	out	%ax, %dx
4:	cli
	hlt
	jmp	4b
	/* Anything else: end of interrupt, back to sleep. */
3:	mov	$0xfee00000, %ebx
	movl	$0, 0xb0(%rbx)
	pop	%rbx
	pop	%rdx
	pop	%rax
	iretq

	.org	0x1400			/* 512 + 512 + 4096 bytes */
