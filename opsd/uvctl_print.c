// SPDX-License-Identifier: GPL-2.0
/* uvctl's human output: the partition table, key: value lines, pretty JSON. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "uvctl.h"

/* Lines of "key: value", printed with the values aligned. */
struct kvlist {
	size_t n, cap, width;
	char **keys, **vals;
};

static void kv_add(struct kvlist *l, const char *key, const char *val)
{
	char **k, **v;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;

		k = realloc(l->keys, cap * sizeof(*k));
		if (k)
			l->keys = k;
		v = realloc(l->vals, cap * sizeof(*v));
		if (v)
			l->vals = v;
		if (!k || !v)
			return; /* out of memory: the line is lost, not the program */
		l->cap = cap;
	}
	l->keys[l->n] = strdup(key);
	l->vals[l->n] = strdup(val);
	if (!l->keys[l->n] || !l->vals[l->n]) {
		free(l->keys[l->n]);
		free(l->vals[l->n]);
		return;
	}
	if (strlen(key) > l->width)
		l->width = strlen(key);
	l->n++;
}

static void kv_print_free(struct kvlist *l, FILE *out)
{
	for (size_t i = 0; i < l->n; i++) {
		fprintf(out, "%s:%*s %s\n", l->keys[i], (int)(l->width - strlen(l->keys[i])), "",
			l->vals[i]);
		free(l->keys[i]);
		free(l->vals[i]);
	}
	free(l->keys);
	free(l->vals);
	memset(l, 0, sizeof(*l));
}

void uvctl_print_json(FILE *out, json_object *o)
{
	fprintf(out, "%s\n",
		json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
							  JSON_C_TO_STRING_SPACED |
							  JSON_C_TO_STRING_NOSLASHESCAPE));
}

void uvctl_format_mib(char *buf, size_t len, long long mib)
{
	if (mib > 0 && !(mib % (1024 * 1024)))
		snprintf(buf, len, "%lldT", mib / (1024 * 1024));
	else if (mib > 0 && !(mib % 1024))
		snprintf(buf, len, "%lldG", mib / 1024);
	else
		snprintf(buf, len, "%lldM", mib);
}

/* A scalar as text; "" for an absent field, objects and arrays as JSON. */
static const char *scalar(json_object *o, const char *key, char *buf, size_t len)
{
	json_object *v = o;

	if (key && !json_object_object_get_ex(o, key, &v))
		return "";
	switch (json_object_get_type(v)) {
	case json_type_null:
		return "";
	case json_type_boolean:
		return json_object_get_boolean(v) ? "yes" : "no";
	case json_type_string:
		return json_object_get_string(v);
	case json_type_int:
		snprintf(buf, len, "%" PRId64, json_object_get_int64(v));
		return buf;
	default:
		snprintf(buf, len, "%s",
			 json_object_to_json_string_ext(v, JSON_C_TO_STRING_NOSLASHESCAPE));
		return buf;
	}
}

/* json-c asserts on a wrong type; replies are opsd's and could be anything. */
static size_t arr_len(json_object *a)
{
	return json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

static const char *or_dash(const char *s)
{
	return s[0] ? s : "-";
}

enum { COL_NAME, COL_STATE, COL_DESIRED, COL_CPUS, COL_MEMORY, COL_IOPARTD, NCOLS };
#define CELL_LEN 80

static void list_row(json_object *p, char row[NCOLS][CELL_LEN])
{
	json_object *actual = json_object_object_get(p, "actual"), *mem;
	char buf[CELL_LEN];

	snprintf(row[COL_NAME], CELL_LEN, "%s", or_dash(scalar(p, "name", buf, sizeof(buf))));
	snprintf(row[COL_STATE], CELL_LEN, "%s",
		 actual ? or_dash(scalar(actual, "state", buf, sizeof(buf))) : "unknown");
	snprintf(row[COL_DESIRED], CELL_LEN, "%s", or_dash(scalar(p, "desired", buf, sizeof(buf))));
	snprintf(row[COL_CPUS], CELL_LEN, "%s", or_dash(scalar(p, "cpus", buf, sizeof(buf))));
	if (json_object_object_get_ex(p, "memory_mib", &mem) &&
	    json_object_is_type(mem, json_type_int))
		uvctl_format_mib(row[COL_MEMORY], CELL_LEN, json_object_get_int64(mem));
	else
		snprintf(row[COL_MEMORY], CELL_LEN, "-");
	snprintf(row[COL_IOPARTD], CELL_LEN, "%s",
		 actual ? or_dash(scalar(actual, "iopartd", buf, sizeof(buf))) : "-");
}

void uvctl_print_list(FILE *out, json_object *reply)
{
	static const char *const heads[NCOLS] = {"NAME", "STATE",  "DESIRED",
						 "CPUS", "MEMORY", "IOPARTD"};
	json_object *parts = json_object_object_get(reply, "partitions");
	size_t n = arr_len(parts);
	char(*rows)[NCOLS][CELL_LEN] = calloc(n + 1, sizeof(*rows));
	int width[NCOLS];

	if (!rows)
		return;
	for (int c = 0; c < NCOLS; c++)
		snprintf(rows[0][c], CELL_LEN, "%s", heads[c]);
	for (size_t i = 0; i < n; i++)
		list_row(json_object_array_get_idx(parts, i), rows[i + 1]);
	for (int c = 0; c < NCOLS; c++) {
		width[c] = 0;
		for (size_t i = 0; i <= n; i++)
			if ((int)strlen(rows[i][c]) > width[c])
				width[c] = (int)strlen(rows[i][c]);
	}
	for (size_t i = 0; i <= n; i++) {
		for (int c = 0; c < NCOLS - 1; c++)
			fprintf(out, "%-*s  ", width[c], rows[i][c]);
		fprintf(out, "%s\n", rows[i][NCOLS - 1]);
	}
	free(rows);
}

static void flat_add(struct kvlist *l, const char *prefix, json_object *o)
{
	char key[256], buf[256];

	if (json_object_is_type(o, json_type_object) && json_object_object_length(o)) {
		json_object_object_foreach(o, k, v)
		{
			snprintf(key, sizeof(key), "%s%s%s", prefix, prefix[0] ? "." : "", k);
			flat_add(l, key, v);
		}
	} else if (json_object_is_type(o, json_type_array) && json_object_array_length(o)) {
		for (size_t i = 0; i < json_object_array_length(o); i++) {
			snprintf(key, sizeof(key), "%s[%zu]", prefix, i);
			flat_add(l, key, json_object_array_get_idx(o, i));
		}
	} else {
		kv_add(l, prefix[0] ? prefix : "value", or_dash(scalar(o, NULL, buf, sizeof(buf))));
	}
}

void uvctl_print_flat(FILE *out, json_object *o)
{
	struct kvlist l = {0};

	flat_add(&l, "", o);
	kv_print_free(&l, out);
}

static void show_disks(struct kvlist *l, json_object *p)
{
	json_object *disks = json_object_object_get(p, "disks");
	char key[32], val[4200], b1[64], b2[64];

	for (size_t i = 0; i < arr_len(disks); i++) {
		json_object *d = json_object_array_get_idx(disks, i);
		const char *fmt = scalar(d, "format", b1, sizeof(b1));

		snprintf(key, sizeof(key), "disk %zu", i);
		snprintf(val, sizeof(val), "%s (%s, %s)", scalar(d, "path", b2, sizeof(b2)),
			 fmt[0] ? fmt : "format detected",
			 json_object_get_boolean(json_object_object_get(d, "readonly"))
				 ? "read-only"
				 : "read-write");
		kv_add(l, key, val);
	}
}

static void show_nets(struct kvlist *l, json_object *p)
{
	json_object *nets = json_object_object_get(p, "nets");
	char key[32], val[64], buf[64];

	for (size_t i = 0; i < arr_len(nets); i++) {
		snprintf(key, sizeof(key), "net %zu", i);
		snprintf(val, sizeof(val), "tap %s",
			 scalar(json_object_array_get_idx(nets, i), "tap", buf, sizeof(buf)));
		kv_add(l, key, val);
	}
}

void uvctl_print_partition(FILE *out, json_object *p)
{
	static const char *const known[] = {"name",	 "cpus",       "memory_mib", "hugepages",
					    "disks",	 "nets",       "restart",    "desired",
					    "stop_mode", "generation", "actual"};
	json_object *actual = json_object_object_get(p, "actual");
	struct kvlist l = {0};
	const char *s;
	char buf[256];

	if (!json_object_is_type(p, json_type_object)) {
		uvctl_print_flat(out, p);
		return;
	}
	kv_add(&l, "name", scalar(p, "name", buf, sizeof(buf)));
	kv_add(&l, "state",
	       actual ? or_dash(scalar(actual, "state", buf, sizeof(buf))) : "unknown");
	kv_add(&l, "desired", or_dash(scalar(p, "desired", buf, sizeof(buf))));
	kv_add(&l, "stop mode", or_dash(scalar(p, "stop_mode", buf, sizeof(buf))));
	kv_add(&l, "cpus", or_dash(scalar(p, "cpus", buf, sizeof(buf))));
	uvctl_format_mib(buf, sizeof(buf),
			 json_object_get_int64(json_object_object_get(p, "memory_mib")));
	kv_add(&l, "memory", buf);
	kv_add(&l, "hugepages", or_dash(scalar(p, "hugepages", buf, sizeof(buf))));
	kv_add(&l, "restart", or_dash(scalar(p, "restart", buf, sizeof(buf))));
	show_disks(&l, p);
	show_nets(&l, p);
	if (json_object_get_int64(json_object_object_get(actual, "pid")) > 0)
		kv_add(&l, "pid", scalar(actual, "pid", buf, sizeof(buf)));
	s = scalar(actual, "iopartd", buf, sizeof(buf));
	if (s[0])
		kv_add(&l, "iopartd", s);
	s = scalar(actual, "reason", buf, sizeof(buf));
	if (s[0])
		kv_add(&l, "reason", s);
	kv_add(&l, "generation", or_dash(scalar(p, "generation", buf, sizeof(buf))));
	/* Fields this uvctl does not know yet are shown rather than hidden. */
	json_object_object_foreach(p, k, v)
	{
		size_t i;

		for (i = 0; i < sizeof(known) / sizeof(known[0]) && strcmp(k, known[i]); i++)
			;
		if (i == sizeof(known) / sizeof(known[0]))
			flat_add(&l, k, v);
	}
	kv_print_free(&l, out);
}
