// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "kvm_check.h"

#define CHECK_MEM  0x10000
#define CHECK_CODE 0x1000

/* Real mode: ecx = 1M; loop: dec ecx; jnz loop; out dx, al; hlt. */
static const unsigned char check_code[] = {
	0x66, 0xb9, 0x40, 0x42, 0x0f, 0x00, 0x66, 0x49, 0x75, 0xfc, 0xba, 0xf8, 0x03, 0xee, 0xf4,
};

static void check_alarm(int sig)
{
	(void)sig;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static enum kvm_check_result check_run(int vcpu, struct kvm_run *run, double *ms, char *why,
				       unsigned whylen)
{
	struct itimerval limit = {.it_value = {.tv_usec = KVM_CHECK_LIMIT_MS * 1000}};
	struct sigaction sa = {.sa_handler = check_alarm};
	double start = now_ms();
	enum kvm_check_result res = KVM_CHECK_UNUSABLE;

	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &limit, NULL);
	for (;;) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR) {
				snprintf(why, whylen, "guest loop not done after %d ms",
					 KVM_CHECK_LIMIT_MS);
				res = KVM_CHECK_SLOW;
			} else {
				snprintf(why, whylen, "KVM_RUN: %s", strerror(errno));
			}
			break;
		}
		if (run->exit_reason == KVM_EXIT_IO)
			continue;
		if (run->exit_reason == KVM_EXIT_HLT) {
			res = KVM_CHECK_FAST;
			snprintf(why, whylen, "usable");
		} else {
			snprintf(why, whylen, "unexpected exit %u", run->exit_reason);
		}
		break;
	}
	*ms = now_ms() - start;
	setitimer(ITIMER_REAL, &(struct itimerval){{0, 0}, {0, 0}}, NULL);
	return res;
}

enum kvm_check_result kvm_check(double *ms, char *why, unsigned whylen)
{
	enum kvm_check_result res = KVM_CHECK_UNUSABLE;
	int kvm, vm = -1, vcpu = -1;
	struct kvm_run *run = MAP_FAILED;
	unsigned char *mem = MAP_FAILED;
	struct kvm_sregs sregs;
	struct kvm_regs regs = {.rip = CHECK_CODE, .rflags = 2};
	struct kvm_userspace_memory_region r = {.memory_size = CHECK_MEM};
	int run_size;

	*ms = 0;
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		snprintf(why, whylen, "cannot open /dev/kvm: %s", strerror(errno));
		return res;
	}
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	mem = mmap(NULL, CHECK_MEM, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (vm < 0 || run_size <= 0 || mem == MAP_FAILED) {
		snprintf(why, whylen, "cannot create a VM: %s", strerror(errno));
		goto out;
	}
	memcpy(mem + CHECK_CODE, check_code, sizeof(check_code));
	r.userspace_addr = (uint64_t)(uintptr_t)mem;
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r) || vcpu < 0 ||
	    (run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0)) ==
		    MAP_FAILED ||
	    ioctl(vcpu, KVM_GET_SREGS, &sregs)) {
		snprintf(why, whylen, "cannot create a vCPU: %s", strerror(errno));
		goto out;
	}
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) || ioctl(vcpu, KVM_SET_REGS, &regs)) {
		snprintf(why, whylen, "cannot set vCPU registers: %s", strerror(errno));
		goto out;
	}
	res = check_run(vcpu, run, ms, why, whylen);
out:
	if (run != MAP_FAILED)
		munmap(run, (size_t)run_size);
	if (mem != MAP_FAILED)
		munmap(mem, CHECK_MEM);
	if (vcpu >= 0)
		close(vcpu);
	if (vm >= 0)
		close(vm);
	close(kvm);
	return res;
}
