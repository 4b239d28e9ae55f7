// SPDX-License-Identifier: GPL-2.0
/* Putting firmware tables and a Linux kernel into a new VM's memory. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acpi.h"
#include "boot.h"
#include "fw_exit.h"
#include "layout.h"
#include "mptable.h"
#include "vcpu.h"
#include "vm.h"

static int file_map(const char *what, const char *path, struct mapped_file *f, char err[VM_ERR_LEN])
{
	struct stat st;
	int fd;

	f->data = NULL;
	f->size = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, VM_ERR_LEN, "cannot open %s '%s': %s", what, path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(err, VM_ERR_LEN, "%s '%s' is not a regular file", what, path);
		close(fd);
		return -1;
	}
	f->size = (size_t)st.st_size;
	if (f->size) {
		f->data = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (f->data == MAP_FAILED) {
			snprintf(err, VM_ERR_LEN, "cannot read %s '%s': %s", what, path,
				 strerror(errno));
			f->data = NULL;
			close(fd);
			return -1;
		}
	}
	close(fd);
	return 0;
}

static void file_unmap(struct mapped_file *f)
{
	if (f->data)
		munmap(f->data, f->size);
	f->data = NULL;
}

/* The firmware image: --firmware, else the one built or installed with uvmm. */
static const char *vm_firmware_path(const struct vm_options *o)
{
	if (o->firmware)
		return o->firmware;
	if (access(UV_FIRMWARE_BUILD_PATH, R_OK) == 0)
		return UV_FIRMWARE_BUILD_PATH;
	return UV_FIRMWARE_INSTALL_PATH;
}

static int vm_open_firmware(const struct vm_options *o, struct vm_inputs *in, char err[VM_ERR_LEN])
{
	const char *path = vm_firmware_path(o);

	if (file_map("firmware", path, &in->firmware, err))
		return -1;
	if (!in->firmware.size || in->firmware.size > LAYOUT_FIRMWARE_MAX) {
		snprintf(err, VM_ERR_LEN, "firmware '%s': %zu bytes, must be 1 to %llu", path,
			 in->firmware.size, LAYOUT_FIRMWARE_MAX);
		file_unmap(&in->firmware);
		return -1;
	}
	return 0;
}

int vm_open_inputs(const struct vm_options *o, struct vm_inputs *in, char err[VM_ERR_LEN])
{
	char why[BOOT_ERR_LEN];

	memset(in, 0, sizeof(*in));
	if (!o->kernel)
		return vm_open_firmware(o, in, err);
	if (file_map("kernel", o->kernel, &in->kernel, err))
		return -1;
	if (bzimage_parse(in->kernel.data, in->kernel.size, &in->bz, why)) {
		snprintf(err, VM_ERR_LEN, "kernel '%s': %s", o->kernel, why);
		goto err;
	}
	if (o->initrd && file_map("initrd", o->initrd, &in->initrd, err))
		goto err;
	return 0;
err:
	vm_close_inputs(in);
	return -1;
}

void vm_close_inputs(struct vm_inputs *in)
{
	file_unmap(&in->initrd);
	file_unmap(&in->kernel);
	file_unmap(&in->firmware);
}

/* ACPI and MP tables in the BIOS area. Returns the RSDP address. */
static int vm_setup_tables(struct vm *vm, uint64_t *rsdp, char err[VM_ERR_LEN])
{
	struct acpi_config cfg = {
		.nr_cpus = vm->nr_cpus,
		.lapic_addr = (uint32_t)LAYOUT_LAPIC,
		.ioapic_addr = (uint32_t)LAYOUT_IOAPIC,
		.ioapic_id = (uint8_t)vm->nr_cpus,
		.pm_evt_port = PORT_PM_EVT,
		.pm_cnt_port = PORT_PM_CNT,
		.pm_tmr_port = PORT_PM_TMR,
		.sci_irq = IRQ_SCI,
		.pci_io_base = PORT_PCI_IO_BASE,
		.pci_io_size = PORT_PCI_IO_SIZE,
		.mmio32_base = LAYOUT_MMIO32_BASE,
		.mmio32_size = LAYOUT_MMIO32_SIZE,
		/* The whole window: BARs uvmm placed lie inside it and can stay. */
		.mmio64_base = vm->pci.windows[1].base,
		.mmio64_size = vm->pci.mmio64_end - vm->pci.windows[1].base,
	};
	void *acpi = gmem_hva(&vm->mem, LAYOUT_ACPI, LAYOUT_ACPI_SIZE);
	void *mp = gmem_hva(&vm->mem, LAYOUT_MPTABLE, LAYOUT_MPTABLE_SIZE);

	if (!acpi || !mp || acpi_build(&cfg, acpi, LAYOUT_ACPI, LAYOUT_ACPI_SIZE) < 0 ||
	    mptable_build(mp, LAYOUT_MPTABLE, LAYOUT_MPTABLE_SIZE, vm->nr_cpus,
			  (uint32_t)LAYOUT_IOAPIC, IOAPIC_PINS) < 0) {
		snprintf(err, VM_ERR_LEN, "cannot build ACPI and MP tables for %u vCPUs",
			 vm->nr_cpus);
		return -1;
	}
	*rsdp = LAYOUT_ACPI;
	return 0;
}

static void vm_on_fw_exit(void *ctx, int status, const char *why)
{
	vm_request_exit(ctx, status, why);
}

static int vm_load_firmware(struct vm *vm, const struct vm_options *o, const struct vm_inputs *in,
			    char err[VM_ERR_LEN])
{
	uint64_t rsdp;
	int ret;

	vm->fw_exit = fw_exit_create(vm_on_fw_exit, vm);
	if (!vm->fw_exit || fw_exit_attach(vm->fw_exit, &vm->pio, PORT_FW_EXIT)) {
		snprintf(err, VM_ERR_LEN, "cannot attach the firmware's exit device");
		return -1;
	}
	if (vm_setup_tables(vm, &rsdp, err))
		return -1;
	if (boot_load_firmware(&vm->mem, in->firmware.data, in->firmware.size, o->cmdline, rsdp)) {
		snprintf(err, VM_ERR_LEN, "cannot place the firmware in guest memory");
		return -1;
	}
	ret = vcpu_setup_boot(&vm->vcpus[0], LAYOUT_FIRMWARE, LAYOUT_BOOT_PARAMS, LAYOUT_PML4);
	if (ret) {
		snprintf(err, VM_ERR_LEN, "cannot set up the boot vCPU: %s", strerror(-ret));
		return -1;
	}
	return 0;
}

int vm_load_linux(struct vm *vm, const struct vm_options *o, const struct vm_inputs *in,
		  char err[VM_ERR_LEN])
{
	char why[BOOT_ERR_LEN];
	struct boot_plan plan;
	uint64_t rsdp;
	int ret;

	if (in->firmware.data)
		return vm_load_firmware(vm, o, in, err);
	if (boot_plan_make(&in->bz, in->initrd.size, strlen(o->cmdline), vm->mem.regions,
			   vm->mem.nr_regions, &plan, why)) {
		snprintf(err, VM_ERR_LEN, "%s", why);
		return -1;
	}
	if (vm_setup_tables(vm, &rsdp, err))
		return -1;
	if (boot_load(&vm->mem, &in->bz, &plan, in->initrd.data, o->cmdline, rsdp)) {
		snprintf(err, VM_ERR_LEN, "cannot place the kernel in guest memory");
		return -1;
	}
	ret = vcpu_setup_boot(&vm->vcpus[0], plan.entry_gpa, plan.boot_params_gpa, plan.pml4_gpa);
	if (ret) {
		snprintf(err, VM_ERR_LEN, "cannot set up the boot vCPU: %s", strerror(-ret));
		return -1;
	}
	return 0;
}
