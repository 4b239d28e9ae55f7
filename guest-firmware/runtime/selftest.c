// SPDX-License-Identifier: GPL-2.0
/*
 * uvfw.test=LIST: the firmware as a fast test guest. Each test prints
 * "UVFW <test> ..." lines on the console; rt_selftest returns 0 if all passed.
 *   console  reads a line from COM1 and prints "UVFW echo=LINE"
 *   blk      writes its pattern to the last 64 sectors of the first
 *            virtio-blk disk, reads it back, prints the sector-0 checksum
 *   blk-ro   a write to that disk must fail (the back end is read-only)
 *   irq      a read from that disk raises its queue's MSI-X interrupt
 * The pattern of sector S is the text "uvfw-S" padded with '.' to 511
 * bytes and a newline, so a test script can check the image with dd.
 */
#include "rt.h"

#define BLK_TEST_SECTORS 64
#define LINE_MAX	 200

static bool list_has(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; *p;) {
		const char *end = p;

		while (*end && *end != ',')
			end++;
		if ((size_t)(end - p) == n && !memcmp(p, name, n))
			return true;
		p = *end ? end + 1 : end;
	}
	return false;
}

static int test_console(void)
{
	char line[LINE_MAX];
	size_t n = 0;

	rt_printf("UVFW console: type a line\n");
	for (;;) {
		int c = rt_getc();

		if (c < 0) {
			__asm__ volatile("pause");
			continue;
		}
		if (c == '\r' || c == '\n')
			break;
		if (n + 1 < sizeof(line))
			line[n++] = (char)c;
	}
	line[n] = 0;
	rt_printf("UVFW echo=%s\n", line);
	return 0;
}

static void blk_pattern(uint8_t *s, uint64_t sector)
{
	int n = rt_snprintf((char *)s, 512, "uvfw-%llu", (unsigned long long)sector);

	memset(s + n, '.', 511 - n);
	s[511] = '\n';
}

static int test_blk(struct rt_mem *m, bool expect_ro)
{
	uint8_t *buf = rt_alloc(m, BLK_TEST_SECTORS * 512, 4096), *want;
	struct rt_vblk *b;
	unsigned dev = 0;
	uint64_t first;
	uint32_t sum = 0;
	int ret;

	want = rt_alloc(m, BLK_TEST_SECTORS * 512, 4096);
	if (!buf || !want || rt_vblk_open(&b, m, &dev, RT_NO_VECTOR)) {
		rt_printf("UVFW blk: no usable virtio-blk device\n");
		return -1;
	}
	if (rt_vblk_sectors(b) < BLK_TEST_SECTORS + 1) {
		rt_printf("UVFW blk: disk too small\n");
		return -1;
	}
	rt_printf("UVFW blk: pci device %u, %llu sectors\n", dev,
		  (unsigned long long)rt_vblk_sectors(b));
	if (rt_vblk_io(b, false, 0, 1, buf))
		return rt_printf("UVFW blk: reading sector 0 failed\n"), -1;
	for (unsigned i = 0; i < 512; i++)
		sum = sum * 31 + buf[i];
	rt_printf("UVFW blk sector0-sum=%08x\n", sum);
	first = rt_vblk_sectors(b) - BLK_TEST_SECTORS;
	for (unsigned i = 0; i < BLK_TEST_SECTORS; i++)
		blk_pattern(want + i * 512, first + i);
	/* Straight to the device: rt_vblk_io would refuse a read-only disk itself. */
	ret = rt_vblk_io_raw(b, true, first, BLK_TEST_SECTORS, want);
	if (expect_ro) {
		rt_printf("UVFW blk-ro write=%s\n", ret ? "refused" : "accepted");
		return ret ? 0 : -1;
	}
	if (ret || rt_vblk_io(b, false, first, BLK_TEST_SECTORS, buf))
		return rt_printf("UVFW blk: I/O failed\n"), -1;
	if (memcmp(buf, want, BLK_TEST_SECTORS * 512))
		return rt_printf("UVFW blk: read back differs from what was written\n"), -1;
	rt_printf("UVFW blk wrote=%llu+%u\n", (unsigned long long)first, BLK_TEST_SECTORS);
	return 0;
}

#define IRQ_VECTOR    0x40
#define IRQ_TIMEOUT_S 10

/* Waits up to IRQ_TIMEOUT_S for the handler to have run; interrupts stay on meanwhile. */
static uint32_t irq_wait(void)
{
	uint8_t sec = rt_rtc_seconds();
	unsigned ticks = 0;

	for (unsigned long spin = 1; !rt_irq_count && ticks <= IRQ_TIMEOUT_S; spin++) {
		__asm__ volatile("pause");
		if (spin % 4096 == 0 && rt_rtc_seconds() != sec) {
			sec = rt_rtc_seconds();
			ticks++;
		}
	}
	return rt_irq_count;
}

static int test_irq(struct rt_mem *m)
{
	uint8_t *buf = rt_alloc(m, 512, 4096);
	struct rt_vblk *b;
	unsigned dev = 0;
	uint32_t n;

	if (!buf || rt_pci_find(&dev, 0x1af4, 0x1042))
		return rt_printf("UVFW irq: no virtio-blk device\n"), -1;
	rt_irq_setup(IRQ_VECTOR);
	if (rt_msix_route(dev, IRQ_VECTOR))
		return rt_printf("UVFW irq: the device has no usable MSI-X table\n"), -1;
	if (rt_vblk_open(&b, m, &dev, 0))
		return rt_printf("UVFW irq: the device refused MSI-X vector 0 for its queue\n"), -1;
	__asm__ volatile("sti");
	if (rt_vblk_io(b, false, 0, 1, buf)) {
		__asm__ volatile("cli");
		return rt_printf("UVFW irq: reading sector 0 failed\n"), -1;
	}
	n = irq_wait();
	__asm__ volatile("cli");
	rt_printf("UVFW irq count=%u\n", n);
	return n ? 0 : -1;
}

int rt_selftest(const char *list, struct rt_mem *m)
{
	int failed = 0;

	rt_printf("UVFW selftest=%s\n", list);
	if (list_has(list, "console"))
		failed |= test_console();
	if (list_has(list, "blk"))
		failed |= test_blk(m, false);
	if (list_has(list, "blk-ro"))
		failed |= test_blk(m, true);
	if (list_has(list, "irq"))
		failed |= test_irq(m);
	rt_printf("UVFW result=%s\n", failed ? "fail" : "pass");
	return failed;
}
