/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The firmware runtime: what runs on the bare vCPU around the disk parsers
 * (../fw.h). Port and MMIO access, the serial console, the exit device,
 * page mappings for BARs above 4 GiB, PCI and the virtio-blk driver.
 */
#ifndef FW_RT_H
#define FW_RT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fw.h"

/*
 * The exit device (uvmm: vmm/fw_exit.c, docs/firmware.md): a 32-bit write
 * of one of these to RT_EXIT_PORT ends the VM with a distinct status.
 */
#define RT_EXIT_PORT 0xf4
enum rt_exit {
	RT_EXIT_PASS = 0,     /* self-test passed, or power off: status 0 */
	RT_EXIT_NOBOOT = 1,   /* no bootable disk or entry: status 5 */
	RT_EXIT_BOOTFAIL = 2, /* corrupt file system, bad kernel: status 6 */
	RT_EXIT_TESTFAIL = 3, /* a self-test failed: status 7 */
};

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port));
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;

	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

/* MMIO and shared-memory accesses the compiler must neither merge nor move. */
#define rt_read(p)     (*(const volatile __typeof__(*(p)) *)(p))
#define rt_write(p, v) (*(volatile __typeof__(*(p)) *)(p) = (v))
static inline void rt_barrier(void)
{
	__asm__ volatile("mfence" ::: "memory");
}

/* console.c: COM1, polled. */
void rt_console_init(void);
void rt_putc(char c);
int rt_getc(void); /* a byte, or -1 if none is waiting */
void rt_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int rt_vsnprintf(char *buf, size_t cap, const char *fmt, va_list ap);
int rt_snprintf(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
__attribute__((noreturn)) void rt_exit(enum rt_exit code);
uint8_t rt_rtc_seconds(void); /* the CMOS clock's seconds: a timeout that needs no calibration */

/* mem.c: the e820 map from uvmm and a bump allocator over high RAM. */
struct rt_mem {
	uint64_t ram_top;   /* end of the RAM region the heap lies in */
	uint64_t heap_next; /* next free byte */
};
int rt_mem_init(struct rt_mem *m, const void *boot_params);
void *rt_alloc(struct rt_mem *m, uint64_t size, uint64_t align);
/* Identity-maps [addr, addr + len) (MMIO above 4 GiB); 0 or -1. */
int rt_map_mmio(uint64_t addr, uint64_t len);

/* pci.c: configuration mechanism #1, bus 0. */
uint32_t rt_pci_read32(unsigned dev, unsigned off);
uint16_t rt_pci_read16(unsigned dev, unsigned off);
uint8_t rt_pci_read8(unsigned dev, unsigned off);
void rt_pci_write16(unsigned dev, unsigned off, uint16_t v);
/* The next device at or after *dev with vendor:device; -1 when none. */
int rt_pci_find(unsigned *dev, uint16_t vendor, uint16_t device);
/* The address of a memory BAR (64-bit aware), 0 if unset. */
uint64_t rt_pci_bar(unsigned dev, unsigned bar);

/* vblk.c: a virtio-blk device over modern virtio-pci, polled. */
struct rt_vblk;
/* msix: the queue's MSI-X vector, RT_NO_VECTOR to poll without interrupts. */
#define RT_NO_VECTOR 0xffff
int rt_vblk_open(struct rt_vblk **out, struct rt_mem *m, unsigned *pci_dev, uint16_t msix);
uint64_t rt_vblk_sectors(const struct rt_vblk *b);
int rt_vblk_io(struct rt_vblk *b, bool write, uint64_t sector, uint32_t count, void *buf);
/* The same without refusing writes to a read-only disk: for self-tests. */
int rt_vblk_io_raw(struct rt_vblk *b, bool write, uint64_t sector, uint32_t count, void *buf);
/* The fw_disk the parsers read through. */
void rt_vblk_disk(struct rt_vblk *b, struct fw_disk *d);

/* irq.c: for the interrupt self-test only. */
extern volatile uint32_t rt_irq_count;
void rt_irq_setup(uint8_t vector);
int rt_msix_route(unsigned dev, uint8_t vector);

/* selftest.c: uvfw.test=LIST (console, blk, blk-ro, irq), for fast device tests. */
int rt_selftest(const char *list, struct rt_mem *m);

/* cmdline helpers (main.c) */
const char *rt_cmdline_value(const char *cmdline, const char *key, char *buf, size_t cap);

#endif
