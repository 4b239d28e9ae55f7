// SPDX-License-Identifier: GPL-2.0
/*
 * uvfw: what uvmm runs when it is given a disk and no kernel. It finds the
 * boot entry on the first virtio-blk disk (../boot.h), loads its kernel and
 * initrds and starts Linux; or, with uvfw.test=LIST on its command line,
 * tests the VMM's devices (selftest.c). Every way it can fail ends in the
 * exit device with a distinct status, never in a hang.
 */
#include <asm/bootparam.h>

#include "fw_boot.h"
#include "linux.h"

#define ARENA_SIZE (4u << 20)
#define VALUE_MAX  128

static char boot_cmdline[FW_CMDLINE_MAX + 1024];

void rt_main(const struct boot_params *bp);

/* The value of KEY=VALUE among the words of cmdline, or NULL. */
const char *rt_cmdline_value(const char *cmdline, const char *key, char *buf, size_t cap)
{
	size_t kl = strlen(key);

	for (const char *p = cmdline; *p;) {
		const char *end = p;

		while (*end && *end != ' ')
			end++;
		if ((size_t)(end - p) > kl && !memcmp(p, key, kl) && p[kl] == '=') {
			fw_strlcpy_n(buf, cap, p + kl + 1, (size_t)(end - p) - kl - 1);
			return buf;
		}
		p = *end ? end + 1 : end;
	}
	return NULL;
}

__attribute__((noreturn)) static void boot_fail(enum rt_exit code, const char *what,
						const char *why)
{
	rt_printf("uvfw: %s: %s\n", what, why);
	rt_exit(code);
}

/* Reads a whole file from fs into fresh heap memory. */
static void *boot_read(struct rt_mem *m, struct fw_fs *fs, const char *path, uint64_t *size)
{
	struct fw_file f;
	void *buf;
	int ret = fw_fs_open(fs, path, &f);

	if (ret)
		boot_fail(RT_EXIT_BOOTFAIL, path, fw_strerror(ret));
	buf = rt_alloc(m, f.size + 1, 4096);
	if (!buf)
		boot_fail(RT_EXIT_BOOTFAIL, path, "does not fit in guest memory");
	ret = fw_fs_pread(fs, &f, 0, buf, f.size);
	if (ret < 0)
		boot_fail(RT_EXIT_BOOTFAIL, path, fw_strerror(ret));
	*size = f.size;
	return buf;
}

__attribute__((noreturn)) static void boot_disk(struct rt_mem *m, const struct boot_params *bp,
						const char *cmdline)
{
	static struct fw_boot_entry e;
	struct linux_image k = {0};
	struct rt_vblk *b;
	struct fw_disk disk;
	struct fw_arena a;
	struct fw_fs fs;
	char msg[160] = "";
	uint64_t total = 0, end;
	unsigned dev = 0;
	uint8_t *initrd;
	int ret;

	ret = rt_vblk_open(&b, m, &dev, RT_NO_VECTOR);
	if (ret)
		boot_fail(RT_EXIT_NOBOOT, "no disk",
			  ret == FW_E_NOPART ? "no virtio-blk device"
					     : "the virtio-blk device failed");
	rt_vblk_disk(b, &disk);
	fw_arena_init(&a, rt_alloc(m, ARENA_SIZE, 4096), ARENA_SIZE);
	ret = fw_find_boot(&disk, &a, &fs, &e, msg, sizeof(msg));
	if (ret)
		boot_fail(ret == FW_E_NOENTRY || ret == FW_E_NOPART ? RT_EXIT_NOBOOT
								    : RT_EXIT_BOOTFAIL,
			  "nothing to boot", msg[0] ? msg : fw_strerror(ret));
	rt_printf("uvfw: booting '%s' from partition %u (%s, %s)\n", e.title[0] ? e.title : e.id,
		  e.part_index, fw_fs_name(&fs), e.config);
	rt_printf("uvfw: linux %s\n", e.kernel);
	k.file = boot_read(m, &fs, e.kernel, &k.file_size);
	if (linux_check(&k, msg, sizeof(msg)))
		boot_fail(RT_EXIT_BOOTFAIL, e.kernel, msg);
	/* Initrds go above the memory the kernel will use. */
	end = k.load_addr + k.init_size;
	if (m->heap_next < end)
		m->heap_next = end;
	for (unsigned i = 0; i < e.n_initrd; i++) {
		struct fw_file f;

		ret = fw_fs_open(&fs, e.initrd[i], &f);
		if (ret)
			boot_fail(RT_EXIT_BOOTFAIL, e.initrd[i], fw_strerror(ret));
		total += (f.size + 3) & ~3ULL;
	}
	initrd = total ? rt_alloc(m, total, 4096) : NULL;
	if (total && (!initrd || (uintptr_t)initrd + total - 1 > k.initrd_max))
		boot_fail(RT_EXIT_BOOTFAIL, "initrd",
			  "does not fit below the kernel's initrd limit");
	for (unsigned i = 0, off = 0; i < e.n_initrd; i++) {
		struct fw_file f;

		rt_printf("uvfw: initrd %s\n", e.initrd[i]);
		ret = fw_fs_open(&fs, e.initrd[i], &f);
		if (!ret)
			ret = fw_fs_pread(&fs, &f, 0, initrd + off, f.size);
		if (ret < 0)
			boot_fail(RT_EXIT_BOOTFAIL, e.initrd[i], fw_strerror(ret));
		off += (f.size + 3) & ~3ULL;
	}
	if (fw_cmdline_merge(boot_cmdline, sizeof(boot_cmdline), e.cmdline, cmdline))
		boot_fail(RT_EXIT_BOOTFAIL, "kernel command line", "too long");
	rt_printf("uvfw: options %s\n", boot_cmdline);
	linux_boot(&k, bp, (uintptr_t)initrd, total, boot_cmdline);
}

void rt_main(const struct boot_params *bp)
{
	uint64_t cl = bp->hdr.cmd_line_ptr | (uint64_t)bp->ext_cmd_line_ptr << 32;
	const char *cmdline = cl ? (const char *)(uintptr_t)cl : "";
	char value[VALUE_MAX];
	struct rt_mem m;

	rt_console_init();
	rt_printf("uvfw: Ultravisor guest firmware\n");
	if (rt_mem_init(&m, bp))
		boot_fail(RT_EXIT_BOOTFAIL, "memory", "no RAM above 1 MiB in the e820 map");
	if (rt_cmdline_value(cmdline, "uvfw.test", value, sizeof(value)))
		rt_exit(rt_selftest(value, &m) ? RT_EXIT_TESTFAIL : RT_EXIT_PASS);
	boot_disk(&m, bp, cmdline);
}
