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

int vm_open_inputs(const struct vm_options *o, struct vm_inputs *in, char err[VM_ERR_LEN])
{
	char why[BOOT_ERR_LEN];

	memset(in, 0, sizeof(*in));
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

int vm_load_linux(struct vm *vm, const struct vm_options *o, const struct vm_inputs *in,
		  char err[VM_ERR_LEN])
{
	char why[BOOT_ERR_LEN];
	struct boot_plan plan;
	uint64_t rsdp;
	int ret;

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
