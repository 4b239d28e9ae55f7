// SPDX-License-Identifier: GPL-2.0
/* AML byte-code writer; encodings from the ACPI spec, chapters 6.4 and 20. */
#include <errno.h>
#include <string.h>

#include "aml.h"

#define AML_ZERO_OP	0x00
#define AML_ONE_OP	0x01
#define AML_NAME_OP	0x08
#define AML_BYTE_PFX	0x0a
#define AML_WORD_PFX	0x0b
#define AML_DWORD_PFX	0x0c
#define AML_STRING_PFX	0x0d
#define AML_QWORD_PFX	0x0e
#define AML_SCOPE_OP	0x10
#define AML_BUFFER_OP	0x11
#define AML_PACKAGE_OP	0x12
#define AML_DUAL_PFX	0x2e
#define AML_MULTI_PFX	0x2f
#define AML_EXT_OP	0x5b
#define AML_DEVICE_OP	0x82 /* after AML_EXT_OP */
#define AML_ROOT_CHAR	'\\'
#define AML_PARENT_CHAR '^'

/* Resource descriptor tags. */
#define RES_IRQ_NOFLAGS 0x22 /* small, 2 bytes of data */
#define RES_IO		0x47 /* small, 7 bytes */
#define RES_END		0x79 /* small, 1 byte */
#define RES_DWORD_ADDR	0x87
#define RES_WORD_ADDR	0x88
#define RES_QWORD_ADDR	0x8a

#define RES_TYPE_MEM 0
#define RES_TYPE_IO  1
#define RES_TYPE_BUS 2

/* General flags: producer, positive decode, min and max fixed. */
#define RES_GEN_FIXED_WINDOW 0x0c
#define RES_IO_ENTIRE_RANGE  0x03
#define RES_MEM_RW	     0x01
#define RES_MEM_CACHEABLE    0x02

#define PKGLEN_RESERVE 4

void aml_init(struct aml *a, void *buf, size_t cap)
{
	a->buf = buf;
	a->len = 0;
	a->cap = cap;
	a->err = 0;
}

void aml_raw(struct aml *a, const void *p, size_t n)
{
	if (a->err)
		return;
	if (n > a->cap - a->len) {
		a->err = -ENOSPC;
		return;
	}
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

void aml_u8(struct aml *a, uint8_t v)
{
	aml_raw(a, &v, 1);
}

/* Multi-byte values are little-endian in AML and in resource descriptors. */
static void aml_le(struct aml *a, uint64_t v, unsigned bytes)
{
	uint8_t b[8];

	for (unsigned i = 0; i < bytes; i++)
		b[i] = v >> (8 * i);
	aml_raw(a, b, bytes);
}

void aml_u16(struct aml *a, uint16_t v)
{
	aml_le(a, v, 2);
}

void aml_u32(struct aml *a, uint32_t v)
{
	aml_le(a, v, 4);
}

void aml_u64(struct aml *a, uint64_t v)
{
	aml_le(a, v, 8);
}

void aml_integer(struct aml *a, uint64_t v)
{
	if (v == 0) {
		aml_u8(a, AML_ZERO_OP);
	} else if (v == 1) {
		aml_u8(a, AML_ONE_OP);
	} else if (v <= UINT8_MAX) {
		aml_u8(a, AML_BYTE_PFX);
		aml_u8(a, v);
	} else if (v <= UINT16_MAX) {
		aml_u8(a, AML_WORD_PFX);
		aml_u16(a, v);
	} else if (v <= UINT32_MAX) {
		aml_u8(a, AML_DWORD_PFX);
		aml_u32(a, v);
	} else {
		aml_u8(a, AML_QWORD_PFX);
		aml_u64(a, v);
	}
}

void aml_dword(struct aml *a, uint32_t v)
{
	aml_u8(a, AML_DWORD_PFX);
	aml_u32(a, v);
}

void aml_string(struct aml *a, const char *s)
{
	aml_u8(a, AML_STRING_PFX);
	aml_raw(a, s, strlen(s) + 1);
}

static int eisa_letter(char c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 1 : -1;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

void aml_eisaid(struct aml *a, const char *id)
{
	uint8_t b[4];
	int l[3], h[4];

	if (strlen(id) != 7)
		goto bad;
	for (int i = 0; i < 3; i++)
		if ((l[i] = eisa_letter(id[i])) < 0)
			goto bad;
	for (int i = 0; i < 4; i++)
		if ((h[i] = hex_digit(id[3 + i])) < 0)
			goto bad;
	/* Three 5-bit letters, then four nibbles, in byte (not integer) order. */
	b[0] = l[0] << 2 | l[1] >> 3;
	b[1] = (l[1] & 7) << 5 | l[2];
	b[2] = h[0] << 4 | h[1];
	b[3] = h[2] << 4 | h[3];
	aml_u8(a, AML_DWORD_PFX);
	aml_raw(a, b, 4);
	return;
bad:
	if (!a->err)
		a->err = -EINVAL;
}

static int name_char_ok(char c, int first)
{
	if ((c >= 'A' && c <= 'Z') || c == '_')
		return 1;
	return !first && c >= '0' && c <= '9';
}

/* One segment of up to 4 chars, padded with '_'; returns chars consumed. */
static size_t name_seg(struct aml *a, const char *s)
{
	char seg[4] = {'_', '_', '_', '_'};
	size_t n = strcspn(s, ".");

	if (n == 0 || n > 4)
		goto bad;
	for (size_t i = 0; i < n; i++) {
		if (!name_char_ok(s[i], i == 0))
			goto bad;
		seg[i] = s[i];
	}
	aml_raw(a, seg, 4);
	return n;
bad:
	if (!a->err)
		a->err = -EINVAL;
	return n;
}

void aml_namestring(struct aml *a, const char *path)
{
	unsigned segs = 0;
	const char *p;

	if (*path == AML_ROOT_CHAR)
		aml_u8(a, *path++);
	else
		while (*path == AML_PARENT_CHAR)
			aml_u8(a, *path++);
	if (*path == '\0') {
		aml_u8(a, 0); /* NullName */
		return;
	}
	for (p = path, segs = 1; *p; p++)
		segs += *p == '.';
	if (segs == 2) {
		aml_u8(a, AML_DUAL_PFX);
	} else if (segs > 2) {
		aml_u8(a, AML_MULTI_PFX);
		aml_u8(a, segs);
	}
	for (p = path;; p++) {
		p += name_seg(a, p);
		if (*p != '.')
			break;
	}
}

void aml_name(struct aml *a, const char *path)
{
	aml_u8(a, AML_NAME_OP);
	aml_namestring(a, path);
}

static size_t pkg_open(struct aml *a)
{
	size_t mark = a->len;

	aml_u32(a, 0);
	return mark;
}

/* Largest PkgLength, counting itself, that n bytes of encoding can hold. */
static size_t pkglen_max(unsigned n)
{
	return n == 1 ? 0x3f : ((size_t)1 << (4 + 8 * (n - 1))) - 1;
}

void aml_end(struct aml *a, size_t mark)
{
	uint8_t *p = a->buf + mark;
	size_t body, total;
	unsigned n;

	if (a->err)
		return;
	if (mark > a->len || a->len - mark < PKGLEN_RESERVE) {
		a->err = -EINVAL;
		return;
	}
	body = a->len - mark - PKGLEN_RESERVE;
	for (n = 1; n <= PKGLEN_RESERVE; n++)
		if (body + n <= pkglen_max(n))
			break;
	if (n > PKGLEN_RESERVE) {
		a->err = -E2BIG;
		return;
	}
	total = body + n;
	if (n == 1) {
		p[0] = total;
	} else {
		/* Low nibble in the lead byte, then whole bytes. */
		p[0] = (n - 1) << 6 | (total & 0xf);
		for (unsigned i = 1; i < n; i++)
			p[i] = total >> (4 + 8 * (i - 1));
	}
	memmove(p + n, p + PKGLEN_RESERVE, body);
	a->len -= PKGLEN_RESERVE - n;
}

size_t aml_scope_begin(struct aml *a, const char *path)
{
	size_t mark;

	aml_u8(a, AML_SCOPE_OP);
	mark = pkg_open(a);
	aml_namestring(a, path);
	return mark;
}

size_t aml_device_begin(struct aml *a, const char *path)
{
	size_t mark;

	aml_u8(a, AML_EXT_OP);
	aml_u8(a, AML_DEVICE_OP);
	mark = pkg_open(a);
	aml_namestring(a, path);
	return mark;
}

size_t aml_package_begin(struct aml *a, uint8_t nr_elements)
{
	size_t mark;

	aml_u8(a, AML_PACKAGE_OP);
	mark = pkg_open(a);
	aml_u8(a, nr_elements);
	return mark;
}

/*
 * The BufferSize comes before the data, so it is written as a WordConst
 * placeholder and patched at the end; a fixed width keeps it in place.
 */
#define RESTEMPLATE_HDR (PKGLEN_RESERVE + 3)

size_t aml_restemplate_begin(struct aml *a)
{
	size_t mark;

	aml_u8(a, AML_BUFFER_OP);
	mark = pkg_open(a);
	aml_u8(a, AML_WORD_PFX);
	aml_u16(a, 0);
	return mark;
}

void aml_restemplate_end(struct aml *a, size_t mark)
{
	size_t start = mark + RESTEMPLATE_HDR;
	uint8_t sum = RES_END;
	size_t size;

	if (!a->err && (mark > a->len || a->len - mark < RESTEMPLATE_HDR))
		a->err = -EINVAL;
	if (a->err)
		return;
	/* The end tag's checksum makes the whole template sum to zero. */
	for (size_t i = start; i < a->len; i++)
		sum += a->buf[i];
	aml_u8(a, RES_END);
	aml_u8(a, -sum);
	if (a->err)
		return;
	size = a->len - start;
	if (size > UINT16_MAX) {
		a->err = -E2BIG;
		return;
	}
	a->buf[start - 2] = size;
	a->buf[start - 1] = size >> 8;
	aml_end(a, mark);
}

void aml_res_io(struct aml *a, uint16_t min, uint16_t max, uint8_t align, uint8_t len)
{
	aml_u8(a, RES_IO);
	aml_u8(a, 1); /* 16-bit decode */
	aml_u16(a, min);
	aml_u16(a, max);
	aml_u8(a, align);
	aml_u8(a, len);
}

void aml_res_irq_noflags(struct aml *a, uint16_t irq_mask)
{
	aml_u8(a, RES_IRQ_NOFLAGS);
	aml_u16(a, irq_mask);
}

/*
 * Address space descriptors share one layout with fields of 2, 4 or 8
 * bytes: granularity, min, max, translation offset, length.
 */
static void res_addr(struct aml *a, uint8_t tag, unsigned width, uint8_t type, uint8_t type_flags,
		     uint64_t min, uint64_t max)
{
	aml_u8(a, tag);
	aml_u16(a, 3 + 5 * width);
	aml_u8(a, type);
	aml_u8(a, RES_GEN_FIXED_WINDOW);
	aml_u8(a, type_flags);
	aml_le(a, 0, width); /* granularity: 0 for a fixed window */
	aml_le(a, min, width);
	aml_le(a, max, width);
	aml_le(a, 0, width); /* no translation */
	aml_le(a, max - min + 1, width);
}

void aml_res_word_bus(struct aml *a, uint16_t min, uint16_t max)
{
	res_addr(a, RES_WORD_ADDR, 2, RES_TYPE_BUS, 0, min, max);
}

void aml_res_word_io(struct aml *a, uint16_t min, uint16_t max)
{
	res_addr(a, RES_WORD_ADDR, 2, RES_TYPE_IO, RES_IO_ENTIRE_RANGE, min, max);
}

static uint8_t mem_flags(bool cacheable)
{
	return RES_MEM_RW | (cacheable ? RES_MEM_CACHEABLE : 0);
}

void aml_res_dword_mem(struct aml *a, uint32_t min, uint32_t max, bool cacheable)
{
	res_addr(a, RES_DWORD_ADDR, 4, RES_TYPE_MEM, mem_flags(cacheable), min, max);
}

void aml_res_qword_mem(struct aml *a, uint64_t min, uint64_t max, bool cacheable)
{
	res_addr(a, RES_QWORD_ADDR, 8, RES_TYPE_MEM, mem_flags(cacheable), min, max);
}
