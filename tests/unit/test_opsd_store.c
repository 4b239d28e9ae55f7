// SPDX-License-Identifier: GPL-2.0
/* opsd's persistent state, audit log and authorization. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "auth.h"
#include "field.h"
#include "store.h"
#include "uvcheck.h"

static char dir[64];
static char err[PATH_MAX + 512];
static struct opsd_store st;

static void setup(void)
{
	uv_tmpdir(dir, sizeof(dir), "test_opsd_store");
}

static void teardown(void)
{
	uv_rmtree(dir);
}

static void open_store(void)
{
	ck_assert_msg(!opsd_store_open(&st, dir, err, sizeof(err)), "%s", err);
}

static void add(const char *text)
{
	json_object *o = opsd_json_parse(text, strlen(text), err, sizeof(err));
	struct opsd_partition *p;

	ck_assert_ptr_nonnull(o);
	p = opsd_partition_from_create(o, OPSD_RESTART_ON_FAILURE, err, sizeof(err));
	json_object_put(o);
	ck_assert_msg(p, "%s", err);
	ck_assert_msg(!opsd_store_create(&st, p, err, sizeof(err)), "%s", err);
}

static void write_file(const char *rel, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/opsd/%s", dir, rel);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static bool exists(const char *rel)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/opsd/%s", dir, rel);
	return !access(path, F_OK);
}

START_TEST(test_create_reload)
{
	struct opsd_partition *p;
	struct opsd_policy pol;

	open_store();
	ck_assert(exists("partitions"));
	ck_assert_uint_eq(st.n, 0);
	ck_assert_uint_eq(st.generation, 0);
	add("{\"name\":\"b\",\"cpus\":2}");
	add("{\"name\":\"a\",\"disks\":[{\"path\":\"/i\"}]}");
	ck_assert_uint_eq(st.n, 2);
	ck_assert_str_eq(st.v[0]->name, "a"); /* kept sorted */
	ck_assert_uint_eq(st.generation, 2);
	p = opsd_store_find(&st, "b");
	ck_assert_int_eq(opsd_store_set_intent(&st, p, OPSD_DESIRED_RUNNING, OPSD_STOP_SHUTDOWN,
					       err, sizeof(err)),
			 0);
	ck_assert_uint_eq(p->intent.generation, 3);
	pol = st.policy;
	pol.restart_max = 11;
	ck_assert_int_eq(opsd_store_set_policy(&st, &pol, err, sizeof(err)), 0);
	ck_assert_uint_eq(st.generation, 4);
	opsd_store_close(&st);

	open_store();
	ck_assert_uint_eq(st.n, 2);
	ck_assert_uint_eq(st.generation, 4);
	ck_assert_int_eq(st.policy.restart_max, 11);
	p = opsd_store_find(&st, "b");
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(p->cpus, 2);
	ck_assert_int_eq(p->intent.desired, OPSD_DESIRED_RUNNING);
	ck_assert_str_eq(opsd_store_find(&st, "a")->disks[0].path, "/i");
	ck_assert_ptr_null(opsd_store_find(&st, "c"));
	opsd_store_close(&st);
}
END_TEST

START_TEST(test_exists_busy_delete)
{
	struct opsd_partition *p, *dup;
	json_object *o;

	open_store();
	add("{\"name\":\"x\"}");
	o = opsd_json_parse("{\"name\":\"x\"}", 12, err, sizeof(err));
	dup = opsd_partition_from_create(o, OPSD_RESTART_ON_FAILURE, err, sizeof(err));
	json_object_put(o);
	ck_assert_int_eq(opsd_store_create(&st, dup, err, sizeof(err)), -EEXIST);
	opsd_partition_free(dup);
	p = opsd_store_find(&st, "x");
	opsd_store_set_intent(&st, p, OPSD_DESIRED_RUNNING, OPSD_STOP_SHUTDOWN, err, sizeof(err));
	ck_assert_int_eq(opsd_store_delete(&st, p, err, sizeof(err)), -EBUSY);
	opsd_store_set_intent(&st, p, OPSD_DESIRED_STOPPED, OPSD_STOP_DESTROY, err, sizeof(err));
	p->actual.state = OPSD_STATE_STOPPING;
	ck_assert_int_eq(opsd_store_delete(&st, p, err, sizeof(err)), -EBUSY);
	p->actual.state = OPSD_STATE_CRASHED;
	ck_assert_int_eq(opsd_store_delete(&st, p, err, sizeof(err)), 0);
	ck_assert_uint_eq(st.n, 0);
	ck_assert_uint_eq(st.generation, 4);
	ck_assert(!exists("partitions/x.json"));
	opsd_store_close(&st);
	/* No file carries generation 4 but the generation file. */
	open_store();
	ck_assert_uint_eq(st.generation, 4);
	opsd_store_close(&st);
}
END_TEST

START_TEST(test_damaged_files)
{
	open_store();
	add("{\"name\":\"good\"}");
	opsd_store_close(&st);
	write_file("partitions/torn.json", "{\"name\": \"torn\", \"cpus\":");
	write_file("partitions/other.json", "{\"name\": \"good2\"}");
	write_file("partitions/field.json", "{\"name\": \"field\", \"cpus\": 0}");
	write_file("partitions/Bad.json", "{\"name\": \"bad\"}");
	write_file("partitions/good.json.tmp.77", "{");
	write_file("partitions/notes.txt", "hello");
	write_file("policy.json", "{\"failover\": \"sometimes\"}");
	write_file("generation", "[]");
	open_store();
	ck_assert_uint_eq(st.n, 1);
	ck_assert_ptr_nonnull(opsd_store_find(&st, "good"));
	ck_assert(exists("partitions/torn.json.bad") && !exists("partitions/torn.json"));
	ck_assert(exists("partitions/other.json.bad"));
	ck_assert(exists("partitions/field.json.bad"));
	ck_assert(exists("partitions/Bad.json")); /* not a partition's name: ignored */
	ck_assert(!exists("partitions/good.json.tmp.77"));
	ck_assert(exists("partitions/notes.txt"));
	ck_assert(exists("policy.json.bad"));
	ck_assert(exists("generation.bad"));
	ck_assert_int_eq(st.policy.failover, OPSD_FAILOVER_AUTO);
	ck_assert_uint_eq(st.generation, 1); /* from good.json */
	opsd_store_close(&st);
}
END_TEST

/* A write that fails changes nothing in memory. */
START_TEST(test_write_fails)
{
	struct opsd_partition *p;
	char pdir[PATH_MAX], cmd[PATH_MAX + 32];

	open_store();
	add("{\"name\":\"x\"}");
	p = opsd_store_find(&st, "x");
	snprintf(pdir, sizeof(pdir), "%s/opsd/partitions", dir);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", pdir);
	ck_assert_int_eq(system(cmd), 0);
	write_file("partitions", "not a directory");
	ck_assert_int_lt(opsd_store_set_intent(&st, p, OPSD_DESIRED_RUNNING, OPSD_STOP_DESTROY, err,
					       sizeof(err)),
			 0);
	ck_assert_int_eq(p->intent.desired, OPSD_DESIRED_STOPPED);
	ck_assert_int_eq(p->intent.stop_mode, OPSD_STOP_SHUTDOWN);
	ck_assert_uint_eq(p->intent.generation, 1);
	ck_assert_uint_eq(st.generation, 1);
	opsd_store_close(&st);
}
END_TEST

START_TEST(test_audit)
{
	struct ucred cred = {.pid = 7, .uid = 1000, .gid = 100};
	struct opsd_audit a;
	json_object *t, *r;
	char path[PATH_MAX];
	int fd;

	ck_assert_msg(!opsd_audit_open(&a, dir, err, sizeof(err)), "%s", err);
	t = opsd_audit_tail(&a, 10, err, sizeof(err));
	ck_assert_uint_eq(json_object_array_length(t), 0);
	json_object_put(t);
	for (int i = 0; i < 1201; i++) {
		struct opsd_audit_rec rec = {&cred, "POST", "/v1/partitions", i % 2 ? "p" : NULL,
					     200 + i % 5};

		ck_assert_int_eq(opsd_audit_append(&a, &rec, err, sizeof(err)), 0);
	}
	t = opsd_audit_tail(&a, 3, err, sizeof(err));
	ck_assert_uint_eq(json_object_array_length(t), 3);
	r = json_object_array_get_idx(t, 2); /* the last one, i = 1200 */
	ck_assert_int_eq(json_object_get_int(json_object_object_get(r, "status")), 200);
	ck_assert_int_eq(json_object_get_int(json_object_object_get(r, "uid")), 1000);
	ck_assert_int_eq(json_object_get_int(json_object_object_get(r, "gid")), 100);
	ck_assert_int_eq(json_object_get_int(json_object_object_get(r, "pid")), 7);
	ck_assert(!json_object_object_get_ex(r, "partition", NULL)); /* i even: none */
	r = json_object_array_get_idx(t, 1);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(r, "partition")), "p");
	ck_assert_int_eq(json_object_get_string_len(json_object_object_get(r, "time")), 24);
	json_object_put(t);
	t = opsd_audit_tail(&a, OPSD_AUDIT_LIMIT_MAX, err, sizeof(err));
	ck_assert_uint_eq(json_object_array_length(t), OPSD_AUDIT_LIMIT_MAX);
	json_object_put(t);
	/* A torn last line (a crash mid-append) is skipped. */
	snprintf(path, sizeof(path), "%s/audit.log", dir);
	fd = open(path, O_WRONLY | O_APPEND);
	ck_assert_int_eq(write(fd, "{\"time\":", 8), 8);
	close(fd);
	t = opsd_audit_tail(&a, 2, err, sizeof(err));
	ck_assert_uint_le(json_object_array_length(t), 2);
	ck_assert_int_eq(
		json_object_get_int(json_object_object_get(
			json_object_array_get_idx(t, json_object_array_length(t) - 1), "status")),
		200);
	json_object_put(t);
	opsd_audit_close(&a);
}
END_TEST

START_TEST(test_status_groups)
{
	static const char status[] =
		"Name:\tcurl\nUmask:\t0022\nState:\tS\nUid:\t1000\t1000\t1000\t"
		"1000\nGid:\t100\t100\t100\t100\nFDSize:\t64\nGroups:\t24 27 "
		"100 990 \nNStgid:\t1\n";
	gid_t g[8];

	ck_assert_int_eq(opsd_auth_status_groups(status, 1000, g, 8), 4);
	ck_assert_uint_eq(g[0], 24);
	ck_assert_uint_eq(g[3], 990);
	ck_assert_int_eq(opsd_auth_status_groups(status, 1000, g, 2), 2);
	ck_assert_int_eq(opsd_auth_status_groups(status, 1001, g, 8), -ESRCH);
	ck_assert_int_eq(
		opsd_auth_status_groups("Name:\tx\nUid:\t5\t5\t5\t5\nGroups:\t\n", 5, g, 8), 0);
	ck_assert_int_eq(opsd_auth_status_groups("Name:\tx\nUid:\t5\t5\t5\t5\n", 5, g, 8), -EINVAL);
}
END_TEST

START_TEST(test_may_change)
{
	struct opsd_auth a = {.self = 4242, .group = "opsd-no-such-group"};
	struct ucred root = {.pid = getpid(), .uid = 0, .gid = 0};
	struct ucred self = {.pid = getpid(), .uid = 4242, .gid = 4242};
	struct ucred other = {.pid = getpid(), .uid = 4243, .gid = 4243};
	struct group *gr = getgrgid(getegid());
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert(opsd_auth_may_change(&a, sv[0], &root));
	ck_assert(opsd_auth_may_change(&a, sv[0], &self));
	ck_assert(!opsd_auth_may_change(&a, sv[0], &other));
	a.group = NULL;
	ck_assert(!opsd_auth_may_change(&a, sv[0], &other));
	/* Our own group, as the peer's primary group, then as one of its groups (SO_PEERGROUPS
	 * of the socket pair: ours, which include the effective group). */
	ck_assert_ptr_nonnull(gr);
	a.group = gr->gr_name;
	other.gid = getegid();
	ck_assert(opsd_auth_may_change(&a, sv[0], &other));
	other.gid = 4243;
	if (getgroups(0, NULL) > 0) {
		gid_t g[64];
		int n = getgroups(64, g);

		gr = getgrgid(g[n - 1]);
		if (gr) {
			a.group = gr->gr_name;
			ck_assert(opsd_auth_may_change(&a, sv[0], &other));
		}
	}
	close(sv[0]);
	close(sv[1]);
}
END_TEST

int main(void)
{
	/* timeout 60 s: an fdatasync per audit record */
	return uv_check_run(uv_suite("opsd_store", setup, teardown, 60,
				     UV_TESTS(test_create_reload, test_exists_busy_delete,
					      test_damaged_files, test_write_fails, test_audit,
					      test_status_groups, test_may_change)));
}
