// SPDX-License-Identifier: GPL-2.0
/* ultravisord's pure parts: admission, CPU lists, guest memory, state.json. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "daemon.h"
#include "uvcheck.h"
#include "uvd.h"

static char dir[64], err[512];
static struct uvd u;

static void setup(void)
{
	uv_tmpdir(dir, sizeof(dir), "test_uvd_db");
	uvd_init(&u);
	u.base = event_base_new();
	u.pool_mib = 1024;
	ck_assert_int_eq(uvd_cpus_parse("0-3", &u.cpus), 0);
	uv_path_join(u.state_path, sizeof(u.state_path), dir, "state.json");
}

static void teardown(void)
{
	uvd_fini(&u);
	event_base_free(u.base);
	uv_rmtree(dir);
}

static struct uvd_part *add_part(const char *name, uint64_t mib, unsigned vcpus, bool dedicated)
{
	struct uvd_part *p = calloc(1, sizeof(*p));
	cpu_set_t cpus;

	ck_assert_msg(uvd_admit(&u, mib, vcpus, dedicated, &cpus, err, sizeof(err)) == 0, "%s",
		      err);
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->owner = &u;
	p->memory_mib = mib;
	p->vcpus = vcpus;
	p->dedicated = dedicated;
	p->host_cpus = cpus;
	p->memfd = -1;
	p->pidfd = -1;
	p->next = u.parts;
	u.parts = p;
	return p;
}

static struct uvd_chan *add_chan(const char *part, unsigned dev, const char *iop)
{
	struct uvd_chan *c = calloc(1, sizeof(*c));

	c->id = u.next_chan++;
	snprintf(c->partition, sizeof(c->partition), "%s", part);
	snprintf(c->iopartd, sizeof(c->iopartd), "%s", iop);
	c->device = dev;
	c->state = UVD_CHAN_UP;
	c->inflight_fd = -1;
	c->next = u.chans;
	u.chans = c;
	return c;
}

static void add_iop(const char *name)
{
	struct uvd_iopartd *i = calloc(1, sizeof(*i));

	snprintf(i->name, sizeof(i->name), "%s", name);
	i->next = u.iops;
	u.iops = i;
}

static const char *cpus_str(const cpu_set_t *s)
{
	static char buf[256];
	json_object *a = uvd_cpus_json(s);

	snprintf(buf, sizeof(buf), "%s", json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN));
	json_object_put(a);
	return buf;
}

START_TEST(test_cpus_parse)
{
	cpu_set_t s;

	ck_assert_int_eq(uvd_cpus_parse("0-2,5,7-7", &s), 0);
	ck_assert_str_eq(cpus_str(&s), "[0,1,2,5,7]");
	ck_assert_int_eq(uvd_cpus_parse("3", &s), 0);
	ck_assert_str_eq(cpus_str(&s), "[3]");
	ck_assert_int_eq(uvd_cpus_parse("", &s), -EINVAL);
	ck_assert_int_eq(uvd_cpus_parse("2-1", &s), -EINVAL);
	ck_assert_int_eq(uvd_cpus_parse("1,", &s), -EINVAL);
	ck_assert_int_eq(uvd_cpus_parse("-1", &s), -EINVAL);
	ck_assert_int_eq(uvd_cpus_parse("0-99999", &s), -EINVAL);
	ck_assert_int_eq(uvd_cpus_parse("a", &s), -EINVAL);
}
END_TEST

START_TEST(test_names)
{
	ck_assert(uvd_name_ok("web1"));
	ck_assert(uvd_name_ok("0a_b.c-d"));
	ck_assert(!uvd_name_ok(""));
	ck_assert(!uvd_name_ok("Web"));
	ck_assert(!uvd_name_ok("-x"));
	ck_assert(!uvd_name_ok("a/b"));
	ck_assert(!uvd_name_ok("a b"));
}
END_TEST

START_TEST(test_admit_memory)
{
	cpu_set_t cpus;

	add_part("a", 512, 1, false);
	add_part("b", 256, 1, false);
	ck_assert_int_eq(uvd_pool_used(&u), 768);
	ck_assert_int_eq(uvd_admit(&u, 257, 1, false, &cpus, err, sizeof(err)), -ENOSPC);
	ck_assert_str_eq(err, "memory pool: 257 MiB asked, 256 MiB free of 1024 MiB");
	ck_assert_int_eq(uvd_admit(&u, 256, 1, false, &cpus, err, sizeof(err)), 0);
	/* A pool shrunk under its partitions (a restart with a smaller one) admits nothing. */
	u.pool_mib = 512;
	ck_assert_int_eq(uvd_admit(&u, 16, 1, false, &cpus, err, sizeof(err)), -ENOSPC);
	ck_assert_str_eq(err, "memory pool: 16 MiB asked, 0 MiB free of 512 MiB");
}
END_TEST

START_TEST(test_admit_cpus)
{
	struct uvd_part *p;
	cpu_set_t cpus, ded;

	ck_assert_int_eq(uvd_admit(&u, 16, 5, false, &cpus, err, sizeof(err)), -ENOSPC);
	ck_assert_str_eq(err, "host CPUs: 5 vCPUs asked, the host has 4 to give");
	p = add_part("d1", 16, 2, true);
	ck_assert_str_eq(cpus_str(&p->host_cpus), "[0,1]");
	/* Shared partitions run on what is not dedicated. */
	p = add_part("s", 16, 4, false);
	ck_assert_str_eq(cpus_str(&p->host_cpus), "[2,3]");
	ck_assert_int_eq(uvd_admit(&u, 16, 3, true, &cpus, err, sizeof(err)), -ENOSPC);
	ck_assert_str_eq(err, "host CPUs: 3 dedicated CPUs asked, 2 of 4 not dedicated");
	p = add_part("d2", 16, 2, true);
	ck_assert_str_eq(cpus_str(&p->host_cpus), "[2,3]");
	uvd_cpus_dedicated(&u, &ded);
	ck_assert_str_eq(cpus_str(&ded), "[0,1,2,3]");
	ck_assert_int_eq(uvd_admit(&u, 16, 1, false, &cpus, err, sizeof(err)), -ENOSPC);
	ck_assert_str_eq(err, "host CPUs: 1 vCPUs asked, all 4 are dedicated to others");
	/* Released: its CPUs come back. */
	uvd_part_free(&u, uvd_part_find(&u, "d1"));
	ck_assert_int_eq(uvd_admit(&u, 16, 2, true, &cpus, err, sizeof(err)), 0);
	ck_assert_str_eq(cpus_str(&cpus), "[0,1]");
}
END_TEST

START_TEST(test_memory_alloc)
{
	struct stat st;
	int fd = uvd_memory_alloc("g", 64, false, err, sizeof(err));

	ck_assert_msg(fd >= 0, "%s", err);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq(st.st_size, 64 << 20);
	ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	/* Sealed: nobody can shrink it under the mappers. */
	ck_assert_int_eq(ftruncate(fd, 4096), -1);
	ck_assert_int_eq(errno, EPERM);
	close(fd);
}
END_TEST

START_TEST(test_memory_hugepages)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	long nfree = 0;
	int fd;

	while (fgets(line, sizeof(line), f))
		sscanf(line, "HugePages_Free: %ld", &nfree);
	fclose(f);
	fd = uvd_memory_alloc("g", 1048576, true, err, sizeof(err));
	ck_assert_int_lt(fd, 0);
	ck_assert_ptr_nonnull(strstr(err, "huge pages"));
	if (!nfree) /* the usual host: none reserved, so a refusal that says so */
		ck_assert_msg(strstr(err, "free") || strstr(err, "none"), "%s", err);
	fd = uvd_memory_alloc("g", 17, true, err, sizeof(err));
	ck_assert_int_lt(fd, 0);
}
END_TEST

START_TEST(test_state_round_trip)
{
	struct uvd v;
	json_object *a, *b, *spec;
	struct uvd_part *p;

	p = add_part("web1", 512, 2, true);
	p->state = UVD_PART_RUNNING;
	p->pid = 4242;
	p->pid_start = 123456;
	p->hugepages = true;
	p = add_part("db", 256, 1, false);
	snprintf(p->reason, sizeof(p->reason), "uvmm pid 7 exited");
	p->state = UVD_PART_STOPPED;
	add_chan("web1", 0, "a")->epoch = 3;
	spec = json_tokener_parse("{\"kind\":\"blk\",\"path\":\"/srv/web1.img\"}");
	add_chan("web1", 1, "b")->device_spec = spec;
	add_chan("db", 0, "a")->state = UVD_CHAN_PENDING; /* not written */
	add_iop("a");
	add_iop("b");

	a = uvd_state_json(&u);
	uvd_init(&v);
	ck_assert_msg(uvd_state_apply(&v, a, err, sizeof(err)) == 0, "%s", err);
	b = uvd_state_json(&v);
	ck_assert_msg(json_object_equal(a, b), "%s\n!=\n%s", json_object_to_json_string(a),
		      json_object_to_json_string(b));
	ck_assert_int_eq(v.next_chan, u.next_chan);
	ck_assert_ptr_null(uvd_chan_find(&v, "db", 0));
	ck_assert_int_eq(uvd_iop_find(&v, "a")->health, UVD_IOP_DEAD);
	ck_assert_str_eq(cpus_str(&uvd_part_find(&v, "web1")->host_cpus), "[0,1]");
	json_object_put(a);
	json_object_put(b);
	uvd_fini(&v);

	/* Through the file. */
	uvd_state_save(&u);
	uvd_init(&v);
	snprintf(v.state_path, sizeof(v.state_path), "%s", u.state_path);
	ck_assert_int_eq(uvd_state_load(&v), 0);
	ck_assert_ptr_nonnull(uvd_part_find(&v, "db"));
	ck_assert_str_eq(uvd_part_find(&v, "db")->reason, "uvmm pid 7 exited");
	ck_assert_ptr_nonnull(uvd_chan_find(&v, "web1", 1));
	uvd_fini(&v);
}
END_TEST

static void expect_corrupt(const char *text, const char *why)
{
	char bad[4200], *buf;
	json_object *doc;
	size_t len;
	struct uvd v;

	ck_assert_int_eq(
		uv_file_write_atomic(u.state_path, text, strlen(text), 0600, err, sizeof(err)), 0);
	uvd_init(&v);
	snprintf(v.state_path, sizeof(v.state_path), "%s", u.state_path);
	ck_assert_int_eq(uvd_state_load(&v), 0); /* starts, empty */
	ck_assert_ptr_null(v.parts);
	ck_assert_ptr_null(v.chans);
	ck_assert_ptr_null(v.iops);
	ck_assert_int_eq(v.next_chan, 1);
	ck_assert_int_eq(access(u.state_path, F_OK), -1);
	snprintf(bad, sizeof(bad), "%s.bad", u.state_path);
	ck_assert_int_eq(uv_file_read(bad, 1 << 20, &buf, &len, err, sizeof(err)), 0);
	ck_assert_str_eq(buf, text); /* kept as it was, for a human */
	free(buf);
	uvd_fini(&v);

	/* The reason, as logged. */
	doc = json_tokener_parse(text);
	if (!doc)
		return;
	uvd_init(&v);
	ck_assert_int_eq(uvd_state_apply(&v, doc, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, why), "'%s' does not say '%s'", err, why);
	uvd_fini(&v);
	json_object_put(doc);
}

START_TEST(test_state_corrupt)
{
	expect_corrupt("{\"version\":1,\"partitions\":[", "not JSON");
	expect_corrupt("[]", "not a JSON object");
	expect_corrupt("{\"version\":2,\"next_channel\":1,\"partitions\":[],\"channels\":[],"
		       "\"iopartds\":[]}",
		       "'version' must be in [1, 1]");
	/* Half good: nothing of it survives, not even the good partition. */
	expect_corrupt("{\"version\":1,\"next_channel\":3,\"partitions\":[{\"name\":\"ok\","
		       "\"memory_mib\":64,\"cpus\":1,\"dedicated\":false,\"host_cpus\":[0],"
		       "\"hugepages\":false,\"state\":\"reserved\",\"pid\":0,\"pid_start\":0}],"
		       "\"channels\":[{\"id\":1,\"partition\":\"nope\",\"device\":0,\"iopartd\":"
		       "\"a\",\"epoch\":0}],\"iopartds\":[]}",
		       "channels[0]: of an unknown partition");
	expect_corrupt("{\"version\":1,\"next_channel\":1,\"partitions\":[{\"name\":\"X\"}],"
		       "\"channels\":[],\"iopartds\":[]}",
		       "partitions[0]: missing 'memory_mib'");
}
END_TEST

START_TEST(test_state_revive)
{
	struct uvd_part *live, *dead, *res;
	pid_t child = fork();
	int st;

	if (!child)
		_exit(0);
	ck_assert_int_eq(waitpid(child, &st, 0), child);
	live = add_part("live", 16, 1, false);
	live->state = UVD_PART_RUNNING;
	live->pid = getpid();
	live->pid_start = uvd_pid_start(getpid());
	ck_assert_uint_ne(live->pid_start, 0);
	dead = add_part("dead", 16, 1, false);
	dead->state = UVD_PART_RUNNING;
	dead->pid = child;
	res = add_part("res", 16, 1, false);
	res->state = UVD_PART_RESERVED;
	uvd_state_revive(&u);
	ck_assert_int_eq(live->state, UVD_PART_RUNNING);
	ck_assert_int_ge(live->pidfd, 0); /* watched again */
	ck_assert_int_eq(dead->state, UVD_PART_CRASHED);
	ck_assert_ptr_nonnull(strstr(dead->reason, "ended while ultravisord was down"));
	ck_assert_int_eq(res->state, UVD_PART_STOPPED);
	/* Our pid with another start time: a reused pid is not our uvmm. */
	ck_assert(!uvd_pid_alive(getpid(), live->pid_start + 1));
	ck_assert(uvd_pid_alive(getpid(), live->pid_start));
	ck_assert(!uvd_pid_alive(child, 0));
}
END_TEST

int main(void)
{
	return uv_check_run(
		uv_suite("ultravisord_db", setup, teardown, 0,
			 UV_TESTS(test_cpus_parse, test_names, test_admit_memory, test_admit_cpus,
				  test_memory_alloc, test_memory_hugepages, test_state_round_trip,
				  test_state_corrupt, test_state_revive)));
}
