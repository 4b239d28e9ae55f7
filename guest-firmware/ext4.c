// SPDX-License-Identifier: GPL-2.0
/*
 * ext2/3/4 superblock, group descriptors, inodes and the logical-to-physical
 * block mapping (extent trees and classic block maps). Every block number
 * taken from disk is checked against the filesystem size, extent trees are
 * walked at most EXT_MAX_DEPTH levels deep with each header validated, and
 * unknown INCOMPAT features are refused by name at mount.
 */
#include "ext4.h"

#define EXT_MAGIC     0xef53
#define EXT_MAX_DEPTH 5

#define INCOMPAT_COMPRESSION 0x0001
#define INCOMPAT_FILETYPE    0x0002
#define INCOMPAT_RECOVER     0x0004
#define INCOMPAT_JOURNAL_DEV 0x0008
#define INCOMPAT_META_BG     0x0010
#define INCOMPAT_EXTENTS     0x0040
#define INCOMPAT_64BIT	     0x0080
#define INCOMPAT_MMP	     0x0100
#define INCOMPAT_FLEX_BG     0x0200
#define INCOMPAT_EA_INODE    0x0400
#define INCOMPAT_DIRDATA     0x1000
#define INCOMPAT_CSUM_SEED   0x2000
#define INCOMPAT_LARGEDIR    0x4000
#define INCOMPAT_INLINE_DATA 0x8000
#define INCOMPAT_ENCRYPT     0x10000
#define INCOMPAT_CASEFOLD    0x20000

/* What reading needs no special code for (the journal is not replayed). */
#define INCOMPAT_OK                                                                                \
	(INCOMPAT_FILETYPE | INCOMPAT_RECOVER | INCOMPAT_EXTENTS | INCOMPAT_64BIT | INCOMPAT_MMP | \
	 INCOMPAT_FLEX_BG | INCOMPAT_EA_INODE | INCOMPAT_CSUM_SEED | INCOMPAT_LARGEDIR |           \
	 INCOMPAT_INLINE_DATA | INCOMPAT_ENCRYPT | INCOMPAT_CASEFOLD)

#define RO_COMPAT_BIGALLOC 0x0200

#define FL_ENCRYPT  0x800
#define FL_EXTENTS  0x80000
#define FL_INLINE   0x10000000
#define S_IFMT_EXT  0xf000
#define S_IFDIR_EXT 0x4000
#define S_IFLNK_EXT 0xa000

static int corrupt(struct fw_ext *fs, const char *why)
{
	fs->why = why;
	return FW_E_CORRUPT;
}

static bool pow2(uint32_t x)
{
	return x && !(x & (x - 1));
}

static void hex32(char *out, uint32_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 4)
		out[i] = "0123456789abcdef"[v & 0xf];
}

static int refuse_incompat(struct fw_ext *fs, uint32_t bits)
{
	static const char pre[] = "ext4: unsupported INCOMPAT features 0x";

	memcpy(fs->whybuf, pre, sizeof(pre) - 1);
	hex32(fs->whybuf + sizeof(pre) - 1, bits);
	fs->whybuf[sizeof(pre) - 1 + 8] = 0;
	fs->why = fs->whybuf;
	return FW_E_UNSUPPORTED;
}

static int check_sb(struct fw_ext *fs, const uint8_t *sb)
{
	uint32_t log = fw_le32(sb + 24), bpg = fw_le32(sb + 32), first = fw_le32(sb + 20);
	uint32_t ipg = fw_le32(sb + 40), rev = fw_le32(sb + 76), ro = fw_le32(sb + 100);
	uint64_t groups;

	if (log > 6)
		return corrupt(fs, "ext4: block size out of range");
	fs->block_size = 1024u << log;
	fs->incompat = fw_le32(sb + 96);
	if (fs->incompat & ~INCOMPAT_OK)
		return refuse_incompat(fs, fs->incompat & ~INCOMPAT_OK);
	fs->blocks = fw_le32(sb + 4);
	if (fs->incompat & INCOMPAT_64BIT)
		fs->blocks |= (uint64_t)fw_le32(sb + 0x150) << 32;
	fs->inodes = fw_le32(sb + 0);
	fs->inodes_per_group = ipg;
	fs->inode_size = rev ? fw_le16(sb + 88) : 128;
	fs->desc_size = fs->incompat & INCOMPAT_64BIT ? fw_le16(sb + 254) : 32;
	if (!bpg || !ipg || ipg > fs->block_size * 8 ||
	    (!(ro & RO_COMPAT_BIGALLOC) && bpg > fs->block_size * 8))
		return corrupt(fs, "ext4: blocks or inodes per group out of range");
	if (fs->inode_size < 128 || !pow2(fs->inode_size) || fs->inode_size > fs->block_size)
		return corrupt(fs, "ext4: inode size out of range");
	if (fs->desc_size < 32 || !pow2(fs->desc_size) || fs->desc_size > 1024 ||
	    (fs->incompat & INCOMPAT_64BIT && fs->desc_size < 64))
		return corrupt(fs, "ext4: group descriptor size out of range");
	if (first > 1 || (log == 0) != (first == 1) || fs->blocks <= first)
		return corrupt(fs, "ext4: first data block or block count out of range");
	groups = (fs->blocks - first + bpg - 1) / bpg;
	if (groups > 0xffffffffu || (uint64_t)groups * ipg < fs->inodes || fs->inodes < 11)
		return corrupt(fs, "ext4: group or inode count inconsistent");
	fs->groups = (uint32_t)groups;
	fs->gdt_off = (uint64_t)(first + 1) * fs->block_size;
	if (fs->blocks > UINT64_MAX / fs->block_size ||
	    fs->blocks * fs->block_size > fw_vol_bytes(&fs->vol))
		return corrupt(fs, "ext4: filesystem extends past the end of its partition");
	if (fs->gdt_off + (uint64_t)fs->groups * fs->desc_size > fs->blocks * fs->block_size)
		return corrupt(fs, "ext4: group descriptors outside the filesystem");
	if (fs->incompat & INCOMPAT_META_BG)
		return refuse_incompat(fs, INCOMPAT_META_BG);
	return 0;
}

int fw_ext_mount(struct fw_ext *fs, const struct fw_vol *v, struct fw_arena *a)
{
	uint8_t sb[1024];
	int ret;

	memset(fs, 0, sizeof(*fs));
	fs->vol = *v;
	if (fw_vol_bytes(v) < 2048)
		return FW_E_NOFS;
	ret = fw_vol_read(v, 1024, sb, sizeof(sb));
	if (ret)
		return ret;
	if (fw_le16(sb + 56) != EXT_MAGIC)
		return FW_E_NOFS;
	ret = check_sb(fs, sb);
	if (ret)
		return ret;
	fs->blk = fw_arena_alloc(a, fs->block_size);
	fs->map = fw_arena_alloc(a, fs->block_size);
	if (!fs->blk || !fs->map)
		return FW_E_NOSPACE;
	return 0;
}

int fw_ext_inode_off(struct fw_ext *fs, uint32_t ino, uint64_t *off)
{
	uint32_t group, idx;
	uint8_t gd[64];
	uint64_t table;
	int ret;

	if (!ino || ino > fs->inodes)
		return corrupt(fs, "ext4: inode number out of range");
	group = (ino - 1) / fs->inodes_per_group;
	idx = (ino - 1) % fs->inodes_per_group;
	if (group >= fs->groups)
		return corrupt(fs, "ext4: inode group out of range");
	ret = fw_vol_read(&fs->vol, fs->gdt_off + (uint64_t)group * fs->desc_size, gd,
			  fs->desc_size >= 64 ? 64 : 32);
	if (ret)
		return ret;
	table = fw_le32(gd + 8);
	if (fs->desc_size >= 64)
		table |= (uint64_t)fw_le32(gd + 0x28) << 32;
	*off = (uint64_t)idx * fs->inode_size;
	/* An inode never straddles a block: its size divides the block size. */
	if (!table || table >= fs->blocks || *off / fs->block_size >= fs->blocks - table)
		return corrupt(fs, "ext4: inode table outside the filesystem");
	*off += table * fs->block_size;
	return 0;
}

int fw_ext_iget(struct fw_ext *fs, uint32_t ino, struct fw_file *f)
{
	uint32_t mode, flags;
	uint64_t off;
	int ret;

	ret = fw_ext_inode_off(fs, ino, &off);
	if (ret)
		return ret;
	memset(f, 0, sizeof(*f));
	ret = fw_vol_read(&fs->vol, off, f->raw, sizeof(f->raw));
	if (ret)
		return ret;
	mode = fw_le16(f->raw);
	flags = fw_le32(f->raw + 32);
	f->id = ino;
	f->dir = (mode & S_IFMT_EXT) == S_IFDIR_EXT;
	f->symlink = (mode & S_IFMT_EXT) == S_IFLNK_EXT;
	f->size = fw_le32(f->raw + 4) | (uint64_t)fw_le32(f->raw + 108) << 32;
	if (flags & FL_ENCRYPT) {
		fs->why = "ext4: encrypted file";
		return FW_E_UNSUPPORTED;
	}
	if (f->size > fs->blocks * fs->block_size && !(flags & FL_INLINE))
		return corrupt(fs, "ext4: file larger than the filesystem");
	return 0;
}

int fw_ext_root(struct fw_ext *fs, struct fw_file *f)
{
	int ret = fw_ext_iget(fs, 2, f);

	if (!ret && !f->dir)
		return corrupt(fs, "ext4: root inode is not a directory");
	return ret;
}

static int load_map(struct fw_ext *fs, uint64_t blk)
{
	int ret;

	if (!blk || blk >= fs->blocks)
		return corrupt(fs, "ext4: mapping block outside the filesystem");
	if (blk == fs->map_blk)
		return 0;
	fs->map_blk = 0;
	ret = fw_vol_read(&fs->vol, blk * fs->block_size, fs->map, fs->block_size);
	if (!ret)
		fs->map_blk = blk;
	return ret;
}

/*
 * Maps logical block lblk of f: *pblk (0 for a hole or an unwritten extent,
 * which read as zeros) and *run, the number of blocks that follow contiguously.
 */
static int map_extent(struct fw_ext *fs, const struct fw_file *f, uint64_t lblk, uint64_t *pblk,
		      uint64_t *run)
{
	const uint8_t *node = f->raw + 40;
	uint32_t size = 60;
	int want = -1;

	*pblk = 0;
	*run = 1;
	for (int level = 0; level <= EXT_MAX_DEPTH; level++) {
		uint16_t n = fw_le16(node + 2), max = fw_le16(node + 4), depth = fw_le16(node + 6);
		const uint8_t *hit = NULL;

		if (fw_le16(node) != 0xf30a || n > max || 12 + 12u * max > size ||
		    depth > EXT_MAX_DEPTH || (want >= 0 && depth != want))
			return corrupt(fs, "ext4: bad extent tree node");
		for (unsigned i = 0; i < n; i++) {
			const uint8_t *e = node + 12 + 12 * i;

			if (fw_le32(e) > lblk) {
				if (!depth)
					*run = fw_le32(e) - lblk; /* the hole before it */
				break;
			}
			hit = e;
		}
		if (!hit)
			return 0;
		if (!depth) {
			uint32_t start = fw_le32(hit), len = fw_le16(hit + 4);
			bool unwritten = len > 32768;
			uint64_t p = (uint64_t)fw_le16(hit + 6) << 32 | fw_le32(hit + 8);

			if (unwritten)
				len -= 32768;
			if (lblk >= (uint64_t)start + len)
				return 0; /* hole after it: one block at a time */
			*run = start + len - lblk;
			if (unwritten)
				return 0;
			if (p >= fs->blocks || len > fs->blocks - p)
				return corrupt(fs, "ext4: extent outside the filesystem");
			*pblk = p + (lblk - start);
			return 0;
		}
		int ret = load_map(fs, (uint64_t)fw_le16(hit + 8) << 32 | fw_le32(hit + 4));

		if (ret)
			return ret;
		node = fs->map;
		size = fs->block_size;
		want = depth - 1;
	}
	return corrupt(fs, "ext4: extent tree too deep");
}

/* As map_extent(); *run counts the blocks that follow on disk in the same table. */
static int map_blockmap(struct fw_ext *fs, const struct fw_file *f, uint64_t lblk, uint64_t *pblk,
			uint64_t *run)
{
	uint64_t per = fs->block_size / 4, span = 1, idx = lblk, n = 12;
	const uint8_t *tab = f->raw + 40;
	int slot, levels;
	uint32_t b;
	int ret;

	*pblk = 0;
	*run = 1;
	if (lblk >= 12) {
		lblk -= 12;
		for (levels = 1, slot = 12; levels <= 3; levels++, slot++) {
			span *= per;
			if (lblk < span)
				break;
			lblk -= span;
		}
		if (levels > 3)
			return corrupt(fs, "ext4: block beyond the triple-indirect map");
		b = fw_le32(f->raw + 40 + 4 * slot);
		while (levels--) {
			if (!b)
				return 0;
			ret = load_map(fs, b);
			if (ret)
				return ret;
			span /= per;
			b = fw_le32(fs->map + 4 * (lblk / span));
			idx = lblk / span;
			lblk %= span;
		}
		tab = fs->map;
		n = per;
	}
	b = fw_le32(tab + 4 * idx);
	if (b >= fs->blocks)
		return corrupt(fs, "ext4: block map points outside the filesystem");
	*pblk = b;
	while (b && idx + *run < n && b + *run < fs->blocks &&
	       fw_le32(tab + 4 * (idx + *run)) == b + *run)
		(*run)++;
	return 0;
}

int fw_ext_pread(struct fw_ext *fs, const struct fw_file *f, uint64_t off, void *buf, size_t len)
{
	uint32_t flags = fw_le32(f->raw + 32), bs = fs->block_size;
	uint8_t *out = buf;
	int ret;

	if (off > f->size || len > f->size - off)
		return FW_E_INVAL;
	if (flags & FL_INLINE)
		return fw_ext_inline_read(fs, f, off, buf, len);
	while (len) {
		uint64_t lblk = off / bs, pblk, run = 1;
		uint32_t in = off % bs;
		uint64_t n;

		if (flags & FL_EXTENTS)
			ret = map_extent(fs, f, lblk, &pblk, &run);
		else
			ret = map_blockmap(fs, f, lblk, &pblk, &run);
		if (ret)
			return ret;
		n = run * bs - in;
		if (n > len)
			n = len;
		if (pblk)
			ret = fw_vol_read(&fs->vol, pblk * bs + in, out, n);
		else
			memset(out, 0, n);
		if (ret)
			return ret;
		out += n;
		off += n;
		len -= n;
	}
	return 0;
}
