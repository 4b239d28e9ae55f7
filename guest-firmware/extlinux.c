// SPDX-License-Identifier: GPL-2.0
/*
 * extlinux.conf / syslinux.cfg: DEFAULT, LABEL, KERNEL/LINUX, INITRD, APPEND,
 * MENU LABEL, MENU DEFAULT. A first pass finds the default label's name, a
 * second fills the entry of that label (or of the first bootable one).
 */
#include "cfgtext.h"

static bool starts_ci(const char *s, size_t n, const char *w, size_t *rest)
{
	size_t k = strlen(w);

	if (n < k)
		return false;
	for (size_t i = 0; i < k; i++)
		if (fw_tolower((unsigned char)s[i]) != w[i])
			return false;
	if (n > k && !fw_isspace(s[k]))
		return false;
	*rest = k;
	while (*rest < n && fw_isspace(s[*rest]))
		(*rest)++;
	return true;
}

static int find_default(const char *text, size_t len, char *def, size_t cap)
{
	const char *p = text, *end = text + len;
	const char *label = NULL;
	size_t label_len = 0, r;
	struct cfg_line l;

	def[0] = 0;
	while (fw_cfg_next_line(&p, end, &l)) {
		if (fw_cfg_key_is(&l, "label")) {
			label = l.val;
			label_len = l.vlen;
		} else if (fw_cfg_key_is(&l, "default")) {
			if (fw_strlcpy_n(def, cap, l.val, fw_cfg_first_token(l.val, l.vlen)))
				def[0] = 0;
		} else if (fw_cfg_key_is(&l, "menu") && label &&
			   starts_ci(l.val, l.vlen, "default", &r)) {
			if (fw_strlcpy_n(def, cap, label, label_len))
				def[0] = 0;
		}
	}
	return 0;
}

/* syslinux also takes "initrd=a,b" inside APPEND. */
static int initrd_from_append(struct fw_boot_entry *e, const char *dir)
{
	const char *c = e->cmdline;

	for (size_t i = 0; c[i]; i++) {
		size_t s, k;

		if ((i && !fw_isspace(c[i - 1])) || strncmp(c + i, "initrd=", 7))
			continue;
		s = i + 7;
		for (k = s; c[k] && !fw_isspace(c[k]); k++)
			;
		return fw_cfg_add_initrds(e, dir, c + s, k - s, ',', true);
	}
	return 0;
}

static int finish(struct fw_boot_entry *e, const char *dir, const char *gappend)
{
	if (!e->cmdline[0] && gappend[0])
		memcpy(e->cmdline, gappend, strlen(gappend) + 1);
	if (!strcmp(e->cmdline, "-"))
		e->cmdline[0] = 0;
	if (!e->title[0])
		memcpy(e->title, e->id, strlen(e->id) + 1);
	if (!e->n_initrd)
		return initrd_from_append(e, dir);
	return 0;
}

static int label_line(struct fw_boot_entry *e, const struct cfg_line *l, const char *dir)
{
	size_t r;

	if (fw_cfg_key_is(l, "kernel") || fw_cfg_key_is(l, "linux")) {
		size_t n = fw_cfg_first_token(l->val, l->vlen);

		/* Relative paths are relative to the configuration's directory. */
		if (n && l->val[0] == '/')
			return fw_cfg_join(e->kernel, FW_PATH_MAX, "", l->val, n);
		return fw_cfg_join(e->kernel, FW_PATH_MAX, dir, l->val, n);
	}
	if (fw_cfg_key_is(l, "initrd"))
		return fw_cfg_add_initrds(e, dir, l->val, l->vlen, ',', true);
	if (fw_cfg_key_is(l, "append")) {
		e->cmdline[0] = 0;
		return fw_cfg_append(e->cmdline, FW_CMDLINE_MAX, l->val, l->vlen);
	}
	if (fw_cfg_key_is(l, "menu") && starts_ci(l->val, l->vlen, "label", &r))
		fw_strlcpy_n(e->title, FW_TITLE_MAX, l->val + r, l->vlen - r);
	return 0;
}

/* Fills e with label target (NULL: the first label with a kernel). */
static int pick_label(const char *text, size_t len, const char *dir, const char *target,
		      struct fw_boot_entry *e)
{
	const char *p = text, *end = text + len;
	char gappend[FW_CMDLINE_MAX] = "";
	bool in_label = false, bad = false;
	struct cfg_line l;
	int ret;

	for (;;) {
		bool more = fw_cfg_next_line(&p, end, &l);

		if (!more || fw_cfg_key_is(&l, "label")) {
			if (in_label && !bad && e->kernel[0] && (!target || !strcmp(e->id, target)))
				return finish(e, dir, gappend);
			if (!more)
				return FW_E_NOENTRY;
			memset(e, 0, sizeof(*e));
			e->source = FW_BOOT_EXTLINUX;
			in_label = true;
			bad = fw_strlcpy_n(e->id, FW_ID_MAX, l.val, l.vlen) != 0;
			continue;
		}
		if (!in_label) {
			if (fw_cfg_key_is(&l, "append") &&
			    fw_strlcpy_n(gappend, sizeof(gappend), l.val, l.vlen))
				gappend[0] = 0;
			continue;
		}
		ret = label_line(e, &l, dir);
		/* A label with an oversized value is skipped, not half-used. */
		if (ret)
			bad = true;
	}
}

int fw_extlinux_parse(const char *text, size_t len, const char *dir, struct fw_boot_entry *e)
{
	char def[FW_ID_MAX];
	int ret;

	find_default(text, len, def, sizeof(def));
	if (def[0]) {
		ret = pick_label(text, len, dir, def, e);
		if (ret != FW_E_NOENTRY)
			return ret;
	}
	return pick_label(text, len, dir, NULL, e);
}
