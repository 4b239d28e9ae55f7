// SPDX-License-Identifier: GPL-2.0
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_features.h"
#include "memory.h"
#include "options.h"
#include "parse.h"

int options_parse_console(const char *s, struct console_cfg *c)
{
	/* The UART keeps its three kinds; file: is the virtio console's. */
	if (console_parse(s, c) || c->kind == CONSOLE_FILE)
		return -1;
	return 0;
}

enum {
	OPT_KERNEL = 'k',
	OPT_INITRD = 'i',
	OPT_CMDLINE = 'a',
	OPT_CPUS = 'c',
	OPT_MEMORY = 'm',
	OPT_CONSOLE = 'C',
	OPT_LOG_LEVEL = 'L',
	OPT_HELP = 'h',
	OPT_DISK = 0x100,
	OPT_NET,
	OPT_RNG,
	OPT_VIRTIO_CONSOLE,
	OPT_FIRMWARE,
	OPT_CPU_FEATURES,
	OPT_MEMORY_FD,
	OPT_PARTITION,
	OPT_ULTRAVISORD,
};

static const struct option run_options[] = {
	{"kernel", required_argument, NULL, OPT_KERNEL},
	{"initrd", required_argument, NULL, OPT_INITRD},
	{"cmdline", required_argument, NULL, OPT_CMDLINE},
	{"cpus", required_argument, NULL, OPT_CPUS},
	{"memory", required_argument, NULL, OPT_MEMORY},
	{"console", required_argument, NULL, OPT_CONSOLE},
	{"log-level", required_argument, NULL, OPT_LOG_LEVEL},
	{"help", no_argument, NULL, OPT_HELP},
	{"disk", required_argument, NULL, OPT_DISK},
	{"net", required_argument, NULL, OPT_NET},
	{"rng", no_argument, NULL, OPT_RNG},
	{"virtio-console", required_argument, NULL, OPT_VIRTIO_CONSOLE},
	{"firmware", required_argument, NULL, OPT_FIRMWARE},
	{"cpu-features", required_argument, NULL, OPT_CPU_FEATURES},
	{"memory-fd", required_argument, NULL, OPT_MEMORY_FD},
	{"partition", required_argument, NULL, OPT_PARTITION},
	{"ultravisord", required_argument, NULL, OPT_ULTRAVISORD},
	{NULL, 0, NULL, 0},
};

#define VHOST_USER_PREFIX "vhost-user="

static const char *options_device_name(int opt)
{
	switch (opt) {
	case OPT_DISK:
		return "--disk";
	case OPT_NET:
		return "--net";
	case OPT_RNG:
		return "--rng";
	default:
		return "--virtio-console";
	}
}

/* The in-process form of a device option. */
static int options_parse_inproc(int opt, const char *arg, struct iopart_export *e, char *why,
				size_t len)
{
	switch (opt) {
	case OPT_DISK:
		return iopart_export_parse_disk(arg, e, why, len);
	case OPT_NET:
		return iopart_export_parse_net(arg, e, why, len);
	case OPT_RNG:
		iopart_export_init_rng(e);
		return 0;
	default:
		return iopart_export_parse_console(arg, e, why, len);
	}
}

static enum iopart_kind options_device_kind(int opt)
{
	return opt == OPT_DISK ? IOPART_BLK : opt == OPT_NET ? IOPART_NET : IOPART_CONSOLE;
}

/* --disk, --net, --rng, --virtio-console: one more virtio device, in-process or on a socket. */
static int options_add_device(int opt, const char *arg, struct vm_options *o, char err[OPT_ERR_LEN])
{
	const char *name = options_device_name(opt);
	struct iopart_export *e = &o->devices[o->nr_devices];
	struct vm_dev_link *l = &o->links[o->nr_devices];
	char why[OPT_ERR_LEN - 64];
	size_t plen = strlen(VHOST_USER_PREFIX), flen = strlen(OPT_VHOST_USER_FD);

	if (o->nr_devices == OPT_MAX_DEVICES) {
		snprintf(err, OPT_ERR_LEN, "%s: at most %u virtio devices", name, OPT_MAX_DEVICES);
		return -1;
	}
	memset(e, 0, sizeof(*e));
	*l = (struct vm_dev_link){.fd = -1, .channel = -1};
	if (opt != OPT_RNG && !strncmp(arg, OPT_VHOST_USER_FD, flen)) {
		if (options_parse_vu_fd(name, arg + flen, l, err))
			return -1;
		e->kind = options_device_kind(opt);
	} else if (opt != OPT_RNG && !strncmp(arg, VHOST_USER_PREFIX, plen)) {
		if (!arg[plen] || strlen(arg + plen) >= sizeof(e->socket)) {
			snprintf(err, OPT_ERR_LEN, "%s: '%s' is not a usable socket path", name,
				 arg + plen);
			return -1;
		}
		e->kind = options_device_kind(opt);
		strcpy(e->socket, arg + plen);
	} else if (options_parse_inproc(opt, arg, e, why, sizeof(why))) {
		snprintf(err, OPT_ERR_LEN, "%s %s: %s", name, arg, why);
		return -1;
	}
	o->nr_devices++;
	return 0;
}

/* SIZE[,hugepages=on|off] */
static int options_parse_memory(const char *arg, struct vm_options *o, char err[OPT_ERR_LEN])
{
	char buf[64], *comma;
	uint64_t v;

	snprintf(buf, sizeof(buf), "%s", arg);
	comma = strchr(buf, ',');
	if (comma) {
		*comma = '\0';
		if (!strcmp(comma + 1, "hugepages=on")) {
			o->hugepages = true;
		} else if (!strcmp(comma + 1, "hugepages=off")) {
			o->hugepages = false;
		} else {
			snprintf(err, OPT_ERR_LEN,
				 "--memory: unknown option '%s' (only hugepages=on|off)",
				 comma + 1);
			return -1;
		}
	}
	if (strlen(arg) >= sizeof(buf) || parse_size(buf, &v) || v < GMEM_MIN_SIZE ||
	    v > GMEM_MAX_SIZE || (v & 0xfff)) {
		snprintf(err, OPT_ERR_LEN,
			 "--memory: '%s' is not a size from %lluM to %lluG in whole pages "
			 "(like 512M or 2G)",
			 buf, GMEM_MIN_SIZE >> 20, GMEM_MAX_SIZE >> 30);
		return -1;
	}
	if (o->hugepages && (v & (GMEM_HUGE_PAGE - 1))) {
		snprintf(err, OPT_ERR_LEN, "--memory: %s is not a whole number of 2 MiB huge pages",
			 buf);
		return -1;
	}
	o->memory = v;
	return 0;
}

static int options_parse_cpu_features(const char *what, const char *arg, struct vm_options *o,
				      char err[OPT_ERR_LEN])
{
	char why[160];

	if (cpu_features_parse(arg, &o->cpu_hide, why, sizeof(why))) {
		snprintf(err, OPT_ERR_LEN, "%s: %s", what, why);
		return -1;
	}
	return 0;
}

static int options_apply(int opt, const char *arg, struct vm_options *o, char err[OPT_ERR_LEN])
{
	uint64_t v;

	switch (opt) {
	case OPT_KERNEL:
		o->kernel = arg;
		break;
	case OPT_INITRD:
		o->initrd = arg;
		break;
	case OPT_FIRMWARE:
		o->firmware = arg;
		break;
	case OPT_CPU_FEATURES:
		if (options_parse_cpu_features("--cpu-features", arg, o, err))
			return -1;
		o->cpu_features_set = true;
		break;
	case OPT_CMDLINE:
		o->cmdline = arg;
		break;
	case OPT_CPUS:
		if (parse_uint(arg, 1, OPT_MAX_CPUS, &v)) {
			snprintf(err, OPT_ERR_LEN, "--cpus: '%s' is not a CPU count from 1 to %u",
				 arg, OPT_MAX_CPUS);
			return -1;
		}
		o->cpus = (unsigned)v;
		break;
	case OPT_MEMORY:
		if (options_parse_memory(arg, o, err))
			return -1;
		break;
	case OPT_CONSOLE:
		if (options_parse_console(arg, &o->console)) {
			snprintf(err, OPT_ERR_LEN,
				 "--console: '%s' is not one of stdio, pty, unix:PATH", arg);
			return -1;
		}
		break;
	case OPT_LOG_LEVEL:
		o->log_level = arg;
		break;
	case OPT_MEMORY_FD:
		return options_parse_memory_fd(arg, o, err);
	case OPT_PARTITION:
		return options_parse_partition(arg, o, err);
	case OPT_ULTRAVISORD:
		return options_parse_ultravisord(arg, o, err);
	case OPT_DISK:
	case OPT_NET:
	case OPT_RNG:
	case OPT_VIRTIO_CONSOLE:
		return options_add_device(opt, arg, o, err);
	}
	return 0;
}

/* A kernel, or the firmware booting from a disk: never both. */
static int options_check_boot(const struct vm_options *o, char err[OPT_ERR_LEN])
{
	bool disk = false;

	for (unsigned i = 0; i < o->nr_devices; i++)
		disk |= o->devices[i].kind == IOPART_BLK;
	if (o->kernel && o->firmware) {
		snprintf(err, OPT_ERR_LEN, "--kernel and --firmware exclude each other");
		return -1;
	}
	if (!o->kernel && o->initrd) {
		snprintf(err, OPT_ERR_LEN,
			 "--initrd needs --kernel (the firmware loads the disk's)");
		return -1;
	}
	if (!o->kernel && !o->firmware && !disk) {
		snprintf(err, OPT_ERR_LEN, "--kernel PATH or --disk IMG is required");
		return -1;
	}
	return 0;
}

int options_parse_run(int argc, char **argv, struct vm_options *o, char err[OPT_ERR_LEN])
{
	int opt;

	memset(o, 0, sizeof(*o));
	o->cpus = OPT_DEFAULT_CPUS;
	o->memory = OPT_DEFAULT_MEMORY;
	o->cmdline = OPT_DEFAULT_CMDLINE;
	o->console.kind = CONSOLE_STDIO;
	o->memory_fd = -1;
	for (unsigned i = 0; i < OPT_MAX_DEVICES; i++)
		o->links[i] = (struct vm_dev_link){.fd = -1, .channel = -1};

	optind = 0; /* also resets getopt's internal state */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:", run_options, NULL)) != -1) {
		if (opt == OPT_HELP)
			return 1;
		if (opt == '?') {
			snprintf(err, OPT_ERR_LEN, "unknown option '%s' (see uvmm run --help)",
				 argv[optind - 1]);
			return -1;
		}
		if (opt == ':') {
			snprintf(err, OPT_ERR_LEN, "option '%s' needs a value", argv[optind - 1]);
			return -1;
		}
		if (options_apply(opt, optarg, o, err))
			return -1;
	}
	if (optind < argc) {
		snprintf(err, OPT_ERR_LEN, "unexpected argument '%s'", argv[optind]);
		return -1;
	}
	/* The environment's default, for harnesses that run many uvmms (nested-run). */
	if (!o->cpu_features_set && getenv("UVMM_CPU_FEATURES") &&
	    options_parse_cpu_features("UVMM_CPU_FEATURES", getenv("UVMM_CPU_FEATURES"), o, err))
		return -1;
	if (options_check_boot(o, err))
		return -1;
	return options_check_suite(o, err);
}
