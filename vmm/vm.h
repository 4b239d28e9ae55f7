/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UVMM_VM_H
#define UVMM_VM_H

#include <event2/event.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>

#include "boot.h"
#include "bus.h"
#include "memory.h"
#include "msix.h"
#include "options.h"
#include "pci.h"

/* Exit statuses of "uvmm run" (docs/uvmm.md). */
enum vm_exit {
	VM_EXIT_POWEROFF = 0,
	VM_EXIT_ERROR = 1,
	VM_EXIT_USAGE = 2,
	VM_EXIT_REBOOT = 3,
	VM_EXIT_CRASH = 4,
	VM_EXIT_FW_NOBOOT = 5,	 /* the firmware found nothing to boot */
	VM_EXIT_FW_BOOTFAIL = 6, /* corrupt file system, bad or truncated kernel */
	VM_EXIT_FW_TESTFAIL = 7, /* a firmware self-test (uvfw.test=) failed */
	VM_EXIT_SIGNAL = 143,
};

struct vcpu;
struct console;
struct serial;
struct rtc;
struct i8042;
struct pm;
struct fw_exit;
struct kvm_cpuid2;
struct vhost_dev;
struct broker;

struct vm {
	int kvm_fd, vm_fd;
	int run_size;
	unsigned nr_cpus;
	struct gmem mem;
	struct bus pio, mmio;
	struct pci_bus pci;
	struct kvm_cpuid2 *cpuid;
	struct vcpu *vcpus;

	struct event_base *base;
	struct event *stop_ev, *sigterm_ev, *sigint_ev, *sigpwr_ev;
	struct console *console;
	struct serial *com1;
	struct rtc *rtc;
	struct i8042 *i8042;
	struct pm *pm;
	struct fw_exit *fw_exit; /* only when the firmware runs */

	/* virtio devices (vm_virtio.c) */
	struct vhost_dev *virtio[OPT_MAX_DEVICES];
	unsigned nr_virtio;
	struct kvm_msi_chip msi;
	bool msi_ready, ioeventfd_any_len;
	struct broker *broker; /* with --partition: the link to ultravisord */

	pthread_mutex_t exit_lock;
	bool stopping;
	int exit_status;
};

#define VM_ERR_LEN 256

/* Builds the whole VM from options; on failure err says why, and the status to exit with. */
int vm_create(struct vm *vm, const struct vm_options *o, char err[VM_ERR_LEN], int *status);
/* Runs until the guest stops or a signal arrives; returns the exit status. */
int vm_run(struct vm *vm);
void vm_destroy(struct vm *vm);
/* Kernel and initrd, mapped and checked before anything else is set up (vm_boot.c). */
struct mapped_file {
	void *data;
	size_t size;
};

struct vm_inputs {
	struct mapped_file kernel, initrd;
	struct bzimage bz;
	struct mapped_file firmware; /* instead of a kernel */
};

int vm_open_inputs(const struct vm_options *o, struct vm_inputs *in, char err[VM_ERR_LEN]);
void vm_close_inputs(struct vm_inputs *in);
/*
 * Loads kernel, initrd and tables, and points the boot vCPU at the kernel;
 * or, without a kernel, the firmware, which boots from the first disk.
 */
int vm_load_linux(struct vm *vm, const struct vm_options *o, const struct vm_inputs *in,
		  char err[VM_ERR_LEN]);
/* Starts or connects the back ends of the virtio devices; before KVM. */
int vm_virtio_open(struct vm *vm, const struct vm_options *o, char err[VM_ERR_LEN]);
/* Puts the virtio devices on the PCI bus, with MSI routing. */
int vm_virtio_setup(struct vm *vm, char err[VM_ERR_LEN]);
void vm_virtio_destroy(struct vm *vm);
/* With --partition: attaches to ultravisord and follows its channel moves. */
int vm_broker_setup(struct vm *vm, const struct vm_options *o, char err[VM_ERR_LEN]);
/* First caller wins; stops every vCPU and the event loop. Any thread. */
void vm_request_exit(struct vm *vm, int status, const char *why);

#endif
