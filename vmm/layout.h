/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UVMM_LAYOUT_H
#define UVMM_LAYOUT_H

/* Guest-physical layout of a uvmm partition. */

#define SZ_1K 0x400ULL
#define SZ_1M 0x100000ULL
#define SZ_1G 0x40000000ULL
#define SZ_4G 0x100000000ULL

/* Low memory: real-mode area, boot structures, EBDA, BIOS area. */
#define LAYOUT_GDT	    0x500ULL
#define LAYOUT_IDT	    0x520ULL
#define LAYOUT_BOOT_PARAMS  0x7000ULL
#define LAYOUT_PML4	    0x9000ULL
#define LAYOUT_PDPT	    0xa000ULL
#define LAYOUT_PD	    0xb000ULL /* four pages: identity map of 4 GiB, 2 MiB pages */
#define LAYOUT_CMDLINE	    0x20000ULL
#define LAYOUT_CMDLINE_MAX  0x10000ULL
#define LAYOUT_FIRMWARE	    0x30000ULL /* guest-firmware, with its bss and stack */
#define LAYOUT_FIRMWARE_MAX (LAYOUT_EBDA - LAYOUT_FIRMWARE)
#define LAYOUT_EBDA	    0x9fc00ULL /* reserved, as on a PC */
#define LAYOUT_EBDA_SIZE    (0xa0000ULL - LAYOUT_EBDA)
#define LAYOUT_BIOS	    0xe0000ULL /* the BIOS area, reserved in the e820 map */
#define LAYOUT_BIOS_SIZE    (0x100000ULL - LAYOUT_BIOS)
#define LAYOUT_ACPI	    0xe0000ULL /* RSDP and tables */
#define LAYOUT_ACPI_SIZE    0x10000ULL
#define LAYOUT_MPTABLE	    0xf0000ULL /* where Linux scans for _MP_; 1 KiB of EBDA is too small */
#define LAYOUT_MPTABLE_SIZE 0x10000ULL
#define LAYOUT_HIMEM	    0x100000ULL /* protected-mode kernel */

/* The hole below 4 GiB: 32-bit PCI MMIO, IOAPIC, LAPIC. */
#define LAYOUT_MMIO32_BASE 0xc0000000ULL
#define LAYOUT_MMIO32_SIZE (LAYOUT_IOAPIC - LAYOUT_MMIO32_BASE)
#define LAYOUT_IOAPIC	   0xfec00000ULL
#define LAYOUT_LAPIC	   0xfee00000ULL
/* The TSS and identity page KVM needs on Intel, inside the hole. */
#define LAYOUT_KVM_TSS	 0xfeffd000ULL
#define LAYOUT_KVM_IDMAP 0xfeffc000ULL

#define LAYOUT_HIGH_RAM SZ_4G
/* 64-bit PCI MMIO window, above the end of high RAM rounded up to 1 GiB. */
#define LAYOUT_MMIO64_SIZE (64ULL * SZ_1G)

/* Port I/O. */
#define PORT_PM_BASE	 0x600 /* ACPI PM1a event (4), control (2), timer (4) */
#define PORT_PM_EVT	 (PORT_PM_BASE + 0)
#define PORT_PM_CNT	 (PORT_PM_BASE + 4)
#define PORT_PM_TMR	 (PORT_PM_BASE + 8)
#define PORT_PM_LEN	 12
#define PORT_FW_EXIT	 0xf4	/* the firmware's exit device (fw_exit.h) */
#define PORT_PCI_IO_BASE 0x1000 /* PCI I/O window */
#define PORT_PCI_IO_SIZE 0xf000

#define IRQ_COM1    4
#define IRQ_COM2    3
#define IRQ_RTC	    8
#define IRQ_SCI	    9
#define IRQ_KBD	    1
#define IOAPIC_PINS 24

#endif
