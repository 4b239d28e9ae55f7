// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "field.h"
#include "log.h"
#include "store.h"

#define STORE_FILE_MAX (1 << 20)
#define STORE_MODE     0640

/* Saves o (and puts it) at path. */
static int store_write(const char *path, json_object *o, char *err, size_t errlen)
{
	const char *text;
	char *buf;
	size_t len;
	int ret;

	if (!o) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
							 JSON_C_TO_STRING_NOSLASHESCAPE);
	len = strlen(text);
	buf = malloc(len + 2);
	if (!buf) {
		json_object_put(o);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	memcpy(buf, text, len);
	buf[len++] = '\n';
	json_object_put(o);
	ret = uv_file_write_atomic(path, buf, len, STORE_MODE, err, errlen);
	free(buf);
	return ret;
}

/* Reads and parses path: 0, -ENOENT, or -EBADMSG / -errno with err set. */
static int store_read(const char *path, json_object **out, char *err, size_t errlen)
{
	char *buf, why[256];
	size_t len;
	int ret;

	*out = NULL;
	ret = uv_file_read(path, STORE_FILE_MAX, &buf, &len, err, errlen);
	if (ret)
		return ret;
	*out = opsd_json_parse(buf, len, why, sizeof(why));
	free(buf);
	if (!*out) {
		snprintf(err, errlen, "%s: %s", path, why);
		return -EBADMSG;
	}
	return 0;
}

/* A damaged file goes to FILE.bad: kept for the operator, out of the next load's way. */
static void store_set_aside(const char *path, const char *why)
{
	char bad[PATH_MAX + 8];

	snprintf(bad, sizeof(bad), "%s.bad", path);
	if (rename(path, bad))
		pr_err("%s; cannot move it aside: %s", why, strerror(errno));
	else
		pr_err("%s; moved to %s, the rest loads", why, bad);
}

static int store_sync_dir(const char *dir, char *err, size_t errlen)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret = 0;

	if (fd < 0 || fsync(fd))
		ret = -errno;
	if (fd >= 0)
		close(fd);
	if (ret)
		snprintf(err, errlen, "%s: fsync: %s", dir, strerror(-ret));
	return ret;
}

static int store_ppath(const struct opsd_store *s, const char *name, char *out, size_t outlen)
{
	char file[OPSD_NAME_MAX + 8];

	snprintf(file, sizeof(file), "%s.json", name);
	return uv_path_join(out, outlen, s->pdir, file);
}

static size_t store_index(const struct opsd_store *s, const char *name, bool *found)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(s->v[mid]->name, name);

		if (!c) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

struct opsd_partition *opsd_store_find(const struct opsd_store *s, const char *name)
{
	bool found;
	size_t i = store_index(s, name, &found);

	return found ? s->v[i] : NULL;
}

static int store_insert(struct opsd_store *s, struct opsd_partition *p)
{
	bool found;
	size_t i = store_index(s, p->name, &found);

	if (found)
		return -EEXIST;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct opsd_partition **v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	memmove(&s->v[i + 1], &s->v[i], (s->n - i) * sizeof(*s->v));
	s->v[i] = p;
	s->n++;
	return 0;
}

static void store_load_one(struct opsd_store *s, const char *file)
{
	size_t len = strlen(file) - 5; /* ".json" */
	char path[PATH_MAX], name[OPSD_NAME_MAX + 1], err[PATH_MAX + 128], why[2 * PATH_MAX + 512];
	struct opsd_partition *p = NULL;
	json_object *o;

	if (uv_path_join(path, sizeof(path), s->pdir, file))
		return;
	if (len > OPSD_NAME_MAX ||
	    (memcpy(name, file, len), name[len] = 0, !opsd_name_valid(name))) {
		pr_warn("%s: not a partition name, ignored", path);
		return;
	}
	if (store_read(path, &o, err, sizeof(err))) {
		store_set_aside(path, err);
		return;
	}
	p = opsd_partition_from_file(o, err, sizeof(err));
	json_object_put(o);
	if (!p) {
		snprintf(why, sizeof(why), "%s: %s", path, err);
	} else if (strcmp(p->name, name)) {
		snprintf(why, sizeof(why), "%s: holds partition '%s'", path, p->name);
	} else {
		if (p->intent.generation > s->generation)
			s->generation = p->intent.generation;
		if (!store_insert(s, p))
			return;
		snprintf(why, sizeof(why), "%s: out of memory", path);
	}
	opsd_partition_free(p);
	store_set_aside(path, why);
}

/* Files named *.json are partitions; a leftover *.tmp.PID of a kill -9 is removed. */
static int store_load_partitions(struct opsd_store *s, char *err, size_t errlen)
{
	DIR *dir = opendir(s->pdir);
	struct dirent *de;

	if (!dir) {
		snprintf(err, errlen, "%s: %s", s->pdir, strerror(errno));
		return -errno;
	}
	while ((de = readdir(dir))) {
		size_t len = strlen(de->d_name);

		if (strstr(de->d_name, ".json.tmp.")) {
			pr_info("%s/%s: removing an unfinished write", s->pdir, de->d_name);
			unlinkat(dirfd(dir), de->d_name, 0);
		} else if (len > 5 && !strcmp(de->d_name + len - 5, ".json")) {
			store_load_one(s, de->d_name);
		}
	}
	closedir(dir);
	return 0;
}

static void store_load_policy(struct opsd_store *s)
{
	char path[PATH_MAX], err[PATH_MAX + 128], why[2 * PATH_MAX + 512];
	json_object *o;
	int ret;

	opsd_policy_default(&s->policy);
	if (uv_path_join(path, sizeof(path), s->dir, "policy.json"))
		return;
	ret = store_read(path, &o, err, sizeof(err));
	if (ret == -ENOENT)
		return;
	if (!ret) {
		ret = opsd_policy_apply(&s->policy, o, err, sizeof(err));
		json_object_put(o);
		if (!ret)
			return;
		snprintf(why, sizeof(why), "%s: %s", path, err);
		store_set_aside(path, why);
	} else {
		store_set_aside(path, err);
	}
	pr_warn("using the default policy");
}

static void store_load_generation(struct opsd_store *s)
{
	char path[PATH_MAX], err[PATH_MAX + 128];
	json_object *o, *g;
	int ret;

	if (uv_path_join(path, sizeof(path), s->dir, "generation"))
		return;
	ret = store_read(path, &o, err, sizeof(err));
	if (ret == -ENOENT)
		return;
	if (!ret && json_object_object_get_ex(o, "generation", &g) &&
	    json_object_is_type(g, json_type_int) && json_object_get_int64(g) >= 0) {
		s->generation = json_object_get_int64(g);
		json_object_put(o);
		return;
	}
	json_object_put(o);
	if (!ret)
		snprintf(err, sizeof(err), "%s: no non-negative integer 'generation'", path);
	store_set_aside(path, err);
}

int opsd_store_open(struct opsd_store *s, const char *state_dir, char *err, size_t errlen)
{
	int ret;

	memset(s, 0, sizeof(*s));
	if (uv_path_join(s->dir, sizeof(s->dir), state_dir, "opsd") ||
	    uv_path_join(s->pdir, sizeof(s->pdir), s->dir, "partitions")) {
		snprintf(err, errlen, "%s: path too long", state_dir);
		return -ENAMETOOLONG;
	}
	ret = uv_dir_ensure(s->pdir, 0750, err, errlen);
	if (ret)
		return ret;
	store_load_policy(s);
	store_load_generation(s);
	ret = store_load_partitions(s, err, errlen);
	if (ret)
		opsd_store_close(s);
	return ret;
}

void opsd_store_close(struct opsd_store *s)
{
	for (size_t i = 0; i < s->n; i++)
		opsd_partition_free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}

int opsd_store_create(struct opsd_store *s, struct opsd_partition *p, char *err, size_t errlen)
{
	char path[PATH_MAX];
	int ret;

	if (opsd_store_find(s, p->name)) {
		snprintf(err, errlen, "partition '%s' exists", p->name);
		return -EEXIST;
	}
	p->intent.generation = s->generation + 1;
	if (store_ppath(s, p->name, path, sizeof(path))) {
		snprintf(err, errlen, "%s: path too long", s->pdir);
		return -ENAMETOOLONG;
	}
	ret = store_write(path, opsd_partition_to_file(p), err, errlen);
	if (ret)
		return ret;
	ret = store_insert(s, p);
	if (ret) {
		unlink(path);
		snprintf(err, errlen, "out of memory");
		return ret;
	}
	s->generation++;
	return 0;
}

int opsd_store_set_intent(struct opsd_store *s, struct opsd_partition *p, enum opsd_desired desired,
			  enum opsd_stop_mode mode, char *err, size_t errlen)
{
	struct opsd_intent old = p->intent;
	char path[PATH_MAX];
	int ret;

	p->intent.desired = desired;
	p->intent.stop_mode = mode;
	p->intent.generation = s->generation + 1;
	ret = store_ppath(s, p->name, path, sizeof(path));
	if (!ret)
		ret = store_write(path, opsd_partition_to_file(p), err, errlen);
	if (ret) {
		p->intent = old;
		return ret;
	}
	s->generation++;
	return 0;
}

static int store_save_generation(struct opsd_store *s, uint64_t gen, char *err, size_t errlen)
{
	json_object *o = json_object_new_object();
	char path[PATH_MAX];

	if (uv_path_join(path, sizeof(path), s->dir, "generation")) {
		json_object_put(o);
		snprintf(err, errlen, "%s: path too long", s->dir);
		return -ENAMETOOLONG;
	}
	json_object_object_add(o, "generation", json_object_new_int64(gen));
	return store_write(path, o, err, errlen);
}

/* The generation first: a kill -9 in between leaves a bumped generation, never a lower one. */
int opsd_store_delete(struct opsd_store *s, struct opsd_partition *p, char *err, size_t errlen)
{
	char path[PATH_MAX];
	bool found;
	size_t i;
	int ret;

	if (p->intent.desired == OPSD_DESIRED_RUNNING || opsd_actual_active(&p->actual)) {
		snprintf(err, errlen, "partition '%s' is %s: shut it down or destroy it first",
			 p->name,
			 opsd_actual_active(&p->actual) ? opsd_state_names[p->actual.state]
							: "meant to run");
		return -EBUSY;
	}
	ret = store_save_generation(s, s->generation + 1, err, errlen);
	if (ret)
		return ret;
	s->generation++;
	store_ppath(s, p->name, path, sizeof(path));
	if (unlink(path) && errno != ENOENT) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	/* The file is gone: memory follows even if the directory's fsync fails. */
	if (store_sync_dir(s->pdir, err, errlen))
		pr_warn("%s", err);
	i = store_index(s, p->name, &found);
	memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(*s->v));
	s->n--;
	opsd_partition_free(p);
	return 0;
}

int opsd_store_set_policy(struct opsd_store *s, const struct opsd_policy *pol, char *err,
			  size_t errlen)
{
	char path[PATH_MAX];
	int ret;

	ret = store_save_generation(s, s->generation + 1, err, errlen);
	if (ret)
		return ret;
	s->generation++;
	if (uv_path_join(path, sizeof(path), s->dir, "policy.json")) {
		snprintf(err, errlen, "%s: path too long", s->dir);
		return -ENAMETOOLONG;
	}
	ret = store_write(path, opsd_policy_to_json(pol), err, errlen);
	if (ret)
		return ret;
	s->policy = *pol;
	return 0;
}
