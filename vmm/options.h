/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UVMM_OPTIONS_H
#define UVMM_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "console.h"
#include "export.h"

/*
 * How a device's vhost-user connection comes (--disk vhost-user-fd=FD,...):
 * an inherited, already connected socket, and the number ultravisord knows
 * the channel by.
 */
struct vm_dev_link {
	int fd;	     /* inherited socket, or -1 */
	int channel; /* 0..OPT_MAX_CHANNEL; -1 for an in-process back end */
};

#define OPT_MAX_CHANNEL 63
#define OPT_NAME_MAX	64  /* a partition name and its NUL */
#define OPT_PATH_MAX	108 /* sun_path */

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
	struct vm_dev_link links[16];

	/* Started by commandd: what ultravisord made for this partition (options_suite.c). */
	int memory_fd;			/* --memory-fd: guest RAM, a sealed memfd; else -1 */
	const char *partition;		/* --partition NAME: attach to ultravisord as NAME */
	char ultravisord[OPT_PATH_MAX]; /* its socket; empty without --partition */
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

/* options_suite.c: inherited descriptors and the partition's link to ultravisord. */
#define OPT_VHOST_USER_FD "vhost-user-fd="
/* "FD[,channel=D]" after vhost-user-fd=; name is the option, for err. */
int options_parse_vu_fd(const char *name, const char *arg, struct vm_dev_link *l,
			char err[OPT_ERR_LEN]);
int options_parse_memory_fd(const char *arg, struct vm_options *o, char err[OPT_ERR_LEN]);
int options_parse_partition(const char *arg, struct vm_options *o, char err[OPT_ERR_LEN]);
int options_parse_ultravisord(const char *arg, struct vm_options *o, char err[OPT_ERR_LEN]);
/*
 * After every option: channel numbers, --partition/--ultravisord, and the
 * inherited descriptors themselves (open, of the right kind, memory of the
 * right size), so that a bad one is a usage error before anything starts.
 */
int options_check_suite(struct vm_options *o, char err[OPT_ERR_LEN]);

#endif
