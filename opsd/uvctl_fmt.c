// SPDX-License-Identifier: GPL-2.0
/* uvctl's layout helpers: aligned tables, aligned "key: value" lines, units. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "uvctl.h"

/* Grows a table of string pointers to hold n more; false when out of memory. */
static bool cells_reserve(char ***cells, size_t *cap, size_t used, size_t n)
{
	size_t want = *cap ? *cap : 16;
	char **c;

	while (want < used + n)
		want *= 2;
	if (want == *cap)
		return true;
	c = realloc(*cells, want * sizeof(*c));
	if (!c)
		return false;
	*cells = c;
	*cap = want;
	return true;
}

void uvctl_table_init(struct uvctl_table *t, int ncols, const char *const *heads)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
	if (heads)
		uvctl_table_add(t, heads);
}

/* Out of memory loses the row, not the program. */
void uvctl_table_add(struct uvctl_table *t, const char *const *row)
{
	size_t base = t->nrows * (size_t)t->ncols;
	int c;

	if (!cells_reserve(&t->cells, &t->cap, base, (size_t)t->ncols))
		return;
	for (c = 0; c < t->ncols; c++) {
		t->cells[base + c] = strdup(row[c] ? row[c] : "");
		if (!t->cells[base + c])
			break;
	}
	if (c < t->ncols) {
		while (c-- > 0)
			free(t->cells[base + c]);
		return;
	}
	t->nrows++;
}

void uvctl_table_print(struct uvctl_table *t, FILE *out, const char *indent)
{
	int *width = calloc((size_t)t->ncols, sizeof(*width));
	char **cell = t->cells;

	for (size_t i = 0; width && i < t->nrows; i++)
		for (int c = 0; c < t->ncols; c++)
			if ((int)strlen(cell[i * t->ncols + c]) > width[c])
				width[c] = (int)strlen(cell[i * t->ncols + c]);
	for (size_t i = 0; width && i < t->nrows; i++) {
		fputs(indent, out);
		for (int c = 0; c < t->ncols - 1; c++)
			fprintf(out, "%-*s  ", width[c], cell[i * t->ncols + c]);
		fprintf(out, "%s\n", cell[i * t->ncols + t->ncols - 1]);
	}
	for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
		free(cell[i]);
	free(cell);
	free(width);
	memset(t, 0, sizeof(*t));
}

void uvctl_kv_add(struct uvctl_kv *l, const char *key, const char *fmt, ...)
{
	char *val;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&val, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (!cells_reserve(&l->cells, &l->cap, 2 * l->n, 2) ||
	    !(l->cells[2 * l->n] = strdup(key))) {
		free(val);
		return;
	}
	l->cells[2 * l->n + 1] = val;
	if (strlen(key) > l->width)
		l->width = strlen(key);
	l->n++;
}

void uvctl_kv_print(struct uvctl_kv *l, FILE *out, const char *indent)
{
	for (size_t i = 0; i < l->n; i++) {
		const char *k = l->cells[2 * i];

		fprintf(out, "%s%s:%*s %s\n", indent, k, (int)(l->width - strlen(k)), "",
			l->cells[2 * i + 1]);
	}
	for (size_t i = 0; i < 2 * l->n; i++)
		free(l->cells[i]);
	free(l->cells);
	memset(l, 0, sizeof(*l));
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

void uvctl_format_size(char *buf, size_t len, long long mib)
{
	if (mib < 1024)
		snprintf(buf, len, "%lld MiB", mib);
	else if (!(mib % 1024))
		snprintf(buf, len, "%lld GiB", mib / 1024);
	else
		snprintf(buf, len, "%.1f GiB", mib / 1024.0);
}

void uvctl_format_cpus(char *buf, size_t len, json_object *cpus)
{
	size_t n = json_object_is_type(cpus, json_type_array) ? json_object_array_length(cpus) : 0;
	char ranges[256] = "";
	size_t at = 0;
	int first = -1, last = -1;

	/* Ranges as lscpu prints them, "0-3,8"; a sentinel ends the last one. */
	for (size_t i = 0; i <= n && at < sizeof(ranges); i++) {
		int c = i < n ? json_object_get_int(json_object_array_get_idx(cpus, i)) : -2;

		if (first >= 0 && c == last + 1) {
			last = c;
			continue;
		}
		if (first >= 0 && first == last)
			at += (size_t)snprintf(ranges + at, sizeof(ranges) - at, "%s%d",
					       at ? "," : "", first);
		else if (first >= 0)
			at += (size_t)snprintf(ranges + at, sizeof(ranges) - at, "%s%d-%d",
					       at ? "," : "", first, last);
		first = last = c;
	}
	if (n)
		snprintf(buf, len, "%zu (%s)", n, ranges);
	else
		snprintf(buf, len, "none");
}
