// SPDX-License-Identifier: GPL-2.0
/* The guest firmware's GPT and MBR parsing, on tables written by sgdisk. */
#include "fw_testimg.h"
#include "part.h"

#define DISK_MB 64

/* Made once: sgdisk syncs the whole host, slow on a busy machine. */
static void make_template(void)
{
	fwt_setup();
	fwt_need("sgdisk", "gdisk");
	fwt_sh("truncate -s %dM gpt.tmpl && sgdisk -n 1:2048:+8M -t 1:ef00 -n 2:0:+16M -t 2:8300 "
	       "-n 3:0:+8M -t 3:ea00 -n 5:0:+1M -t 5:0700 gpt.tmpl",
	       DISK_MB);
}

static void make_gpt(void)
{
	fwt_sh("rm -f disk.img && cp --sparse=always gpt.tmpl disk.img");
}

static void clean(void)
{
	fwt_sh("rm -f disk.img");
}

static int scan(struct fw_part *parts, enum fw_table *table, const char **why)
{
	struct fw_img img;
	int n;

	fwt_open(&img, "disk.img");
	n = fw_part_scan(&img.disk, parts, FW_MAX_PARTS, table, why);
	fwt_close(&img);
	return n;
}

/* The scan refuses disk.img as corrupt, saying word. */
static void scan_corrupt(const char *word)
{
	struct fw_part parts[FW_MAX_PARTS];
	enum fw_table table;
	const char *why = NULL;

	ck_assert_int_eq(scan(parts, &table, &why), FW_E_CORRUPT);
	ck_assert_msg(why && strstr(why, word), "why: %s", why);
}

static void check_gpt_parts(const struct fw_part *p, int n)
{
	ck_assert_int_eq(n, 4);
	ck_assert_uint_eq(p[0].index, 1);
	ck_assert_int_eq(p[0].kind, FW_PART_ESP);
	ck_assert_uint_eq(p[0].start_lba, 2048);
	ck_assert_uint_eq(p[0].blocks, 16384);
	ck_assert_int_eq(p[1].kind, FW_PART_LINUX);
	ck_assert_uint_eq(p[1].start_lba, 18432);
	ck_assert_uint_eq(p[1].blocks, 32768);
	ck_assert_int_eq(p[2].kind, FW_PART_XBOOTLDR);
	ck_assert_uint_eq(p[2].start_lba, 51200);
	ck_assert_uint_eq(p[3].index, 5);
	ck_assert_int_eq(p[3].kind, FW_PART_OTHER);
	ck_assert(fw_guid_eq(p[3].type_guid, "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"));
}

START_TEST(gpt_sgdisk)
{
	struct fw_part parts[FW_MAX_PARTS];
	enum fw_table table;
	const char *why;

	make_gpt();
	check_gpt_parts(parts, scan(parts, &table, &why));
	ck_assert_int_eq(table, FW_TABLE_GPT);
}
END_TEST

START_TEST(gpt_backup_used_when_primary_bad)
{
	struct fw_part parts[FW_MAX_PARTS];
	enum fw_table table;
	const char *why;

	make_gpt();
	fwt_poke("disk.img", 512 + 16, "XXXX", 4); /* primary header CRC */
	check_gpt_parts(parts, scan(parts, &table, &why));
	ck_assert_int_eq(table, FW_TABLE_GPT_BACKUP);
}
END_TEST

START_TEST(gpt_bad_header_crc_both)
{
	make_gpt();
	fwt_poke("disk.img", 512 + 16, "XXXX", 4);
	fwt_poke("disk.img", (DISK_MB << 20) - 512 + 16, "XXXX", 4);
	scan_corrupt("header CRC");
}
END_TEST

START_TEST(gpt_bad_entry_array_crc)
{
	make_gpt();
	/* Partition 1's name in both copies of the array; headers stay valid. */
	fwt_poke("disk.img", 1024 + 56, "Z", 1);
	fwt_poke("disk.img", (DISK_MB << 20) - 33 * 512 + 56, "Z", 1);
	scan_corrupt("entry array CRC");
}
END_TEST

START_TEST(gpt_truncated)
{
	make_gpt();
	fwt_sh("truncate -s 20M disk.img");
	scan_corrupt("outside the disk");
}
END_TEST

START_TEST(mbr_from_sgdisk)
{
	struct fw_part parts[FW_MAX_PARTS];
	enum fw_table table;
	const char *why;
	int n;

	make_gpt();
	fwt_sh("sgdisk --gpttombr=1:2 disk.img");
	n = scan(parts, &table, &why);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(table, FW_TABLE_MBR);
	ck_assert_int_eq(parts[0].kind, FW_PART_ESP);
	ck_assert_uint_eq(parts[0].mbr_type, 0xef);
	ck_assert_uint_eq(parts[0].start_lba, 2048);
	ck_assert_uint_eq(parts[0].blocks, 16384);
	ck_assert_int_eq(parts[1].kind, FW_PART_LINUX);
	ck_assert_uint_eq(parts[1].start_lba, 18432);
}
END_TEST

START_TEST(mbr_hostile_entry)
{
	uint8_t e[16] = {0, 0, 0, 0, 0x83, 0, 0, 0, 0x00, 0x10, 0, 0, 0xff, 0xff, 0xff, 0x7f};

	fwt_sh("truncate -s 1M disk.img && printf '\\125\\252' | dd of=disk.img bs=1 seek=510 "
	       "conv=notrunc");
	fwt_poke("disk.img", 446, e, sizeof(e));
	scan_corrupt("outside the disk");
}
END_TEST

/* One MBR entry (or EBR entry) at byte off of disk.img. */
static void mbr_entry(uint64_t off, uint8_t type, uint32_t start, uint32_t count)
{
	uint8_t e[16] = {0};

	e[4] = type;
	for (int i = 0; i < 4; i++) {
		e[8 + i] = (uint8_t)(start >> (8 * i));
		e[12 + i] = (uint8_t)(count >> (8 * i));
	}
	fwt_poke("disk.img", off, e, sizeof(e));
	fwt_poke("disk.img", off - off % 512 + 510, "\x55\xaa", 2);
}

/* No tool here writes logical partitions (sfdisk is not installed): by hand. */
static void make_extended(void)
{
	fwt_sh("rm -f disk.img && truncate -s 8M disk.img");
	mbr_entry(446, 0x83, 2048, 2048);
	mbr_entry(462, 0x05, 4096, 8192);
	mbr_entry(4096 * 512 + 446, 0x83, 2048, 1024); /* sector 6144 */
	mbr_entry(4096 * 512 + 462, 0x05, 4096, 4096); /* next EBR at 8192 */
	mbr_entry(8192 * 512 + 446, 0x0c, 2048, 1024); /* sector 10240 */
}

START_TEST(mbr_logical_partitions)
{
	struct fw_part parts[FW_MAX_PARTS];
	enum fw_table table;
	const char *why = NULL;
	int n;

	make_extended();
	n = scan(parts, &table, &why);
	ck_assert_msg(n == 3, "%d: %s", n, why);
	ck_assert_uint_eq(parts[0].index, 1);
	ck_assert_uint_eq(parts[1].index, 5);
	ck_assert_uint_eq(parts[1].start_lba, 6144);
	ck_assert_uint_eq(parts[1].blocks, 1024);
	ck_assert_int_eq(parts[1].kind, FW_PART_LINUX);
	ck_assert_uint_eq(parts[2].index, 6);
	ck_assert_uint_eq(parts[2].start_lba, 10240);
	ck_assert_uint_eq(parts[2].mbr_type, 0x0c);

	/* The second EBR links back to itself. */
	mbr_entry(8192 * 512 + 462, 0x05, 4096, 4096);
	scan_corrupt("loops");

	/* A logical partition running past its extended partition. */
	make_extended();
	mbr_entry(8192 * 512 + 446, 0x83, 2048, 4096);
	scan_corrupt("outside its extended");
}
END_TEST

START_TEST(protective_mbr_without_gpt)
{
	struct fw_part parts[FW_MAX_PARTS];
	enum fw_table table;
	const char *why = NULL;

	make_gpt();
	fwt_sh("dd if=/dev/zero of=disk.img bs=512 seek=1 count=1 conv=notrunc && "
	       "dd if=/dev/zero of=disk.img bs=512 seek=%d count=1 conv=notrunc",
	       (DISK_MB << 11) - 1);
	ck_assert_int_eq(scan(parts, &table, &why), FW_E_CORRUPT);
	ck_assert_msg(why != NULL, "corrupt without a reason");
}
END_TEST

START_TEST(blank_disk)
{
	struct fw_part parts[FW_MAX_PARTS];
	enum fw_table table;
	const char *why;

	fwt_sh("truncate -s 1M disk.img");
	ck_assert_int_eq(scan(parts, &table, &why), FW_E_NOPART);
	ck_assert_int_eq(table, FW_TABLE_NONE);
}
END_TEST

START_TEST(guid_text)
{
	static const uint8_t esp[16] = {0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11,
					0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e, 0xc9, 0x3b};

	ck_assert(fw_guid_eq(esp, "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"));
	ck_assert(fw_guid_eq(esp, "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"));
	ck_assert(!fw_guid_eq(esp, "C12A7328-F81F-11D2-BA4B-00A0C93EC93C"));
	ck_assert(!fw_guid_eq(esp, "C12A7328"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fw_part");
	TCase *tc =
		uv_tcase(s, "part", clean, NULL, 30,
			 UV_TESTS(gpt_sgdisk, gpt_backup_used_when_primary_bad,
				  gpt_bad_header_crc_both, gpt_bad_entry_array_crc, gpt_truncated,
				  mbr_from_sgdisk, mbr_hostile_entry, mbr_logical_partitions,
				  protective_mbr_without_gpt, blank_disk, guid_text));

	tcase_add_unchecked_fixture(tc, make_template, fwt_teardown);
	return uv_check_run(s);
}
