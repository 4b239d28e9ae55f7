// SPDX-License-Identifier: GPL-2.0
/*
 * uvctl against a stub of opsd's REST API: an evhttp server on a unix socket
 * in a thread of the test. Checks what reaches the server (method, path,
 * Host, Content-Type, body) and what uvctl prints and returns for answers,
 * refusals, garbage and no server at all.
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl_msg.h"
#include "daemon.h"
#include "loop_thread.h"
#include "unix_sock.h"
#include "uvcheck.h"
#include "uvctl.h"

#define PART_WEB1                                                                                  \
	"{\"name\":\"web1\",\"cpus\":2,\"memory_mib\":1024,\"hugepages\":false,"                   \
	"\"disks\":[{\"path\":\"/srv/img/web1.qcow2\",\"format\":\"qcow2\",\"readonly\":false}],"  \
	"\"nets\":[{\"tap\":\"uvtap0\"}],\"restart\":\"on-failure\",\"desired\":\"running\","      \
	"\"stop_mode\":\"shutdown\",\"generation\":7,"                                             \
	"\"actual\":{\"state\":\"running\",\"pid\":4242,\"iopartd\":\"a\",\"standby\":\"b\","      \
	"\"reason\":\"\"}}"
/* Booted directly: a kernel, an initrd, a cmdline; an opsd of before standbys (no "standby"). */
#define PART_K1                                                                                    \
	"{\"name\":\"k1\",\"cpus\":1,\"memory_mib\":128,\"hugepages\":false,"                      \
	"\"disks\":[{\"path\":\"/srv/img/k1.raw\",\"readonly\":false}],\"nets\":[],"               \
	"\"kernel\":\"/boot/vmlinuz-6.1\",\"initrd\":\"/boot/initrd.img-6.1\","                    \
	"\"cmdline\":\"console=ttyS0 root=/dev/vda ro\",\"restart\":\"on-failure\","               \
	"\"desired\":\"running\",\"stop_mode\":\"shutdown\",\"generation\":3,"                     \
	"\"actual\":{\"state\":\"failed\",\"pid\":0,\"iopartd\":\"\",\"reason\":\"cannot read "    \
	"kernel /boot/vmlinuz-6.1: No such file or directory\"}}"
#define PART_DB                                                                                    \
	"{\"name\":\"database-long-name\",\"cpus\":16,\"memory_mib\":65536,\"hugepages\":true,"    \
	"\"disks\":[],\"nets\":[],\"restart\":\"never\",\"desired\":\"stopped\","                  \
	"\"stop_mode\":\"destroy\",\"generation\":9,"                                              \
	"\"actual\":{\"state\":\"failed\",\"pid\":0,\"iopartd\":\"\",\"reason\":\"no memory\"}}"
/* GET /v1/status as opsd answers it: ultravisord's view with iopartd b dead, a serving two. */
#define STATUS                                                                                     \
	"{\"opsd\":{\"version\":\"0.1.0\",\"pid\":4100,\"partitions\":3,\"generation\":12},"       \
	"\"ultravisord\":{\"host\":{\"cpus\":[0,1,2,3,6],\"cpus_dedicated\":[2,3],"                \
	"\"pool_mib\":19284,\"used_mib\":1536,\"free_mib\":17748},"                                \
	"\"iopartds\":[{\"name\":\"b\",\"health\":\"dead\",\"pid\":4302,\"since\":1795700000,"     \
	"\"channels\":[]},{\"name\":\"a\",\"health\":\"healthy\",\"pid\":4301,"                    \
	"\"since\":1795702317,\"channels\":[1,2]}],"                                               \
	"\"partitions\":[{\"name\":\"web1\",\"state\":\"running\"},"                               \
	"{\"name\":\"db\",\"state\":\"reserved\"}],"                                               \
	"\"channels\":[{\"id\":1,\"state\":\"up\"},{\"id\":2,\"state\":\"pending\"}]}}"
/* commandd.sock's status reply, less op, id and ok. */
#define CMDD_STATUS                                                                                \
	"{\"opsd\":{\"connected\":true,\"generation\":12},\"ultravisord\":{\"connected\":false},"  \
	"\"policy\":{\"failover\":\"auto\"},"                                                      \
	"\"failover\":{\"moves\":4,\"failed\":1,\"last_ms\":5.04,\"max_ms\":6.66},"                \
	"\"iopartd_starts\":2}"

/* What the stub saw last, and how it should answer. */
static struct stub {
	char dir[64], sock[96];
	struct loop_thread loop;
	struct event_base *base;
	struct evhttp *http;
	bool garbage;		     /* answer everything with 200 and no JSON */
	int force_code;		     /* answer everything with this and an HTML body */
	bool odd_status;	     /* a /v1/status of a shape uvctl does not know */
	struct ctl_server *commandd; /* a stub commandd.sock, when a test starts one */
	char method[16], uri[256], host[64], ctype[64], expect[64];
	char *body;
} st;

/* uvctl's stdout and stderr in the last run(). */
static char *out, *err;

static void stub_reply(struct evhttp_request *req, int code, const char *json)
{
	struct evbuffer *b = evbuffer_new();

	if (json) {
		evbuffer_add(b, json, strlen(json));
		evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
				  "application/json");
	}
	evhttp_send_reply(req, code, code < 300 ? "OK" : "Refused", b);
	evbuffer_free(b);
}

static void stub_record(struct evhttp_request *req)
{
	static const char *const names[] = {"GET", "POST", "HEAD", "PUT", "DELETE"};
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	enum evhttp_cmd_type t = evhttp_request_get_command(req);
	const char *v;
	size_t len = evbuffer_get_length(in);

	snprintf(st.method, sizeof(st.method), "%s",
		 t == EVHTTP_REQ_GET	  ? names[0]
		 : t == EVHTTP_REQ_POST	  ? names[1]
		 : t == EVHTTP_REQ_PUT	  ? names[3]
		 : t == EVHTTP_REQ_DELETE ? names[4]
					  : "?");
	snprintf(st.uri, sizeof(st.uri), "%s", evhttp_request_get_uri(req));
	v = evhttp_find_header(h, "Host");
	snprintf(st.host, sizeof(st.host), "%s", v ? v : "");
	v = evhttp_find_header(h, "Content-Type");
	snprintf(st.ctype, sizeof(st.ctype), "%s", v ? v : "");
	v = evhttp_find_header(h, "Expect");
	snprintf(st.expect, sizeof(st.expect), "%s", v ? v : "");
	free(st.body);
	st.body = calloc(1, len + 1);
	evbuffer_copyout(in, st.body, len);
}

static void stub_handle(struct evhttp_request *req, void *arg)
{
	const char *u;

	(void)arg;
	stub_record(req);
	u = st.uri;
	if (st.garbage)
		stub_reply(req, 200, "this is not JSON");
	else if (st.force_code)
		stub_reply(req, st.force_code, "<html>Internal Server Error</html>");
	else if (!strcmp(st.method, "GET") && !strcmp(u, "/v1/partitions"))
		stub_reply(req, 200,
			   "{\"generation\":9,\"partitions\":[" PART_WEB1 "," PART_DB "," PART_K1
			   "]}");
	else if (!strcmp(st.method, "GET") && !strcmp(u, "/v1/partitions/k1"))
		stub_reply(req, 200, PART_K1);
	else if (!strcmp(st.method, "GET") && !strcmp(u, "/v1/partitions/web1"))
		stub_reply(req, 200, PART_WEB1);
	else if (!strcmp(st.method, "POST") && !strcmp(u, "/v1/partitions"))
		stub_reply(req, 201, PART_WEB1);
	else if (!strcmp(st.method, "POST") && !strcmp(u, "/v1/partitions/web1/start"))
		stub_reply(req, 202, PART_WEB1);
	else if (!strcmp(st.method, "DELETE") && !strcmp(u, "/v1/partitions/web1"))
		stub_reply(req, 204, NULL);
	else if (!strcmp(st.method, "DELETE"))
		stub_reply(req, 409, "{\"error\":{\"code\":409,\"message\":\"'db' is running\"}}");
	else if (!strcmp(u, "/v1/status") && st.odd_status)
		stub_reply(req, 200,
			   "{\"memory\":{\"total_mib\":4096,\"free_mib\":1024},"
			   "\"iopartd\":[{\"name\":\"a\",\"healthy\":true},{\"name\":\"b\"}]}");
	else if (!strcmp(u, "/v1/status"))
		stub_reply(req, 200, STATUS);
	else if (!strcmp(u, "/v1/policy"))
		stub_reply(req, 200, "{\"restart_default\":\"on-failure\",\"restart_max\":5}");
	else if (!strncmp(u, "/v1/partitions/", 15))
		stub_reply(req, 404,
			   "{\"error\":{\"code\":404,\"message\":\"no partition 'nope'\"}}");
	else
		stub_reply(req, 500, "<html>not even JSON</html>");
}

static int cmdd_msg(struct ctl_conn *c, json_object *msg, int *fds, int nfds, void *arg)
{
	json_object *rep = ctl_reply_ok(msg), *body = json_tokener_parse(CMDD_STATUS);

	(void)fds;
	(void)nfds;
	(void)arg;
	json_object_object_foreach(body, k, v) json_object_object_add(rep, k, json_object_get(v));
	ctl_conn_send(c, rep, NULL, 0);
	json_object_put(rep);
	json_object_put(body);
	return 0;
}

/* A commandd.sock answering every request with CMDD_STATUS, served by the stub's thread. */
static void stub_commandd(void)
{
	static const struct ctl_ops ops = {.on_msg = cmdd_msg};
	char path[128], err[256];

	snprintf(path, sizeof(path), "%s/commandd.sock", st.dir);
	st.commandd = ctl_server_new(st.base, path, &ops, NULL, err, sizeof(err));
	ck_assert_msg(st.commandd, "%s", err);
}

static void setup(void)
{
	struct evconnlistener *l;
	char err[256];
	int fd;

	memset(&st, 0, sizeof(st));
	snprintf(st.dir, sizeof(st.dir), "/tmp/uvctl-api.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(st.dir));
	snprintf(st.sock, sizeof(st.sock), "%s/opsd.sock", st.dir);
	fd = unix_listen(st.sock, 16, err, sizeof(err));
	ck_assert_msg(fd >= 0, "%s", err);
	st.base = event_base_new();
	st.http = evhttp_new(st.base);
	l = evconnlistener_new(st.base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE, -1, fd);
	ck_assert(st.base && st.http && l);
	evhttp_bind_listener(st.http, l);
	evhttp_set_gencb(st.http, stub_handle, NULL);
	evhttp_set_allowed_methods(st.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
						    EVHTTP_REQ_DELETE);
	loop_thread_start(&st.loop, st.base);
	/* status prints times of day */
	setenv("TZ", "UTC", 1);
	tzset();
}

static void teardown(void)
{
	loop_thread_stop(&st.loop);
	if (st.commandd)
		ctl_server_free(st.commandd);
	evhttp_free(st.http);
	event_base_free(st.base);
	unlink(st.sock);
	rmdir(st.dir);
	free(st.body);
	free(out);
	free(err);
	out = err = NULL;
}

/* Runs "uvctl WORDS..." against the stub; its stdout and stderr land in out and err. */

static int run(const char *first, ...)
{
	char *argv[32], perr[512];
	struct uvctl_cmd cmd;
	size_t olen, elen;
	FILE *o, *e;
	int argc = 0, status;
	va_list ap;

	argv[argc++] = (char *)"uvctl";
	va_start(ap, first);
	for (const char *w = first; w && argc < 31; w = va_arg(ap, const char *))
		argv[argc++] = (char *)w;
	va_end(ap);
	argv[argc] = NULL;
	ck_assert_msg(!uvctl_parse(argc, argv, &cmd, perr, sizeof(perr)), "%s", perr);
	free(out);
	free(err);
	o = open_memstream(&out, &olen);
	e = open_memstream(&err, &elen);
	status = uvctl_run(&cmd, st.dir, o, e);
	fclose(o);
	fclose(e);
	uvctl_cmd_fini(&cmd);
	return status;
}

static void assert_has(const char *text, const char *want)
{
	ck_assert_msg(strstr(text, want), "'%s' lacks '%s'", text, want);
}

START_TEST(list_table)
{
	ck_assert_int_eq(run("list", NULL), UVCTL_OK);
	ck_assert_str_eq(st.method, "GET");
	ck_assert_str_eq(st.uri, "/v1/partitions");
	ck_assert_str_eq(st.host, "localhost");
	ck_assert_str_eq(err, "");
	ck_assert_str_eq(out,
			 "NAME                STATE    DESIRED  CPUS  MEMORY  IOPARTD  STANDBY\n"
			 "web1                running  running  2     1G      a        b\n"
			 "database-long-name  failed   stopped  16    64G     -        -\n"
			 "k1                  failed   running  1     128M    -        -\n");
}
END_TEST

START_TEST(list_json)
{
	json_object *o;

	ck_assert_int_eq(run("list", "--json", NULL), UVCTL_OK);
	o = json_tokener_parse(out);
	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(json_object_array_length(json_object_object_get(o, "partitions")), 3);
	/* actual, standby included, as opsd sent it. */
	ck_assert_str_eq(
		json_object_get_string(json_object_object_get(
			json_object_object_get(json_object_array_get_idx(
						       json_object_object_get(o, "partitions"), 0),
					       "actual"),
			"standby")),
		"b");
	json_object_put(o);
	/* Pretty: one field per line, paths without escaped slashes. */
	assert_has(out, "\n  \"generation\": 9,\n");
	assert_has(out, "\"/srv/img/web1.qcow2\"");
}
END_TEST

START_TEST(show_lines)
{
	ck_assert_int_eq(run("show", "web1", NULL), UVCTL_OK);
	ck_assert_str_eq(st.uri, "/v1/partitions/web1");
	ck_assert_str_eq(out, "name:       web1\n"
			      "state:      running\n"
			      "desired:    running\n"
			      "stop mode:  shutdown\n"
			      "cpus:       2\n"
			      "memory:     1G\n"
			      "hugepages:  no\n"
			      "restart:    on-failure\n"
			      "disk 0:     /srv/img/web1.qcow2 (qcow2, read-write)\n"
			      "net 0:      tap uvtap0\n"
			      "pid:        4242\n"
			      "iopartd:    a\n"
			      "standby:    b\n"
			      "generation: 7\n");
}
END_TEST

/* A partition booted directly: its kernel, initrd and cmdline, and why it failed. */
START_TEST(show_kernel)
{
	ck_assert_int_eq(run("show", "k1", NULL), UVCTL_OK);
	ck_assert_str_eq(
		out, "name:       k1\n"
		     "state:      failed\n"
		     "desired:    running\n"
		     "stop mode:  shutdown\n"
		     "cpus:       1\n"
		     "memory:     128M\n"
		     "hugepages:  no\n"
		     "restart:    on-failure\n"
		     "kernel:     /boot/vmlinuz-6.1\n"
		     "initrd:     /boot/initrd.img-6.1\n"
		     "cmdline:    console=ttyS0 root=/dev/vda ro\n"
		     "disk 0:     /srv/img/k1.raw (format detected, read-write)\n"
		     "reason:     cannot read kernel /boot/vmlinuz-6.1: No such file or directory\n"
		     "generation: 3\n");
}
END_TEST

START_TEST(unknown_partition)
{
	ck_assert_int_eq(run("show", "nope", NULL), UVCTL_REFUSED);
	ck_assert_str_eq(out, "");
	ck_assert_str_eq(err, "uvctl: error: no partition 'nope'\n");
	ck_assert_int_eq(run("delete", "db", NULL), UVCTL_REFUSED);
	ck_assert_str_eq(st.method, "DELETE");
	ck_assert_str_eq(err, "uvctl: error: 'db' is running\n");
}
END_TEST

START_TEST(create_body)
{
	json_object *b;

	ck_assert_int_eq(run("create", "web1", "--disk", "/srv/img/web1.qcow2,format=qcow2",
			     "--cpus", "2", "--memory", "1G", "--net", "tap=uvtap0", NULL),
			 UVCTL_OK);
	ck_assert_str_eq(st.method, "POST");
	ck_assert_str_eq(st.uri, "/v1/partitions");
	ck_assert_str_eq(st.ctype, "application/json");
	b = json_tokener_parse(st.body);
	ck_assert_ptr_nonnull(b);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(b, "name")), "web1");
	ck_assert_int_eq(json_object_get_int(json_object_object_get(b, "memory_mib")), 1024);
	json_object_put(b);
	ck_assert_str_eq(out, "Partition web1 created (desired state: stopped)\n");
	/* Direct kernel boot: the three fields as given. */
	ck_assert_int_eq(run("create", "k1", "--disk", "/srv/img/k1.raw", "--kernel",
			     "/boot/vmlinuz-6.1", "--initrd", "/boot/initrd.img-6.1", "--cmdline",
			     "console=ttyS0 root=/dev/vda ro", NULL),
			 UVCTL_OK);
	b = json_tokener_parse(st.body);
	ck_assert_ptr_nonnull(b);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(b, "kernel")),
			 "/boot/vmlinuz-6.1");
	ck_assert_str_eq(json_object_get_string(json_object_object_get(b, "initrd")),
			 "/boot/initrd.img-6.1");
	ck_assert_str_eq(json_object_get_string(json_object_object_get(b, "cmdline")),
			 "console=ttyS0 root=/dev/vda ro");
	json_object_put(b);
	/* --json on a change prints opsd's answer. */
	ck_assert_int_eq(run("--json", "create", "web1", "--disk", "/x", NULL), UVCTL_OK);
	assert_has(out, "\"generation\": 7");
}
END_TEST

/* Over 1 KiB: no "Expect: 100-continue" round trip that an HTTP/1.0-minded server would stall on.
 */
START_TEST(create_big_body)
{
	char path[200];
	char *words[40] = {"create", "big"};
	int n = 2;

	memset(path, 'p', sizeof(path));
	path[0] = '/';
	path[sizeof(path) - 1] = 0;
	for (int i = 0; i < 16; i++) {
		words[n++] = "--disk";
		words[n++] = path;
	}
	words[n] = NULL;
	ck_assert_int_eq(run(words[0], words[1], words[2], words[3], words[4], words[5], words[6],
			     words[7], words[8], words[9], words[10], words[11], words[12],
			     words[13], words[14], words[15], words[16], words[17], words[18],
			     words[19], words[20], words[21], words[22], words[23], words[24],
			     words[25], words[26], words[27], words[28], words[29], words[30],
			     words[31], words[32], words[33], NULL),
			 UVCTL_OK);
	ck_assert_uint_gt(strlen(st.body), 16 * sizeof(path));
	ck_assert_str_eq(st.expect, "");
}
END_TEST

START_TEST(change_verbs)
{
	ck_assert_int_eq(run("start", "web1", NULL), UVCTL_OK);
	ck_assert_str_eq(st.method, "POST");
	ck_assert_str_eq(st.uri, "/v1/partitions/web1/start");
	ck_assert_str_eq(st.body, "");
	ck_assert_str_eq(out, "Partition web1: start requested\n");
	ck_assert_int_eq(run("delete", "web1", NULL), UVCTL_OK);
	ck_assert_str_eq(out, "Partition web1 deleted\n");
	/* 204 has no body: --json prints nothing rather than failing. */
	ck_assert_int_eq(run("delete", "--json", "web1", NULL), UVCTL_OK);
	ck_assert_str_eq(out, "");
}
END_TEST

/* Sections up to the I/O partitions: the same whoever else answers. */
#define STATUS_HEAD                                                                                \
	"Host\n"                                                                                   \
	"  CPUs:           5 (0-3,6)\n"                                                            \
	"  dedicated CPUs: 2 (2-3)\n"                                                              \
	"  memory limit:   18.8 GiB (19284 MiB)\n"                                                 \
	"  memory used:    1.5 GiB (8%)\n"                                                         \
	"  memory free:    17.3 GiB\n"                                                             \
	"  partitions:     3 defined, 1 running\n"                                                 \
	"  channels:       2 (1 up)\n"                                                             \
	"\n"                                                                                       \
	"I/O partitions\n"                                                                         \
	"  NAME  HEALTH   ROLE    PID   CHANNELS  SINCE\n"                                         \
	"  a     healthy  active  4301  2         2026-11-26 14:11:57\n"                           \
	"  b     dead     none    4302  0         2026-11-26 13:33:20\n"                           \
	"\n"

/* Everything there: ultravisord's pid file held (by the test), commandd answering. */
START_TEST(status_sections)
{
	char path[128], why[256], pid[16], want[2048];
	int pidfd, w;

	snprintf(path, sizeof(path), "%s/ultravisord.pid", st.dir);
	pidfd = uv_pidfile_acquire(path, why, sizeof(why));
	ck_assert_msg(pidfd >= 0, "%s", why);
	stub_commandd();
	ck_assert_int_eq(run("status", NULL), UVCTL_OK);
	ck_assert_str_eq(st.uri, "/v1/status");
	ck_assert_str_eq(err, "");
	w = snprintf(pid, sizeof(pid), "%d", (int)getpid());
	w = w > 4 ? w : 4;
	snprintf(want, sizeof(want),
		 "%sDaemons\n"
		 "  NAME         STATE    %-*s  NOTE\n"
		 "  ultravisord  running  %-*s  answered opsd's status request\n"
		 "  opsd         running  %-*s  version 0.1.0, state generation 12\n"
		 "  commandd     running  %-*s  connected to opsd, not to ultravisord\n"
		 "\n"
		 "Failover (commandd)\n"
		 "  mode:           auto\n"
		 "  channel moves:  4, 1 failed; last 5.0 ms, longest 6.7 ms\n"
		 "  iopartd starts: 2 (by commandd --supervise-iopartd)\n",
		 STATUS_HEAD, w, "PID", w, pid, w, "4100", w, "-");
	ck_assert_str_eq(out, want);
	uv_pidfile_release(pidfd, path);
}
END_TEST

/* Neither pid files nor commandd: no failover section, commandd not running. */
START_TEST(status_without_commandd)
{
	ck_assert_int_eq(run("status", NULL), UVCTL_OK);
	ck_assert_str_eq(err, "");
	ck_assert_str_eq(out, STATUS_HEAD
			 "Daemons\n"
			 "  NAME         STATE    PID   NOTE\n"
			 "  ultravisord  running  -     answered opsd's status request\n"
			 "  opsd         running  4100  version 0.1.0, state generation 12\n"
			 "  commandd     stopped  -     not running\n");
}
END_TEST

/* --json is opsd's answer as it is; an answer of another shape is flattened, not lost. */
START_TEST(status_json_and_odd)
{
	json_object *o, *want = json_tokener_parse(STATUS);

	ck_assert_int_eq(run("status", "--json", NULL), UVCTL_OK);
	o = json_tokener_parse(out);
	ck_assert_ptr_nonnull(o);
	ck_assert(json_object_equal(o, want));
	json_object_put(o);
	json_object_put(want);
	st.odd_status = true;
	ck_assert_int_eq(run("status", NULL), UVCTL_OK);
	ck_assert_str_eq(out, "memory.total_mib:   4096\n"
			      "memory.free_mib:    1024\n"
			      "iopartd[0].name:    a\n"
			      "iopartd[0].healthy: yes\n"
			      "iopartd[1].name:    b\n");
}
END_TEST

START_TEST(policy_verbs)
{
	json_object *b;

	ck_assert_int_eq(run("policy", "get", NULL), UVCTL_OK);
	ck_assert_str_eq(out, "restart_default: on-failure\n"
			      "restart_max:     5\n");
	ck_assert_int_eq(run("policy", "set", "restart_max=3", "failover=manual", NULL), UVCTL_OK);
	ck_assert_str_eq(st.method, "PUT");
	ck_assert_str_eq(st.uri, "/v1/policy");
	b = json_tokener_parse(st.body);
	ck_assert_int_eq(json_object_get_int(json_object_object_get(b, "restart_max")), 3);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(b, "failover")), "manual");
	ck_assert_int_eq(json_object_object_length(b), 2);
	json_object_put(b);
	ck_assert_str_eq(out, "Policy updated\n");
}
END_TEST

START_TEST(bad_answers)
{
	st.garbage = true;
	ck_assert_int_eq(run("list", NULL), UVCTL_UNREACHABLE);
	assert_has(err, "not JSON");
	st.garbage = false;
	/* A refusal whose body is not the API's error object still says something. */
	st.force_code = 500;
	ck_assert_int_eq(run("status", NULL), UVCTL_REFUSED);
	ck_assert_str_eq(err, "uvctl: error: opsd refused the request (HTTP 500)\n");
}
END_TEST

START_TEST(unreachable)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char want[256];
	int fd;

	/* Nothing there. */
	unlink(st.sock);
	ck_assert_int_eq(run("list", NULL), UVCTL_UNREACHABLE);
	snprintf(want, sizeof(want), "uvctl: error: cannot reach opsd at %s: ", st.sock);
	assert_has(err, want);
	assert_has(err, "No such file or directory");
	ck_assert_str_eq(out, "");
	/* A socket file nobody serves any more. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", st.sock);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	ck_assert_int_eq(run("start", "web1", NULL), UVCTL_UNREACHABLE);
	assert_has(err, "Connection refused");
}
END_TEST

int main(void)
{
	return uv_check_run(
		uv_suite("uvctl_api", setup, teardown, 0,
			 UV_TESTS(list_table, list_json, show_lines, show_kernel, unknown_partition,
				  create_body, create_big_body, change_verbs, status_sections,
				  status_without_commandd, status_json_and_odd, policy_verbs,
				  bad_answers, unreachable)));
}
