// SPDX-License-Identifier: GPL-2.0
/* The guest firmware's ext2/3/4 reader, on images made by mkfs.ext4 -d. */
#include "fs.h"
#include "fw_testimg.h"

#define LONGDIR "this_is_a_rather_long_directory_name_to_force_a_slow_symlink_x"
#define NBIG	600

static const char *const variants[] = {
	"mkfs.ext4 -F",				   /* 64bit, 1 KiB blocks for a small fs */
	"mkfs.ext4 -F -O ^64bit -b 4096",	   /* 32-bit descriptors */
	"mkfs.ext4 -F -I 128 -b 2048",		   /* small inodes */
	"mkfs.ext4 -F -I 1024 -b 4096",		   /* large inodes */
	"mkfs.ext2 -F",				   /* block maps, 1 KiB: triple levels */
	"mkfs.ext3 -F -b 4096",			   /* block maps and a journal */
	"mkfs.ext4 -F -O ^64bit,^flex_bg -b 1024", /* classic layout */
};

/* The tree every image is made from, once for the whole suite. */
static void make_src(void)
{
	fwt_setup();
	fwt_sh("mkdir -p src/boot/" LONGDIR " src/big && : > src/empty && "
	       "ln -s vmlinuz-6.1.0-test src/boot/vmlinuz && "
	       "ln -s /boot/initrd.img-6.1.0-test src/boot/initrd.img && "
	       "ln -s boot/vmlinuz src/vmlinuz && ln -s boot/" LONGDIR "/kernel src/slow && "
	       "ln -s boot/../boot src/up && ln -s loop2 src/loop1 && ln -s loop1 src/loop2 && "
	       "ln -s ../../../../boot/vmlinuz src/boot/" LONGDIR "/dotdot");
	fwt_random_file("src/boot/vmlinuz-6.1.0-test", 1500000, 3);
	fwt_random_file("src/boot/initrd.img-6.1.0-test", 200000, 4);
	fwt_random_file("src/boot/" LONGDIR "/kernel", 7000, 5);
	fwt_random_file("src/bigfile", 300000, 6);
	fwt_sh("for i in $(seq 1 %d); do echo $i > src/big/some_longish_file_name_number_$i.txt; "
	       "done",
	       NBIG);
	/* Ten islands of data: ten extents, more than fit in the inode. */
	fwt_sh("for i in 0 1 2 3 4 5 6 7 8 9; do head -c 5000 src/bigfile | dd of=src/sparse "
	       "bs=5000 seek=$((i * 40)) conv=notrunc status=none; done");
}

static void make_ext(int i)
{
	fwt_need("mkfs.ext4", "e2fsprogs");
	fwt_need("e2fsck", "e2fsprogs");
	fwt_sh("rm -f ext.img && truncate -s 32M ext.img && %s -q -d src ext.img && "
	       "{ e2fsck -fyD ext.img || [ $? -le 1 ]; }",
	       variants[i]);
}

static void mount_ext(struct fw_img *img, struct fw_fs *fs)
{
	struct fw_vol v;
	int ret;

	fwt_open(img, "ext.img");
	fw_vol_whole(&v, &img->disk);
	ret = fw_fs_mount(fs, &v, fwt_arena());
	ck_assert_msg(ret == 0, "mount: %s (%s)", fw_strerror(ret), fw_fs_why(fs));
	ck_assert_int_eq(fs->type, FW_FS_EXT);
}

static void ext_read_files(void)
{
	struct fw_file f;
	struct fw_img img;
	struct fw_fs fs;

	mount_ext(&img, &fs);
	fwt_check_same(&fs, "/boot/vmlinuz-6.1.0-test", "src/boot/vmlinuz-6.1.0-test");
	fwt_check_same(&fs, "/boot/initrd.img-6.1.0-test", "src/boot/initrd.img-6.1.0-test");
	fwt_check_same(&fs, "/bigfile", "src/bigfile");
	fwt_check_same(&fs, "/sparse", "src/sparse");
	fwt_check_same(&fs, "/empty", "src/empty");
	fwt_check_same(&fs, "/big/some_longish_file_name_number_600.txt",
		       "src/big/some_longish_file_name_number_600.txt");
	ck_assert_int_eq(fw_fs_open(&fs, "/sparse", &f), 0);
	if (fw_le32(f.raw + 32) & 0x80000) /* extents: the tree has an index level */
		ck_assert_uint_ge(fw_le16(f.raw + 40 + 6), 1);
	fwt_close(&img);
}

static void ext_symlinks(void)
{
	struct fw_file f;
	struct fw_img img;
	struct fw_fs fs;

	mount_ext(&img, &fs);
	fwt_check_same(&fs, "/boot/vmlinuz", "src/boot/vmlinuz-6.1.0-test");
	fwt_check_same(&fs, "/boot/initrd.img", "src/boot/initrd.img-6.1.0-test");
	fwt_check_same(&fs, "/vmlinuz", "src/boot/vmlinuz-6.1.0-test");
	fwt_check_same(&fs, "/up/vmlinuz", "src/boot/vmlinuz-6.1.0-test");
	fwt_check_same(&fs, "/slow", "src/boot/" LONGDIR "/kernel");
	fwt_check_same(&fs, "/boot/" LONGDIR "/dotdot", "src/boot/vmlinuz-6.1.0-test");
	ck_assert_int_eq(fw_fs_open(&fs, "/loop1", &f), FW_E_LOOP);
	ck_assert_int_eq(fw_fs_open(&fs, "/loop2/x", &f), FW_E_LOOP);
	ck_assert_int_eq(fw_fs_open(&fs, "/boot/nope", &f), FW_E_NOENT);
	ck_assert_int_eq(fw_fs_open(&fs, "/bigfile/x", &f), FW_E_NOTDIR);
	fwt_close(&img);
}

static int count(void *arg, const char *name, size_t len, bool dir)
{
	unsigned *n = arg;

	(void)dir;
	if (len > 30 && !strncmp(name, "some_longish_file_name_number_", 30))
		(*n)++;
	return 0;
}

static void ext_htree_directory(int _i)
{
	struct fw_file f;
	struct fw_img img;
	struct fw_fs fs;
	unsigned n = 0;

	mount_ext(&img, &fs);
	ck_assert_int_eq(fw_fs_open(&fs, "/big", &f), 0);
	ck_assert(f.dir);
	/* e2fsck -D indexed it (ext2 without dir_index keeps it linear). */
	if (_i != 4)
		ck_assert_msg(fw_le32(f.raw + 32) & 0x1000, "directory is not htree-indexed");
	ck_assert_int_eq(fw_fs_list(&fs, "/big", count, &n), 0);
	ck_assert_uint_eq(n, NBIG);
	fwt_check_same(&fs, "/big/some_longish_file_name_number_1.txt",
		       "src/big/some_longish_file_name_number_1.txt");
	fwt_check_same(&fs, "/big/some_longish_file_name_number_333.txt",
		       "src/big/some_longish_file_name_number_333.txt");
	fwt_close(&img);
}

/* The same image on a device with 4 KiB blocks: reads of any alignment. */
static void ext_4k_device(void)
{
	struct fw_img img;
	struct fw_fs fs;
	struct fw_vol v;

	fwt_open_bs(&img, "ext.img", 4096);
	fw_vol_whole(&v, &img.disk);
	ck_assert_int_eq(fw_fs_mount(&fs, &v, fwt_arena()), 0);
	fwt_check_same(&fs, "/boot/vmlinuz", "src/boot/vmlinuz-6.1.0-test");
	fwt_check_same(&fs, "/sparse", "src/sparse");
	fwt_close(&img);
}

/* One image per variant: building it is what takes the time. */
START_TEST(ext_variant)
{
	make_ext(_i);
	ext_read_files();
	ext_symlinks();
	ext_htree_directory(_i);
	ext_4k_device();
}
END_TEST

static int mount_only(struct fw_fs *fs)
{
	struct fw_img img;
	struct fw_vol v;
	int ret;

	fwt_open(&img, "ext.img");
	fw_vol_whole(&v, &img.disk);
	ret = fw_fs_mount(fs, &v, fwt_arena());
	fwt_close(&img);
	return ret;
}

START_TEST(ext_broken_images)
{
	uint8_t sb[1024], bad[4];
	size_t len;
	uint8_t *img;
	struct fw_fs fs;

	make_ext(0);
	img = fwt_load("ext.img", &len);
	memcpy(sb, img + 1024, sizeof(sb));
	free(img);

	/* Corrupt superblock: a 2^(10+9) byte block size. */
	bad[0] = 9, bad[1] = bad[2] = bad[3] = 0;
	fwt_poke("ext.img", 1024 + 24, bad, 4);
	ck_assert_int_eq(mount_only(&fs), FW_E_CORRUPT);
	ck_assert_msg(strstr(fw_fs_why(&fs), "block size"), "why: %s", fw_fs_why(&fs));
	fwt_poke("ext.img", 1024, sb, sizeof(sb));

	/* An INCOMPAT feature nobody knows. */
	memcpy(bad, sb + 96, 4);
	bad[3] |= 0x40;
	fwt_poke("ext.img", 1024 + 96, bad, 4);
	ck_assert_int_eq(mount_only(&fs), FW_E_UNSUPPORTED);
	ck_assert_msg(strstr(fw_fs_why(&fs), "INCOMPAT features 0x40000000"), "why: %s",
		      fw_fs_why(&fs));
	fwt_poke("ext.img", 1024, sb, sizeof(sb));
	ck_assert_int_eq(mount_only(&fs), 0);

	/* Not a superblock at all. */
	bad[0] = bad[1] = 0;
	fwt_poke("ext.img", 1024 + 56, bad, 2);
	ck_assert_int_eq(mount_only(&fs), FW_E_NOFS);
	fwt_poke("ext.img", 1024, sb, sizeof(sb));

	fwt_sh("truncate -s 20M ext.img");
	ck_assert_int_eq(mount_only(&fs), FW_E_CORRUPT);
	ck_assert_msg(strstr(fw_fs_why(&fs), "past the end"), "why: %s", fw_fs_why(&fs));
}
END_TEST

/* inline_data: small files and directories live in the inode. */
START_TEST(ext_inline_data)
{
	struct fw_img img;
	struct fw_fs fs;

	fwt_need("debugfs", "e2fsprogs");
	fwt_sh("rm -rf il ext.img && mkdir -p il/sub/deeper && head -c 30 src/bigfile > il/small "
	       "&& "
	       "head -c 100 src/bigfile > il/medium && head -c 5000 src/bigfile > il/large && "
	       "echo x > il/sub/f && echo y > il/sub/deeper/g && ln -s ../small il/sub/up && "
	       "truncate -s 8M ext.img && mkfs.ext4 -F -q -I 256 -O inline_data -d il ext.img && "
	       "debugfs -R 'stat /medium' ext.img | grep -q 'Size of inline data: 100' && "
	       "debugfs -R 'stat /sub' ext.img | grep -q 'Flags: 0x10000000'");
	mount_ext(&img, &fs);
	fwt_check_same(&fs, "/small", "il/small");
	fwt_check_same(&fs, "/medium", "il/medium");
	fwt_check_same(&fs, "/large", "il/large");
	fwt_check_same(&fs, "/sub/f", "il/sub/f");
	fwt_check_same(&fs, "/sub/deeper/g", "il/sub/deeper/g");
	fwt_check_same(&fs, "/sub/deeper/../f", "il/sub/f");
	fwt_check_same(&fs, "/sub/up", "il/small");
	fwt_close(&img);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fw_ext4");
	TCase *tc =
		uv_tcase(s, "ext4", NULL, NULL, 60, UV_TESTS(ext_broken_images, ext_inline_data));

	tcase_add_unchecked_fixture(tc, make_src, fwt_teardown);
	tcase_add_loop_test(tc, ext_variant, 0, sizeof(variants) / sizeof(variants[0]));
	return uv_check_run(s);
}
