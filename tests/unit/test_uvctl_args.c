// SPDX-License-Identifier: GPL-2.0
/* uvctl's command line: verbs into API requests, and every usage error. */
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "uvcheck.h"
#include "uvctl.h"

#define MAX_ARGS 32

static struct uvctl_cmd cmd;
static char err[512];

/* Parses the NULL-terminated words after "uvctl"; returns uvctl_parse's result. */
static int parse(const char *first, ...)
{
	static char *argv[MAX_ARGS];
	const char *w = first;
	int argc = 0;
	va_list ap;

	uvctl_cmd_fini(&cmd);
	argv[argc++] = (char *)"uvctl";
	va_start(ap, first);
	while (w && argc < MAX_ARGS - 1) {
		argv[argc++] = (char *)w;
		w = va_arg(ap, const char *);
	}
	va_end(ap);
	argv[argc] = NULL;
	err[0] = 0;
	return uvctl_parse(argc, argv, &cmd, err, sizeof(err));
}

static void teardown(void)
{
	uvctl_cmd_fini(&cmd);
}

static const char *body_str(const char *key)
{
	return json_object_get_string(json_object_object_get(cmd.body, key));
}

static void expect_usage(const char *pattern)
{
	ck_assert_msg(strstr(err, pattern), "error '%s' lacks '%s'", err, pattern);
	ck_assert_ptr_null(cmd.body);
}

START_TEST(read_verbs)
{
	ck_assert_int_eq(parse("list", NULL), 0);
	ck_assert_int_eq(cmd.verb, UVCTL_LIST);
	ck_assert_str_eq(cmd.method, "GET");
	ck_assert_str_eq(cmd.path, "/v1/partitions");
	ck_assert(!cmd.json);
	ck_assert_ptr_null(cmd.body);
	ck_assert(uvctl_verb_reads(cmd.verb));

	ck_assert_int_eq(parse("--json", "show", "web1", NULL), 0);
	ck_assert_int_eq(cmd.verb, UVCTL_SHOW);
	ck_assert_str_eq(cmd.path, "/v1/partitions/web1");
	ck_assert_str_eq(cmd.name, "web1");
	ck_assert(cmd.json);

	ck_assert_int_eq(parse("status", "--json", NULL), 0);
	ck_assert_str_eq(cmd.path, "/v1/status");
	ck_assert(cmd.json);

	ck_assert_int_eq(parse("policy", "get", NULL), 0);
	ck_assert_int_eq(cmd.verb, UVCTL_POLICY_GET);
	ck_assert_str_eq(cmd.method, "GET");
	ck_assert_str_eq(cmd.path, "/v1/policy");

	/* "--" ends the options; the name may follow it. */
	ck_assert_int_eq(parse("show", "--", "db.2", NULL), 0);
	ck_assert_str_eq(cmd.path, "/v1/partitions/db.2");
}
END_TEST

START_TEST(change_verbs)
{
	static const struct {
		const char *verb, *method, *path;
	} t[] = {
		{"start", "POST", "/v1/partitions/w-1/start"},
		{"shutdown", "POST", "/v1/partitions/w-1/shutdown"},
		{"destroy", "POST", "/v1/partitions/w-1/destroy"},
		{"delete", "DELETE", "/v1/partitions/w-1"},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ck_assert_int_eq(parse(t[i].verb, "w-1", NULL), 0);
		ck_assert_str_eq(cmd.method, t[i].method);
		ck_assert_str_eq(cmd.path, t[i].path);
		ck_assert_ptr_null(cmd.body);
		ck_assert(!uvctl_verb_reads(cmd.verb));
	}
	ck_assert_int_eq(parse("console", "w-1", NULL), 0);
	ck_assert_int_eq(cmd.verb, UVCTL_CONSOLE);
	ck_assert_ptr_null(cmd.method);
}
END_TEST

START_TEST(create_full)
{
	json_object *disks, *nets, *d;

	ck_assert_int_eq(parse("create", "--cpus", "2", "web1", "--disk",
			       "/img/a.qcow2,format=qcow2", "--memory", "2G", "--disk",
			       "/img/b.raw,readonly=on,format=raw", "--net", "tap=uvtap0", "--net",
			       "tap=uvtap1", "--restart", "always", "--hugepages", NULL),
			 0);
	ck_assert_int_eq(cmd.verb, UVCTL_CREATE);
	ck_assert_str_eq(cmd.method, "POST");
	ck_assert_str_eq(cmd.path, "/v1/partitions");
	ck_assert_str_eq(body_str("name"), "web1");
	ck_assert_int_eq(json_object_get_int(json_object_object_get(cmd.body, "cpus")), 2);
	ck_assert_int_eq(json_object_get_int(json_object_object_get(cmd.body, "memory_mib")), 2048);
	ck_assert_str_eq(body_str("restart"), "always");
	ck_assert(json_object_get_boolean(json_object_object_get(cmd.body, "hugepages")));
	disks = json_object_object_get(cmd.body, "disks");
	ck_assert_int_eq(json_object_array_length(disks), 2);
	d = json_object_array_get_idx(disks, 0);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(d, "path")), "/img/a.qcow2");
	ck_assert_str_eq(json_object_get_string(json_object_object_get(d, "format")), "qcow2");
	ck_assert(!json_object_get_boolean(json_object_object_get(d, "readonly")));
	d = json_object_array_get_idx(disks, 1);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(d, "format")), "raw");
	ck_assert(json_object_get_boolean(json_object_object_get(d, "readonly")));
	nets = json_object_object_get(cmd.body, "nets");
	ck_assert_int_eq(json_object_array_length(nets), 2);
	ck_assert_str_eq(json_object_get_string(
				 json_object_object_get(json_object_array_get_idx(nets, 1), "tap")),
			 "uvtap1");
}
END_TEST

/* Only what was given is sent: opsd and its policy fill in the rest. */
START_TEST(create_minimal)
{
	char cwd[4096], want[4200];
	json_object *d;

	ck_assert_int_eq(parse("create", "vm", "--disk", "disk.img", NULL), 0);
	ck_assert(!json_object_object_get_ex(cmd.body, "cpus", NULL));
	ck_assert(!json_object_object_get_ex(cmd.body, "memory_mib", NULL));
	ck_assert(!json_object_object_get_ex(cmd.body, "restart", NULL));
	ck_assert(!json_object_object_get_ex(cmd.body, "hugepages", NULL));
	ck_assert_int_eq(json_object_array_length(json_object_object_get(cmd.body, "nets")), 0);
	d = json_object_array_get_idx(json_object_object_get(cmd.body, "disks"), 0);
	ck_assert(!json_object_object_get_ex(d, "format", NULL));
	/* opsd does not share our working directory. */
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	snprintf(want, sizeof(want), "%s/disk.img", cwd);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(d, "path")), want);
}
END_TEST

/* --kernel, --initrd, --cmdline: sent as given, paths made absolute; a disk is optional. */
START_TEST(create_kernel)
{
	char cwd[4096], want[4200];

	ck_assert_int_eq(parse("create", "k1", "--disk", "/img/k1.raw", "--kernel", "/boot/vmlinuz",
			       "--initrd", "initrd.img", "--cmdline", "console=ttyS0 quiet", NULL),
			 0);
	ck_assert_str_eq(body_str("kernel"), "/boot/vmlinuz");
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	snprintf(want, sizeof(want), "%s/initrd.img", cwd);
	ck_assert_str_eq(body_str("initrd"), want);
	ck_assert_str_eq(body_str("cmdline"), "console=ttyS0 quiet");
	ck_assert_int_eq(json_object_array_length(json_object_object_get(cmd.body, "disks")), 1);
	/* No disk with a kernel; a cmdline that looks like an option is still its value. */
	ck_assert_int_eq(parse("create", "k2", "--kernel", "/k", "--cmdline", "--x", NULL), 0);
	ck_assert_int_eq(json_object_array_length(json_object_object_get(cmd.body, "disks")), 0);
	ck_assert_str_eq(body_str("cmdline"), "--x");
	ck_assert(!json_object_object_get_ex(cmd.body, "initrd", NULL));
	/* Without a kernel nothing of it is sent. */
	ck_assert_int_eq(parse("create", "f", "--disk", "/d", NULL), 0);
	ck_assert(!json_object_object_get_ex(cmd.body, "kernel", NULL));
	ck_assert(!json_object_object_get_ex(cmd.body, "cmdline", NULL));
}
END_TEST

START_TEST(memory_sizes)
{
	static const struct {
		const char *s;
		int ok;
		unsigned long long mib;
	} t[] = {
		{"512M", 1, 512},   {"2G", 1, 2048},   {"1024", 1, 1024},
		{"1T", 1, 1048576}, {"4GiB", 1, 4096}, {"1048576K", 1, 1024},
		{"1536K", 0, 0},    {"", 0, 0},	       {"abc", 0, 0},
		{"-1", 0, 0},	    {"12Q", 0, 0},     {"99999999999999999999", 0, 0},
	};
	unsigned long long mib;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int ret = uvctl_parse_memory(t[i].s, &mib);

		ck_assert_msg((ret == 0) == t[i].ok, "'%s': %d", t[i].s, ret);
		if (t[i].ok)
			ck_assert_msg(mib == t[i].mib, "'%s': %llu MiB", t[i].s, mib);
	}
}
END_TEST

START_TEST(policy_set)
{
	json_object *v;

	ck_assert_int_eq(parse("policy", "set", "restart_max=3", "failover=manual", "flag=true",
			       "cpu_pinning=dedicated", "restart_max=7", NULL),
			 0);
	ck_assert_int_eq(cmd.verb, UVCTL_POLICY_SET);
	ck_assert_str_eq(cmd.method, "PUT");
	ck_assert_str_eq(cmd.path, "/v1/policy");
	ck_assert_int_eq(json_object_object_length(cmd.body), 4);
	v = json_object_object_get(cmd.body, "restart_max");
	ck_assert(json_object_is_type(v, json_type_int));
	ck_assert_int_eq(json_object_get_int(v), 7); /* the last one wins */
	ck_assert_str_eq(body_str("failover"), "manual");
	ck_assert(json_object_is_type(json_object_object_get(cmd.body, "flag"), json_type_boolean));
	ck_assert_str_eq(body_str("cpu_pinning"), "dedicated");

	/* A value may contain '=' and may be empty. */
	ck_assert_int_eq(parse("policy", "set", "a=b=c", "e=", NULL), 0);
	ck_assert_str_eq(body_str("a"), "b=c");
	ck_assert_str_eq(body_str("e"), "");
}
END_TEST

START_TEST(help_version)
{
	ck_assert_int_eq(parse("--help", NULL), 0);
	ck_assert_int_eq(cmd.verb, UVCTL_HELP);
	ck_assert_int_eq(parse("-h", "list", NULL), 0);
	ck_assert_int_eq(cmd.verb, UVCTL_HELP);
	ck_assert_int_eq(parse("create", "x", "--disk", "/a", "--help", NULL), 0);
	ck_assert_int_eq(cmd.verb, UVCTL_HELP);
	ck_assert_str_eq(cmd.name, "create");
	ck_assert_ptr_null(cmd.body);
	ck_assert_int_eq(parse("--version", NULL), 0);
	ck_assert_int_eq(cmd.verb, UVCTL_VERSION);
	ck_assert_ptr_nonnull(strstr(uvctl_usage_text, "SYNOPSIS"));
	ck_assert_ptr_nonnull(strstr(uvctl_usage_text, "EXIT STATUS"));
}
END_TEST

START_TEST(usage_errors)
{
	static const struct {
		const char *words[10];
		const char *pattern;
	} t[] = {
		{{NULL}, "no verb"},
		{{"--json", NULL}, "no verb"},
		{{"frob", NULL}, "unknown verb 'frob'"},
		{{"--frob", "list", NULL}, "unknown option '--frob'"},
		{{"list", "--frob", NULL}, "unknown option '--frob'"},
		{{"list", "extra", NULL}, "unexpected argument 'extra'"},
		{{"show", NULL}, "which partition"},
		{{"show", "a", "b", NULL}, "unexpected argument 'b'"},
		{{"show", "Web", NULL}, "'Web' is not a partition name"},
		{{"start", "../etc", NULL}, "is not a partition name"},
		{{"console", "a/b", NULL}, "is not a partition name"},
		{{"start", "--disk", "x", "a", NULL}, "unknown option '--disk'"},
		{{"create", "a", NULL}, "at least one --disk"},
		{{"create", "a", "--disk", "/x", "--initrd", "/i", NULL},
		 "--initrd needs --kernel"},
		{{"create", "a", "--disk", "/x", "--cmdline", "quiet", NULL},
		 "--cmdline needs --kernel"},
		{{"create", "a", "--initrd", "/i", NULL}, "at least one --disk"},
		{{"create", "a", "--kernel", "", NULL}, "--kernel: no path"},
		{{"create", "a", "--kernel", "/k", "--initrd", "", NULL}, "--initrd: no path"},
		{{"create", "a", "--kernel", "/k", "--kernel", "/k2", NULL},
		 "--kernel given twice"},
		{{"create", "a", "--kernel", "/k", "--cmdline", "a", "--cmdline", "b", NULL},
		 "--cmdline given twice"},
		{{"create", "a", "--kernel", NULL}, "'--kernel' needs a value"},
		{{"create", "a", "--disk", NULL}, "'--disk' needs a value"},
		{{"create", "a", "--disk", ",readonly=on", NULL}, "no image path"},
		{{"create", "a", "--disk", "/x,readonly=yes", NULL}, "'readonly=yes'"},
		{{"create", "a", "--disk", "/x,format=vmdk", NULL}, "'format=vmdk'"},
		{{"create", "a", "--disk", "/x,", NULL}, "is not readonly"},
		{{"create", "a", "--disk", "/x", "--cpus", "two", NULL}, "--cpus 'two'"},
		{{"create", "a", "--disk", "/x", "--cpus", "1", "--cpus", "2", NULL},
		 "given twice"},
		{{"create", "a", "--disk", "/x", "--memory", "1.5G", NULL}, "--memory '1.5G'"},
		{{"create", "a", "--disk", "/x", "--net", "uvtap0", NULL}, "tap=IFNAME"},
		{{"create", "a", "--disk", "/x", "--net", "tap=", NULL}, "tap=IFNAME"},
		{{"create", "a", "--disk", "/x", "--restart", "sometimes", NULL}, "'sometimes'"},
		{{"policy", NULL}, "get or set"},
		{{"policy", "frob", NULL}, "get or set"},
		{{"policy", "get", "x", NULL}, "unexpected argument 'x'"},
		{{"policy", "set", NULL}, "at least one KEY=VALUE"},
		{{"policy", "set", "novalue", NULL}, "'novalue' is not KEY=VALUE"},
		{{"policy", "set", "=v", NULL}, "'=v' is not KEY=VALUE"},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const char *const *w = t[i].words;

		ck_assert_msg(parse(w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], w[8], NULL) ==
				      -1,
			      "case %zu (%s) was accepted", i, t[i].pattern);
		expect_usage(t[i].pattern);
	}
}
END_TEST

START_TEST(value_types)
{
	json_object *v = uvctl_policy_value("60");

	ck_assert(json_object_is_type(v, json_type_int));
	ck_assert_int_eq(json_object_get_int(v), 60);
	json_object_put(v);
	v = uvctl_policy_value("false");
	ck_assert(json_object_is_type(v, json_type_boolean));
	ck_assert(!json_object_get_boolean(v));
	json_object_put(v);
	v = uvctl_policy_value("-1");
	ck_assert(json_object_is_type(v, json_type_string));
	json_object_put(v);
	v = uvctl_policy_value("on-failure");
	ck_assert_str_eq(json_object_get_string(v), "on-failure");
	json_object_put(v);
}
END_TEST

START_TEST(mib_format)
{
	char buf[32];

	uvctl_format_mib(buf, sizeof(buf), 512);
	ck_assert_str_eq(buf, "512M");
	uvctl_format_mib(buf, sizeof(buf), 2048);
	ck_assert_str_eq(buf, "2G");
	uvctl_format_mib(buf, sizeof(buf), 1536);
	ck_assert_str_eq(buf, "1536M");
	uvctl_format_mib(buf, sizeof(buf), 1048576);
	ck_assert_str_eq(buf, "1T");
	uvctl_format_mib(buf, sizeof(buf), 0);
	ck_assert_str_eq(buf, "0M");
}
END_TEST

int main(void)
{
	return uv_check_run(uv_suite("uvctl_args", NULL, teardown, 0,
				     UV_TESTS(read_verbs, change_verbs, create_full, create_minimal,
					      create_kernel, memory_sizes, policy_set, help_version,
					      usage_errors, value_types, mib_format)));
}
