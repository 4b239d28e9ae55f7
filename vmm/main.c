// SPDX-License-Identifier: GPL-2.0
/* uvmm: one guest partition on /dev/kvm. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "kvm_check.h"
#include "log.h"
#include "options.h"
#include "vm.h"

static const char usage_text[] =
	"Usage: uvmm run --kernel PATH [options]\n"
	"       uvmm run --disk IMG [--firmware PATH] [options]\n"
	"       uvmm check-kvm\n"
	"       uvmm --help | --version\n"
	"\n"
	"Runs one guest partition on /dev/kvm until it powers off.\n"
	"\n"
	"Options of 'run':\n"
	"  --kernel PATH        Linux bzImage to boot (64-bit boot protocol, 2.12+)\n"
	"  --initrd PATH        initial ramdisk, placed as high as the kernel allows\n"
	"  --firmware PATH      without --kernel: the guest firmware that boots the first\n"
	"                       --disk (default: the uvfw.bin built or installed with uvmm)\n"
	"  --cmdline STR        kernel command line (default \"" OPT_DEFAULT_CMDLINE
	"\"); for the\n"
	"                       firmware, words after the boot entry's own options\n"
	"  --cpus N             number of vCPUs, 1 to 254 (default 1)\n"
	"  --memory SIZE[,hugepages=on]\n"
	"                       guest RAM, like 512M or 2G (default 512M); hugepages=on\n"
	"                       takes it from the host's 2 MiB huge pages\n"
	"  --console KIND       stdio (default; Ctrl-A x quits on a terminal), pty,\n"
	"                       or unix:PATH (a socket one client attaches to)\n"
	"  --log-level LEVEL    error, warn, info (default) or debug\n"
	"  --cpu-features -xsave\n"
	"                       hide XSAVE (and AVX, PKU, ... with it) from the guest;\n"
	"                       default from $UVMM_CPU_FEATURES\n"
	"  --disk PATH[,format=raw|qcow2][,readonly=on][,direct=on][,num-queues=N][,serial=S]\n"
	"                       virtio-blk disk on a raw or qcow2 image (detected from its\n"
	"                       header; format=qcow2 is needed to follow a backing file),\n"
	"                       served by a thread of uvmm (repeatable: vda, vdb, ...)\n"
	"  --disk vhost-user=SOCKET\n"
	"                       virtio-blk disk served by another process (iopartd,\n"
	"                       qemu-storage-daemon); uvmm reconnects if it restarts\n"
	"  --net tap=IFNAME[,mac=MAC] | --net vhost-user=SOCKET\n"
	"                       virtio-net on a tap device, or served by another process\n"
	"  --rng                virtio-rng fed from the host's getrandom()\n"
	"  --virtio-console pty|unix:PATH|file:PATH | --virtio-console vhost-user=SOCKET\n"
	"                       virtio-console (/dev/hvcN in the guest) on a pty, a\n"
	"                       socket one client attaches to, or a file (output\n"
	"                       only); or served by another process (iopartd)\n"
	"\n"
	"Started by commandd (descriptors made by ultravisord):\n"
	"  --memory-fd FD       guest RAM is this memfd: sealed against shrinking and\n"
	"                       exactly --memory bytes\n"
	"  --disk vhost-user-fd=FD[,channel=D] | --net vhost-user-fd=FD[,channel=D]\n"
	"  --virtio-console vhost-user-fd=FD[,channel=D]\n"
	"                       the device on an already connected vhost-user socket;\n"
	"                       D (0-63) is ultravisord's device number for the channel\n"
	"                       (default: the position among the vhost-user devices)\n"
	"  --partition NAME     attach to ultravisord as partition NAME, hand it the\n"
	"                       channels' in-flight areas and follow its channel moves\n"
	"  --ultravisord PATH   its socket (default $UV_RUNTIME_DIR/ultravisord.sock)\n"
	"\n"
	"Signals: SIGPWR presses the ACPI power button (the guest shuts down, status 0);\n"
	"SIGTERM and SIGINT stop the guest at once (status 143).\n"
	"\n"
	"Exit status:\n"
	"  0  the guest powered off       3  the guest rebooted\n"
	"  1  VMM error at run time       4  the guest crashed (triple fault, KVM error)\n"
	"  2  bad invocation or input   143  stopped by SIGTERM or SIGINT\n"
	"  5  firmware: nothing to boot   6  firmware: boot failed (corrupt disk, bad kernel)\n"
	"  7  firmware: a uvfw.test= self-test failed\n"
	"\n"
	"'check-kvm' runs a tiny guest and says whether /dev/kvm is usable and fast:\n"
	"exit 0 if fast, 1 if it works but is too slow to run guests, 2 if unusable.\n";

static int cmd_check_kvm(void)
{
	char why[128];
	double ms;
	enum kvm_check_result res = kvm_check(&ms, why, sizeof(why));

	printf("check-kvm: %s (%.1f ms for a 1M-iteration guest loop, limit %d ms)\n",
	       res == KVM_CHECK_FAST   ? "fast"
	       : res == KVM_CHECK_SLOW ? "too slow"
				       : "unusable",
	       ms, KVM_CHECK_LIMIT_MS);
	if (res != KVM_CHECK_FAST)
		printf("check-kvm: %s\n", why);
	return (int)res;
}

static int cmd_run(int argc, char **argv)
{
	char err[VM_ERR_LEN > OPT_ERR_LEN ? VM_ERR_LEN : OPT_ERR_LEN];
	struct vm_options o;
	enum uv_log_level level;
	struct vm vm;
	int status, ret;

	ret = options_parse_run(argc, argv, &o, err);
	if (ret > 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (ret < 0) {
		pr_err("%s", err);
		return VM_EXIT_USAGE;
	}
	if (o.log_level) {
		if (log_parse_level(o.log_level, &level)) {
			pr_err("--log-level: '%s' is not one of error, warn, info, debug",
			       o.log_level);
			return VM_EXIT_USAGE;
		}
		log_set_level(level);
	}
	if (vm_create(&vm, &o, err, &status)) {
		pr_err("%s", err);
		vm_destroy(&vm);
		return status;
	}
	status = vm_run(&vm);
	vm_destroy(&vm);
	return status;
}

int main(int argc, char **argv)
{
	/* A VMM's core would hold guest secrets and be huge; none is wanted. */
	setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0});
	signal(SIGPIPE, SIG_IGN);
	log_init("uvmm", UV_LOG_INFO);
	setvbuf(stderr, NULL, _IOLBF, 0);

	if (argc < 2) {
		fputs(usage_text, stderr);
		return VM_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("uvmm %s\n", UV_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "check-kvm"))
		return cmd_check_kvm();
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	pr_err("unknown command '%s' (see uvmm --help)", argv[1]);
	return VM_EXIT_USAGE;
}
