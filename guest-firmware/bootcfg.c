// SPDX-License-Identifier: GPL-2.0
/*
 * BLS type #1 entries and extlinux.conf, as text. Input is hostile: it is
 * read through (pointer, length) pairs that never leave [text, text + len),
 * every value is copied with its length checked, and nothing recurses.
 */
#include "bootcfg.h"
#include "cfgtext.h"

/* The next non-empty, non-comment line split into a keyword and the rest. */
bool fw_cfg_next_line(const char **pos, const char *end, struct cfg_line *l)
{
	while (*pos < end) {
		const char *s = *pos, *e = s;

		while (e < end && *e != '\n')
			e++;
		*pos = e < end ? e + 1 : end;
		while (s < e && fw_isspace(*s))
			s++;
		while (e > s && fw_isspace(e[-1]))
			e--;
		if (s == e || *s == '#')
			continue;
		l->key = s;
		while (s < e && !fw_isspace(*s))
			s++;
		l->klen = (size_t)(s - l->key);
		while (s < e && fw_isspace(*s))
			s++;
		l->val = s;
		l->vlen = (size_t)(e - s);
		return true;
	}
	return false;
}

bool fw_cfg_key_is(const struct cfg_line *l, const char *kw)
{
	size_t n = strlen(kw);

	if (l->klen != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (fw_tolower((unsigned char)l->key[i]) != kw[i])
			return false;
	return true;
}

/* out = base + "/" + path (absolute paths keep only base in front). */
int fw_cfg_join(char *out, size_t cap, const char *base, const char *path, size_t plen)
{
	size_t blen = strlen(base), n = 0;

	while (plen && *path == '/') {
		path++;
		plen--;
	}
	if (!plen)
		return FW_E_NOENTRY;
	if (blen + 1 + plen >= cap)
		return FW_E_NAMETOOLONG;
	memcpy(out, base, blen);
	n = blen;
	if (!n || out[n - 1] != '/')
		out[n++] = '/';
	memcpy(out + n, path, plen);
	out[n + plen] = 0;
	return 0;
}

/* Splits val on sep (or whitespace when sep is 0) into initrd paths. */
int fw_cfg_add_initrds(struct fw_boot_entry *e, const char *base, const char *val, size_t vlen,
		       char sep, bool abs_from_root)
{
	size_t i = 0;
	int ret;

	while (i < vlen) {
		size_t s;

		while (i < vlen && (sep ? val[i] == sep || fw_isspace(val[i]) : fw_isspace(val[i])))
			i++;
		s = i;
		while (i < vlen && (sep ? val[i] != sep : !fw_isspace(val[i])))
			i++;
		if (i == s)
			break;
		if (e->n_initrd == FW_MAX_INITRD)
			return FW_E_NAMETOOLONG;
		ret = fw_cfg_join(e->initrd[e->n_initrd], FW_PATH_MAX,
				  abs_from_root && val[s] == '/' ? "" : base, val + s, i - s);
		if (ret)
			return ret;
		e->n_initrd++;
	}
	return 0;
}

int fw_cfg_append(char *dst, size_t cap, const char *val, size_t vlen)
{
	size_t n = strlen(dst);

	if (n && vlen) {
		if (n + 1 >= cap)
			return FW_E_NAMETOOLONG;
		dst[n++] = ' ';
	}
	if (n + vlen >= cap)
		return FW_E_NAMETOOLONG;
	memcpy(dst + n, val, vlen);
	dst[n + vlen] = 0;
	return 0;
}

size_t fw_cfg_first_token(const char *v, size_t n)
{
	size_t i = 0;

	while (i < n && !fw_isspace(v[i]))
		i++;
	return i;
}

int fw_bls_parse(const char *text, size_t len, const char *id, const char *base,
		 struct fw_boot_entry *e)
{
	const char *p = text, *end = text + len;
	struct cfg_line l;
	bool foreign = false;
	int ret = 0;

	memset(e, 0, sizeof(*e));
	e->source = FW_BOOT_BLS;
	if (fw_strlcpy_n(e->id, sizeof(e->id), id, strlen(id)))
		return FW_E_NAMETOOLONG;
	while (!ret && fw_cfg_next_line(&p, end, &l)) {
		if (fw_cfg_key_is(&l, "title"))
			fw_strlcpy_n(e->title, sizeof(e->title), l.val, l.vlen);
		else if (fw_cfg_key_is(&l, "version"))
			fw_strlcpy_n(e->version, sizeof(e->version), l.val, l.vlen);
		else if (fw_cfg_key_is(&l, "sort-key"))
			fw_strlcpy_n(e->sort_key, sizeof(e->sort_key), l.val, l.vlen);
		else if (fw_cfg_key_is(&l, "linux"))
			ret = fw_cfg_join(e->kernel, sizeof(e->kernel), base, l.val,
					  fw_cfg_first_token(l.val, l.vlen));
		else if (fw_cfg_key_is(&l, "initrd"))
			ret = fw_cfg_add_initrds(e, base, l.val, l.vlen, 0, false);
		else if (fw_cfg_key_is(&l, "options"))
			ret = fw_cfg_append(e->cmdline, sizeof(e->cmdline), l.val, l.vlen);
		else if (fw_cfg_key_is(&l, "architecture"))
			foreign = !(l.vlen == 3 && !memcmp(l.val, "x64", 3));
	}
	if (ret)
		return ret;
	if (!e->kernel[0] || foreign)
		return FW_E_NOENTRY;
	return 0;
}

static bool vchar(char c)
{
	return fw_isdigit(c) || fw_isalpha(c) || c == '~' || c == '-' || c == '^' || c == '.';
}

static int sign(int v)
{
	return (v > 0) - (v < 0);
}

int fw_vercmp(const char *a, const char *b)
{
	static const char seps[] = "-^.";

	for (;;) {
		size_t la, lb;
		int r;

		while (*a && !vchar(*a))
			a++;
		while (*b && !vchar(*b))
			b++;
		/* '~' sorts before everything, even the end of the string. */
		if (*a == '~' || *b == '~') {
			if (*a != *b)
				return *a == '~' ? -1 : 1;
			a++, b++;
			continue;
		}
		if (!*a || !*b)
			return *a ? 1 : *b ? -1 : 0;
		/* Then '-' < '^' < '.' < anything alphanumeric. */
		for (const char *s = seps; *s; s++) {
			if (*a == *s || *b == *s) {
				if (*a != *b)
					return *a == *s ? -1 : 1;
				break;
			}
		}
		if (*a == '-' || *a == '^' || *a == '.') {
			a++, b++;
			continue;
		}
		if (fw_isdigit(*a) || fw_isdigit(*b)) {
			if (!fw_isdigit(*a) || !fw_isdigit(*b))
				return fw_isdigit(*a) ? 1 : -1;
			while (*a == '0')
				a++;
			while (*b == '0')
				b++;
			for (la = 0; fw_isdigit(a[la]); la++)
				;
			for (lb = 0; fw_isdigit(b[lb]); lb++)
				;
			if (la != lb)
				return la < lb ? -1 : 1;
		} else {
			for (la = 0; fw_isalpha(a[la]); la++)
				;
			for (lb = 0; fw_isalpha(b[lb]); lb++)
				;
		}
		r = memcmp(a, b, la < lb ? la : lb);
		if (r)
			return sign(r);
		if (la != lb)
			return la < lb ? -1 : 1;
		a += la;
		b += lb;
	}
}

int fw_bls_order(const struct fw_boot_entry *a, const struct fw_boot_entry *b)
{
	int r;

	/* Entries with a sort-key come first, lower keys first: they win. */
	if (a->sort_key[0] != b->sort_key[0] && (!a->sort_key[0] || !b->sort_key[0]))
		return a->sort_key[0] ? 1 : -1;
	if (a->sort_key[0] && (r = strcmp(a->sort_key, b->sort_key)))
		return -sign(r);
	if (a->version[0] && b->version[0] && (r = fw_vercmp(a->version, b->version)))
		return r;
	return fw_vercmp(a->id, b->id);
}

/* One pattern element at *pp against c; advances *pp past it. */
static bool glob_one(const char **pp, char c)
{
	const char *p = *pp, *q;
	bool neg, hit = false;

	if (*p == '?') {
		*pp = p + 1;
		return true;
	}
	if (*p == '[') {
		q = p + 1;
		neg = *q == '!' || *q == '^';
		q += neg;
		for (const char *r = q; *r; r++) {
			if (*r == ']' && r > q) {
				for (const char *k = q; k < r; k++) {
					if (k + 2 < r && k[1] == '-') {
						hit |= c >= k[0] && c <= k[2];
						k += 2;
					} else {
						hit |= c == *k;
					}
				}
				*pp = r + 1;
				return hit != neg;
			}
		}
		/* No closing bracket: a literal '['. */
	}
	*pp = p + 1;
	return *p == c;
}

bool fw_glob(const char *pat, const char *s)
{
	const char *p = pat, *star = NULL, *resume = NULL;

	while (*s) {
		const char *np = p;

		if (*p == '*') {
			star = ++p;
			resume = s;
			continue;
		}
		if (*p && glob_one(&np, *s)) {
			p = np;
			s++;
			continue;
		}
		if (!star)
			return false;
		p = star;
		s = ++resume;
	}
	while (*p == '*')
		p++;
	return !*p;
}

int fw_loader_default(const char *text, size_t len, char *pat, size_t cap)
{
	const char *p = text, *end = text + len;
	struct cfg_line l;
	int found = 0;

	while (fw_cfg_next_line(&p, end, &l)) {
		if (fw_cfg_key_is(&l, "default") && l.vlen) {
			if (fw_strlcpy_n(pat, cap, l.val, l.vlen))
				return FW_E_NAMETOOLONG;
			found = 1;
		}
	}
	return found;
}

/* Whether the space-separated words of line include w[0..n) exactly. */
static bool cmdline_has_word(const char *line, const char *w, size_t n)
{
	for (const char *p = line; *p;) {
		const char *end = p;

		while (*end && *end != ' ')
			end++;
		if ((size_t)(end - p) == n && !memcmp(p, w, n))
			return true;
		p = *end ? end + 1 : end;
	}
	return false;
}

int fw_cmdline_merge(char *out, size_t cap, const char *entry, const char *vmm)
{
	size_t n = strlen(entry);

	if (!cap)
		return FW_E_NAMETOOLONG;
	if (n >= cap) {
		out[0] = 0;
		return FW_E_NAMETOOLONG;
	}
	memcpy(out, entry, n + 1);
	for (const char *p = vmm; *p;) {
		const char *end = p;
		size_t wl;

		while (*end && *end != ' ')
			end++;
		wl = (size_t)(end - p);
		if (wl && (wl < 5 || memcmp(p, "uvfw.", 5)) && !cmdline_has_word(entry, p, wl)) {
			if (n + (n > 0) + wl >= cap)
				return FW_E_NAMETOOLONG;
			if (n)
				out[n++] = ' ';
			memcpy(out + n, p, wl);
			n += wl;
			out[n] = 0;
		}
		p = *end ? end + 1 : end;
	}
	return 0;
}
