/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UVMM_KVM_CHECK_H
#define UVMM_KVM_CHECK_H

/*
 * Is /dev/kvm here worth running guests on? Some hosts expose a /dev/kvm
 * that works but executes guest code orders of magnitude slower than a
 * software-emulated (TCG) machine would. kvm_check() runs a guest loop of
 * a million iterations and times it.
 */
enum kvm_check_result {
	KVM_CHECK_FAST = 0,
	KVM_CHECK_SLOW = 1,
	KVM_CHECK_UNUSABLE = 2,
};

#define KVM_CHECK_LIMIT_MS 200

enum kvm_check_result kvm_check(double *ms, char *why, unsigned whylen);

#endif
