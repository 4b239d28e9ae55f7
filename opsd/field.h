/* SPDX-License-Identifier: GPL-2.0 */
#ifndef OPSD_FIELD_H
#define OPSD_FIELD_H

/*
 * Typed reads of one JSON member for the request parsers. Each takes the
 * field's name as the client should see it ("disks[2].path") and, when the
 * value does not fit, returns -EINVAL with a one-line reason in err.
 */

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An integer (not a float, not a string) in [min, max]. */
int opsd_field_int(json_object *v, const char *name, int64_t min, int64_t max, int64_t *out,
		   char *err, size_t errlen);
int opsd_field_bool(json_object *v, const char *name, bool *out, char *err, size_t errlen);
/* A string of at most maxlen bytes with no NUL inside. */
int opsd_field_str(json_object *v, const char *name, size_t maxlen, const char **out, char *err,
		   size_t errlen);
/* opsd_field_str() of an absolute path ("/..."). */
int opsd_field_path(json_object *v, const char *name, size_t maxlen, const char **out, char *err,
		    size_t errlen);
/* A string that is one of names[0..n); *out is its index. */
int opsd_field_enum(json_object *v, const char *name, const char *const *names, size_t n, int *out,
		    char *err, size_t errlen);
#define OPSD_FIELD_ENUM(v, name, table, out, err, errlen)                                          \
	opsd_field_enum(v, name, table, sizeof(table) / sizeof(table[0]), out, err, errlen)

/*
 * Exactly one JSON value in buf[0..len), in json-c's strict mode (no
 * single-quoted values, trailing commas, comments or bad UTF-8; it still takes
 * a single-quoted key and NaN, which no field of ours has the type of), nested at most 32 deep,
 * white space around it allowed. NULL with a one-line reason in err.
 */
json_object *opsd_json_parse(const char *buf, size_t len, char *err, size_t errlen);

/* The refusal of a member that is not in the object's schema. */
int opsd_field_unknown(const char *name, char *err, size_t errlen);

#endif
