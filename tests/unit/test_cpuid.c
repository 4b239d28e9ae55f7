// SPDX-License-Identifier: GPL-2.0
#include <check.h>

#include "uvcheck.h"
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_features.h"
#include "cpuid.h"

static struct kvm_cpuid2 *table(bool amd)
{
	struct kvm_cpuid2 *c = cpuid_alloc();
	unsigned n = 0;

#define ADD(fn, idx, fl, a, b, cc, d)                                                              \
	c->entries[n++] = (struct kvm_cpuid_entry2)                                                \
	{                                                                                          \
		.function = fn, .index = idx, .flags = fl, .eax = a, .ebx = b, .ecx = cc, .edx = d \
	}
	if (amd)
		ADD(0, 0, 0, 0x10, 0x68747541, 0x444d4163, 0x69746e65);
	else
		ADD(0, 0, 0, 0x1f, 0x756e6547, 0x6c65746e, 0x49656e69);
	ADD(1, 0, 0, 0x00a00f11, 0x00100800, 0x7ffaf3ff | (1u << 5), 0x178bfbff | (1u << 22));
	ADD(4, 0, KVM_CPUID_FLAG_SIGNIFCANT_INDEX, 0x121, 0, 0, 0);
	ADD(4, 3, KVM_CPUID_FLAG_SIGNIFCANT_INDEX, 0x163, 0, 0, 0);
	ADD(6, 0, 0, 0x77, 1, 9, 0);
	ADD(0xb, 0, KVM_CPUID_FLAG_SIGNIFCANT_INDEX, 1, 2, 0x100, 0);
	ADD(0x40000000, 0, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d);
	ADD(0x40000001, 0, 0, 0x01007afb, 0, 0, 1);
	ADD(0x80000001, 0, 0, 0, 0, 0x35c233ff, 0x2fd3fbff);
	ADD(0x80000008, 0, 0, 0x3030, 0, 0x7007, 0);
	ADD(0x8000001e, 0, 0, 7, 0x107, 0x301, 0);
	if (!amd)
		ADD(0x1f, 0, KVM_CPUID_FLAG_SIGNIFCANT_INDEX, 1, 2, 0x100, 0);
#undef ADD
	c->nent = n;
	return c;
}

/* --cpu-features -xsave: XSAVE and what needs it gone, leaf 0xD removed, the rest kept. */
START_TEST(hide_xsave)
{
	struct kvm_cpuid2 *c = table(true);
	unsigned n = c->nent;
	uint32_t hide = 0;
	char err[160];

	c->entries[c->nent++] = (struct kvm_cpuid_entry2){
		.function = 7, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .ebx = 0xffffffff};
	c->entries[c->nent++] = (struct kvm_cpuid_entry2){.function = 0xd,
							  .index = 0,
							  .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
							  .eax = 0x207};
	c->entries[c->nent++] = (struct kvm_cpuid_entry2){
		.function = 0xd, .index = 1, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = 1};
	ck_assert_int_eq(cpu_features_parse("-xsave", &hide, err, sizeof(err)), 0);
	ck_assert_uint_eq(hide, CPU_FEAT_XSAVE);
	cpu_features_hide(c, hide);
	ck_assert_uint_eq(c->nent, n + 1);
	ck_assert_ptr_null(cpuid_find(c, 0xd, 0));
	ck_assert_uint_eq(cpuid_find(c, 1, 0)->ecx & (1u << 26 | 1u << 27 | 1u << 28), 0);
	ck_assert_uint_eq(cpuid_find(c, 1, 0)->ecx & 1u, 1u); /* SSE3 stays */
	ck_assert_uint_eq(cpuid_find(c, 7, 0)->ebx & (1u << 5 | 1u << 16), 0);
	ck_assert_uint_eq(cpuid_find(c, 7, 0)->ebx & 1u, 1u); /* FSGSBASE stays */
	ck_assert_int_eq(cpu_features_parse("-avx", &hide, err, sizeof(err)), -1);
	ck_assert(strstr(err, "-avx") != NULL);
	ck_assert_int_eq(cpu_features_parse("-xsave,xsave", &hide, err, sizeof(err)), -1);
	free(c);
}
END_TEST

START_TEST(topology_amd)
{
	struct kvm_cpuid2 *c = table(true);
	struct kvm_cpuid_entry2 *e;

	ck_assert_int_eq(cpuid_filter(c, 3, 4), 0);
	e = cpuid_find(c, 1, 0);
	ck_assert_uint_eq(e->ebx >> 24, 3);
	ck_assert_uint_eq((e->ebx >> 16) & 0xff, 4);
	ck_assert(e->ecx & (1u << 31));
	ck_assert(!(e->ecx & (1u << 5)));
	ck_assert(!(e->edx & (1u << 22)));
	ck_assert(e->edx & (1u << 28));

	e = cpuid_find(c, 0xb, 0);
	ck_assert_uint_eq(e->edx, 3);
	ck_assert_uint_eq(e->ebx, 1);
	ck_assert_uint_eq((e->ecx >> 8) & 0xff, 1);
	e = cpuid_find(c, 0xb, 1);
	ck_assert_ptr_nonnull(e);
	ck_assert_uint_eq(e->ebx, 4);
	ck_assert_uint_eq(e->eax, 2);
	ck_assert_uint_eq((e->ecx >> 8) & 0xff, 2);
	e = cpuid_find(c, 0xb, 2);
	ck_assert_uint_eq((e->ecx >> 8) & 0xff, 0);

	ck_assert(!(cpuid_find(c, 0x80000001, 0)->ecx & (1u << 2)));
	ck_assert_uint_eq(cpuid_find(c, 0x80000008, 0)->ecx & 0xff, 3);
	ck_assert_uint_eq(cpuid_find(c, 0x8000001e, 0)->eax, 3);
	ck_assert_uint_eq(cpuid_find(c, 6, 0)->eax, 0x4);
	ck_assert_uint_eq(cpuid_find(c, 0x40000000, 0)->ebx, 0x4b4d564b);
	ck_assert_uint_eq(cpuid_find(c, 0x40000001, 0)->eax, 0x01007afb);
	ck_assert_uint_eq(cpuid_find(c, 0x40000001, 0)->edx, 0);
	free(c);
}
END_TEST

START_TEST(topology_intel)
{
	struct kvm_cpuid2 *c = table(false);
	struct kvm_cpuid_entry2 *e;

	ck_assert_int_eq(cpuid_filter(c, 0, 1), 0);
	e = cpuid_find(c, 1, 0);
	ck_assert_uint_eq(e->ebx >> 24, 0);
	ck_assert(!(e->edx & (1u << 28)));
	/* L1 per core, L3 per socket; one core in the package. */
	ck_assert_uint_eq((cpuid_find(c, 4, 0)->eax >> 14) & 0xfff, 0);
	ck_assert_uint_eq(cpuid_find(c, 4, 0)->eax >> 26, 0);
	ck_assert_ptr_nonnull(cpuid_find(c, 0x1f, 1));
	ck_assert_uint_eq(cpuid_find(c, 0x1f, 1)->ebx, 1);
	/* Intel: AMD's core count field stays as it was. */
	ck_assert_uint_eq(cpuid_find(c, 0x80000008, 0)->ecx, 0x7007);
	free(c);

	c = table(false);
	ck_assert_int_eq(cpuid_filter(c, 5, 8), 0);
	ck_assert_uint_eq((cpuid_find(c, 4, 3)->eax >> 14) & 0xfff, 7);
	ck_assert_uint_eq(cpuid_find(c, 4, 3)->eax >> 26, 7);
	ck_assert_uint_eq(cpuid_find(c, 0x1f, 0)->edx, 5);
	free(c);
}
END_TEST

START_TEST(filter_is_idempotent_per_copy)
{
	struct kvm_cpuid2 *c = table(true);
	unsigned nent;

	ck_assert_int_eq(cpuid_filter(c, 1, 2), 0);
	nent = c->nent;
	ck_assert_int_eq(cpuid_filter(c, 1, 2), 0);
	ck_assert_uint_eq(c->nent, nent);
	free(c);
}
END_TEST

int main(void)
{
	return uv_check_run(uv_suite(
		"cpuid", NULL, NULL, 0,
		UV_TESTS(hide_xsave, topology_amd, topology_intel, filter_is_idempotent_per_copy)));
}
