// SPDX-License-Identifier: GPL-2.0
/*
 * GPT (primary header, then the backup one at the last LBA) and MBR primary
 * partitions. Every LBA and count read from the disk is checked against the
 * disk before use; the entry array is bounded and CRC-checked while streamed,
 * so no buffer larger than one block is needed.
 */
#include "part.h"

#define GUID_ESP      "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
#define GUID_XBOOTLDR "BC13C2FF-59E6-4262-A352-B275FD6F7172"
#define GUID_LINUX    "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
#define GUID_ROOT_X64 "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709"

#define GPT_MAX_ARRAY	(1u << 20) /* entry array bytes: 16 KiB is the norm */
#define MBR_MAX_LOGICAL 64

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)fw_tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* GUIDs are stored with their first three fields little-endian. */
bool fw_guid_eq(const uint8_t guid[16], const char *text)
{
	static const uint8_t order[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
	unsigned i = 0;

	for (const char *p = text; *p && i < 32; p++) {
		int hi, lo;

		if (*p == '-')
			continue;
		hi = hexval(p[0]);
		lo = p[1] ? hexval(p[1]) : -1;
		if (hi < 0 || lo < 0)
			return false;
		if (guid[order[i / 2]] != (uint8_t)(hi << 4 | lo))
			return false;
		i += 2;
		p++;
	}
	return i == 32;
}

void fw_part_vol(const struct fw_disk *disk, const struct fw_part *p, struct fw_vol *v)
{
	v->disk = disk;
	v->start_lba = p->start_lba;
	v->blocks = p->blocks;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

struct gpt_hdr {
	uint64_t entries_lba;
	uint32_t nentries;
	uint32_t entry_size;
	uint32_t array_crc;
	uint64_t first_usable;
	uint64_t last_usable;
};

static int gpt_header(const struct fw_vol *v, uint64_t lba, struct gpt_hdr *h, const char **why)
{
	uint32_t bs = v->disk->block_size;
	uint8_t blk[4096];
	uint32_t hsize, crc;
	int ret;

	ret = fw_vol_read(v, lba * bs, blk, bs);
	if (ret)
		return ret;
	if (memcmp(blk, "EFI PART", 8)) {
		*why = "no GPT signature";
		return FW_E_NOPART;
	}
	hsize = fw_le32(blk + 12);
	if (hsize < 92 || hsize > bs) {
		*why = "GPT header size out of range";
		return FW_E_CORRUPT;
	}
	crc = fw_le32(blk + 16);
	memset(blk + 16, 0, 4);
	if (fw_crc32(0, blk, hsize) != crc) {
		*why = "GPT header CRC mismatch";
		return FW_E_CORRUPT;
	}
	if (fw_le64(blk + 24) != lba) {
		*why = "GPT header is not where it says it is";
		return FW_E_CORRUPT;
	}
	h->first_usable = fw_le64(blk + 40);
	h->last_usable = fw_le64(blk + 48);
	h->entries_lba = fw_le64(blk + 72);
	h->nentries = fw_le32(blk + 80);
	h->entry_size = fw_le32(blk + 84);
	h->array_crc = fw_le32(blk + 88);
	if (h->entry_size < 128 || h->entry_size > bs || (h->entry_size & (h->entry_size - 1)) ||
	    (uint64_t)h->nentries * h->entry_size > GPT_MAX_ARRAY) {
		*why = "GPT entry size or count out of range";
		return FW_E_CORRUPT;
	}
	if (h->entries_lba >= v->blocks ||
	    ((uint64_t)h->nentries * h->entry_size + bs - 1) / bs > v->blocks - h->entries_lba ||
	    h->first_usable > h->last_usable || h->last_usable >= v->blocks) {
		*why = "GPT header points outside the disk";
		return FW_E_CORRUPT;
	}
	return 0;
}

static void gpt_classify(struct fw_part *p)
{
	if (fw_guid_eq(p->type_guid, GUID_ESP))
		p->kind = FW_PART_ESP;
	else if (fw_guid_eq(p->type_guid, GUID_XBOOTLDR))
		p->kind = FW_PART_XBOOTLDR;
	else if (fw_guid_eq(p->type_guid, GUID_LINUX) || fw_guid_eq(p->type_guid, GUID_ROOT_X64))
		p->kind = FW_PART_LINUX;
	else
		p->kind = FW_PART_OTHER;
}

/* One pass over the array: CRC when parts is NULL, collect otherwise. */
static int gpt_entries(const struct fw_vol *v, const struct gpt_hdr *h, struct fw_part *parts,
		       unsigned max, uint32_t *crc, const char **why)
{
	uint32_t bs = v->disk->block_size, per = bs / h->entry_size;
	uint64_t total = (uint64_t)h->nentries * h->entry_size;
	uint8_t blk[4096];
	unsigned n = 0;
	int ret;

	*crc = 0;
	for (uint32_t i = 0; i < h->nentries; i += per) {
		uint64_t off = (uint64_t)i * h->entry_size;
		size_t len = total - off < bs ? (size_t)(total - off) : bs;

		ret = fw_vol_read(v, (h->entries_lba + i / per) * bs, blk, bs);
		if (ret)
			return ret;
		*crc = fw_crc32(*crc, blk, len);
		for (uint32_t k = 0; parts && k < per && i + k < h->nentries; k++) {
			const uint8_t *e = blk + k * h->entry_size;
			uint64_t first = fw_le64(e + 32), last = fw_le64(e + 40);
			struct fw_part *p;

			if (all_zero(e, 16))
				continue;
			if (first > last || last >= v->blocks) {
				*why = "GPT entry outside the disk";
				return FW_E_CORRUPT;
			}
			if (n == max)
				return FW_E_NOSPACE;
			p = &parts[n++];
			memset(p, 0, sizeof(*p));
			p->index = i + k + 1;
			p->start_lba = first;
			p->blocks = last - first + 1;
			memcpy(p->type_guid, e, 16);
			gpt_classify(p);
		}
	}
	return (int)n;
}

static int gpt_read(const struct fw_vol *v, uint64_t lba, struct fw_part *parts, unsigned max,
		    const char **why)
{
	struct gpt_hdr h;
	uint32_t crc;
	int ret;

	ret = gpt_header(v, lba, &h, why);
	if (ret)
		return ret;
	ret = gpt_entries(v, &h, NULL, 0, &crc, why);
	if (ret < 0)
		return ret;
	if (crc != h.array_crc) {
		*why = "GPT partition entry array CRC mismatch";
		return FW_E_CORRUPT;
	}
	return gpt_entries(v, &h, parts, max, &crc, why);
}

static bool mbr_extended(uint8_t type)
{
	return type == 0x05 || type == 0x0f || type == 0x85;
}

static enum fw_part_kind mbr_kind(uint8_t type)
{
	return type == 0xef ? FW_PART_ESP : type == 0x83 ? FW_PART_LINUX : FW_PART_OTHER;
}

/*
 * Logical partitions: a chain of EBRs inside the extended partition, each
 * holding one partition (relative to itself) and a link to the next
 * (relative to the extended partition). Links must move forward, so the
 * walk ends even on a hostile chain.
 */
static int mbr_logical(const struct fw_vol *v, uint32_t ext, uint32_t ext_count,
		       struct fw_part *parts, unsigned max, unsigned *n, const char **why)
{
	uint32_t bs = v->disk->block_size, next = 0;
	uint8_t ebr[512];
	int ret;

	for (unsigned k = 0; k < MBR_MAX_LOGICAL; k++) {
		uint64_t lba = (uint64_t)ext + next, end = (uint64_t)ext + ext_count;
		const uint8_t *e = ebr + 446, *link = ebr + 462;
		uint32_t start, count;
		struct fw_part *p;

		ret = fw_vol_read(v, lba * bs, ebr, sizeof(ebr));
		if (ret)
			return ret;
		if (ebr[510] != 0x55 || ebr[511] != 0xaa) {
			*why = "MBR logical partition table (EBR) without signature";
			return FW_E_CORRUPT;
		}
		start = fw_le32(e + 8);
		count = fw_le32(e + 12);
		if (e[4] && count) {
			if (!start || lba + start + count > end) {
				*why = "MBR logical partition outside its extended partition";
				return FW_E_CORRUPT;
			}
			if (*n == max)
				return FW_E_NOSPACE;
			p = &parts[(*n)++];
			memset(p, 0, sizeof(*p));
			p->index = 5 + k;
			p->start_lba = lba + start;
			p->blocks = count;
			p->mbr_type = e[4];
			p->kind = mbr_kind(e[4]);
		}
		if (!link[4] || !fw_le32(link + 8))
			return 0;
		if (fw_le32(link + 8) <= next || fw_le32(link + 8) >= ext_count) {
			*why = "MBR logical partition chain loops or leaves its extended partition";
			return FW_E_CORRUPT;
		}
		next = fw_le32(link + 8);
	}
	*why = "too many MBR logical partitions";
	return FW_E_CORRUPT;
}

static int mbr_read(const struct fw_vol *v, const uint8_t *mbr, struct fw_part *parts, unsigned max,
		    const char **why)
{
	uint32_t ext = 0, ext_count = 0;
	unsigned n = 0;
	int ret;

	for (unsigned i = 0; i < 4; i++) {
		const uint8_t *e = mbr + 446 + 16 * i;
		uint32_t start = fw_le32(e + 8), count = fw_le32(e + 12);
		uint8_t type = e[4];
		struct fw_part *p;

		if (!type || !count)
			continue;
		if (!start || start >= v->blocks || count > v->blocks - start) {
			*why = "MBR partition outside the disk";
			return FW_E_CORRUPT;
		}
		if (mbr_extended(type)) {
			if (!ext_count) { /* the first extended partition is the one used */
				ext = start;
				ext_count = count;
			}
			continue;
		}
		if (n == max)
			return FW_E_NOSPACE;
		p = &parts[n++];
		memset(p, 0, sizeof(*p));
		p->index = i + 1;
		p->start_lba = start;
		p->blocks = count;
		p->mbr_type = type;
		p->kind = mbr_kind(type);
	}
	if (ext_count) {
		ret = mbr_logical(v, ext, ext_count, parts, max, &n, why);
		if (ret)
			return ret;
	}
	return (int)n;
}

/* A boot sector of a partitionless FAT disk has 0x55aa too: be strict. */
static bool mbr_plausible(const uint8_t *mbr)
{
	if (mbr[510] != 0x55 || mbr[511] != 0xaa)
		return false;
	for (unsigned i = 0; i < 4; i++) {
		uint8_t status = mbr[446 + 16 * i];

		if (status != 0 && status != 0x80)
			return false;
	}
	return !all_zero(mbr + 446, 64);
}

static bool mbr_protective(const uint8_t *mbr)
{
	for (unsigned i = 0; i < 4; i++)
		if (mbr[446 + 16 * i + 4] == 0xee)
			return true;
	return false;
}

int fw_part_scan(const struct fw_disk *disk, struct fw_part *parts, unsigned max,
		 enum fw_table *table, const char **why)
{
	const char *why2 = NULL;
	uint8_t mbr[512];
	struct fw_vol v;
	int ret;

	*table = FW_TABLE_NONE;
	*why = NULL;
	fw_vol_whole(&v, disk);
	if (disk->blocks < 2)
		return FW_E_NOPART;
	ret = fw_vol_read(&v, 0, mbr, sizeof(mbr));
	if (ret)
		return ret;
	ret = gpt_read(&v, 1, parts, max, why);
	if (ret >= 0) {
		*table = FW_TABLE_GPT;
		return ret;
	}
	if (ret == FW_E_IO || ret == FW_E_NOSPACE)
		return ret;
	if (ret == FW_E_CORRUPT || mbr_protective(mbr)) {
		/* The primary is damaged (or absent behind a protective MBR). */
		int ret2 = gpt_read(&v, disk->blocks - 1, parts, max, &why2);

		if (ret2 >= 0) {
			*table = FW_TABLE_GPT_BACKUP;
			return ret2;
		}
		if (ret2 == FW_E_IO || ret2 == FW_E_NOSPACE)
			return ret2;
		if (ret != FW_E_CORRUPT)
			*why = ret2 == FW_E_CORRUPT ? why2 : "protective MBR but no GPT header";
		return FW_E_CORRUPT;
	}
	if (!mbr_plausible(mbr)) {
		*why = "neither GPT nor MBR";
		return FW_E_NOPART;
	}
	*table = FW_TABLE_MBR;
	return mbr_read(&v, mbr, parts, max, why);
}
