// SPDX-License-Identifier: GPL-2.0
#include <stdio.h>
#include <string.h>

#include "cpu_features.h"
#include "cpuid.h"

#define BIT(n) (1u << (n))

/* Leaf 1 ECX: FMA, XSAVE, OSXSAVE, AVX, F16C. */
#define XSAVE_1_ECX (BIT(12) | BIT(26) | BIT(27) | BIT(28) | BIT(29))
/* Leaf 7.0 EBX: AVX2 and the AVX-512 family. */
#define XSAVE_7_EBX                                                                                \
	(BIT(5) | BIT(16) | BIT(17) | BIT(21) | BIT(26) | BIT(27) | BIT(28) | BIT(30) | BIT(31))
/* Leaf 7.0 ECX: AVX512_VBMI, PKU, OSPKE, VBMI2, VAES, VPCLMULQDQ, VNNI, BITALG, VPOPCNTDQ. */
#define XSAVE_7_ECX                                                                                \
	(BIT(1) | BIT(3) | BIT(4) | BIT(6) | BIT(9) | BIT(10) | BIT(11) | BIT(12) | BIT(14))
/* Leaf 7.0 EDX: 4VNNIW, 4FMAPS, VP2INTERSECT, AVX512_FP16. */
#define XSAVE_7_EDX (BIT(2) | BIT(3) | BIT(8) | BIT(23))
/* Leaf 7.1 EAX: AVX-VNNI, AVX512_BF16. */
#define XSAVE_71_EAX (BIT(4) | BIT(5))
/* Leaf 0x80000001 ECX: XOP, FMA4. */
#define XSAVE_E1_ECX (BIT(11) | BIT(16))

int cpu_features_parse(const char *s, uint32_t *hide, char *err, size_t errlen)
{
	char buf[128], *save = NULL;

	*hide = 0;
	if (strlen(s) >= sizeof(buf)) {
		snprintf(err, errlen, "'%.20s...' is too long", s);
		return -1;
	}
	strcpy(buf, s);
	for (char *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		if (!strcmp(w, "-xsave")) {
			*hide |= CPU_FEAT_XSAVE;
			continue;
		}
		snprintf(err, errlen, "'%s' is not a feature uvmm can hide (known: -xsave)", w);
		return -1;
	}
	return 0;
}

static void clear_bits(struct kvm_cpuid2 *c, unsigned fn, unsigned idx, int reg, uint32_t bits)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(c, fn, idx);
	uint32_t *r;

	if (!e)
		return;
	r = reg == 0 ? &e->eax : reg == 1 ? &e->ebx : reg == 2 ? &e->ecx : &e->edx;
	*r &= ~bits;
}

void cpu_features_hide(struct kvm_cpuid2 *c, uint32_t hide)
{
	unsigned j = 0;

	if (!(hide & CPU_FEAT_XSAVE))
		return;
	clear_bits(c, 1, 0, 2, XSAVE_1_ECX);
	clear_bits(c, 7, 0, 1, XSAVE_7_EBX);
	clear_bits(c, 7, 0, 2, XSAVE_7_ECX);
	clear_bits(c, 7, 0, 3, XSAVE_7_EDX);
	clear_bits(c, 7, 1, 0, XSAVE_71_EAX);
	clear_bits(c, 0x80000001, 0, 2, XSAVE_E1_ECX);
	/* Without XSAVE there are no XSAVE state components to describe. */
	for (unsigned i = 0; i < c->nent; i++)
		if (c->entries[i].function != 0xd)
			c->entries[j++] = c->entries[i];
	c->nent = j;
}
