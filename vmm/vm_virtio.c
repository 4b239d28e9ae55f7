// SPDX-License-Identifier: GPL-2.0
/* The VM's virtio devices: back ends, and the KVM plumbing of their transports. */
#include <errno.h>
#include <event2/thread.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "broker.h"
#include "layout.h"
#include "log.h"
#include "vhost_dev.h"
#include "vm.h"

static int vm_gsi_alloc(void *ctx)
{
	struct vm *vm = ctx;

	return kvm_msi_gsi_alloc(&vm->msi);
}

static int vm_gsi_route(void *ctx, unsigned gsi, uint64_t addr, uint32_t data)
{
	struct vm *vm = ctx;
	int ret = kvm_msi_gsi_route(&vm->msi, gsi, addr, data);

	if (ret)
		pr_warn("KVM_SET_GSI_ROUTING: %s", strerror(-ret));
	return ret;
}

static int vm_irqfd(void *ctx, unsigned gsi, int fd, bool assign)
{
	struct vm *vm = ctx;
	int ret = kvm_msi_irqfd(&vm->msi, gsi, fd, assign);

	if (ret)
		pr_warn("KVM_IRQFD gsi %u: %s", gsi, strerror(-ret));
	return ret;
}

static int vm_signal_msi(void *ctx, uint64_t addr, uint32_t data)
{
	struct vm *vm = ctx;

	return kvm_msi_signal(&vm->msi, addr, data);
}

static int vm_ioeventfd(void *ctx, uint64_t addr, int fd, bool assign)
{
	struct vm *vm = ctx;
	/* Linux notifies with 16-bit writes; any length is the most general. */
	struct kvm_ioeventfd io = {
		.addr = addr,
		.len = vm->ioeventfd_any_len ? 0 : 2,
		.fd = fd,
		.flags = assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN,
	};

	return ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) ? -errno : 0;
}

static const struct vpci_host_ops vm_vpci_host_ops = {
	.gsi_alloc = vm_gsi_alloc,
	.gsi_route = vm_gsi_route,
	.irqfd = vm_irqfd,
	.signal_msi = vm_signal_msi,
	.ioeventfd = vm_ioeventfd,
};

int vm_virtio_open(struct vm *vm, const struct vm_options *o, char err[VM_ERR_LEN])
{
	/* In-process back ends make their event bases now: threads must be on first. */
	if (o->nr_devices && evthread_use_pthreads()) {
		snprintf(err, VM_ERR_LEN, "libevent without thread support");
		return -1;
	}
	for (unsigned i = 0; i < o->nr_devices; i++) {
		int ret = vhost_dev_open(&vm->virtio[i], &o->devices[i], &o->links[i], i, err,
					 VM_ERR_LEN);

		vm->nr_virtio = i + 1;
		if (ret)
			return -1;
	}
	return 0;
}

int vm_virtio_setup(struct vm *vm, char err[VM_ERR_LEN])
{
	int ret;

	if (!vm->nr_virtio)
		return 0;
	vm->ioeventfd_any_len =
		ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IOEVENTFD_ANY_LENGTH) > 0;
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQ_ROUTING) <= 0 ||
	    ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SIGNAL_MSI) <= 0) {
		snprintf(err, VM_ERR_LEN, "KVM lacks MSI routing, which virtio devices need");
		return -1;
	}
	ret = kvm_msi_chip_init(&vm->msi, vm->vm_fd, IOAPIC_PINS);
	if (ret) {
		snprintf(err, VM_ERR_LEN, "MSI routing: %s", strerror(-ret));
		return -1;
	}
	vm->msi_ready = true;
	for (unsigned i = 0; i < vm->nr_virtio; i++)
		if (vhost_dev_realize(vm->virtio[i], &vm->mem, vm->base, &vm_vpci_host_ops, vm,
				      &vm->pci, err, VM_ERR_LEN))
			return -1;
	return 0;
}

static void vm_channel_moved(void *ctx, unsigned device, int fd)
{
	struct vm *vm = ctx;

	for (unsigned i = 0; i < vm->nr_virtio; i++)
		if (vm->virtio[i]->channel == (int)device) {
			vhost_dev_move(vm->virtio[i], fd);
			return;
		}
	pr_warn("ultravisord moved channel %u, which is none of this guest's devices", device);
	close(fd);
}

static void vm_channel_standby(void *ctx, unsigned device, int fd, unsigned epoch)
{
	struct vm *vm = ctx;

	for (unsigned i = 0; i < vm->nr_virtio; i++)
		if (vm->virtio[i]->channel == (int)device) {
			vhost_dev_standby(vm->virtio[i], fd, epoch);
			return;
		}
	pr_warn("ultravisord sent a standby for channel %u, which is none of this guest's "
		"devices",
		device);
	close(fd);
}

static const struct broker_ops vm_broker_ops = {
	.channel_moved = vm_channel_moved,
	.channel_standby = vm_channel_standby,
};

static void vm_inflight_to_broker(void *ctx, int channel, int fd)
{
	broker_set_inflight(ctx, channel, fd);
}

static void vm_promoted_to_broker(void *ctx, int channel, unsigned epoch)
{
	broker_set_promoted(ctx, channel, epoch);
}

int vm_broker_setup(struct vm *vm, const struct vm_options *o, char err[VM_ERR_LEN])
{
	struct broker_cfg cfg = {
		.path = o->ultravisord,
		.partition = o->partition,
		.pid = getpid(),
	};

	if (!o->partition)
		return 0;
	vm->broker = broker_new(vm->base, &cfg, &vm_broker_ops, vm);
	if (!vm->broker) {
		snprintf(err, VM_ERR_LEN, "out of memory");
		return -1;
	}
	for (unsigned i = 0; i < vm->nr_virtio; i++)
		if (vm->virtio[i]->channel >= 0) {
			vhost_dev_set_inflight_hook(vm->virtio[i], vm_inflight_to_broker,
						    vm->broker);
			vhost_dev_set_promote_hook(vm->virtio[i], vm_promoted_to_broker,
						   vm->broker);
		}
	return 0;
}

void vm_virtio_destroy(struct vm *vm)
{
	/* Nothing runs any more: the devices' hooks are not called after this. */
	broker_free(vm->broker);
	vm->broker = NULL;
	for (unsigned i = 0; i < vm->nr_virtio; i++)
		vhost_dev_destroy(vm->virtio[i]);
	vm->nr_virtio = 0;
	if (vm->msi_ready)
		kvm_msi_chip_exit(&vm->msi);
	vm->msi_ready = false;
}
