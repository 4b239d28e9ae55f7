// SPDX-License-Identifier: GPL-2.0
/*
 * fw_find_boot() on whole disks: GPT and MBR layouts by sgdisk, an ESP made
 * by mkfs.vfat/mcopy, root filesystems by mkfs.ext4 -d, and each broken-image
 * class with the error it must give.
 */
#include "fw_boot.h"
#include "fw_testimg.h"

#define DISK_MB 40
#define P1_LBA	2048  /* ESP, 8 MiB */
#define P2_LBA	18432 /* Linux, 24 MiB */

static struct fw_boot_entry e;
static char msg[512];

static void need_tools(void)
{
	fwt_need("sgdisk", "gdisk");
	fwt_need("mkfs.vfat", "dosfstools");
	fwt_need("mcopy", "mtools");
	fwt_need("mkfs.ext4", "e2fsprogs");
}

/*
 * The partition tables are made once (sgdisk syncs the whole host each time,
 * slow on a busy machine); each test copies them and fills the partitions.
 */
static void make_tables(void)
{
	fwt_setup();
	need_tools();
	fwt_sh("truncate -s %dM gpt.tmpl && sgdisk -n 1:%d:+8M -t 1:ef00 -n 2:%d:+24M "
	       "-t 2:8300 gpt.tmpl && cp --sparse=always gpt.tmpl mbr.tmpl && "
	       "sgdisk --gpttombr=1:2 mbr.tmpl",
	       DISK_MB, P1_LBA, P2_LBA);
}

static void clean(void)
{
	fwt_sh("rm -rf esp root p1.img p2.img disk.img");
}

/* esp/ and root/ (either may be empty) become partitions 1 and 2. */
static void make_disk(bool mbr)
{
	fwt_sh("mkdir -p esp root && truncate -s 8M p1.img && mkfs.vfat p1.img && "
	       "{ [ -z \"$(ls esp)\" ] || mcopy -s -i p1.img esp/* ::; }");
	fwt_sh("truncate -s 24M p2.img && mkfs.ext4 -q -d root p2.img");
	fwt_sh("cp --sparse=always %s disk.img && "
	       "dd if=p1.img of=disk.img bs=1M seek=%d oflag=seek_bytes conv=notrunc,sparse "
	       "status=none && "
	       "dd if=p2.img of=disk.img bs=1M seek=%d oflag=seek_bytes conv=notrunc,sparse "
	       "status=none",
	       mbr ? "mbr.tmpl" : "gpt.tmpl", P1_LBA * 512, P2_LBA * 512);
}

/* fs refers to the disk: it stays open until the test process ends. */
static struct fw_img img;

static int find(struct fw_fs *fs)
{
	/* Exactly what fw_boot.h says is enough. */
	static uint8_t buf[FW_BOOT_ARENA_MIN];
	static struct fw_arena a;

	fw_arena_init(&a, buf, sizeof(buf));
	fwt_open(&img, "disk.img");
	return fw_find_boot(&img.disk, &a, fs, &e, msg, sizeof(msg));
}

static void find_ok(struct fw_fs *fs)
{
	int ret = find(fs);

	ck_assert_msg(ret == 0, "%s: %s", fw_strerror(ret), msg);
}

/* The search fails with code, and its message has each of the words (NULL-ended). */
static void find_fails(int code, ...)
{
	struct fw_fs fs;
	const char *w;
	va_list ap;

	ck_assert_int_eq(find(&fs), code);
	va_start(ap, code);
	while ((w = va_arg(ap, const char *)))
		ck_assert_msg(strstr(msg, w), "'%s' lacks '%s'", msg, w);
	va_end(ap);
}

static void check_kernel(struct fw_fs *fs, const char *src)
{
	size_t want_len, len;
	uint8_t *want = fwt_load(src, &want_len);
	uint8_t *buf = malloc(want_len);
	int ret;

	ret = fw_fs_read_file(fs, e.kernel, buf, want_len, &len);
	ck_assert_msg(ret == 0, "%s: %s", e.kernel, fw_strerror(ret));
	ck_assert_uint_eq(len, want_len);
	ck_assert(!memcmp(buf, want, len));
	free(buf);
	free(want);
}

static void bls_esp_tree(void)
{
	fwt_sh("mkdir -p esp/loader/entries root");
	fwt_write_file("esp/loader/entries/debian-6.1.0-9.conf",
		       "title Debian 6.1.0-9\nversion 6.1.0-9-amd64\nlinux /vmlinuz-9\n"
		       "initrd /initrd-9\noptions root=/dev/vda2 ro\n");
	fwt_write_file("esp/loader/entries/debian-6.1.0-10.conf",
		       "title Debian 6.1.0-10\nversion 6.1.0-10-amd64\nlinux /vmlinuz-10\n"
		       "initrd /initrd-10\noptions root=/dev/vda2 ro\noptions console=ttyS0\n");
	fwt_write_file("esp/loader/entries/broken.conf", "title no kernel line\n");
	fwt_random_file("esp/vmlinuz-9", 70000, 9);
	fwt_random_file("esp/vmlinuz-10", 90000, 10);
	fwt_random_file("esp/initrd-9", 3000, 19);
	fwt_random_file("esp/initrd-10", 3000, 20);
}

START_TEST(bls_on_esp_newest_version)
{
	struct fw_fs fs;

	bls_esp_tree();
	make_disk(false);
	find_ok(&fs);
	ck_assert_int_eq(e.source, FW_BOOT_BLS);
	/* 6.1.0-10 sorts after 6.1.0-9 as a version, not as a string. */
	ck_assert_str_eq(e.id, "debian-6.1.0-10");
	ck_assert_str_eq(e.title, "Debian 6.1.0-10");
	ck_assert_str_eq(e.kernel, "/vmlinuz-10");
	ck_assert_uint_eq(e.n_initrd, 1);
	ck_assert_str_eq(e.initrd[0], "/initrd-10");
	ck_assert_str_eq(e.cmdline, "root=/dev/vda2 ro console=ttyS0");
	ck_assert_str_eq(e.config, "/loader/entries/debian-6.1.0-10.conf");
	ck_assert_uint_eq(e.part_index, 1);
	ck_assert_uint_eq(e.part_start_lba, P1_LBA);
	ck_assert_int_eq(e.fs_type, FW_FS_FAT);
	check_kernel(&fs, "esp/vmlinuz-10");
}
END_TEST

START_TEST(bls_loader_conf_default)
{
	struct fw_fs fs;

	bls_esp_tree();
	fwt_write_file("esp/loader/loader.conf", "timeout 0\ndefault debian-6.1.0-9*\n");
	make_disk(false);
	find_ok(&fs);
	ck_assert_str_eq(e.id, "debian-6.1.0-9");
	ck_assert_str_eq(e.kernel, "/vmlinuz-9");
	check_kernel(&fs, "esp/vmlinuz-9");
}
END_TEST

START_TEST(bls_in_root_boot)
{
	struct fw_fs fs;

	/* An empty ESP first, then /boot/loader/entries on the root filesystem. */
	fwt_sh("mkdir -p esp root/boot/loader/entries && ln -s vmlinuz-6.1 root/boot/vmlinuz");
	fwt_write_file("root/boot/loader/entries/deb.conf",
		       "title Debian\nlinux /vmlinuz\ninitrd /initrd.img-6.1\noptions ro\n");
	fwt_random_file("root/boot/vmlinuz-6.1", 400000, 61);
	fwt_random_file("root/boot/initrd.img-6.1", 10000, 62);
	make_disk(false);
	find_ok(&fs);
	ck_assert_str_eq(e.kernel, "/boot/vmlinuz");
	ck_assert_str_eq(e.initrd[0], "/boot/initrd.img-6.1");
	ck_assert_uint_eq(e.part_index, 2);
	ck_assert_int_eq(e.fs_type, FW_FS_EXT);
	check_kernel(&fs, "root/boot/vmlinuz-6.1");
}
END_TEST

/* Some generators write /boot/... in /boot/loader/entries: found too. */
START_TEST(bls_in_root_boot_full_paths)
{
	struct fw_fs fs;

	fwt_sh("mkdir -p esp root/boot/loader/entries");
	fwt_write_file("root/boot/loader/entries/f.conf", "linux /boot/vmlinuz-f\n"
							  "initrd /boot/initrd-f\n");
	fwt_random_file("root/boot/vmlinuz-f", 50000, 71);
	fwt_random_file("root/boot/initrd-f", 500, 72);
	make_disk(false);
	find_ok(&fs);
	ck_assert_str_eq(e.kernel, "/boot/vmlinuz-f");
	ck_assert_str_eq(e.initrd[0], "/boot/initrd-f");
	check_kernel(&fs, "root/boot/vmlinuz-f");
}
END_TEST

START_TEST(extlinux_on_mbr)
{
	struct fw_fs fs;

	fwt_sh("mkdir -p esp root/boot/extlinux && ln -s vmlinuz-6.1.0-test root/boot/vmlinuz");
	fwt_write_file("root/boot/extlinux/extlinux.conf",
		       "default l1\nlabel l0\n linux /boot/nope\nlabel l1\n menu label Debian\n"
		       " kernel /boot/vmlinuz\n initrd /boot/initrd.img\n append root=/dev/vda2\n");
	fwt_random_file("root/boot/vmlinuz-6.1.0-test", 300000, 7);
	fwt_random_file("root/boot/initrd.img", 5000, 8);
	make_disk(true);
	find_ok(&fs);
	ck_assert_int_eq(e.source, FW_BOOT_EXTLINUX);
	ck_assert_str_eq(e.id, "l1");
	ck_assert_str_eq(e.title, "Debian");
	ck_assert_str_eq(e.cmdline, "root=/dev/vda2");
	ck_assert_str_eq(e.config, "/boot/extlinux/extlinux.conf");
	ck_assert_uint_eq(e.part_index, 2);
	check_kernel(&fs, "root/boot/vmlinuz-6.1.0-test");
}
END_TEST

START_TEST(syslinux_superfloppy)
{
	struct fw_fs fs;

	fwt_sh("mkdir -p root/boot/syslinux");
	fwt_write_file("root/boot/syslinux/syslinux.cfg", "LABEL only\nKERNEL ../vmlinuz\n");
	fwt_random_file("root/boot/vmlinuz", 20000, 3);
	fwt_sh("truncate -s 16M disk.img && mkfs.ext4 -q -d root disk.img");
	find_ok(&fs);
	ck_assert_uint_eq(e.part_index, 0);
	ck_assert_str_eq(e.kernel, "/boot/syslinux/../vmlinuz");
	check_kernel(&fs, "root/boot/vmlinuz");
}
END_TEST

START_TEST(no_entry)
{
	fwt_sh("mkdir -p esp/EFI root/boot");
	make_disk(false);
	find_fails(FW_E_NOENTRY, "no boot entry", NULL);
}
END_TEST

START_TEST(missing_kernel)
{
	fwt_sh("mkdir -p esp/loader/entries root");
	fwt_write_file("esp/loader/entries/a.conf", "linux /vmlinuz-gone\n");
	make_disk(false);
	find_fails(FW_E_NOKERNEL, "partition 1", "/vmlinuz-gone", NULL);
}
END_TEST

START_TEST(missing_initrd)
{
	fwt_sh("mkdir -p esp root/boot/extlinux");
	fwt_write_file("root/boot/extlinux/extlinux.conf",
		       "label a\nkernel /boot/k\ninitrd /boot/i-gone\n");
	fwt_random_file("root/boot/k", 100, 1);
	make_disk(false);
	find_fails(FW_E_NOKERNEL, "initrd /boot/i-gone", NULL);
}
END_TEST

START_TEST(kernel_symlink_loop)
{
	fwt_sh("mkdir -p esp root/boot/extlinux && ln -s k2 root/boot/k1 && ln -s k1 root/boot/k2");
	fwt_write_file("root/boot/extlinux/extlinux.conf", "label a\nkernel /boot/k1\n");
	make_disk(false);
	find_fails(FW_E_LOOP, "/boot/k1", "symbolic links", NULL);
}
END_TEST

START_TEST(corrupt_filesystem)
{
	uint8_t zero = 0;

	fwt_sh("mkdir -p esp/loader/entries root");
	fwt_write_file("esp/loader/entries/a.conf", "linux /k\n");
	make_disk(false);
	fwt_poke("disk.img", P1_LBA * 512ull + 16, &zero, 1); /* the ESP has no FAT */
	find_fails(FW_E_CORRUPT, "partition 1", "FAT", NULL);
}
END_TEST

/* Makes the first cluster of directory path on the ESP (p1.img) point to itself. */
static void loop_esp_dir(const char *path)
{
	struct fw_img p1;
	struct fw_file f;
	struct fw_fs fs;
	struct fw_vol v;
	uint8_t b[4];
	uint64_t off;
	unsigned n;

	fwt_open(&p1, "p1.img");
	fw_vol_whole(&v, &p1.disk);
	ck_assert_int_eq(fw_fs_mount(&fs, &v, fwt_arena()), 0);
	ck_assert_int_eq(fw_fs_open(&fs, path, &f), 0);
	if (fs.fat.bits == 12) {
		off = fs.fat.fat_start + f.id + f.id / 2;
		ck_assert_int_eq(pread(p1.fd, b, 2, (off_t)off), 2);
		if (f.id & 1) {
			b[0] = (uint8_t)((b[0] & 0x0f) | (f.id << 4));
			b[1] = (uint8_t)(f.id >> 4);
		} else {
			b[0] = (uint8_t)f.id;
			b[1] = (uint8_t)((b[1] & 0xf0) | (f.id >> 8));
		}
		n = 2;
	} else {
		off = fs.fat.fat_start + (uint64_t)f.id * (fs.fat.bits / 8);
		for (n = 0; n < 4; n++)
			b[n] = (uint8_t)(f.id >> (8 * n));
		n = fs.fat.bits / 8;
	}
	fwt_close(&p1);
	fwt_poke("disk.img", P1_LBA * 512ull + off, b, n);
}

START_TEST(directory_loop)
{
	fwt_sh("mkdir -p esp/loader/entries root");
	for (int i = 0; i < 40; i++) {
		char name[64];

		snprintf(name, sizeof(name), "esp/loader/entries/entry-number-%02d.conf", i);
		fwt_write_file(name, "title t\n");
	}
	make_disk(false);
	loop_esp_dir("/loader/entries");
	find_fails(FW_E_CORRUPT, "partition 1", "/loader/entries", "loops", NULL);
}
END_TEST

START_TEST(corrupt_ext_superblock)
{
	uint8_t nine = 9;

	fwt_sh("mkdir -p esp root/boot/extlinux");
	fwt_write_file("root/boot/extlinux/extlinux.conf", "label a\nkernel /boot/k\n");
	make_disk(false);
	fwt_poke("disk.img", P2_LBA * 512ull + 1024 + 24, &nine, 1);
	find_fails(FW_E_CORRUPT, "partition 2", "block size", NULL);
}
END_TEST

START_TEST(bad_gpt_crc)
{
	bls_esp_tree();
	make_disk(false);
	fwt_poke("disk.img", 512 + 16, "XXXX", 4);
	fwt_poke("disk.img", (DISK_MB << 20) - 512 + 16, "XXXX", 4);
	find_fails(FW_E_CORRUPT, "partition table: GPT header CRC", NULL);
}
END_TEST

START_TEST(truncated_image)
{
	bls_esp_tree();
	make_disk(false);
	fwt_sh("truncate -s 5M disk.img");
	find_fails(FW_E_CORRUPT, "partition table", NULL);
	/* A bare filesystem cut short. */
	fwt_sh("rm disk.img && truncate -s 16M disk.img && mkfs.ext4 -q -d root disk.img && "
	       "truncate -s 8M disk.img");
	find_fails(FW_E_CORRUPT, "past the end", NULL);
}
END_TEST

START_TEST(blank_disk)
{
	fwt_sh("truncate -s 4M disk.img");
	find_fails(FW_E_NOPART, "no partition table", NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fw_boot");
	TCase *tc = uv_tcase(s, "boot", clean, NULL, 30,
			     UV_TESTS(bls_on_esp_newest_version, bls_loader_conf_default,
				      bls_in_root_boot, bls_in_root_boot_full_paths,
				      extlinux_on_mbr, syslinux_superfloppy, no_entry,
				      missing_kernel, missing_initrd, kernel_symlink_loop,
				      corrupt_filesystem, directory_loop, corrupt_ext_superblock,
				      bad_gpt_crc, truncated_image, blank_disk));

	tcase_add_unchecked_fixture(tc, make_tables, fwt_teardown);
	return uv_check_run(s);
}
