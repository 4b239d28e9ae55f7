// SPDX-License-Identifier: GPL-2.0
/*
 * fw_find_boot(): partitions in boot order, each filesystem searched for a
 * BLS entry, then an extlinux/syslinux configuration. A partition that
 * cannot be read does not stop the search; its error is reported only if
 * no other partition has something bootable.
 */
#include "fw_boot.h"
#include "part.h"

#define BLS_MAX_ENTRIES 256
#define CFG_MAX_BYTES	(64u << 10)

struct boot_search {
	struct fw_arena *a;
	struct fw_fs *fs;
	char *msg;
	size_t msgcap;
	int err;	/* the worst error so far, reported if nothing boots */
	char where[32]; /* "partition N" prefix for messages */
};

static void msg_cat(char *msg, size_t cap, const char *s)
{
	size_t n = strlen(msg), k = strlen(s);

	if (n + k >= cap)
		k = cap - n - 1;
	memcpy(msg + n, s, k);
	msg[n + k] = 0;
}

static void msg_set(char *msg, size_t cap, const char *a, const char *b, const char *c,
		    const char *d)
{
	if (!cap)
		return;
	msg[0] = 0;
	msg_cat(msg, cap, a);
	msg_cat(msg, cap, b ? b : "");
	msg_cat(msg, cap, c ? c : "");
	msg_cat(msg, cap, d ? d : "");
}

/* Higher is more telling: a missing kernel beats a corrupt partition. */
static int err_rank(int err)
{
	switch (err) {
	case FW_E_NOKERNEL:
		return 4;
	case FW_E_CORRUPT:
	case FW_E_UNSUPPORTED:
	case FW_E_LOOP:
		return 3;
	case FW_E_IO:
	case FW_E_NOSPACE:
	case FW_E_NAMETOOLONG:
		return 2;
	}
	return 1;
}

static void note(struct boot_search *s, int err, const char *a, const char *b, const char *c,
		 const char *d)
{
	if (err_rank(err) <= err_rank(s->err))
		return;
	s->err = err;
	msg_set(s->msg, s->msgcap, s->where, ": ", a, b);
	msg_cat(s->msg, s->msgcap, c ? c : "");
	msg_cat(s->msg, s->msgcap, d ? d : "");
}

/* Records a filesystem error; 1 if it was only "not there". */
static int fs_error(struct boot_search *s, int err, const char *path)
{
	const char *why = fw_fs_why(s->fs);

	if (err == FW_E_NOENT || err == FW_E_NOTDIR)
		return 1;
	if (err != FW_E_CORRUPT && err != FW_E_UNSUPPORTED)
		why = NULL;
	note(s, err, path, ": ", why ? why : fw_strerror(err), NULL);
	return 0;
}

struct name_list {
	char (*names)[FW_ID_MAX];
	unsigned n;
};

static int collect_conf(void *arg, const char *name, size_t len, bool dir)
{
	struct name_list *l = arg;

	if (dir || len <= 5 || len - 5 >= FW_ID_MAX || l->n == BLS_MAX_ENTRIES)
		return 0;
	if (fw_tolower(name[len - 4]) != 'c' || strncmp(name + len - 5, ".", 1) ||
	    fw_tolower(name[len - 3]) != 'o' || fw_tolower(name[len - 2]) != 'n' ||
	    fw_tolower(name[len - 1]) != 'f')
		return 0;
	fw_strlcpy_n(l->names[l->n++], FW_ID_MAX, name, len - 5);
	return 0;
}

static int read_text(struct boot_search *s, const char *path, char *buf, size_t *len)
{
	return fw_fs_read_file(s->fs, path, buf, CFG_MAX_BYTES, len);
}

static bool id_matches(const char *pat, const char *id)
{
	char full[FW_ID_MAX + 5];
	size_t n = strlen(id);

	if (fw_glob(pat, id))
		return true;
	memcpy(full, id, n);
	memcpy(full + n, ".conf", 6);
	return fw_glob(pat, full);
}

static bool exists(struct boot_search *s, const char *path)
{
	struct fw_file f;

	return fw_fs_open(s->fs, path, &f) == 0 && !f.dir;
}

/* 0 and *best filled, FW_E_NOENTRY, or another error already noted. */
static int find_bls_in(struct boot_search *s, const char *base, struct fw_boot_entry *best)
{
	char path[FW_PATH_MAX], pat[FW_ID_MAX] = "";
	struct fw_boot_entry *cand, *cand2;
	struct name_list l = {0};
	bool have = false, have_match = false;
	size_t len;
	char *text;
	int ret;

	l.names = fw_arena_alloc(s->a, BLS_MAX_ENTRIES * FW_ID_MAX);
	text = fw_arena_alloc(s->a, CFG_MAX_BYTES);
	cand = fw_arena_alloc(s->a, sizeof(*cand));
	cand2 = fw_arena_alloc(s->a, sizeof(*cand2));
	if (!l.names || !text || !cand || !cand2)
		return FW_E_NOSPACE;
	msg_set(path, sizeof(path), base, "/loader/entries", NULL, NULL);
	ret = fw_fs_list(s->fs, path, collect_conf, &l);
	if (ret)
		return fs_error(s, ret, path) ? FW_E_NOENTRY : ret;
	msg_set(path, sizeof(path), base, "/loader/loader.conf", NULL, NULL);
	ret = read_text(s, path, text, &len);
	if (!ret && fw_loader_default(text, len, pat, sizeof(pat)) < 0)
		pat[0] = 0;
	for (unsigned i = 0; i < l.n; i++) {
		bool match;

		msg_set(path, sizeof(path), base, "/loader/entries/", l.names[i], ".conf");
		ret = read_text(s, path, text, &len);
		if (ret) {
			fs_error(s, ret, path);
			continue;
		}
		if (fw_bls_parse(text, len, l.names[i], base, cand))
			continue;
		/*
		 * Entries in /boot/loader/entries of a root filesystem name files
		 * relative to /boot; some generators write /boot/... anyway.
		 */
		if (base[0] && !exists(s, cand->kernel) &&
		    !fw_bls_parse(text, len, l.names[i], "", cand2) && exists(s, cand2->kernel))
			*cand = *cand2;
		memcpy(cand->config, path, sizeof(path));
		/* The default pattern wins over order; otherwise the last in order. */
		match = pat[0] && id_matches(pat, cand->id);
		if (!have || (match && !have_match) ||
		    (match == have_match && fw_bls_order(cand, best) > 0)) {
			*best = *cand;
			have = true;
			have_match = match;
		}
	}
	return have ? 0 : FW_E_NOENTRY;
}

static int find_bls(struct boot_search *s, const char *base, struct fw_boot_entry *best)
{
	size_t mark = fw_arena_mark(s->a);
	int ret = find_bls_in(s, base, best);

	fw_arena_release(s->a, mark);
	return ret;
}

static const char *const extlinux_paths[][2] = {
	{"/boot/extlinux/extlinux.conf", "/boot/extlinux"},
	{"/extlinux/extlinux.conf", "/extlinux"},
	{"/boot/extlinux.conf", "/boot"},
	{"/extlinux.conf", "/"},
	{"/boot/syslinux/syslinux.cfg", "/boot/syslinux"},
	{"/syslinux/syslinux.cfg", "/syslinux"},
	{"/boot/syslinux.cfg", "/boot"},
	{"/syslinux.cfg", "/"},
};

static int find_extlinux(struct boot_search *s, struct fw_boot_entry *e)
{
	size_t mark = fw_arena_mark(s->a);
	char *text = fw_arena_alloc(s->a, CFG_MAX_BYTES);
	size_t len;
	int ret = FW_E_NOENTRY;

	if (!text)
		return FW_E_NOSPACE;
	for (unsigned i = 0; i < sizeof(extlinux_paths) / sizeof(extlinux_paths[0]); i++) {
		const char *path = extlinux_paths[i][0];

		ret = read_text(s, path, text, &len);
		if (ret) {
			fs_error(s, ret, path);
			continue;
		}
		ret = fw_extlinux_parse(text, len, extlinux_paths[i][1], e);
		if (!ret) {
			fw_strlcpy_n(e->config, sizeof(e->config), path, strlen(path));
			break;
		}
	}
	fw_arena_release(s->a, mark);
	return ret ? FW_E_NOENTRY : 0;
}

static int check_file(struct boot_search *s, const struct fw_boot_entry *e, const char *path,
		      const char *what)
{
	struct fw_file f;
	int ret = fw_fs_open(s->fs, path, &f);

	if (!ret && (f.dir || f.symlink))
		ret = FW_E_NOENT;
	if (!ret)
		return 0;
	if (ret == FW_E_NOENT || ret == FW_E_NOTDIR) {
		note(s, FW_E_NOKERNEL, e->config, what, path, ", which does not exist");
		return FW_E_NOKERNEL;
	}
	fs_error(s, ret, path);
	return ret;
}

static int check_entry(struct boot_search *s, const struct fw_boot_entry *e)
{
	int ret = check_file(s, e, e->kernel, " names the kernel ");

	for (unsigned i = 0; !ret && i < e->n_initrd; i++)
		ret = check_file(s, e, e->initrd[i], " names the initrd ");
	return ret;
}

/* Mounts v and looks for an entry; 0 leaves fs mounted and e filled. */
static int try_volume(struct boot_search *s, const struct fw_vol *v, struct fw_boot_entry *e)
{
	size_t mark = fw_arena_mark(s->a);
	int ret;

	ret = fw_fs_mount(s->fs, v, s->a);
	if (ret) {
		const char *why = fw_fs_why(s->fs);

		if (ret != FW_E_NOFS)
			note(s, ret, why ? why : fw_strerror(ret), NULL, NULL, NULL);
		return ret;
	}
	ret = find_bls(s, "", e);
	if (ret == FW_E_NOENTRY)
		ret = find_bls(s, "/boot", e);
	if (ret == FW_E_NOENTRY)
		ret = find_extlinux(s, e);
	if (!ret)
		ret = check_entry(s, e);
	if (ret) {
		fw_arena_release(s->a, mark);
		return ret;
	}
	e->fs_type = s->fs->type;
	return 0;
}

static void where(char *buf, size_t cap, unsigned index)
{
	char num[12];
	int n = sizeof(num) - 1;

	num[n] = 0;
	do {
		num[--n] = (char)('0' + index % 10);
		index /= 10;
	} while (index && n);
	msg_set(buf, cap, "partition ", num + n, NULL, NULL);
}

static const enum fw_part_kind boot_order[] = {FW_PART_ESP, FW_PART_XBOOTLDR, FW_PART_LINUX,
					       FW_PART_OTHER};

static int try_parts(struct boot_search *s, const struct fw_disk *disk, struct fw_part *parts,
		     unsigned n, struct fw_boot_entry *e)
{
	struct fw_vol v;

	for (unsigned k = 0; k < sizeof(boot_order) / sizeof(boot_order[0]); k++) {
		for (unsigned i = 0; i < n; i++) {
			if (parts[i].kind != boot_order[k])
				continue;
			where(s->where, sizeof(s->where), parts[i].index);
			fw_part_vol(disk, &parts[i], &v);
			if (try_volume(s, &v, e))
				continue;
			e->part_index = parts[i].index;
			e->part_start_lba = v.start_lba;
			e->part_blocks = v.blocks;
			return 0;
		}
	}
	return s->err;
}

int fw_find_boot(const struct fw_disk *disk, struct fw_arena *a, struct fw_fs *fs,
		 struct fw_boot_entry *e, char *msg, size_t msgcap)
{
	struct boot_search s = {a, fs, msg, msgcap, FW_E_NOENTRY, "disk"};

	enum fw_table table;
	struct fw_part *parts;
	const char *why;
	struct fw_vol v;
	int ret, n;

	msg_set(msg, msgcap,
		"no boot entry (loader/entries/*.conf, extlinux.conf, syslinux.cfg) "
		"on any partition",
		NULL, NULL, NULL);
	parts = fw_arena_alloc(a, FW_MAX_PARTS * sizeof(*parts));
	if (!parts)
		return FW_E_NOSPACE;
	n = fw_part_scan(disk, parts, FW_MAX_PARTS, &table, &why);
	if (n == FW_E_NOPART) {
		/* A filesystem on the whole disk ("superfloppy") is fine too. */
		fw_vol_whole(&v, disk);
		ret = try_volume(&s, &v, e);
		if (ret == FW_E_NOFS) {
			msg_set(msg, msgcap, "no partition table and no filesystem on the disk",
				NULL, NULL, NULL);
			return FW_E_NOPART;
		}
		return ret ? s.err : 0;
	}
	if (n < 0) {
		msg_set(msg, msgcap, "partition table: ", why ? why : fw_strerror(n), NULL, NULL);
		return n;
	}
	return try_parts(&s, disk, parts, (unsigned)n, e);
}
