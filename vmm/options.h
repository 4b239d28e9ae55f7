/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UVMM_OPTIONS_H
#define UVMM_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "console.h"
#include "export.h"

struct vm_options {
	const char *kernel;
	const char *firmware; /* without a kernel: NULL for the default firmware */
	const char *initrd;
	const char *cmdline;
	unsigned cpus;
	uint64_t memory;
	bool hugepages;	       /* guest RAM from huge pages (memfd MFD_HUGETLB) */
	uint32_t cpu_hide;     /* enum cpu_feature bits taken from the guest */
	bool cpu_features_set; /* --cpu-features given (else UVMM_CPU_FEATURES) */
	struct console_cfg console;
	const char *log_level;
	/* virtio devices in PCI slot order; e.socket set = vhost-user back end */
	struct iopart_export devices[16];
	unsigned nr_devices;
};

#define OPT_DEFAULT_CPUS    1
#define OPT_DEFAULT_MEMORY  (512ULL << 20)
#define OPT_DEFAULT_CMDLINE "console=ttyS0"
#define OPT_MAX_CPUS	    254 /* xAPIC IDs, with one left for the IOAPIC */
#define OPT_ERR_LEN	    256
#define OPT_MAX_DEVICES	    16

/*
 * Parses the arguments of "uvmm run" (argv[0] is "run"). Returns 0, 1 if
 * --help was asked for, or -1 with a one-line reason in err.
 */
int options_parse_run(int argc, char **argv, struct vm_options *o, char err[OPT_ERR_LEN]);
int options_parse_console(const char *s, struct console_cfg *c);

#endif
