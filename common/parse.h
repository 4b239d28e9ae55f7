/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UV_PARSE_H
#define UV_PARSE_H

#include <stdint.h>

/*
 * "512M", "2G", "1048576", "4k", "1T": binary units, optional "iB"/"B" suffix.
 * Returns 0, or -1 on a malformed or overflowing value.
 */
int parse_size(const char *s, uint64_t *out);
/* A decimal unsigned integer in [min, max]; returns 0 or -1. */
int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

#endif
