// SPDX-License-Identifier: GPL-2.0
/*
 * ext directories and symlinks. Directories are read linearly, block by
 * block: htree index blocks look like one empty entry spanning the block, so
 * the leaves are found without trusting the hash tree. Each entry's record
 * length is checked to stay inside its block.
 */
#include "ext4.h"

#define FT_DIR 2

typedef int (*ext_visit)(struct fw_ext *fs, const uint8_t *de, void *arg);

static int corrupt(struct fw_ext *fs, const char *why)
{
	fs->why = why;
	return FW_E_CORRUPT;
}

/* The entries of one directory block (or inline region) of size bytes. */
static int walk_dirents(struct fw_ext *fs, const uint8_t *buf, uint32_t size, ext_visit visit,
			void *arg)
{
	int ret;

	for (uint32_t off = 0; off < size;) {
		const uint8_t *de = buf + off;
		uint32_t rec, nlen;

		if (size - off < 8)
			return corrupt(fs, "ext4: directory entry crosses its block");
		rec = fw_le16(de + 4);
		if (rec == 0 || rec == 65535)
			rec = 65536; /* how a 64 KiB block's single entry is stored */
		nlen = de[6];
		if (rec < 8 || rec % 4 || rec > size - off || nlen + 8u > rec)
			return corrupt(fs, "ext4: bad directory entry length");
		if (fw_le32(de) && nlen) {
			ret = visit(fs, de, arg);
			if (ret)
				return ret;
		}
		off += rec;
	}
	return 0;
}

/* Inline: the parent's number, entries in the rest of i_block, then in the xattr. */
static int inline_walk(struct fw_ext *fs, const struct fw_file *dir, ext_visit visit, void *arg)
{
	const uint8_t *tail = NULL;
	uint32_t tlen = 0;
	int ret;

	ret = walk_dirents(fs, dir->raw + 44, 56, visit, arg);
	if (ret)
		return ret;
	ret = fw_ext_inline_tail(fs, dir, &tail, &tlen);
	if (ret || !tlen)
		return ret;
	return walk_dirents(fs, tail, tlen, visit, arg);
}

static int dir_walk(struct fw_ext *fs, const struct fw_file *dir, ext_visit visit, void *arg)
{
	uint32_t bs = fs->block_size;
	uint64_t nblk = dir->size / bs;
	int ret;

	if (!dir->dir)
		return FW_E_NOTDIR;
	if (fw_le32(dir->raw + 32) & 0x10000000)
		return inline_walk(fs, dir, visit, arg);
	if (dir->size % bs)
		return corrupt(fs, "ext4: directory size is not a multiple of the block size");
	for (uint64_t b = 0; b < nblk; b++) {
		ret = fw_ext_pread(fs, dir, b * bs, fs->blk, bs);
		if (ret)
			return ret;
		ret = walk_dirents(fs, fs->blk, bs, visit, arg);
		if (ret)
			return ret;
	}
	return 0;
}

struct lookup_arg {
	const char *name;
	size_t len;
	uint32_t ino;
};

static int lookup_visit(struct fw_ext *fs, const uint8_t *de, void *arg)
{
	struct lookup_arg *la = arg;

	(void)fs;
	if (de[6] != la->len || memcmp(de + 8, la->name, la->len))
		return 0;
	la->ino = fw_le32(de);
	return 1;
}

int fw_ext_lookup(struct fw_ext *fs, const struct fw_file *dir, const char *name, size_t len,
		  struct fw_file *out)
{
	struct lookup_arg la = {name, len, 0};
	int ret;

	if (len > 255)
		return FW_E_NAMETOOLONG;
	/* An inline directory keeps its parent's number instead of a ".." entry. */
	if (dir->dir && fw_le32(dir->raw + 32) & 0x10000000 && len == 2 && !memcmp(name, "..", 2))
		return fw_ext_iget(fs, fw_le32(dir->raw + 40), out);
	ret = dir_walk(fs, dir, lookup_visit, &la);
	if (ret < 0)
		return ret;
	if (!ret)
		return FW_E_NOENT;
	return fw_ext_iget(fs, la.ino, out);
}

struct list_arg {
	fw_dir_fn fn;
	void *arg;
};

static int list_visit(struct fw_ext *fs, const uint8_t *de, void *arg)
{
	struct list_arg *la = arg;
	char name[256];

	/* Without INCOMPAT_FILETYPE the type byte is 0: a directory looks like a file. */
	(void)fs;
	memcpy(name, de + 8, de[6]);
	name[de[6]] = 0;
	if (strlen(name) != de[6])
		return 0; /* a NUL inside a name: no path can reach it */
	return la->fn(la->arg, name, de[6], de[7] == FT_DIR);
}

int fw_ext_list(struct fw_ext *fs, const struct fw_file *dir, fw_dir_fn fn, void *arg)
{
	struct list_arg la = {fn, arg};

	return dir_walk(fs, dir, list_visit, &la);
}

int fw_ext_readlink(struct fw_ext *fs, const struct fw_file *f, char *buf, size_t cap)
{
	uint32_t blocks = fw_le32(f->raw + 28), acl = fw_le32(f->raw + 104);
	uint32_t flags = fw_le32(f->raw + 32);
	int ret;

	if (!f->symlink)
		return FW_E_INVAL;
	if (!f->size)
		return corrupt(fs, "ext4: empty symlink");
	if (f->size >= cap)
		return FW_E_NAMETOOLONG;
	/* Fast symlinks keep the target in i_block and own no data block. */
	if (acl)
		blocks = blocks >= fs->block_size / 512 ? blocks - fs->block_size / 512 : 0;
	if (f->size < 60 && !blocks && !(flags & 0x80000)) {
		memcpy(buf, f->raw + 40, f->size);
	} else {
		ret = fw_ext_pread(fs, f, 0, buf, f->size);
		if (ret)
			return ret;
	}
	buf[f->size] = 0;
	if (strlen(buf) != f->size)
		return corrupt(fs, "ext4: symlink target contains a NUL");
	return (int)f->size;
}
