// SPDX-License-Identifier: GPL-2.0
/* uvctl's human output: the partition table, key: value lines, pretty JSON. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "uvctl.h"

void uvctl_print_json(FILE *out, json_object *o)
{
	fprintf(out, "%s\n",
		json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
							  JSON_C_TO_STRING_SPACED |
							  JSON_C_TO_STRING_NOSLASHESCAPE));
}

const char *uvctl_scalar(json_object *o, const char *key, char *buf, size_t len)
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

static void kv_put(struct uvctl_kv *l, const char *key, const char *val)
{
	uvctl_kv_add(l, key, "%s", val);
}

static const char *or_dash(const char *s)
{
	return s[0] ? s : "-";
}

/* STANDBY last: scripts that read the columns by number keep theirs. */
enum { COL_NAME, COL_STATE, COL_DESIRED, COL_CPUS, COL_MEMORY, COL_IOPARTD, COL_STANDBY, NCOLS };
#define CELL_LEN 80

static void list_row(struct uvctl_table *t, json_object *p)
{
	json_object *actual = json_object_object_get(p, "actual"), *mem;
	char cell[NCOLS][CELL_LEN];
	const char *row[NCOLS];

	for (int c = 0; c < NCOLS; c++)
		row[c] = cell[c];
	row[COL_NAME] = or_dash(uvctl_scalar(p, "name", cell[COL_NAME], CELL_LEN));
	row[COL_STATE] = actual ? or_dash(uvctl_scalar(actual, "state", cell[COL_STATE], CELL_LEN))
				: "unknown";
	row[COL_DESIRED] = or_dash(uvctl_scalar(p, "desired", cell[COL_DESIRED], CELL_LEN));
	row[COL_CPUS] = or_dash(uvctl_scalar(p, "cpus", cell[COL_CPUS], CELL_LEN));
	if (json_object_object_get_ex(p, "memory_mib", &mem) &&
	    json_object_is_type(mem, json_type_int))
		uvctl_format_mib(cell[COL_MEMORY], CELL_LEN, json_object_get_int64(mem));
	else
		row[COL_MEMORY] = "-";
	row[COL_IOPARTD] =
		actual ? or_dash(uvctl_scalar(actual, "iopartd", cell[COL_IOPARTD], CELL_LEN))
		       : "-";
	row[COL_STANDBY] =
		actual ? or_dash(uvctl_scalar(actual, "standby", cell[COL_STANDBY], CELL_LEN))
		       : "-";
	uvctl_table_add(t, row);
}

void uvctl_print_list(FILE *out, json_object *reply)
{
	static const char *const heads[NCOLS] = {"NAME",   "STATE",   "DESIRED", "CPUS",
						 "MEMORY", "IOPARTD", "STANDBY"};
	json_object *parts = json_object_object_get(reply, "partitions");
	struct uvctl_table t;

	uvctl_table_init(&t, NCOLS, heads);
	for (size_t i = 0; i < arr_len(parts); i++)
		list_row(&t, json_object_array_get_idx(parts, i));
	uvctl_table_print(&t, out, "");
}

static void flat_add(struct uvctl_kv *l, const char *prefix, json_object *o)
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
		kv_put(l, prefix[0] ? prefix : "value",
		       or_dash(uvctl_scalar(o, NULL, buf, sizeof(buf))));
	}
}

void uvctl_print_flat(FILE *out, json_object *o)
{
	struct uvctl_kv l = {0};

	flat_add(&l, "", o);
	uvctl_kv_print(&l, out, "");
}

static void show_disks(struct uvctl_kv *l, json_object *p)
{
	json_object *disks = json_object_object_get(p, "disks");
	char key[32], val[4200], b1[64], b2[64];

	for (size_t i = 0; i < arr_len(disks); i++) {
		json_object *d = json_object_array_get_idx(disks, i);
		const char *fmt = uvctl_scalar(d, "format", b1, sizeof(b1));

		snprintf(key, sizeof(key), "disk %zu", i);
		snprintf(val, sizeof(val), "%s (%s, %s)", uvctl_scalar(d, "path", b2, sizeof(b2)),
			 fmt[0] ? fmt : "format detected",
			 json_object_get_boolean(json_object_object_get(d, "readonly"))
				 ? "read-only"
				 : "read-write");
		kv_put(l, key, val);
	}
}

static void show_nets(struct uvctl_kv *l, json_object *p)
{
	json_object *nets = json_object_object_get(p, "nets");
	char key[32], val[64], buf[64];

	for (size_t i = 0; i < arr_len(nets); i++) {
		snprintf(key, sizeof(key), "net %zu", i);
		snprintf(val, sizeof(val), "tap %s",
			 uvctl_scalar(json_object_array_get_idx(nets, i), "tap", buf, sizeof(buf)));
		kv_put(l, key, val);
	}
}

/* Direct kernel boot: kernel, initrd, cmdline, each only when set. */
static void show_boot(struct uvctl_kv *l, json_object *p)
{
	static const char *const keys[] = {"kernel", "initrd", "cmdline"};
	char buf[64];

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *s = uvctl_scalar(p, keys[i], buf, sizeof(buf));

		if (s[0])
			kv_put(l, keys[i], s);
	}
}

void uvctl_print_partition(FILE *out, json_object *p)
{
	static const char *const known[] = {"name",	  "cpus",    "memory_mib", "hugepages",
					    "disks",	  "nets",    "kernel",	   "initrd",
					    "cmdline",	  "restart", "desired",	   "stop_mode",
					    "generation", "actual"};
	json_object *actual = json_object_object_get(p, "actual");
	struct uvctl_kv l = {0};
	const char *s;
	char buf[256];

	if (!json_object_is_type(p, json_type_object)) {
		uvctl_print_flat(out, p);
		return;
	}
	kv_put(&l, "name", uvctl_scalar(p, "name", buf, sizeof(buf)));
	kv_put(&l, "state",
	       actual ? or_dash(uvctl_scalar(actual, "state", buf, sizeof(buf))) : "unknown");
	kv_put(&l, "desired", or_dash(uvctl_scalar(p, "desired", buf, sizeof(buf))));
	kv_put(&l, "stop mode", or_dash(uvctl_scalar(p, "stop_mode", buf, sizeof(buf))));
	kv_put(&l, "cpus", or_dash(uvctl_scalar(p, "cpus", buf, sizeof(buf))));
	uvctl_format_mib(buf, sizeof(buf),
			 json_object_get_int64(json_object_object_get(p, "memory_mib")));
	kv_put(&l, "memory", buf);
	kv_put(&l, "hugepages", or_dash(uvctl_scalar(p, "hugepages", buf, sizeof(buf))));
	kv_put(&l, "restart", or_dash(uvctl_scalar(p, "restart", buf, sizeof(buf))));
	show_boot(&l, p);
	show_disks(&l, p);
	show_nets(&l, p);
	if (json_object_get_int64(json_object_object_get(actual, "pid")) > 0)
		kv_put(&l, "pid", uvctl_scalar(actual, "pid", buf, sizeof(buf)));
	s = uvctl_scalar(actual, "iopartd", buf, sizeof(buf));
	if (s[0])
		kv_put(&l, "iopartd", s);
	s = uvctl_scalar(actual, "standby", buf, sizeof(buf));
	if (s[0])
		kv_put(&l, "standby", s);
	s = uvctl_scalar(actual, "reason", buf, sizeof(buf));
	if (s[0])
		kv_put(&l, "reason", s);
	kv_put(&l, "generation", or_dash(uvctl_scalar(p, "generation", buf, sizeof(buf))));
	/* Fields this uvctl does not know yet are shown rather than hidden. */
	json_object_object_foreach(p, k, v)
	{
		size_t i;

		for (i = 0; i < sizeof(known) / sizeof(known[0]) && strcmp(k, known[i]); i++)
			;
		if (i == sizeof(known) / sizeof(known[0]))
			flat_add(&l, k, v);
	}
	uvctl_kv_print(&l, out, "");
}
