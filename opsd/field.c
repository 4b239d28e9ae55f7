// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "field.h"

int opsd_field_int(json_object *v, const char *name, int64_t min, int64_t max, int64_t *out,
		   char *err, size_t errlen)
{
	int64_t x;

	/* json-c clamps out-of-range integers to INT64_MIN/MAX: still refused below. */
	if (!json_object_is_type(v, json_type_int))
		goto bad;
	x = json_object_get_int64(v);
	if (x < min || x > max)
		goto bad;
	*out = x;
	return 0;
bad:
	snprintf(err, errlen, "'%s' must be an integer from %" PRId64 " to %" PRId64, name, min,
		 max);
	return -EINVAL;
}

int opsd_field_bool(json_object *v, const char *name, bool *out, char *err, size_t errlen)
{
	if (!json_object_is_type(v, json_type_boolean)) {
		snprintf(err, errlen, "'%s' must be true or false", name);
		return -EINVAL;
	}
	*out = json_object_get_boolean(v);
	return 0;
}

int opsd_field_str(json_object *v, const char *name, size_t maxlen, const char **out, char *err,
		   size_t errlen)
{
	const char *s;
	size_t len;

	if (!json_object_is_type(v, json_type_string)) {
		snprintf(err, errlen, "'%s' must be a string", name);
		return -EINVAL;
	}
	s = json_object_get_string(v);
	len = json_object_get_string_len(v);
	if (strlen(s) != len) {
		snprintf(err, errlen, "'%s' must not contain NUL characters", name);
		return -EINVAL;
	}
	if (len > maxlen) {
		snprintf(err, errlen, "'%s' is longer than %zu bytes", name, maxlen);
		return -EINVAL;
	}
	*out = s;
	return 0;
}

int opsd_field_path(json_object *v, const char *name, size_t maxlen, const char **out, char *err,
		    size_t errlen)
{
	int ret = opsd_field_str(v, name, maxlen, out, err, errlen);

	if (ret)
		return ret;
	if ((*out)[0] != '/') {
		snprintf(err, errlen, "'%s' must be an absolute path", name);
		return -EINVAL;
	}
	return 0;
}

int opsd_field_enum(json_object *v, const char *name, const char *const *names, size_t n, int *out,
		    char *err, size_t errlen)
{
	const char *s = NULL;
	size_t used;

	if (json_object_is_type(v, json_type_string)) {
		s = json_object_get_string(v);
		for (size_t i = 0; i < n; i++) {
			if (!strcmp(s, names[i]) &&
			    strlen(s) == (size_t)json_object_get_string_len(v)) {
				*out = (int)i;
				return 0;
			}
		}
	}
	used = snprintf(err, errlen, "'%s' must be one of", name);
	for (size_t i = 0; i < n && used < errlen; i++)
		used += snprintf(err + used, errlen - used, "%s %s", i ? "," : "", names[i]);
	return -EINVAL;
}

int opsd_field_unknown(const char *name, char *err, size_t errlen)
{
	snprintf(err, errlen, "unknown field '%s'", name);
	return -EINVAL;
}

json_object *opsd_json_parse(const char *buf, size_t len, char *err, size_t errlen)
{
	json_tokener *tok = json_tokener_new_ex(32);
	enum json_tokener_error jerr;
	json_object *o;
	size_t used;

	if (!tok) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, buf, (int)len);
	jerr = json_tokener_get_error(tok);
	used = tok->char_offset;
	/* A bare number or literal may go on: the end of the input ends it. */
	if (jerr == json_tokener_continue) {
		o = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
		used = len;
	}
	json_tokener_free(tok);
	if (jerr == json_tokener_continue || jerr == json_tokener_error_parse_eof) {
		snprintf(err, errlen, "malformed JSON: it ends inside a value");
	} else if (!o && jerr == json_tokener_success) {
		snprintf(err, errlen, "a JSON null where a JSON object is expected");
	} else if (!o || jerr != json_tokener_success) {
		snprintf(err, errlen, "malformed JSON at byte %zu: %s", used,
			 json_tokener_error_desc(jerr));
	} else if (used > len || strspn(buf + used, " \t\r\n") < len - used) {
		snprintf(err, errlen, "malformed JSON: data after the value at byte %zu", used);
	} else {
		return o;
	}
	json_object_put(o);
	return NULL;
}
