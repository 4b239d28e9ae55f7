/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UVMM_CPU_FEATURES_H
#define UVMM_CPU_FEATURES_H

#include <linux/kvm.h>
#include <stdint.h>

/*
 * CPU features the user can take away from the guest (--cpu-features
 * -NAME,...), each with the features that depend on it.
 */
enum cpu_feature {
	CPU_FEAT_XSAVE = 1u << 0, /* XSAVE, and all it carries: AVX*, FMA, F16C, PKU, leaf 0xD */
};

/* Parses "-xsave[,-...]" into *hide; 0, or -1 with the offending word in err. */
int cpu_features_parse(const char *s, uint32_t *hide, char *err, size_t errlen);
/* Removes the hidden features from a KVM_GET_SUPPORTED_CPUID table. */
void cpu_features_hide(struct kvm_cpuid2 *c, uint32_t hide);

#endif
