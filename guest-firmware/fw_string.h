/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The few string functions the parsers use. On the host they are libc's; the
 * freestanding firmware (FW_FREESTANDING) links its own from lib/string.c.
 */
#ifndef FW_STRING_H
#define FW_STRING_H

#include <stddef.h>

#ifdef FW_FREESTANDING
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
#else
#include <string.h>
#endif

static inline int fw_tolower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static inline int fw_isdigit(int c)
{
	return c >= '0' && c <= '9';
}

static inline int fw_isalpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline int fw_isspace(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Copies at most cap-1 bytes of s[0..n) and terminates; returns -1 if cut. */
static inline int fw_strlcpy_n(char *dst, size_t cap, const char *s, size_t n)
{
	int cut = n >= cap;

	if (!cap)
		return -1;
	if (cut)
		n = cap - 1;
	memcpy(dst, s, n);
	dst[n] = 0;
	return cut ? -1 : 0;
}

#endif
