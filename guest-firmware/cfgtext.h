/* SPDX-License-Identifier: GPL-2.0 */
/* Line and value helpers shared by the BLS and extlinux parsers. */
#ifndef FW_CFGTEXT_H
#define FW_CFGTEXT_H

#include "bootcfg.h"

struct cfg_line {
	const char *key, *val;
	size_t klen, vlen;
};

bool fw_cfg_next_line(const char **pos, const char *end, struct cfg_line *l);
/* Case-insensitive keyword match; kw is lower case. */
bool fw_cfg_key_is(const struct cfg_line *l, const char *kw);
int fw_cfg_join(char *out, size_t cap, const char *base, const char *path, size_t plen);
/* Paths separated by sep (0: blanks); absolute ones skip base if abs_from_root. */
int fw_cfg_add_initrds(struct fw_boot_entry *e, const char *base, const char *val, size_t vlen,
		       char sep, bool abs_from_root);
int fw_cfg_append(char *dst, size_t cap, const char *val, size_t vlen);
size_t fw_cfg_first_token(const char *v, size_t n);

#endif
