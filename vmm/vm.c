// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "console.h"
#include "cpuid.h"
#include "cpu_features.h"
#include "fw_exit.h"
#include "i8042.h"
#include "layout.h"
#include "log.h"
#include "pm.h"
#include "rtc.h"
#include "serial.h"
#include "vcpu.h"
#include "vm.h"

#define KVM_API_VERSION_EXPECTED 12

static const struct {
	int cap;
	const char *name;
} vm_required_caps[] = {
	{KVM_CAP_IRQCHIP, "in-kernel irqchip"},	    {KVM_CAP_PIT2, "in-kernel PIT"},
	{KVM_CAP_USER_MEMORY, "user memory slots"}, {KVM_CAP_EXT_CPUID, "CPUID configuration"},
	{KVM_CAP_SET_TSS_ADDR, "TSS address"},	    {KVM_CAP_IMMEDIATE_EXIT, "immediate exit"},
	{KVM_CAP_IOEVENTFD, "ioeventfd"},	    {KVM_CAP_IRQFD, "irqfd"},
};

void vm_request_exit(struct vm *vm, int status, const char *why)
{
	bool first;

	pthread_mutex_lock(&vm->exit_lock);
	first = !vm->stopping;
	if (first) {
		vm->stopping = true;
		vm->exit_status = status;
	}
	pthread_mutex_unlock(&vm->exit_lock);
	if (!first)
		return;
	if (status == VM_EXIT_POWEROFF)
		pr_debug("%s", why);
	else if (status == VM_EXIT_REBOOT || status == VM_EXIT_SIGNAL)
		pr_info("%s", why);
	else
		pr_err("%s", why);
	for (unsigned i = 0; i < vm->nr_cpus; i++)
		if (vm->vcpus[i].fd >= 0)
			vcpu_kick(&vm->vcpus[i]);
	event_active(vm->stop_ev, 0, 0);
}

static void vm_irq_set(void *ctx, unsigned gsi, int level)
{
	struct vm *vm = ctx;
	struct kvm_irq_level irq = {.irq = gsi, .level = (uint32_t)level};

	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq))
		pr_warn("KVM_IRQ_LINE %u: %s", gsi, strerror(errno));
}

static struct irq_line vm_irq_line(struct vm *vm, unsigned gsi)
{
	return (struct irq_line){.set = vm_irq_set, .ctx = vm, .gsi = gsi};
}

static void vm_on_sleep(void *ctx, unsigned slp_typ)
{
	if (slp_typ == PM_SLP_TYP_S5)
		vm_request_exit(ctx, VM_EXIT_POWEROFF, "guest powered off");
	else
		pr_warn("guest asked for sleep state type %u, which is not supported", slp_typ);
}

static void vm_on_reset(void *ctx)
{
	vm_request_exit(ctx, VM_EXIT_REBOOT, "guest rebooted");
}

static void vm_on_quit(void *ctx)
{
	vm_request_exit(ctx, VM_EXIT_SIGNAL, "quit from the console");
}

static void vm_on_stop(evutil_socket_t fd, short what, void *arg)
{
	struct vm *vm = arg;

	(void)fd;
	(void)what;
	event_base_loopbreak(vm->base);
}

/* commandd's graceful stop: the guest is asked, and powers off (S5) when it will. */
static void vm_on_sigpwr(evutil_socket_t sig, short what, void *arg)
{
	struct vm *vm = arg;

	(void)sig;
	(void)what;
	pr_info("SIGPWR: pressing the power button");
	pm_power_button(vm->pm);
}

static void vm_on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	vm_request_exit(arg, VM_EXIT_SIGNAL,
			sig == SIGTERM ? "terminated by SIGTERM" : "interrupted by SIGINT");
}

static void vm_console_tx(void *ctx, const uint8_t *buf, size_t len)
{
	console_write(ctx, buf, len);
}

static size_t vm_console_rx(void *ctx, const uint8_t *buf, size_t len)
{
	return serial_receive(ctx, buf, len);
}

static void vm_serial_rx_ready(void *ctx)
{
	console_rx_ready(ctx);
}

static int vm_open_kvm(struct vm *vm, char err[VM_ERR_LEN])
{
	int max;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		snprintf(err, VM_ERR_LEN, "cannot open /dev/kvm: %s", strerror(errno));
		return -1;
	}
	if (ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION_EXPECTED) {
		snprintf(err, VM_ERR_LEN, "/dev/kvm speaks an unknown KVM API version");
		return -1;
	}
	for (size_t i = 0; i < sizeof(vm_required_caps) / sizeof(vm_required_caps[0]); i++) {
		if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, vm_required_caps[i].cap) <= 0) {
			snprintf(err, VM_ERR_LEN, "KVM lacks %s", vm_required_caps[i].name);
			return -1;
		}
	}
	max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (max <= 0)
		max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (max > 0 && vm->nr_cpus > (unsigned)max) {
		snprintf(err, VM_ERR_LEN, "--cpus %u: this KVM allows at most %d vCPUs",
			 vm->nr_cpus, max);
		return -1;
	}
	vm->run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->run_size <= 0 || vm->vm_fd < 0) {
		snprintf(err, VM_ERR_LEN, "cannot create a VM: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int vm_setup_kvm(struct vm *vm, char err[VM_ERR_LEN])
{
	struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
	int ret;

	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)LAYOUT_KVM_TSS) ||
	    ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &(uint64_t){LAYOUT_KVM_IDMAP}) ||
	    ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP) || ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit)) {
		snprintf(err, VM_ERR_LEN, "cannot set up the in-kernel platform: %s",
			 strerror(errno));
		return -1;
	}
	vm->cpuid = cpuid_alloc();
	if (!vm->cpuid) {
		snprintf(err, VM_ERR_LEN, "out of memory");
		return -1;
	}
	ret = cpuid_get_supported(vm->kvm_fd, vm->cpuid);
	if (ret) {
		snprintf(err, VM_ERR_LEN, "KVM_GET_SUPPORTED_CPUID: %s", strerror(-ret));
		return -1;
	}
	return 0;
}

static int vm_setup_memory(struct vm *vm, const struct vm_options *o, char err[VM_ERR_LEN])
{
	uint64_t size = o->memory;
	bool hugepages = o->hugepages;
	/* Every virtio device's back end maps guest RAM, in-process ones too. */
	unsigned flags = (hugepages ? GMEM_HUGETLB : 0) | (o->nr_devices ? GMEM_SHARED : 0);
	int ret = gmem_create(&vm->mem, size, flags, o->memory_fd);

	if (!ret)
		ret = gmem_register(&vm->mem, vm->vm_fd);
	if (ret && hugepages && ret == -ENOMEM) {
		snprintf(err, VM_ERR_LEN,
			 "cannot set up %llu MiB of guest memory: not enough free 2 MiB huge pages "
			 "(see /proc/sys/vm/nr_hugepages)",
			 (unsigned long long)(size >> 20));
		return -1;
	}
	if (ret) {
		snprintf(err, VM_ERR_LEN, "cannot set up %llu MiB of guest memory: %s",
			 (unsigned long long)(size >> 20), strerror(-ret));
		return -1;
	}
	return 0;
}

/* The 64-bit PCI window starts at the first 1 GiB boundary above RAM. */
static uint64_t vm_mmio64_base(struct vm *vm)
{
	uint64_t top = gmem_top(&vm->mem);

	if (top < LAYOUT_HIGH_RAM)
		top = LAYOUT_HIGH_RAM;
	return (top + SZ_1G - 1) & ~(SZ_1G - 1);
}

static int vm_setup_devices(struct vm *vm, const struct vm_options *o, char err[VM_ERR_LEN])
{
	struct pci_windows w = {
		.mmio32_base = LAYOUT_MMIO32_BASE,
		.mmio32_size = LAYOUT_MMIO32_SIZE,
		.mmio64_base = vm_mmio64_base(vm),
		.mmio64_size = LAYOUT_MMIO64_SIZE,
		.io_base = PORT_PCI_IO_BASE,
		.io_size = PORT_PCI_IO_SIZE,
	};
	int ret;

	vm->console = console_create(&o->console, vm->base, err, VM_ERR_LEN);
	if (!vm->console)
		return -1;
	vm->com1 = serial_create(vm_irq_line(vm, IRQ_COM1), vm_console_tx, vm->console);
	vm->rtc = rtc_create(vm_irq_line(vm, IRQ_RTC));
	vm->i8042 = i8042_create(vm_irq_line(vm, IRQ_KBD), vm_on_reset, vm);
	vm->pm = pm_create(vm_irq_line(vm, IRQ_SCI), vm_on_sleep, vm);
	if (!vm->com1 || !vm->rtc || !vm->i8042 || !vm->pm) {
		snprintf(err, VM_ERR_LEN, "out of memory");
		return -1;
	}
	console_set_sink(vm->console, vm_console_rx, vm->com1);
	console_set_quit(vm->console, vm_on_quit, vm);
	serial_set_rx_ready(vm->com1, vm_serial_rx_ready, vm->console);

	ret = serial_attach(vm->com1, &vm->pio, 0x3f8);
	if (!ret)
		ret = rtc_attach(vm->rtc, &vm->pio);
	if (!ret)
		ret = i8042_attach(vm->i8042, &vm->pio);
	if (!ret)
		ret = pm_attach(vm->pm, &vm->pio, PORT_PM_BASE);
	if (!ret)
		ret = pci_bus_init(&vm->pci, &w, &vm->pio, &vm->mmio);
	if (ret) {
		snprintf(err, VM_ERR_LEN, "cannot attach platform devices: %s", strerror(-ret));
		return -1;
	}
	return 0;
}

/* libevent's own complaints go through our log, at debug level. */
static void vm_event_log(int severity, const char *msg)
{
	if (severity >= EVENT_LOG_ERR)
		pr_err("libevent: %s", msg);
	else
		pr_debug("libevent: %s", msg);
}

static int vm_setup_events(struct vm *vm, char err[VM_ERR_LEN])
{
	event_set_log_callback(vm_event_log);
	/* vCPU threads wake the loop with event_active(). */
	if (evthread_use_pthreads()) {
		snprintf(err, VM_ERR_LEN, "libevent without thread support");
		return -1;
	}
	vm->base = event_base_new();
	if (!vm->base)
		goto err;
	vm->stop_ev = event_new(vm->base, -1, 0, vm_on_stop, vm);
	vm->sigterm_ev = evsignal_new(vm->base, SIGTERM, vm_on_signal, vm);
	vm->sigint_ev = evsignal_new(vm->base, SIGINT, vm_on_signal, vm);
	vm->sigpwr_ev = evsignal_new(vm->base, SIGPWR, vm_on_sigpwr, vm);
	if (!vm->stop_ev || !vm->sigterm_ev || !vm->sigint_ev || !vm->sigpwr_ev ||
	    evsignal_add(vm->sigterm_ev, NULL) || evsignal_add(vm->sigint_ev, NULL) ||
	    evsignal_add(vm->sigpwr_ev, NULL))
		goto err;
	return 0;
err:
	snprintf(err, VM_ERR_LEN, "cannot set up the event loop");
	return -1;
}

static int vm_create_vcpus(struct vm *vm, char err[VM_ERR_LEN])
{
	int ret;

	vm->vcpus = calloc(vm->nr_cpus, sizeof(*vm->vcpus));
	if (!vm->vcpus) {
		snprintf(err, VM_ERR_LEN, "out of memory");
		return -1;
	}
	for (unsigned i = 0; i < vm->nr_cpus; i++)
		vm->vcpus[i].fd = -1;
	for (unsigned i = 0; i < vm->nr_cpus; i++) {
		ret = vcpu_create(vm, i, &vm->vcpus[i]);
		if (ret) {
			snprintf(err, VM_ERR_LEN, "cannot create vCPU %u: %s", i, strerror(-ret));
			return -1;
		}
	}
	return 0;
}

int vm_create(struct vm *vm, const struct vm_options *o, char err[VM_ERR_LEN], int *status)
{
	struct vm_inputs in;
	int ret = -1;

	memset(vm, 0, sizeof(*vm));
	vm->kvm_fd = vm->vm_fd = -1;
	vm->mem.fd = -1;
	vm->nr_cpus = o->cpus;
	pthread_mutex_init(&vm->exit_lock, NULL);
	bus_init(&vm->pio);
	bus_init(&vm->mmio);

	/* Problems with what the user gave us come first, as usage errors. */
	*status = VM_EXIT_USAGE;
	if (vm_open_inputs(o, &in, err))
		return -1;
	if (vm_virtio_open(vm, o, err))
		goto out;
	if (vm_open_kvm(vm, err))
		goto out;
	*status = VM_EXIT_ERROR;
	if (vm_setup_kvm(vm, err))
		goto out;
	cpu_features_hide(vm->cpuid, o->cpu_hide);
	if (vm_setup_memory(vm, o, err) || vm_setup_events(vm, err) ||
	    vm_setup_devices(vm, o, err) || vm_virtio_setup(vm, err) || vcpu_init_signals() ||
	    vm_create_vcpus(vm, err))
		goto out;
	*status = VM_EXIT_USAGE;
	if (vm_load_linux(vm, o, &in, err))
		goto out;
	/* Last: the partition is attached only by a uvmm that is about to run it. */
	*status = VM_EXIT_ERROR;
	if (vm_broker_setup(vm, o, err))
		goto out;
	*status = VM_EXIT_POWEROFF;
	ret = 0;
out:
	vm_close_inputs(&in);
	return ret;
}

int vm_run(struct vm *vm)
{
	unsigned started = 0;
	int ret;

	for (; started < vm->nr_cpus; started++) {
		ret = vcpu_start(&vm->vcpus[started]);
		if (ret) {
			pr_err("cannot start vCPU %u: %s", started, strerror(-ret));
			vm_request_exit(vm, VM_EXIT_ERROR, "vCPU start failed");
			break;
		}
	}
	if (started == vm->nr_cpus)
		event_base_dispatch(vm->base);
	for (unsigned i = 0; i < started; i++) {
		vcpu_join(&vm->vcpus[i]);
		/* Where a stopped or crashed guest was is the first question asked. */
		if (vm->exit_status == VM_EXIT_CRASH || vm->exit_status == VM_EXIT_ERROR)
			vcpu_dump(&vm->vcpus[i], UV_LOG_ERR);
		else if (vm->exit_status == VM_EXIT_SIGNAL)
			vcpu_dump(&vm->vcpus[i], UV_LOG_INFO);
	}
	return vm->exit_status;
}

void vm_destroy(struct vm *vm)
{
	if (vm->vcpus) {
		for (unsigned i = 0; i < vm->nr_cpus; i++)
			vcpu_destroy(&vm->vcpus[i]);
		free(vm->vcpus);
	}
	vm_virtio_destroy(vm);
	console_destroy(vm->console);
	serial_destroy(vm->com1);
	rtc_destroy(vm->rtc);
	i8042_destroy(vm->i8042);
	fw_exit_destroy(vm->fw_exit);
	pm_destroy(vm->pm);
	pci_bus_exit(&vm->pci);
	if (vm->stop_ev)
		event_free(vm->stop_ev);
	if (vm->sigterm_ev)
		event_free(vm->sigterm_ev);
	if (vm->sigint_ev)
		event_free(vm->sigint_ev);
	if (vm->sigpwr_ev)
		event_free(vm->sigpwr_ev);
	if (vm->base)
		event_base_free(vm->base);
	free(vm->cpuid);
	gmem_destroy(&vm->mem);
	bus_exit(&vm->pio);
	bus_exit(&vm->mmio);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	pthread_mutex_destroy(&vm->exit_lock);
}
