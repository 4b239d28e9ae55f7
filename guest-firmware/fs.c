// SPDX-License-Identifier: GPL-2.0
/* Filesystem dispatch and path resolution with bounded symlink following. */
#include "fs.h"

int fw_fs_mount(struct fw_fs *fs, const struct fw_vol *v, struct fw_arena *a)
{
	size_t mark = fw_arena_mark(a);
	int ret;

	fs->type = FW_FS_FAT;
	ret = fw_fat_mount(&fs->fat, v, a);
	if (ret != FW_E_NOFS)
		goto out;
	fw_arena_release(a, mark);
	fs->type = FW_FS_EXT;
	ret = fw_ext_mount(&fs->ext, v, a);
out:
	if (ret) {
		fw_arena_release(a, mark);
		if (ret == FW_E_NOFS)
			fs->type = FW_FS_NONE;
	}
	return ret;
}

const char *fw_fs_why(const struct fw_fs *fs)
{
	if (fs->type == FW_FS_FAT)
		return fs->fat.why;
	if (fs->type == FW_FS_EXT)
		return fs->ext.why;
	return NULL;
}

const char *fw_fs_name(const struct fw_fs *fs)
{
	if (fs->type == FW_FS_FAT)
		return fs->fat.bits == 12 ? "FAT12" : fs->fat.bits == 16 ? "FAT16" : "FAT32";
	return fs->type == FW_FS_EXT ? "ext" : "none";
}

static int fs_root(struct fw_fs *fs, struct fw_file *f)
{
	if (fs->type == FW_FS_FAT)
		return fw_fat_root(&fs->fat, f);
	if (fs->type == FW_FS_EXT)
		return fw_ext_root(&fs->ext, f);
	return FW_E_INVAL;
}

static int fs_lookup(struct fw_fs *fs, const struct fw_file *dir, const char *name, size_t len,
		     struct fw_file *out)
{
	if (!dir->dir)
		return FW_E_NOTDIR;
	if (fs->type == FW_FS_FAT)
		return fw_fat_lookup(&fs->fat, dir, name, len, out);
	return fw_ext_lookup(&fs->ext, dir, name, len, out);
}

/* work = target + "/" + rest; fails if it does not fit. */
static int splice(char *work, const char *target, size_t tlen, const char *rest)
{
	size_t rlen = strlen(rest);
	char tmp[FW_PATH_MAX];

	if (tlen + 1 + rlen >= FW_PATH_MAX)
		return FW_E_NAMETOOLONG;
	memcpy(tmp, target, tlen);
	tmp[tlen] = '/';
	memcpy(tmp + tlen + 1, rest, rlen + 1);
	memcpy(work, tmp, tlen + rlen + 2);
	return 0;
}

int fw_fs_open(struct fw_fs *fs, const char *path, struct fw_file *f)
{
	char work[FW_PATH_MAX], target[FW_PATH_MAX];
	struct fw_file cur, next;
	unsigned hops = 0;
	size_t pos = 0;
	int ret;

	if (fw_strlcpy_n(work, sizeof(work), path, strlen(path)))
		return FW_E_NAMETOOLONG;
	ret = fs_root(fs, &cur);
	if (ret)
		return ret;
	for (;;) {
		size_t end;

		while (work[pos] == '/')
			pos++;
		if (!work[pos])
			break;
		for (end = pos; work[end] && work[end] != '/'; end++)
			;
		if (work[pos] == '.' && end == pos + 1) {
			pos = end;
			continue;
		}
		ret = fs_lookup(fs, &cur, work + pos, end - pos, &next);
		if (ret)
			return ret;
		if (!next.symlink) {
			cur = next;
			pos = end;
			continue;
		}
		if (fs->type != FW_FS_EXT)
			return FW_E_INVAL;
		if (++hops > FW_SYMLINK_HOPS)
			return FW_E_LOOP;
		ret = fw_ext_readlink(&fs->ext, &next, target, sizeof(target));
		if (ret < 0)
			return ret;
		ret = splice(work, target, (size_t)ret, work + end);
		if (ret)
			return ret;
		pos = 0;
		if (work[0] == '/') {
			ret = fs_root(fs, &cur);
			if (ret)
				return ret;
		}
	}
	*f = cur;
	return 0;
}

int fw_fs_pread(struct fw_fs *fs, const struct fw_file *f, uint64_t off, void *buf, size_t len)
{
	if (fs->type == FW_FS_FAT)
		return fw_fat_pread(&fs->fat, f, off, buf, len);
	if (fs->type == FW_FS_EXT)
		return fw_ext_pread(&fs->ext, f, off, buf, len);
	return FW_E_INVAL;
}

int fw_fs_read_file(struct fw_fs *fs, const char *path, void *buf, size_t cap, size_t *len)
{
	struct fw_file f;
	int ret;

	ret = fw_fs_open(fs, path, &f);
	if (ret)
		return ret;
	if (f.dir)
		return FW_E_INVAL;
	if (f.size > cap)
		return FW_E_NOSPACE;
	ret = fw_fs_pread(fs, &f, 0, buf, (size_t)f.size);
	if (ret)
		return ret;
	*len = (size_t)f.size;
	return 0;
}

int fw_fs_list(struct fw_fs *fs, const char *path, fw_dir_fn fn, void *arg)
{
	struct fw_file d;
	int ret;

	ret = fw_fs_open(fs, path, &d);
	if (ret)
		return ret;
	if (!d.dir)
		return FW_E_NOTDIR;
	if (fs->type == FW_FS_FAT)
		return fw_fat_list(&fs->fat, &d, fn, arg);
	return fw_ext_list(&fs->ext, &d, fn, arg);
}
