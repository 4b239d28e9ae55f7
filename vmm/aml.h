/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UVMM_AML_H
#define UVMM_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A small AML byte-code writer for the DSDT. Calls append to a bounded
 * buffer; the first failure (-ENOSPC, or -EINVAL for a bad name) is kept in
 * err and turns every later call into a no-op, so a whole table can be
 * written and checked once at the end.
 *
 * Objects with a PkgLength (scopes, devices, packages, buffers)
 * are written with a *_begin() call that returns a mark, their contents,
 * and aml_end(mark). The PkgLength takes its final 1-4 byte form at
 * aml_end(); until then 4 bytes are held for it.
 */
struct aml {
	uint8_t *buf;
	size_t len;
	size_t cap;
	int err;
};

void aml_init(struct aml *a, void *buf, size_t cap);

/* Raw bytes, with no AML prefix. */
void aml_raw(struct aml *a, const void *p, size_t n);
void aml_u8(struct aml *a, uint8_t v);
void aml_u16(struct aml *a, uint16_t v);
void aml_u32(struct aml *a, uint32_t v);
void aml_u64(struct aml *a, uint64_t v);

/* Data objects. aml_integer() picks the shortest of Zero, One, Byte..QWord. */
void aml_integer(struct aml *a, uint64_t v);
void aml_dword(struct aml *a, uint32_t v);
void aml_string(struct aml *a, const char *s);
/* EisaId("PNP0A03"): the compressed 32-bit form, always a DWordConst. */
void aml_eisaid(struct aml *a, const char *id);
/* A NameString: "\\", "^" prefixes and dot-separated segments of 1-4 chars. */
void aml_namestring(struct aml *a, const char *path);
/* Name(path, ...): the value object must follow. */
void aml_name(struct aml *a, const char *path);

/* Named and counted containers; close each with aml_end(). */
size_t aml_scope_begin(struct aml *a, const char *path);
size_t aml_device_begin(struct aml *a, const char *path);
size_t aml_package_begin(struct aml *a, uint8_t nr_elements);
void aml_end(struct aml *a, size_t mark);

/* A Buffer holding a resource template; aml_restemplate_end() adds the end tag. */
size_t aml_restemplate_begin(struct aml *a);
void aml_restemplate_end(struct aml *a, size_t mark);

/* Resource descriptors, for use inside a resource template. */
void aml_res_io(struct aml *a, uint16_t min, uint16_t max, uint8_t align, uint8_t len);
void aml_res_irq_noflags(struct aml *a, uint16_t irq_mask);
/*
 * Bridge windows: producer, fixed min and max, positive decode, length
 * max - min + 1. Memory is read-write, and cacheable or not; never
 * "prefetchable", which Linux would hold against non-prefetchable BARs.
 */
void aml_res_word_bus(struct aml *a, uint16_t min, uint16_t max);
void aml_res_word_io(struct aml *a, uint16_t min, uint16_t max);
void aml_res_dword_mem(struct aml *a, uint32_t min, uint32_t max, bool cacheable);
void aml_res_qword_mem(struct aml *a, uint64_t min, uint64_t max, bool cacheable);

#endif
