// SPDX-License-Identifier: GPL-2.0
/*
 * ext4 inline data: a small file or directory keeps its first 60 bytes in
 * i_block and the rest in the "system.data" extended attribute inside the
 * inode. The attribute area is parsed with every entry and value checked to
 * lie inside the inode; values stored in other inodes are refused.
 */
#include "ext4.h"

#define XATTR_MAGIC	 0xea020000
#define XATTR_SYSTEM_IDX 7

static int corrupt(struct fw_ext *fs, const char *why)
{
	fs->why = why;
	return FW_E_CORRUPT;
}

/* *val points into fs->map (the mapping cache is dropped), *len 0 if absent. */
int fw_ext_inline_tail(struct fw_ext *fs, const struct fw_file *f, const uint8_t **val,
		       uint32_t *len)
{
	uint32_t isz = fs->inode_size, p, first;
	const uint8_t *in = fs->map;
	uint64_t off;
	int ret;

	*len = 0;
	if (isz <= 128)
		return 0; /* no room for attributes */
	ret = fw_ext_inode_off(fs, f->id, &off);
	if (ret)
		return ret;
	fs->map_blk = 0;
	ret = fw_vol_read(&fs->vol, off, fs->map, isz);
	if (ret)
		return ret;
	p = 128 + fw_le16(in + 128);
	if (p + 4 > isz || fw_le32(in + p) != XATTR_MAGIC)
		return 0;
	first = p + 4;
	for (p = first; p + 16 <= isz && fw_le32(in + p);) {
		uint32_t nlen = in[p], voff = fw_le16(in + p + 2), vsize = fw_le32(in + p + 8);
		uint32_t esize = (16 + nlen + 3) & ~3u;

		if (p + esize > isz)
			return corrupt(fs, "ext4: in-inode attribute overruns the inode");
		if (in[p + 1] == XATTR_SYSTEM_IDX && nlen == 4 && !memcmp(in + p + 16, "data", 4)) {
			if (fw_le32(in + p + 4)) {
				fs->why = "ext4: inline data stored in another inode";
				return FW_E_UNSUPPORTED;
			}
			if (first + voff > isz || vsize > isz - first - voff)
				return corrupt(fs, "ext4: inline data overruns the inode");
			*val = in + first + voff;
			*len = vsize;
			return 0;
		}
		p += esize;
	}
	return 0;
}

int fw_ext_inline_read(struct fw_ext *fs, const struct fw_file *f, uint64_t off, void *buf,
		       size_t len)
{
	const uint8_t *tail = NULL;
	uint8_t *out = buf;
	uint32_t tlen = 0;
	size_t n;
	int ret;

	if (f->size > 60) {
		ret = fw_ext_inline_tail(fs, f, &tail, &tlen);
		if (ret)
			return ret;
		if (f->size > 60 + (uint64_t)tlen)
			return corrupt(fs, "ext4: inline file larger than its data");
	}
	if (off < 60) {
		n = 60 - off < len ? (size_t)(60 - off) : len;
		memcpy(out, f->raw + 40 + off, n);
		out += n;
		off += n;
		len -= n;
	}
	if (len)
		memcpy(out, tail + (off - 60), len);
	return 0;
}
