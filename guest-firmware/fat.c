// SPDX-License-Identifier: GPL-2.0
/*
 * FAT12/16/32, read-only. The boot sector is validated before any field is
 * used; cluster numbers read from the FAT are range-checked and every chain
 * walk is capped at the number of clusters, so a looping chain ends in
 * FW_E_CORRUPT instead of a hang. Long names are assembled only when their
 * sequence and checksum agree; otherwise the 8.3 name is used.
 */
#include "fat.h"

#define ATTR_DIR 0x10
#define ATTR_VOL 0x08
#define ATTR_LFN 0x0f

static int corrupt(struct fw_fat *fs, const char *why)
{
	fs->why = why;
	return FW_E_CORRUPT;
}

static bool pow2(uint32_t x)
{
	return x && !(x & (x - 1));
}

int fw_fat_mount(struct fw_fat *fs, const struct fw_vol *v, struct fw_arena *a)
{
	uint8_t bs[512];
	uint32_t bps, spc, rsvd, nfats, fatsz, total, rootsecs, data;
	int ret;

	memset(fs, 0, sizeof(*fs));
	fs->vol = *v;
	if (fw_vol_bytes(v) < 512)
		return FW_E_NOFS;
	ret = fw_vol_read(v, 0, bs, sizeof(bs));
	if (ret)
		return ret;
	bps = fw_le16(bs + 11);
	spc = bs[13];
	if ((bs[0] != 0xeb && bs[0] != 0xe9) || bs[510] != 0x55 || bs[511] != 0xaa || !pow2(bps) ||
	    bps < 512 || bps > 4096 || !pow2(spc))
		return FW_E_NOFS;
	rsvd = fw_le16(bs + 14);
	nfats = bs[16];
	fs->root_entries = fw_le16(bs + 17);
	total = fw_le16(bs + 19) ? fw_le16(bs + 19) : fw_le32(bs + 32);
	fatsz = fw_le16(bs + 22) ? fw_le16(bs + 22) : fw_le32(bs + 36);
	if (!rsvd || !nfats || nfats > 4 || !fatsz || !total || (uint64_t)bps * spc > 65536)
		return corrupt(fs, "FAT boot sector fields out of range");
	rootsecs = (fs->root_entries * 32 + bps - 1) / bps;
	if ((uint64_t)rsvd + (uint64_t)nfats * fatsz + rootsecs >= total)
		return corrupt(fs, "FAT metadata larger than the filesystem");
	if ((uint64_t)total * bps > fw_vol_bytes(v))
		return corrupt(fs, "FAT filesystem extends past the end of its partition");
	data = total - rsvd - nfats * fatsz - rootsecs;
	fs->sector_size = bps;
	fs->cluster_size = bps * spc;
	fs->clusters = data / spc;
	if (fs->clusters > 0x0ffffff5)
		return corrupt(fs, "FAT cluster count beyond FAT32's range");
	fs->bits = fs->clusters < 4085 ? 12 : fs->clusters < 65525 ? 16 : 32;
	fs->fat_start = (uint64_t)rsvd * bps;
	fs->root_start = fs->fat_start + (uint64_t)nfats * fatsz * bps;
	fs->data_start = fs->root_start + (uint64_t)rootsecs * bps;
	if (fs->bits == 32) {
		fs->root_cluster = fw_le32(bs + 44) & 0x0fffffff;
		if (fs->root_entries || fs->root_cluster < 2 || fs->root_cluster > fs->clusters + 1)
			return corrupt(fs, "FAT32 root directory cluster out of range");
	} else if (!fs->root_entries) {
		return corrupt(fs, "FAT12/16 without a root directory");
	}
	/* The FAT must hold an entry for every cluster. */
	if ((uint64_t)fatsz * bps * 8 / fs->bits < (uint64_t)fs->clusters + 2)
		return corrupt(fs, "FAT too small for the cluster count");
	fs->sec = fw_arena_alloc(a, bps);
	fs->fatcache = fw_arena_alloc(a, bps);
	fs->name = fw_arena_alloc(a, FW_NAME_MAX);
	if (!fs->sec || !fs->fatcache || !fs->name)
		return FW_E_NOSPACE;
	fs->fatcache_off = UINT64_MAX;
	return 0;
}

static int fat_byte(struct fw_fat *fs, uint64_t off, uint8_t *out)
{
	uint64_t s = off / fs->sector_size * fs->sector_size;
	int ret;

	if (s != fs->fatcache_off) {
		ret = fw_vol_read(&fs->vol, fs->fat_start + s, fs->fatcache, fs->sector_size);
		if (ret)
			return ret;
		fs->fatcache_off = s;
	}
	*out = fs->fatcache[off - s];
	return 0;
}

/* The next cluster of a chain: 0 at its end, or an error. */
static int64_t fat_next(struct fw_fat *fs, uint32_t c)
{
	uint64_t off = fs->bits == 12 ? c + c / 2 : (uint64_t)c * (fs->bits / 8);
	uint8_t b[4] = {0};
	uint32_t v, eoc;
	int ret;

	for (unsigned i = 0; i < fs->bits / 8 + (fs->bits == 12); i++) {
		ret = fat_byte(fs, off + i, &b[i]);
		if (ret)
			return ret;
	}
	if (fs->bits == 12) {
		v = fw_le16(b);
		v = c & 1 ? v >> 4 : v & 0xfff;
		eoc = 0xff8;
	} else if (fs->bits == 16) {
		v = fw_le16(b);
		eoc = 0xfff8;
	} else {
		v = fw_le32(b) & 0x0fffffff;
		eoc = 0x0ffffff8;
	}
	if (v >= eoc)
		return 0;
	if (v < 2 || v > fs->clusters + 1)
		return corrupt(fs, "FAT cluster chain leaves the filesystem");
	return v;
}

static uint64_t clus_off(struct fw_fat *fs, uint32_t c)
{
	return fs->data_start + (uint64_t)(c - 2) * fs->cluster_size;
}

int fw_fat_root(struct fw_fat *fs, struct fw_file *f)
{
	memset(f, 0, sizeof(*f));
	f->dir = true;
	f->id = fs->bits == 32 ? fs->root_cluster : 0;
	return 0;
}

int fw_fat_pread(struct fw_fat *fs, const struct fw_file *f, uint64_t off, void *buf, size_t len)
{
	uint32_t c = f->id, cs = fs->cluster_size, steps = 0;
	uint64_t pos = 0; /* file offset of cluster c */
	uint8_t *out = buf;
	int ret;

	if (f->dir || off > f->size || len > f->size - off)
		return FW_E_INVAL;
	if (!len)
		return 0;
	if (c < 2 || c > fs->clusters + 1)
		return corrupt(fs, "file starts outside the filesystem");
	for (;;) {
		uint32_t last = c;
		uint64_t span = cs;
		int64_t next = 0;

		/* Clusters that follow each other on disk are read at once. */
		for (;;) {
			if (++steps > fs->clusters + 1)
				return corrupt(fs, "FAT cluster chain loops");
			if (off + len <= pos + span)
				break;
			next = fat_next(fs, last);
			if (next < 0)
				return (int)next;
			if (!next)
				return corrupt(fs, "FAT cluster chain shorter than the file");
			if ((uint64_t)next != (uint64_t)last + 1)
				break;
			last = (uint32_t)next;
			span += cs;
		}
		if (off < pos + span) {
			uint64_t in = off - pos;
			size_t n = span - in < len ? (size_t)(span - in) : len;

			ret = fw_vol_read(&fs->vol, clus_off(fs, c) + in, out, n);
			if (ret)
				return ret;
			out += n;
			off += n;
			len -= n;
		}
		if (!len)
			return 0;
		pos += span;
		c = (uint32_t)next;
	}
}

struct fat_name {
	uint8_t sum;
	int expect; /* next LFN ordinal expected, 0 when none pending */
	unsigned count;
	uint16_t u[260];
};

static uint8_t sfn_sum(const uint8_t *e)
{
	uint8_t s = 0;

	for (int i = 0; i < 11; i++)
		s = (uint8_t)(((s & 1) << 7) + (s >> 1) + e[i]);
	return s;
}

static void lfn_add(struct fat_name *ln, const uint8_t *e)
{
	static const uint8_t pos[13] = {1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30};
	unsigned ord = e[0] & 0x1f;

	if (e[0] & 0x40) {
		if (!ord || ord > 20) {
			ln->expect = 0;
			return;
		}
		ln->expect = (int)ord;
		ln->count = ord * 13;
		ln->sum = e[13];
		memset(ln->u, 0, sizeof(ln->u));
	}
	if (!ln->expect || (int)ord != ln->expect || e[13] != ln->sum) {
		ln->expect = 0;
		return;
	}
	for (unsigned i = 0; i < 13; i++)
		ln->u[(ord - 1) * 13 + i] = fw_le16(e + pos[i]);
	ln->expect--;
	if (!ln->expect)
		ln->expect = -1; /* complete: waits for its short entry */
}

/* UCS-2 to UTF-8; returns the length. */
static size_t lfn_utf8(const struct fat_name *ln, char *out)
{
	size_t n = 0;

	for (unsigned i = 0; i < ln->count && i < 255 && ln->u[i] && ln->u[i] != 0xffff; i++) {
		uint16_t c = ln->u[i];

		if (c < 0x80) {
			out[n++] = (char)c;
		} else if (c < 0x800) {
			out[n++] = (char)(0xc0 | c >> 6);
			out[n++] = (char)(0x80 | (c & 0x3f));
		} else {
			out[n++] = (char)(0xe0 | c >> 12);
			out[n++] = (char)(0x80 | ((c >> 6) & 0x3f));
			out[n++] = (char)(0x80 | (c & 0x3f));
		}
	}
	out[n] = 0;
	return n;
}

static size_t sfn_text(const uint8_t *e, char *out)
{
	size_t n = 0;
	int i;

	for (i = 0; i < 8 && e[i] != ' '; i++) {
		char c = (char)(i == 0 && e[0] == 0x05 ? 0xe5 : e[i]);

		out[n++] = (char)(e[12] & 0x08 ? fw_tolower(c) : c);
	}
	if (e[8] != ' ')
		out[n++] = '.';
	for (i = 8; i < 11 && e[i] != ' '; i++)
		out[n++] = (char)(e[12] & 0x10 ? fw_tolower(e[i]) : e[i]);
	out[n] = 0;
	return n;
}

static bool name_eq_ci(const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++)
		if (fw_tolower((unsigned char)a[i]) != fw_tolower((unsigned char)b[i]))
			return false;
	return true;
}

/* visit() sees each live entry with its best name; nonzero stops the walk. */
typedef int (*fat_visit)(struct fw_fat *fs, const char *name, size_t len, const uint8_t *e,
			 void *arg);

static int dir_sector(struct fw_fat *fs, const struct fw_file *dir, uint32_t *clus, uint64_t idx,
		      uint64_t *off)
{
	uint32_t per = fs->cluster_size / fs->sector_size;
	int64_t next;

	if (!dir->id && fs->bits != 32) {
		if (idx >= (fs->root_entries * 32 + fs->sector_size - 1) / fs->sector_size)
			return 1;
		*off = fs->root_start + idx * fs->sector_size;
		return 0;
	}
	if (idx && idx % per == 0) {
		next = fat_next(fs, *clus);
		if (next <= 0)
			return next < 0 ? (int)next : 1;
		*clus = (uint32_t)next;
	}
	*off = clus_off(fs, *clus) + (idx % per) * fs->sector_size;
	return 0;
}

static int fat_walk(struct fw_fat *fs, const struct fw_file *dir, fat_visit visit, void *arg)
{
	uint32_t clus = dir->id ? dir->id : fs->root_cluster;
	/* 65536 entries is the FAT maximum for one directory. */
	uint64_t max_sec = 65536 * 32 / fs->sector_size;
	struct fat_name ln = {0};
	uint64_t off = 0;
	int ret;

	if ((dir->id || fs->bits == 32) && (clus < 2 || clus > fs->clusters + 1))
		return corrupt(fs, "directory starts outside the filesystem");
	for (uint64_t idx = 0;; idx++) {
		if (idx >= max_sec || idx / (fs->cluster_size / fs->sector_size) > fs->clusters)
			return corrupt(fs, "FAT directory chain loops or is too long");
		ret = dir_sector(fs, dir, &clus, idx, &off);
		if (ret)
			return ret > 0 ? 0 : ret;
		ret = fw_vol_read(&fs->vol, off, fs->sec, fs->sector_size);
		if (ret)
			return ret;
		for (uint32_t i = 0; i < fs->sector_size; i += 32) {
			const uint8_t *e = fs->sec + i;
			size_t n;

			if (!e[0])
				return 0;
			if (e[0] == 0xe5) {
				ln.expect = 0;
				continue;
			}
			if ((e[11] & 0x3f) == ATTR_LFN) {
				lfn_add(&ln, e);
				continue;
			}
			if (e[11] & ATTR_VOL) {
				ln.expect = 0;
				continue;
			}
			if (ln.expect == -1 && ln.sum == sfn_sum(e))
				n = lfn_utf8(&ln, fs->name);
			else
				n = sfn_text(e, fs->name);
			ln.expect = 0;
			ret = visit(fs, fs->name, n, e, arg);
			if (ret)
				return ret;
		}
	}
}

static void entry_file(struct fw_fat *fs, const uint8_t *e, struct fw_file *f)
{
	memset(f, 0, sizeof(*f));
	f->dir = e[11] & ATTR_DIR;
	f->id = (fs->bits == 32 ? (uint32_t)fw_le16(e + 20) << 16 : 0) | fw_le16(e + 26);
	f->size = f->dir ? 0 : fw_le32(e + 28);
	if (f->dir && !f->id && fs->bits == 32)
		f->id = fs->root_cluster; /* ".." of a top-level directory */
}

struct lookup_arg {
	const char *name;
	size_t len;
	struct fw_file *out;
};

static int lookup_visit(struct fw_fat *fs, const char *name, size_t len, const uint8_t *e,
			void *arg)
{
	struct lookup_arg *la = arg;
	char sfn[13];
	size_t n;

	if (!name_eq_ci(name, len, la->name, la->len)) {
		n = sfn_text(e, sfn);
		if (!name_eq_ci(sfn, n, la->name, la->len))
			return 0;
	}
	entry_file(fs, e, la->out);
	return 1;
}

int fw_fat_lookup(struct fw_fat *fs, const struct fw_file *dir, const char *name, size_t len,
		  struct fw_file *out)
{
	struct lookup_arg la = {name, len, out};
	int ret;

	if (!dir->dir)
		return FW_E_NOTDIR;
	if (len == 1 && name[0] == '.') {
		*out = *dir;
		return 0;
	}
	ret = fat_walk(fs, dir, lookup_visit, &la);
	if (ret < 0)
		return ret;
	if (!ret) {
		/* The root has no "..": it is its own parent. */
		if (len == 2 && !memcmp(name, "..", 2) && (!dir->id || dir->id == fs->root_cluster))
			return fw_fat_root(fs, out);
		return FW_E_NOENT;
	}
	return 0;
}

struct list_arg {
	fw_dir_fn fn;
	void *arg;
};

static int list_visit(struct fw_fat *fs, const char *name, size_t len, const uint8_t *e, void *arg)
{
	struct list_arg *la = arg;

	(void)fs;
	if (strlen(name) != len)
		return 0; /* a NUL inside a name: no path can reach it */
	return la->fn(la->arg, name, len, e[11] & ATTR_DIR);
}

int fw_fat_list(struct fw_fat *fs, const struct fw_file *dir, fw_dir_fn fn, void *arg)
{
	struct list_arg la = {fn, arg};

	if (!dir->dir)
		return FW_E_NOTDIR;
	return fat_walk(fs, dir, list_visit, &la);
}
