// SPDX-License-Identifier: GPL-2.0
/* The guest firmware's FAT12/16/32 reader, on images made by mkfs.vfat and mcopy. */
#include "fs.h"
#include "fw_testimg.h"

static const int fat_bits[] = {12, 16, 32};
static const int fat_mb[] = {4, 20, 40};

#define BIG_LEN 300000
#define NMANY	100

/* The tree every image is made from, once for the whole suite. */
static void make_src(void)
{
	fwt_setup();
	fwt_sh("mkdir -p src/EFI/BOOT src/many src/loader/entries && : > src/empty && "
	       "echo 'a long name, and its content' > 'src/Long File Name With Spaces.txt'");
	fwt_random_file("src/big.bin", BIG_LEN, 1);
	fwt_random_file("src/gapA", 20000, 11);
	fwt_random_file("src/gapB", 20000, 12);
	fwt_random_file("frag.bin", 100000, 13);
	fwt_random_file("src/EFI/BOOT/BOOTX64.EFI", 5000, 2);
	fwt_sh("for i in $(seq -f %%03g 0 %d); do echo \"file $i\" > src/many/file_$i.txt; done",
	       NMANY - 1);
}

static void make_fat(int i)
{
	fwt_need("mkfs.vfat", "dosfstools");
	fwt_need("mcopy", "mtools");
	fwt_sh("rm -f fat.img && truncate -s %dM fat.img && mkfs.vfat -F %d fat.img && mcopy -s -i "
	       "fat.img src/* ::",
	       fat_mb[i], fat_bits[i]);
	/*
	 * A file written into the hole gapB leaves: its chain has two runs. On
	 * FAT32 the FSInfo "next free" hint (sector 1) must be forgotten first.
	 */
	fwt_sh("mdel -i fat.img ::/gapB && { [ %d != 32 ] || printf '\\377\\377\\377\\377' | "
	       "dd of=fat.img bs=1 seek=1004 conv=notrunc status=none; } && "
	       "mcopy -i fat.img frag.bin :: && mshowfat -i fat.img ::/frag.bin | grep -q '> <'",
	       fat_bits[i]);
}

static void mount_fat(struct fw_img *img, struct fw_fs *fs)
{
	struct fw_vol v;

	fwt_open(img, "fat.img");
	fw_vol_whole(&v, &img->disk);
	ck_assert_int_eq(fw_fs_mount(fs, &v, fwt_arena()), 0);
	ck_assert_int_eq(fs->type, FW_FS_FAT);
}

START_TEST(fat_read_files)
{
	struct fw_img img;
	struct fw_fs fs;

	make_fat(_i);
	mount_fat(&img, &fs);
	ck_assert_uint_eq(fs.fat.bits, fat_bits[_i]);
	fwt_check_same(&fs, "/big.bin", "src/big.bin");
	fwt_check_same(&fs, "/EFI/BOOT/BOOTX64.EFI", "src/EFI/BOOT/BOOTX64.EFI");
	/* Case-insensitive, on both long and 8.3 names, and ".." */
	fwt_check_same(&fs, "/efi/boot/bootx64.efi", "src/EFI/BOOT/BOOTX64.EFI");
	fwt_check_same(&fs, "//Efi/./Boot/../BOOT/BootX64.efi", "src/EFI/BOOT/BOOTX64.EFI");
	fwt_check_same(&fs, "/long file name with spaces.txt",
		       "src/Long File Name With Spaces.txt");
	fwt_check_same(&fs, "/many/file_099.txt", "src/many/file_099.txt");
	fwt_check_same(&fs, "/many/../many/FILE_042.TXT", "src/many/file_042.txt");
	fwt_check_same(&fs, "/empty", "src/empty");
	fwt_check_same(&fs, "/frag.bin", "frag.bin");
	fwt_close(&img);
}
END_TEST

struct listing {
	unsigned files, dirs, bad;
};

static int count_entry(void *arg, const char *name, size_t len, bool dir)
{
	struct listing *l = arg;
	unsigned n;

	if (dir) {
		l->dirs++;
		return 0;
	}
	if (len != 12 || sscanf(name, "file_%03u.txt", &n) != 1 || n >= NMANY)
		l->bad++;
	l->files++;
	return 0;
}

START_TEST(fat_list_and_errors)
{
	struct listing l = {0};
	struct fw_file f;
	struct fw_img img;
	struct fw_fs fs;
	char buf[64];
	size_t len;

	make_fat(_i);
	mount_fat(&img, &fs);
	ck_assert_int_eq(fw_fs_list(&fs, "/many", count_entry, &l), 0);
	ck_assert_uint_eq(l.files, NMANY);
	ck_assert_uint_eq(l.dirs, 2); /* "." and ".." */
	ck_assert_uint_eq(l.bad, 0);
	ck_assert_int_eq(fw_fs_open(&fs, "/nope", &f), FW_E_NOENT);
	ck_assert_int_eq(fw_fs_open(&fs, "/big.bin/x", &f), FW_E_NOTDIR);
	ck_assert_int_eq(fw_fs_read_file(&fs, "/big.bin", buf, sizeof(buf), &len), FW_E_NOSPACE);
	ck_assert_int_eq(fw_fs_open(&fs, "/loader/entries", &f), 0);
	ck_assert(f.dir);
	fwt_close(&img);
}
END_TEST

START_TEST(fat_directory_loop)
{
	struct fw_file f;
	struct fw_img img;
	struct fw_fs fs;
	uint8_t v[4];
	uint64_t off;
	int ret;

	make_fat(_i);
	mount_fat(&img, &fs);
	ck_assert_int_eq(fw_fs_open(&fs, "/many", &f), 0);
	/* Point the directory's first cluster at itself. */
	if (fs.fat.bits == 12) {
		uint16_t cur;

		off = fs.fat.fat_start + f.id + f.id / 2;
		ck_assert_int_eq(pread(img.fd, &cur, 2, (off_t)off), 2);
		cur = f.id & 1 ? (uint16_t)((cur & 0x000f) | f.id << 4)
			       : (uint16_t)((cur & 0xf000) | f.id);
		v[0] = (uint8_t)cur;
		v[1] = (uint8_t)(cur >> 8);
	} else {
		off = fs.fat.fat_start + (uint64_t)f.id * (fs.fat.bits / 8);
		v[0] = (uint8_t)f.id;
		v[1] = (uint8_t)(f.id >> 8);
		v[2] = (uint8_t)(f.id >> 16);
		v[3] = (uint8_t)(f.id >> 24);
	}
	fwt_close(&img);
	fwt_poke("fat.img", off, v, fs.fat.bits == 12 ? 2 : fs.fat.bits / 8);
	mount_fat(&img, &fs);
	/* A name that is not there: the walk must go round the loop. */
	ret = fw_fs_open(&fs, "/many/not-there", &f);
	ck_assert_int_eq(ret, FW_E_CORRUPT);
	ck_assert_msg(strstr(fw_fs_why(&fs), "loops"), "why: %s", fw_fs_why(&fs));
	fwt_close(&img);
}
END_TEST

START_TEST(fat_broken_images)
{
	struct fw_img img;
	struct fw_fs fs;
	struct fw_vol v;
	uint8_t zero = 0;

	make_fat(_i);
	fwt_sh("truncate -s %dM fat.img", fat_mb[_i] / 2);
	fwt_open(&img, "fat.img");
	fw_vol_whole(&v, &img.disk);
	ck_assert_int_eq(fw_fs_mount(&fs, &v, fwt_arena()), FW_E_CORRUPT);
	ck_assert_msg(strstr(fw_fs_why(&fs), "past the end"), "why: %s", fw_fs_why(&fs));
	fwt_close(&img);

	fwt_poke("fat.img", 16, &zero, 1); /* no FATs */
	fwt_open(&img, "fat.img");
	fw_vol_whole(&v, &img.disk);
	ck_assert_int_eq(fw_fs_mount(&fs, &v, fwt_arena()), FW_E_CORRUPT);
	ck_assert_msg(strstr(fw_fs_why(&fs), "out of range"), "why: %s", fw_fs_why(&fs));
	fwt_close(&img);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fw_fat");
	TCase *tc = tcase_create("fat");

	tcase_add_unchecked_fixture(tc, make_src, fwt_teardown);
	tcase_set_timeout(tc, 30);
	/* Each for FAT12, FAT16 and FAT32. */
	tcase_add_loop_test(tc, fat_read_files, 0, 3);
	tcase_add_loop_test(tc, fat_list_and_errors, 0, 3);
	tcase_add_loop_test(tc, fat_directory_loop, 0, 3);
	tcase_add_loop_test(tc, fat_broken_images, 0, 3);
	suite_add_tcase(s, tc);
	return uv_check_run(s);
}
