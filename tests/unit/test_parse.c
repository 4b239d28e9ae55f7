// SPDX-License-Identifier: GPL-2.0
#include <check.h>

#include "uvcheck.h"
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "parse.h"

START_TEST(size_units)
{
	uint64_t v;

	ck_assert_int_eq(parse_size("512M", &v), 0);
	ck_assert_uint_eq(v, 512ULL << 20);
	ck_assert_int_eq(parse_size("2G", &v), 0);
	ck_assert_uint_eq(v, 2ULL << 30);
	ck_assert_int_eq(parse_size("2g", &v), 0);
	ck_assert_uint_eq(v, 2ULL << 30);
	ck_assert_int_eq(parse_size("4KiB", &v), 0);
	ck_assert_uint_eq(v, 4096);
	ck_assert_int_eq(parse_size("1TB", &v), 0);
	ck_assert_uint_eq(v, 1ULL << 40);
	ck_assert_int_eq(parse_size("1048576", &v), 0);
	ck_assert_uint_eq(v, 1048576);
}
END_TEST

START_TEST(size_rejects)
{
	static const char *bad[] = {"",
				    "M",
				    "-5G",
				    " 5G",
				    "5 G",
				    "12Q",
				    "1.5G",
				    "5GG",
				    "5Gx",
				    "99999999999999999999",
				    "17179869184G",
				    "0x10M"};
	uint64_t v;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(parse_size(bad[i], &v) == -1, "accepted '%s'", bad[i]);
	ck_assert_int_eq(parse_size(NULL, &v), -1);
}
END_TEST

START_TEST(uint_ranges)
{
	uint64_t v;

	ck_assert_int_eq(parse_uint("4", 1, 254, &v), 0);
	ck_assert_uint_eq(v, 4);
	ck_assert_int_eq(parse_uint("0", 1, 254, &v), -1);
	ck_assert_int_eq(parse_uint("255", 1, 254, &v), -1);
	ck_assert_int_eq(parse_uint("-1", 0, 254, &v), -1);
	ck_assert_int_eq(parse_uint("3x", 0, 254, &v), -1);
}
END_TEST

static int run_parse(struct vm_options *o, char err[OPT_ERR_LEN], int argc, char **argv)
{
	return options_parse_run(argc, argv, o, err);
}

START_TEST(options_good)
{
	char *argv[] = {"run",
			"--kernel",
			"/k",
			"--initrd",
			"/i",
			"--cmdline",
			"console=ttyS0 x",
			"--cpus",
			"4",
			"--memory",
			"2G",
			"--console",
			"unix:/tmp/c.sock",
			NULL};
	char err[OPT_ERR_LEN];
	struct vm_options o;

	ck_assert_int_eq(run_parse(&o, err, 13, argv), 0);
	ck_assert_str_eq(o.kernel, "/k");
	ck_assert_str_eq(o.initrd, "/i");
	ck_assert_str_eq(o.cmdline, "console=ttyS0 x");
	ck_assert_uint_eq(o.cpus, 4);
	ck_assert_uint_eq(o.memory, 2ULL << 30);
	ck_assert_int_eq(o.console.kind, CONSOLE_UNIX);
	ck_assert_str_eq(o.console.path, "/tmp/c.sock");
}
END_TEST

START_TEST(options_defaults)
{
	char *argv[] = {"run", "--kernel=/k", NULL};
	char err[OPT_ERR_LEN];
	struct vm_options o;

	ck_assert_int_eq(run_parse(&o, err, 2, argv), 0);
	ck_assert_uint_eq(o.cpus, 1);
	ck_assert_uint_eq(o.memory, 512ULL << 20);
	ck_assert_str_eq(o.cmdline, OPT_DEFAULT_CMDLINE);
	ck_assert_int_eq(o.console.kind, CONSOLE_STDIO);
	ck_assert(!o.hugepages);
}
END_TEST

START_TEST(options_hugepages)
{
	char *argv[] = {"run", "--kernel=/k", "--memory", "1G,hugepages=on", NULL};
	char err[OPT_ERR_LEN];
	struct vm_options o;

	ck_assert_int_eq(run_parse(&o, err, 4, argv), 0);
	ck_assert_uint_eq(o.memory, 1ULL << 30);
	ck_assert(o.hugepages);
}
END_TEST

/*
 * Without --kernel the firmware boots the first --disk. An explicit
 * --firmware needs no disk (its console self-test does not).
 */
START_TEST(options_firmware_boot)
{
	char *disk_only[] = {"run", "--disk", "/d.img", NULL};
	char *with_fw[] = {"run", "--disk", "/d.img", "--firmware", "/fw.bin", NULL};
	char *fw_only[] = {"run", "--firmware", "/fw.bin", NULL};
	static char *bad[][6] = {
		{"run", "--cmdline", "x"},
		{"run", "--kernel", "/k", "--firmware", "/fw.bin"},
		{"run", "--initrd", "/i", "--disk", "/d.img"},
		{"run", "--rng"},
	};
	char err[OPT_ERR_LEN];
	struct vm_options o;

	ck_assert_int_eq(run_parse(&o, err, 3, disk_only), 0);
	ck_assert_ptr_null(o.kernel);
	ck_assert_ptr_null(o.firmware);
	ck_assert_int_eq(run_parse(&o, err, 5, with_fw), 0);
	ck_assert_str_eq(o.firmware, "/fw.bin");
	ck_assert_int_eq(run_parse(&o, err, 3, fw_only), 0);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int argc = 0;

		while (argc < 6 && bad[i][argc])
			argc++;
		ck_assert_msg(run_parse(&o, err, argc, bad[i]) == -1, "case %u accepted", i);
		ck_assert(err[0]);
	}
}
END_TEST

START_TEST(options_bad)
{
	static char *cases[][4] = {
		{"run", "--kernel", "/k", "--bogus"},
		{"run", "--kernel", "/k", "--cpus=0"},
		{"run", "--kernel", "/k", "--cpus=255"},
		{"run", "--kernel", "/k", "--memory=0"},
		{"run", "--kernel", "/k", "--memory=12Q"},
		{"run", "--kernel", "/k", "--memory=1M"},
		{"run", "--kernel", "/k", "--console=tcp"},
		{"run", "--kernel", "/k", "extra"},
		{"run", "--initrd", "/i", "--cpus=1"},
		{"run", "--kernel", "/k", "--memory=5000"},
		{"run", "--kernel", "/k", "--memory=255M,hugepages=on"},
		{"run", "--kernel", "/k", "--memory=512M,huge=1"},
		{"run", "--kernel", "/k", "--memory=512M,"},
		{"run", "--kernel", "/k", "--console=file:/log"},
		{"run", "--kernel", "/k", "--virtio-console=stdio"},
		{"run", "--kernel", "/k", "--virtio-console=tcp:1"},
		{"run", "--kernel", "/k", "--virtio-console=unix:"},
		{"run", "--kernel", "/k", "--virtio-console=vhost-user="},
		{"run", "--kernel", "/k", "--virtio-console"},
	};
	char err[OPT_ERR_LEN];
	struct vm_options o;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = 0;
		ck_assert_msg(run_parse(&o, err, 4, cases[i]) == -1, "accepted case %zu", i);
		ck_assert_msg(err[0], "no message for case %zu", i);
	}
}
END_TEST

START_TEST(options_virtio_console)
{
	char *argv[] = {"run",
			"--kernel=/k",
			"--virtio-console",
			"unix:/tmp/vc.sock",
			"--virtio-console=vhost-user=/tmp/vu.sock",
			"--virtio-console=file:out.log",
			"--virtio-console=pty",
			NULL};
	char err[OPT_ERR_LEN];
	struct vm_options o;

	ck_assert_int_eq(run_parse(&o, err, 7, argv), 0);
	ck_assert_uint_eq(o.nr_devices, 4);
	for (unsigned i = 0; i < 4; i++)
		ck_assert_int_eq(o.devices[i].kind, IOPART_CONSOLE);
	ck_assert_int_eq(o.devices[0].console, CONSOLE_UNIX);
	ck_assert_str_eq(o.devices[0].path, "/tmp/vc.sock");
	ck_assert_str_eq(o.devices[0].socket, "");
	ck_assert_str_eq(o.devices[1].socket, "/tmp/vu.sock");
	ck_assert_int_eq(o.devices[2].console, CONSOLE_FILE);
	ck_assert_str_eq(o.devices[2].path, "out.log");
	ck_assert_int_eq(o.devices[3].console, CONSOLE_PTY);
	/* The serial console is unchanged by it. */
	ck_assert_int_eq(o.console.kind, CONSOLE_STDIO);

	char *bad[] = {"run", "--kernel=/k", "--virtio-console=tcp:1", NULL};
	ck_assert_int_eq(run_parse(&o, err, 3, bad), -1);
	ck_assert_str_eq(err, "--virtio-console tcp:1: 'tcp:1' is not pty, unix:PATH or file:PATH");
}
END_TEST

START_TEST(options_missing_value)
{
	char *argv[] = {"run", "--kernel", "/k", "--cpus", NULL};
	char err[OPT_ERR_LEN];
	struct vm_options o;

	ck_assert_int_eq(run_parse(&o, err, 4, argv), -1);
	ck_assert_ptr_nonnull(strstr(err, "--cpus"));
}
END_TEST

int main(void)
{
	return uv_check_run(
		uv_suite("parse", NULL, NULL, 0,
			 UV_TESTS(size_units, size_rejects, uint_ranges, options_good,
				  options_defaults, options_hugepages, options_firmware_boot,
				  options_bad, options_virtio_console, options_missing_value)));
}
