// SPDX-License-Identifier: GPL-2.0
/* opsd's request parsing: partitions, actual-state reports, policy, strict JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "field.h"
#include "partition.h"
#include "policy.h"
#include "uvcheck.h"

static char err[512];

static json_object *parse(const char *text)
{
	json_object *o = opsd_json_parse(text, strlen(text), err, sizeof(err));

	ck_assert_msg(o, "%s: %s", text, err);
	return o;
}

static struct opsd_partition *create(const char *text)
{
	json_object *o = parse(text);
	struct opsd_partition *p =
		opsd_partition_from_create(o, OPSD_RESTART_ON_FAILURE, err, sizeof(err));

	json_object_put(o);
	return p;
}

/* A refused create, with err holding want. */
static void refused(const char *text, const char *want)
{
	struct opsd_partition *p = create(text);

	ck_assert_msg(!p, "%s was accepted", text);
	ck_assert_msg(strstr(err, want), "%s: '%s' lacks '%s'", text, err, want);
}

START_TEST(test_name)
{
	static const char *good[] = {"a", "0", "web1", "a.b_c-d", "0-", "a..", NULL};
	static const char *bad[] = {"", "A", "-a", ".a", "_a", "a b", "a/b", "..", "é", NULL};
	char name[80];

	for (int i = 0; good[i]; i++)
		ck_assert_msg(opsd_name_valid(good[i]), "%s", good[i]);
	for (int i = 0; bad[i]; i++)
		ck_assert_msg(!opsd_name_valid(bad[i]), "%s", bad[i]);
	memset(name, 'a', sizeof(name));
	name[63] = 0;
	ck_assert(opsd_name_valid(name));
	name[63] = 'a';
	name[64] = 0;
	ck_assert(!opsd_name_valid(name));
}
END_TEST

START_TEST(test_create_full)
{
	struct opsd_partition *p = create(
		"{\"name\":\"web1\",\"cpus\":2,\"memory_mib\":1024,\"hugepages\":true,"
		"\"disks\":[{\"path\":\"/srv/a.qcow2\",\"format\":\"qcow2\",\"readonly\":true},"
		"{\"path\":\"/srv/b\"}],\"nets\":[{\"tap\":\"uvtap0\"}],\"restart\":\"never\"}");

	ck_assert_msg(p, "%s", err);
	ck_assert_str_eq(p->name, "web1");
	ck_assert_uint_eq(p->cpus, 2);
	ck_assert_uint_eq(p->memory_mib, 1024);
	ck_assert(p->hugepages);
	ck_assert_uint_eq(p->ndisks, 2);
	ck_assert_str_eq(p->disks[0].path, "/srv/a.qcow2");
	ck_assert_int_eq(p->disks[0].format, OPSD_FORMAT_QCOW2);
	ck_assert(p->disks[0].readonly);
	ck_assert_int_eq(p->disks[1].format, OPSD_FORMAT_DETECT);
	ck_assert(!p->disks[1].readonly);
	ck_assert_uint_eq(p->nnets, 1);
	ck_assert_str_eq(p->nets[0].tap, "uvtap0");
	ck_assert_int_eq(p->restart, OPSD_RESTART_NEVER);
	ck_assert_int_eq(p->intent.desired, OPSD_DESIRED_STOPPED);
	ck_assert_int_eq(p->actual.state, OPSD_STATE_UNKNOWN);
	opsd_partition_free(p);
}
END_TEST

START_TEST(test_create_defaults)
{
	json_object *o = parse("{\"name\":\"m\"}");
	struct opsd_partition *p =
		opsd_partition_from_create(o, OPSD_RESTART_ALWAYS, err, sizeof(err));

	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(p->cpus, OPSD_DEFAULT_CPUS);
	ck_assert_uint_eq(p->memory_mib, OPSD_DEFAULT_MIB);
	ck_assert(!p->hugepages);
	ck_assert_uint_eq(p->ndisks, 0);
	ck_assert_uint_eq(p->nnets, 0);
	/* The policy's restart_default fills an absent restart. */
	ck_assert_int_eq(p->restart, OPSD_RESTART_ALWAYS);
	opsd_partition_free(p);
	json_object_put(o);
}
END_TEST

START_TEST(test_create_refused)
{
	refused("[]", "JSON object");
	refused("\"x\"", "JSON object");
	refused("{}", "missing field 'name'");
	refused("{\"cpus\":1}", "missing field 'name'");
	refused("{\"name\":\"x\",\"bogus\":1}", "unknown field 'bogus'");
	/* opsd's and commandd's own fields are not the client's to set. */
	refused("{\"name\":\"x\",\"desired\":\"running\"}", "unknown field 'desired'");
	refused("{\"name\":\"x\",\"generation\":1}", "unknown field 'generation'");
	refused("{\"name\":\"x\",\"actual\":{}}", "unknown field 'actual'");
	refused("{\"name\":\"x\",\"stop_mode\":\"destroy\"}", "unknown field 'stop_mode'");
	refused("{\"name\":5}", "'name' must be a string");
	refused("{\"name\":\"X\"}", "'name' must match");
	refused("{\"name\":\"x\",\"cpus\":0}", "'cpus' must be an integer from 1 to 255");
	refused("{\"name\":\"x\",\"cpus\":256}", "'cpus'");
	refused("{\"name\":\"x\",\"cpus\":\"2\"}", "'cpus'");
	refused("{\"name\":\"x\",\"cpus\":2.0}", "'cpus'");
	refused("{\"name\":\"x\",\"cpus\":18446744073709551617}", "'cpus'");
	refused("{\"name\":\"x\",\"cpus\":-9223372036854775809}", "'cpus'");
	refused("{\"name\":\"x\",\"memory_mib\":63}", "from 64 to 1048576");
	refused("{\"name\":\"x\",\"memory_mib\":1048577}", "'memory_mib'");
	refused("{\"name\":\"x\",\"hugepages\":0}", "'hugepages' must be true or false");
	refused("{\"name\":\"x\",\"restart\":\"sometimes\"}",
		"'restart' must be one of on-failure, always, never");
	refused("{\"name\":\"x\",\"disks\":{}}", "'disks' must be an array");
	refused("{\"name\":\"x\",\"disks\":[1]}", "'disks[0]' must be an object");
	refused("{\"name\":\"x\",\"disks\":[{}]}", "missing field 'disks[0].path'");
	refused("{\"name\":\"x\",\"disks\":[{\"path\":\"/a\"},{\"path\":\"b\"}]}",
		"'disks[1].path' must be an absolute path");
	refused("{\"name\":\"x\",\"disks\":[{\"path\":\"/a\\u0000b\"}]}", "NUL");
	refused("{\"name\":\"x\",\"disks\":[{\"path\":\"/a\",\"format\":\"vmdk\"}]}",
		"'disks[0].format' must be one of raw, qcow2");
	refused("{\"name\":\"x\",\"disks\":[{\"path\":\"/a\",\"readonly\":\"on\"}]}",
		"'disks[0].readonly'");
	refused("{\"name\":\"x\",\"disks\":[{\"path\":\"/a\",\"cache\":1}]}",
		"unknown field 'disks[0].cache'");
	refused("{\"name\":\"x\",\"nets\":[{\"tap\":\"0123456789abcdef\"}]}", "'nets[0].tap'");
	refused("{\"name\":\"x\",\"nets\":[{\"tap\":\"a:b\"}]}", "'nets[0].tap'");
	refused("{\"name\":\"x\",\"nets\":[{}]}", "missing field 'nets[0].tap'");
	refused("{\"name\":\"x\",\"nets\":[{\"tap\":\"t\",\"mac\":\"x\"}]}",
		"unknown field 'nets[0].mac'");
}
END_TEST

/* kernel, initrd, cmdline: direct kernel boot, kept and given back; absent by default. */
START_TEST(test_create_kernel)
{
	struct opsd_partition *p =
		create("{\"name\":\"k\",\"disks\":[{\"path\":\"/srv/d.img\"}],"
		       "\"kernel\":\"/boot/vmlinuz\",\"initrd\":\"/boot/initrd.img\","
		       "\"cmdline\":\"console=ttyS0 root=/dev/vda1 ro\"}");
	json_object *j, *v;

	ck_assert_msg(p, "%s", err);
	ck_assert_str_eq(p->kernel, "/boot/vmlinuz");
	ck_assert_str_eq(p->initrd, "/boot/initrd.img");
	ck_assert_str_eq(p->cmdline, "console=ttyS0 root=/dev/vda1 ro");
	j = opsd_partition_to_json(p);
	ck_assert(json_object_object_get_ex(j, "cmdline", &v));
	ck_assert_str_eq(json_object_get_string(v), "console=ttyS0 root=/dev/vda1 ro");
	json_object_put(j);
	opsd_partition_free(p);
	/* A kernel alone (no disk needed), and an empty cmdline (uvmm's default is not sent). */
	p = create("{\"name\":\"k\",\"kernel\":\"/k\",\"cmdline\":\"\"}");
	ck_assert_msg(p, "%s", err);
	ck_assert_ptr_null(p->initrd);
	ck_assert_str_eq(p->cmdline, "");
	opsd_partition_free(p);
	/* Without them: the firmware boots the disk, and the JSON says nothing of a kernel. */
	p = create("{\"name\":\"f\",\"disks\":[{\"path\":\"/d\"}]}");
	ck_assert_ptr_null(p->kernel);
	ck_assert_ptr_null(p->cmdline);
	j = opsd_partition_to_json(p);
	ck_assert(!json_object_object_get_ex(j, "kernel", NULL));
	ck_assert(!json_object_object_get_ex(j, "initrd", NULL));
	ck_assert(!json_object_object_get_ex(j, "cmdline", NULL));
	json_object_put(j);
	opsd_partition_free(p);
}
END_TEST

/* {"name":"x",MEMBER:"<fill repeated len times, after lead>"} */
static const char *long_member(const char *member, const char *lead, char fill, size_t len)
{
	static char buf[8192];
	size_t n = (size_t)snprintf(buf, sizeof(buf),
				    "{\"name\":\"x\",\"kernel\":\"/k\",\"%s\":\"%s", member, lead);

	ck_assert_uint_lt(n + len + 3, sizeof(buf));
	memset(buf + n, fill, len);
	strcpy(buf + n + len, "\"}");
	return buf;
}

START_TEST(test_create_kernel_refused)
{
	struct opsd_partition *p;

	/* Relative, empty, wrong JSON types. */
	refused("{\"name\":\"x\",\"kernel\":\"vmlinuz\"}", "'kernel' must be an absolute path");
	refused("{\"name\":\"x\",\"kernel\":\"\"}", "'kernel' must be an absolute path");
	refused("{\"name\":\"x\",\"kernel\":\"/k\",\"initrd\":\"boot/initrd\"}",
		"'initrd' must be an absolute path");
	refused("{\"name\":\"x\",\"kernel\":5}", "'kernel' must be a string");
	refused("{\"name\":\"x\",\"kernel\":null}", "'kernel' must be a string");
	refused("{\"name\":\"x\",\"kernel\":[\"/k\"]}", "'kernel' must be a string");
	refused("{\"name\":\"x\",\"kernel\":\"/k\",\"initrd\":true}", "'initrd' must be a string");
	refused("{\"name\":\"x\",\"kernel\":\"/k\",\"cmdline\":[\"a\",\"b\"]}",
		"'cmdline' must be a string");
	refused("{\"name\":\"x\",\"kernel\":\"/k\\u0000x\"}", "NUL");
	refused("{\"name\":\"x\",\"kernel\":\"/k\",\"cmdline\":\"a\\nb\"}",
		"'cmdline' must not contain control characters");
	/* initrd and cmdline only with a kernel: the firmware boots the disk's own. */
	refused("{\"name\":\"x\",\"initrd\":\"/i\"}", "'initrd' needs 'kernel'");
	refused("{\"name\":\"x\",\"disks\":[{\"path\":\"/d\"}],\"cmdline\":\"quiet\"}",
		"'cmdline' needs 'kernel'");
	/* Length limits: 4095 bytes of path, 2047 of cmdline. */
	p = create(long_member("initrd", "/", 'i', OPSD_BOOT_PATH_MAX - 1));
	ck_assert_msg(p, "%s", err);
	ck_assert_uint_eq(strlen(p->initrd), OPSD_BOOT_PATH_MAX);
	opsd_partition_free(p);
	refused(long_member("initrd", "/", 'i', OPSD_BOOT_PATH_MAX),
		"'initrd' is longer than 4095 bytes");
	p = create(long_member("cmdline", "", 'c', OPSD_CMDLINE_MAX));
	ck_assert_msg(p, "%s", err);
	opsd_partition_free(p);
	refused(long_member("cmdline", "", 'c', OPSD_CMDLINE_MAX + 1),
		"'cmdline' is longer than 2047 bytes");
}
END_TEST

/* {"name":"x","MEMBER":[...]} with count items, item printf'ed with its index. */
static const char *array_body(const char *member, const char *item, int count)
{
	static char buf[2048];
	size_t n = (size_t)snprintf(buf, sizeof(buf), "{\"name\":\"x\",\"%s\":[", member);

	for (int i = 0; i < count; i++) {
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s", i ? "," : "");
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, item, i);
	}
	snprintf(buf + n, sizeof(buf) - n, "]}");
	return buf;
}

START_TEST(test_create_limits)
{
	struct opsd_partition *p;

	p = create(array_body("disks", "{\"path\":\"/d%d\"}", 16));
	ck_assert_msg(p, "%s", err);
	ck_assert_uint_eq(p->ndisks, 16);
	opsd_partition_free(p);
	refused(array_body("disks", "{\"path\":\"/d%d\"}", 17), "'disks' has more than 16 entries");
	p = create(array_body("nets", "{\"tap\":\"t%d\"}", 8));
	ck_assert_msg(p, "%s", err);
	ck_assert_uint_eq(p->nnets, 8);
	opsd_partition_free(p);
	refused(array_body("nets", "{\"tap\":\"t%d\"}", 9), "'nets' has more than 8 entries");
}
END_TEST

/* What is saved loads back the same, and the API form adds "actual". */
START_TEST(test_file_round_trip)
{
	struct opsd_partition *p =
		create("{\"name\":\"r\",\"cpus\":3,\"disks\":[{\"path\":\"/x\","
		       "\"format\":\"raw\"}],\"nets\":[{\"tap\":\"t\"}],"
		       "\"kernel\":\"/k\",\"initrd\":\"/i\",\"cmdline\":\"c=1\"}");
	json_object *f, *f2, *api, *a;
	struct opsd_partition *q;

	ck_assert_ptr_nonnull(p);
	p->intent = (struct opsd_intent){OPSD_DESIRED_RUNNING, OPSD_STOP_DESTROY, 42};
	f = opsd_partition_to_file(p);
	ck_assert(!json_object_object_get_ex(f, "actual", NULL));
	q = opsd_partition_from_file(f, err, sizeof(err));
	ck_assert_msg(q, "%s", err);
	f2 = opsd_partition_to_file(q);
	ck_assert(json_object_equal(f, f2));
	ck_assert_int_eq(q->intent.desired, OPSD_DESIRED_RUNNING);
	ck_assert_int_eq(q->intent.stop_mode, OPSD_STOP_DESTROY);
	ck_assert_uint_eq(q->intent.generation, 42);
	ck_assert_str_eq(q->kernel, "/k");
	ck_assert_str_eq(q->initrd, "/i");
	ck_assert_str_eq(q->cmdline, "c=1");
	api = opsd_partition_to_json(q);
	ck_assert(json_object_object_get_ex(api, "actual", &a));
	ck_assert_str_eq(json_object_get_string(json_object_object_get(a, "state")), "unknown");
	/* A file's own fields are refused in a create. */
	ck_assert_ptr_null(opsd_partition_from_create(f, OPSD_RESTART_NEVER, err, sizeof(err)));
	json_object_put(f);
	json_object_put(f2);
	json_object_put(api);
	opsd_partition_free(p);
	opsd_partition_free(q);
}
END_TEST

START_TEST(test_actual)
{
	struct opsd_actual a;
	json_object *o;
	char big[1100 + 64];

	o = parse("{\"state\":\"running\",\"pid\":4242,\"iopartd\":\"a\",\"reason\":\"ok\"}");
	ck_assert_int_eq(opsd_actual_parse(o, &a, err, sizeof(err)), 0);
	json_object_put(o);
	ck_assert_int_eq(a.state, OPSD_STATE_RUNNING);
	ck_assert_int_eq(a.pid, 4242);
	ck_assert_str_eq(a.iopartd, "a");
	ck_assert_str_eq(a.reason, "ok");
	ck_assert(opsd_actual_active(&a));
	opsd_actual_clear(&a);
	ck_assert(!opsd_actual_active(&a));

	static const char *bad[] = {"{}",
				    "{\"pid\":1}",
				    "{\"state\":\"sleeping\"}",
				    "{\"state\":\"running\",\"pid\":-1}",
				    "{\"state\":\"running\",\"pid\":2147483648}",
				    "{\"state\":\"running\",\"x\":1}",
				    "{\"state\":\"failed\",\"reason\":null}",
				    "[]",
				    NULL};
	for (int i = 0; bad[i]; i++) {
		o = parse(bad[i]);
		ck_assert_msg(opsd_actual_parse(o, &a, err, sizeof(err)) < 0, "%s", bad[i]);
		json_object_put(o);
	}
	snprintf(big, sizeof(big), "{\"state\":\"failed\",\"reason\":\"%01100d\"}", 0);
	o = parse(big);
	ck_assert_int_lt(opsd_actual_parse(o, &a, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "longer than 1024"));
	json_object_put(o);
}
END_TEST

START_TEST(test_policy)
{
	struct opsd_policy p, before;
	json_object *o, *j;

	opsd_policy_default(&p);
	o = parse("{\"restart_max\":9,\"failover\":\"manual\"}");
	ck_assert_int_eq(opsd_policy_apply(&p, o, err, sizeof(err)), 0);
	json_object_put(o);
	ck_assert_int_eq(p.restart_max, 9);
	ck_assert_int_eq(p.failover, OPSD_FAILOVER_MANUAL);
	ck_assert_int_eq(p.restart_window_s, 60); /* the rest kept */
	before = p;
	/* One bad member refuses the whole object. */
	o = parse("{\"restart_max\":1,\"cpu_pinning\":\"shared\"}");
	ck_assert_int_lt(opsd_policy_apply(&p, o, err, sizeof(err)), 0);
	json_object_put(o);
	ck_assert(!memcmp(&p, &before, sizeof(p)));
	o = parse("{\"restart_windows\":1}");
	ck_assert_int_lt(opsd_policy_apply(&p, o, err, sizeof(err)), 0);
	ck_assert_str_eq(err, "unknown field 'restart_windows'");
	json_object_put(o);
	j = opsd_policy_to_json(&p);
	ck_assert_str_eq(
		json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN),
		"{\"restart_default\":\"on-failure\",\"restart_max\":9,"
		"\"restart_window_s\":60,\"cpu_pinning\":\"none\",\"failover\":\"manual\"}");
	json_object_put(j);
}
END_TEST

START_TEST(test_json_strict)
{
	static const char *bad[] = {"",		" ",	       "{",    "{\"a\":'x'}", "{\"a\":1,}",
				    "[1,]",	"{\"a\":1} x", "{}{}", "nul",	      "1.5e",
				    "\"\xff\"", "/* c */ {}",  NULL};
	char deep[80];
	json_object *o;

	for (int i = 0; bad[i]; i++) {
		o = opsd_json_parse(bad[i], strlen(bad[i]), err, sizeof(err));
		ck_assert_msg(!o, "'%s' was accepted", bad[i]);
		json_object_put(o);
	}
	/* A NUL ends nothing: it is data after the value. */
	ck_assert_ptr_null(opsd_json_parse("{}\0{}", 5, err, sizeof(err)));
	ck_assert_ptr_null(opsd_json_parse("null", 4, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "JSON object"));
	o = opsd_json_parse(" 12 \n", 5, err, sizeof(err));
	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(json_object_get_int(o), 12);
	json_object_put(o);
	memset(deep, '[', 33);
	memset(deep + 33, ']', 33);
	ck_assert_ptr_null(opsd_json_parse(deep, 66, err, sizeof(err)));
	o = opsd_json_parse(deep + 2, 62, err, sizeof(err));
	ck_assert_ptr_nonnull(o);
	json_object_put(o);
}
END_TEST

int main(void)
{
	return uv_check_run(uv_suite(
		"opsd_partition", NULL, NULL, 0,
		UV_TESTS(test_name, test_create_full, test_create_defaults, test_create_refused,
			 test_create_kernel, test_create_kernel_refused, test_create_limits,
			 test_file_round_trip, test_actual, test_policy, test_json_strict)));
}
