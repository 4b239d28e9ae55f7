/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UVMM_VCPU_H
#define UVMM_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "log.h"

struct vm;

struct vcpu {
	struct vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
};

/* Creates vCPU id and gives it CPUID, MSRs, FPU and LAPIC state. */
int vcpu_create(struct vm *vm, unsigned id, struct vcpu *v);
/* Puts the boot CPU at the kernel's 64-bit entry with boot_params in RSI. */
int vcpu_setup_boot(struct vcpu *v, uint64_t entry, uint64_t boot_params, uint64_t pml4);
int vcpu_start(struct vcpu *v);
/* Makes the vCPU leave KVM_RUN; safe from any thread. */
void vcpu_kick(struct vcpu *v);
void vcpu_join(struct vcpu *v);
/* Registers at debug level, for post-mortems. */
void vcpu_dump(struct vcpu *v, enum uv_log_level level);
void vcpu_destroy(struct vcpu *v);
/* Installs the no-op signal used for kicks; once per process. */
int vcpu_init_signals(void);

#endif
