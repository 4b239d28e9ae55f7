// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cpuid.h"
#include "layout.h"
#include "log.h"
#include "thread.h"
#include "vcpu.h"
#include "vm.h"

#define VCPU_KICK_SIGNAL SIGUSR1

#define MSR_IA32_TSC	      0x10
#define MSR_IA32_SYSENTER_CS  0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE  0x1a0
#define MSR_MTRR_DEF_TYPE     0x2ff
#define MSR_STAR	      0xc0000081
#define MSR_LSTAR	      0xc0000082
#define MSR_CSTAR	      0xc0000083
#define MSR_SYSCALL_MASK      0xc0000084
#define MSR_KERNEL_GS_BASE    0xc0000102

#define MISC_ENABLE_FAST_STRING 0x1
#define MTRR_ENABLE_WB		((1u << 11) | 6)

#define APIC_LVT0	 0x350
#define APIC_LVT1	 0x360
#define APIC_MODE_EXTINT 0x7
#define APIC_MODE_NMI	 0x4

static void vcpu_kick_handler(int sig)
{
	(void)sig;
}

int vcpu_init_signals(void)
{
	struct sigaction sa = {.sa_handler = vcpu_kick_handler};

	/* No SA_RESTART: the signal must make KVM_RUN return EINTR. */
	sigemptyset(&sa.sa_mask);
	return sigaction(VCPU_KICK_SIGNAL, &sa, NULL) ? -errno : 0;
}

static int vcpu_set_msrs(struct vcpu *v)
{
	static const struct {
		uint32_t index;
		uint64_t data;
	} init[] = {
		{MSR_IA32_SYSENTER_CS, 0},
		{MSR_IA32_SYSENTER_ESP, 0},
		{MSR_IA32_SYSENTER_EIP, 0},
		{MSR_STAR, 0},
		{MSR_LSTAR, 0},
		{MSR_CSTAR, 0},
		{MSR_SYSCALL_MASK, 0},
		{MSR_KERNEL_GS_BASE, 0},
		{MSR_IA32_TSC, 0},
		{MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING},
		{MSR_MTRR_DEF_TYPE, MTRR_ENABLE_WB},
	};
	const unsigned n = sizeof(init) / sizeof(init[0]);
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[sizeof(init) / sizeof(init[0])];
	} msrs;
	int ret;

	memset(&msrs, 0, sizeof(msrs));
	msrs.hdr.nmsrs = n;
	for (unsigned i = 0; i < n; i++) {
		msrs.e[i].index = init[i].index;
		msrs.e[i].data = init[i].data;
	}
	ret = ioctl(v->fd, KVM_SET_MSRS, &msrs);
	if (ret < 0)
		return -errno;
	if ((unsigned)ret != n) {
		pr_err("vCPU %u: KVM refused MSR 0x%x", v->id, init[ret].index);
		return -EINVAL;
	}
	return 0;
}

static int vcpu_set_fpu(struct vcpu *v)
{
	struct kvm_fpu fpu = {.fcw = 0x37f, .mxcsr = 0x1f80};

	return ioctl(v->fd, KVM_SET_FPU, &fpu) ? -errno : 0;
}

/* LINT0 delivers the PIC's ExtINT and LINT1 NMIs, as a BIOS leaves them. */
static int vcpu_set_lapic(struct vcpu *v)
{
	struct kvm_lapic_state lapic;
	uint32_t lvt;

	if (ioctl(v->fd, KVM_GET_LAPIC, &lapic))
		return -errno;
	memcpy(&lvt, lapic.regs + APIC_LVT0, 4);
	lvt = (lvt & ~0x700u) | APIC_MODE_EXTINT << 8;
	memcpy(lapic.regs + APIC_LVT0, &lvt, 4);
	memcpy(&lvt, lapic.regs + APIC_LVT1, 4);
	lvt = (lvt & ~0x700u) | APIC_MODE_NMI << 8;
	memcpy(lapic.regs + APIC_LVT1, &lvt, 4);
	return ioctl(v->fd, KVM_SET_LAPIC, &lapic) ? -errno : 0;
}

static int vcpu_set_cpuid(struct vcpu *v)
{
	struct vm *vm = v->vm;
	struct kvm_cpuid2 *c = cpuid_alloc();
	int err;

	if (!c)
		return -ENOMEM;
	memcpy(c, vm->cpuid, sizeof(*c) + vm->cpuid->nent * sizeof(c->entries[0]));
	err = cpuid_filter(c, v->id, vm->nr_cpus);
	if (!err && ioctl(v->fd, KVM_SET_CPUID2, c))
		err = -errno;
	free(c);
	return err;
}

int vcpu_create(struct vm *vm, unsigned id, struct vcpu *v)
{
	int err;

	memset(v, 0, sizeof(*v));
	v->vm = vm;
	v->id = id;
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, id);
	if (v->fd < 0)
		return -errno;
	v->run = mmap(NULL, (size_t)vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		err = -errno;
		v->run = NULL;
		goto err_close;
	}
	err = vcpu_set_cpuid(v);
	if (!err)
		err = vcpu_set_msrs(v);
	if (!err)
		err = vcpu_set_fpu(v);
	if (!err)
		err = vcpu_set_lapic(v);
	if (err)
		goto err_unmap;
	return 0;

err_unmap:
	munmap(v->run, (size_t)vm->run_size);
	v->run = NULL;
err_close:
	close(v->fd);
	v->fd = -1;
	return err;
}

static void vcpu_seg(struct kvm_segment *s, uint16_t sel, uint8_t type, bool code64)
{
	*s = (struct kvm_segment){
		.base = 0,
		.limit = 0xffffffff,
		.selector = sel,
		.type = type,
		.present = 1,
		.s = 1,
		.db = !code64,
		.l = code64,
		.g = 1,
	};
}

int vcpu_setup_boot(struct vcpu *v, uint64_t entry, uint64_t boot_params, uint64_t pml4)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs = {
		.rip = entry,
		.rsi = boot_params,
		.rsp = LAYOUT_BOOT_PARAMS, /* below the zero page, never used by it */
		.rflags = 0x2,
	};

	if (ioctl(v->fd, KVM_GET_SREGS, &sregs))
		return -errno;
	/* The 64-bit boot protocol: long mode, flat __BOOT_CS/__BOOT_DS. */
	vcpu_seg(&sregs.cs, 0x10, 0xb, true);
	vcpu_seg(&sregs.ds, 0x18, 0x3, false);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.tr = (struct kvm_segment){
		.selector = 0x20,
		.limit = 0x67,
		.type = 0xb,
		.present = 1,
	};
	sregs.gdt.base = LAYOUT_GDT;
	sregs.gdt.limit = 5 * 8 - 1;
	sregs.idt.base = LAYOUT_IDT;
	sregs.idt.limit = 0;
	sregs.cr0 = 0x80010033; /* PG, WP, NE, ET, MP, PE */
	sregs.cr3 = pml4;
	sregs.cr4 = 0x20;   /* PAE */
	sregs.efer = 0x500; /* LMA, LME */
	if (ioctl(v->fd, KVM_SET_SREGS, &sregs))
		return -errno;
	return ioctl(v->fd, KVM_SET_REGS, &regs) ? -errno : 0;
}

static void vcpu_handle_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;

	/* String I/O (rep outsb) arrives as count accesses in a row. */
	for (uint32_t i = 0; i < run->io.count; i++) {
		bus_access(&v->vm->pio, run->io.port, data, run->io.size, is_write);
		data += run->io.size;
	}
}

static void vcpu_handle_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;

	bus_access(&v->vm->mmio, run->mmio.phys_addr, run->mmio.data, run->mmio.len,
		   run->mmio.is_write);
}

static void vcpu_report_crash(struct vcpu *v, const char *what)
{
	struct kvm_regs regs;
	char why[128];

	if (ioctl(v->fd, KVM_GET_REGS, &regs) == 0)
		snprintf(why, sizeof(why), "%s on vCPU %u at rip 0x%llx", what, v->id,
			 (unsigned long long)regs.rip);
	else
		snprintf(why, sizeof(why), "%s on vCPU %u", what, v->id);
	vm_request_exit(v->vm, VM_EXIT_CRASH, why);
}

/* Returns false when the vCPU must stop. */
static bool vcpu_handle_exit(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	char why[96];

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		vcpu_handle_io(v);
		return true;
	case KVM_EXIT_MMIO:
		vcpu_handle_mmio(v);
		return true;
	case KVM_EXIT_INTR:
	case KVM_EXIT_HLT:
		return true;
	case KVM_EXIT_SHUTDOWN:
		vcpu_report_crash(v, "triple fault");
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(why, sizeof(why), "KVM internal error %u", run->internal.suberror);
		vcpu_report_crash(v, why);
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(why, sizeof(why), "VM entry failed (reason 0x%llx)",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		vcpu_report_crash(v, why);
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		if (run->system_event.type == KVM_SYSTEM_EVENT_RESET)
			vm_request_exit(v->vm, VM_EXIT_REBOOT, "guest reset");
		else if (run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN)
			vm_request_exit(v->vm, VM_EXIT_POWEROFF, "guest powered off");
		else
			vcpu_report_crash(v, "guest crash event");
		return false;
	default:
		snprintf(why, sizeof(why), "unexpected KVM exit %u on vCPU %u", run->exit_reason,
			 v->id);
		vm_request_exit(v->vm, VM_EXIT_ERROR, why);
		return false;
	}
}

static bool vcpu_should_stop(struct vcpu *v)
{
	bool stop;

	pthread_mutex_lock(&v->vm->exit_lock);
	stop = v->vm->stopping;
	pthread_mutex_unlock(&v->vm->exit_lock);
	return stop;
}

void vcpu_dump(struct vcpu *v, enum uv_log_level level)
{
	struct kvm_regs r;
	struct kvm_sregs s;

	if (ioctl(v->fd, KVM_GET_REGS, &r) || ioctl(v->fd, KVM_GET_SREGS, &s))
		return;
	log_msg(level,
		"vCPU %u: rip %llx rsp %llx rax %llx rflags %llx cr0 %llx cr3 %llx cr4 %llx "
		"efer %llx cs %x",
		v->id, r.rip, r.rsp, r.rax, r.rflags, s.cr0, s.cr3, s.cr4, s.efer, s.cs.selector);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	char why[96];

	while (!vcpu_should_stop(v)) {
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			snprintf(why, sizeof(why), "KVM_RUN on vCPU %u: %s", v->id,
				 strerror(errno));
			vm_request_exit(v->vm, VM_EXIT_ERROR, why);
			break;
		}
		if (!vcpu_handle_exit(v))
			break;
	}
	return NULL;
}

int vcpu_start(struct vcpu *v)
{
	sigset_t set, old;
	int err;

	/* The vCPU thread takes kicks; the main thread must not. */
	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, &old);
	err = uv_thread_create(&v->thread, vcpu_thread, v);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		return -err;
	v->started = true;
	return 0;
}

void vcpu_kick(struct vcpu *v)
{
	/* immediate_exit covers a kick that lands before KVM_RUN is entered. */
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (v->started)
		pthread_kill(v->thread, VCPU_KICK_SIGNAL);
}

void vcpu_join(struct vcpu *v)
{
	if (v->started)
		uv_thread_join(v->thread, NULL);
	v->started = false;
}

void vcpu_destroy(struct vcpu *v)
{
	if (v->run)
		munmap(v->run, (size_t)v->vm->run_size);
	if (v->fd >= 0)
		close(v->fd);
	v->run = NULL;
	v->fd = -1;
}
