// SPDX-License-Identifier: GPL-2.0
/* uvctl's command line into one API request (method, path, JSON body). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parse.h"
#include "uvctl.h"

enum verb_args { ARGS_NONE, ARGS_NAME, ARGS_PAIRS };

struct verb_def {
	const char *word;
	enum uvctl_verb verb;
	enum verb_args args;
	const char *method; /* NULL: no request (console) */
	const char *path;   /* "%s" is the name */
};

static const struct verb_def verb_defs[] = {
	{"create", UVCTL_CREATE, ARGS_NAME, "POST", "/v1/partitions"},
	{"start", UVCTL_START, ARGS_NAME, "POST", "/v1/partitions/%s/start"},
	{"shutdown", UVCTL_SHUTDOWN, ARGS_NAME, "POST", "/v1/partitions/%s/shutdown"},
	{"destroy", UVCTL_DESTROY, ARGS_NAME, "POST", "/v1/partitions/%s/destroy"},
	{"delete", UVCTL_DELETE, ARGS_NAME, "DELETE", "/v1/partitions/%s"},
	{"list", UVCTL_LIST, ARGS_NONE, "GET", "/v1/partitions"},
	{"show", UVCTL_SHOW, ARGS_NAME, "GET", "/v1/partitions/%s"},
	{"console", UVCTL_CONSOLE, ARGS_NAME, NULL, NULL},
	{"status", UVCTL_STATUS, ARGS_NONE, "GET", "/v1/status"},
	{"policy get", UVCTL_POLICY_GET, ARGS_NONE, "GET", "/v1/policy"},
	{"policy set", UVCTL_POLICY_SET, ARGS_PAIRS, "PUT", "/v1/policy"},
};

enum {
	OPT_JSON = 0x100,
	OPT_HELP,
	OPT_DISK,
	OPT_CPUS,
	OPT_MEMORY,
	OPT_NET,
	OPT_RESTART,
	OPT_HUGEPAGES,
	OPT_KERNEL,
	OPT_INITRD,
	OPT_CMDLINE,
};

static const struct option common_opts[] = {
	{"json", no_argument, NULL, OPT_JSON},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};

static const struct option create_opts[] = {
	{"json", no_argument, NULL, OPT_JSON},
	{"help", no_argument, NULL, OPT_HELP},
	{"disk", required_argument, NULL, OPT_DISK},
	{"cpus", required_argument, NULL, OPT_CPUS},
	{"memory", required_argument, NULL, OPT_MEMORY},
	{"net", required_argument, NULL, OPT_NET},
	{"restart", required_argument, NULL, OPT_RESTART},
	{"hugepages", no_argument, NULL, OPT_HUGEPAGES},
	{"kernel", required_argument, NULL, OPT_KERNEL},
	{"initrd", required_argument, NULL, OPT_INITRD},
	{"cmdline", required_argument, NULL, OPT_CMDLINE},
	{NULL, 0, NULL, 0},
};

static int args_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int args_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

const char *uvctl_verb_name(enum uvctl_verb v)
{
	for (size_t i = 0; i < sizeof(verb_defs) / sizeof(verb_defs[0]); i++)
		if (verb_defs[i].verb == v)
			return verb_defs[i].word;
	return NULL;
}

bool uvctl_verb_reads(enum uvctl_verb v)
{
	return v == UVCTL_LIST || v == UVCTL_SHOW || v == UVCTL_STATUS || v == UVCTL_POLICY_GET;
}

int uvctl_parse_memory(const char *s, unsigned long long *mib)
{
	uint64_t v;

	/* Bare digits are MiB, as for QEMU's -m: nobody means 1024 bytes. */
	if (!parse_uint(s, 0, UINT32_MAX, &v)) {
		*mib = v;
		return 0;
	}
	if (parse_size(s, &v) || (v & ((1ULL << 20) - 1)))
		return -1;
	*mib = v >> 20;
	return 0;
}

json_object *uvctl_policy_value(const char *s)
{
	uint64_t v;

	if (!parse_uint(s, 0, INT64_MAX, &v))
		return json_object_new_int64((int64_t)v);
	if (!strcmp(s, "true") || !strcmp(s, "false"))
		return json_object_new_boolean(s[0] == 't');
	return json_object_new_string(s);
}

/* opsd runs elsewhere than the user's shell: a relative image path is made absolute here. */
static json_object *args_abs_path(const char *path)
{
	char cwd[PATH_MAX], *full;
	json_object *o;

	if (path[0] == '/')
		return json_object_new_string(path);
	if (!getcwd(cwd, sizeof(cwd)) || asprintf(&full, "%s/%s", cwd, path) < 0)
		return NULL;
	o = json_object_new_string(full);
	free(full);
	return o;
}

/* IMG[,readonly=on|off][,format=raw|qcow2] */
static int args_disk(const char *arg, json_object *disks, char *err, size_t errlen)
{
	char *dup = strdup(arg), *rest = dup, *tok;
	json_object *d = json_object_new_object(), *path;
	bool ro = false;
	int ret = -1;

	if (!dup || !d) {
		args_err(err, errlen, "out of memory");
		goto out;
	}
	tok = strsep(&rest, ",");
	if (!*tok) {
		args_err(err, errlen, "--disk '%s': no image path", arg);
		goto out;
	}
	path = args_abs_path(tok);
	if (!path) {
		args_err(err, errlen, "--disk %s: %s", tok, strerror(errno));
		goto out;
	}
	json_object_object_add(d, "path", path);
	while ((tok = strsep(&rest, ","))) {
		if (!strcmp(tok, "readonly=on") || !strcmp(tok, "readonly=off")) {
			ro = !strcmp(tok, "readonly=on");
		} else if (!strcmp(tok, "format=raw") || !strcmp(tok, "format=qcow2")) {
			json_object_object_add(d, "format", json_object_new_string(tok + 7));
		} else {
			args_err(err, errlen,
				 "--disk '%s': '%s' is not readonly=on|off or format=raw|qcow2",
				 arg, tok);
			goto out;
		}
	}
	json_object_object_add(d, "readonly", json_object_new_boolean(ro));
	json_object_array_add(disks, d);
	d = NULL;
	ret = 0;
out:
	json_object_put(d);
	free(dup);
	return ret;
}

static int args_net(const char *arg, json_object *nets, char *err, size_t errlen)
{
	json_object *n;

	if (strncmp(arg, "tap=", 4) || !arg[4] || strchr(arg, ','))
		return args_err(err, errlen, "--net '%s': expected tap=IFNAME", arg);
	n = json_object_new_object();
	json_object_object_add(n, "tap", json_object_new_string(arg + 4));
	json_object_array_add(nets, n);
	return 0;
}

/* --kernel and --initrd: a file of this machine, absolute as for --disk. */
static int args_boot_file(const char *opt, const char *arg, const char *key, json_object *body,
			  char *err, size_t errlen)
{
	json_object *path;

	if (!arg[0])
		return args_err(err, errlen, "--%s: no path", opt);
	path = args_abs_path(arg);
	if (!path)
		return args_err(err, errlen, "--%s %s: %s", opt, arg, strerror(errno));
	json_object_object_add(body, key, path);
	return 0;
}

/* One create option into the body; "given twice" is refused for the single-valued ones. */
static int args_create_opt(int opt, const char *arg, json_object *body, char *err, size_t errlen)
{
	static const char *const keys[] = {
		[OPT_CPUS - OPT_DISK] = "cpus",	      [OPT_MEMORY - OPT_DISK] = "memory_mib",
		[OPT_RESTART - OPT_DISK] = "restart", [OPT_HUGEPAGES - OPT_DISK] = "hugepages",
		[OPT_KERNEL - OPT_DISK] = "kernel",   [OPT_INITRD - OPT_DISK] = "initrd",
		[OPT_CMDLINE - OPT_DISK] = "cmdline",
	};
	unsigned long long mib;
	uint64_t v;
	size_t i;

	if (opt == OPT_DISK)
		return args_disk(arg, json_object_object_get(body, "disks"), err, errlen);
	if (opt == OPT_NET)
		return args_net(arg, json_object_object_get(body, "nets"), err, errlen);
	if (json_object_object_get_ex(body, keys[opt - OPT_DISK], NULL))
		return args_err(err, errlen, "--%s given twice",
				opt == OPT_MEMORY ? "memory" : keys[opt - OPT_DISK]);
	switch (opt) {
	case OPT_CPUS:
		if (parse_uint(arg, 0, INT32_MAX, &v))
			return args_err(err, errlen, "--cpus '%s': not a number", arg);
		json_object_object_add(body, "cpus", json_object_new_int64((int64_t)v));
		return 0;
	case OPT_MEMORY:
		if (uvctl_parse_memory(arg, &mib))
			return args_err(err, errlen,
					"--memory '%s': not a size in whole MiB (512M, 2G, 1024)",
					arg);
		json_object_object_add(body, "memory_mib", json_object_new_int64((int64_t)mib));
		return 0;
	case OPT_RESTART:
		for (i = 0; i < 3 && strcmp(arg, opsd_restart_names[i]); i++)
			;
		if (i == 3)
			return args_err(err, errlen,
					"--restart '%s': not on-failure, always or never", arg);
		json_object_object_add(body, "restart", json_object_new_string(arg));
		return 0;
	case OPT_KERNEL:
	case OPT_INITRD:
		return args_boot_file(keys[opt - OPT_DISK], arg, keys[opt - OPT_DISK], body, err,
				      errlen);
	case OPT_CMDLINE:
		/* Sent as given: opsd judges it (length, characters). */
		json_object_object_add(body, "cmdline", json_object_new_string(arg));
		return 0;
	default: /* OPT_HUGEPAGES */
		json_object_object_add(body, "hugepages", json_object_new_boolean(1));
		return 0;
	}
}

static int args_positional(const struct verb_def *vd, const char *arg, struct uvctl_cmd *cmd,
			   char *err, size_t errlen)
{
	const char *eq = strchr(arg, '=');
	char key[64];

	if (vd->args == ARGS_PAIRS) {
		if (!eq || eq == arg)
			return args_err(err, errlen, "'%s' is not KEY=VALUE", arg);
		if ((size_t)(eq - arg) >= sizeof(key))
			return args_err(err, errlen, "policy key '%.*s' is too long",
					(int)(eq - arg), arg);
		memcpy(key, arg, eq - arg);
		key[eq - arg] = 0;
		json_object_object_add(cmd->body, key, uvctl_policy_value(eq + 1));
		return 0;
	}
	if (vd->args == ARGS_NONE || cmd->name[0])
		return args_err(err, errlen, "unexpected argument '%s'", arg);
	if (!opsd_name_valid(arg))
		return args_err(err, errlen,
				"'%s' is not a partition name ([a-z0-9][a-z0-9_.-], at most %d)",
				arg, UVCTL_NAME_MAX);
	strcpy(cmd->name, arg);
	return 0;
}

/* argv[0] is the verb; GNU getopt in "-" mode hands positionals over in order. */
static int args_verb(const struct verb_def *vd, int argc, char **argv, struct uvctl_cmd *cmd,
		     char *err, size_t errlen)
{
	const struct option *opts = vd->verb == UVCTL_CREATE ? create_opts : common_opts;
	int c;

	optind = 0; /* a full reset: unit tests parse many times */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "-:", opts, NULL)) != -1) {
		switch (c) {
		case 1:
			if (args_positional(vd, optarg, cmd, err, errlen))
				return -1;
			break;
		case OPT_JSON:
			cmd->json = true;
			break;
		case OPT_HELP:
			cmd->verb = UVCTL_HELP;
			snprintf(cmd->name, sizeof(cmd->name), "%s", vd->word);
			return 0;
		case ':':
			return args_err(err, errlen, "%s: '%s' needs a value", vd->word,
					argv[optind - 1]);
		case '?':
			return args_err(err, errlen, "%s: unknown option '%s'", vd->word,
					argv[optind - 1]);
		default:
			if (args_create_opt(c, optarg, cmd->body, err, errlen))
				return -1;
		}
	}
	for (; optind < argc; optind++) /* after "--" */
		if (args_positional(vd, argv[optind], cmd, err, errlen))
			return -1;
	return 0;
}

static const struct verb_def *args_lookup(int argc, char **argv, int *i, char *err, size_t errlen)
{
	char word[32];

	if (*i >= argc) {
		args_err(err, errlen, "no verb given");
		return NULL;
	}
	snprintf(word, sizeof(word), "%s", argv[*i]);
	if (!strcmp(word, "policy")) {
		if (*i + 1 >= argc ||
		    (strcmp(argv[*i + 1], "get") && strcmp(argv[*i + 1], "set"))) {
			args_err(err, errlen, "policy: expected get or set");
			return NULL;
		}
		snprintf(word, sizeof(word), "policy %s", argv[++*i]);
	}
	for (size_t v = 0; v < sizeof(verb_defs) / sizeof(verb_defs[0]); v++)
		if (!strcmp(word, verb_defs[v].word))
			return &verb_defs[v];
	args_err(err, errlen, "unknown verb '%s'", word);
	return NULL;
}

static int args_check(const struct verb_def *vd, struct uvctl_cmd *cmd, char *err, size_t errlen)
{
	if (vd->args == ARGS_NAME && !cmd->name[0])
		return args_err(err, errlen, "%s: which partition? (uvctl %s NAME)", vd->word,
				vd->word);
	if (vd->args == ARGS_PAIRS && !json_object_object_length(cmd->body))
		return args_err(err, errlen, "policy set: give at least one KEY=VALUE");
	if (vd->verb == UVCTL_CREATE) {
		bool kernel = json_object_object_get_ex(cmd->body, "kernel", NULL);

		/* The firmware boots the first disk; a kernel needs none. */
		if (!kernel &&
		    !json_object_array_length(json_object_object_get(cmd->body, "disks")))
			return args_err(
				err, errlen,
				"create: give at least one --disk IMG (or a --kernel PATH)");
		if (!kernel && json_object_object_get_ex(cmd->body, "initrd", NULL))
			return args_err(err, errlen, "create: --initrd needs --kernel");
		if (!kernel && json_object_object_get_ex(cmd->body, "cmdline", NULL))
			return args_err(err, errlen, "create: --cmdline needs --kernel");
		json_object_object_add(cmd->body, "name", json_object_new_string(cmd->name));
	}
	if (vd->path)
		snprintf(cmd->path, sizeof(cmd->path), vd->path, cmd->name);
	cmd->method = vd->method;
	return 0;
}

int uvctl_parse(int argc, char **argv, struct uvctl_cmd *cmd, char *err, size_t errlen)
{
	const struct verb_def *vd;
	int i;

	memset(cmd, 0, sizeof(*cmd));
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--json")) {
			cmd->json = true;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			cmd->verb = UVCTL_HELP;
			return 0;
		} else if (!strcmp(argv[i], "--version")) {
			cmd->verb = UVCTL_VERSION;
			return 0;
		} else {
			return args_err(err, errlen, "unknown option '%s'", argv[i]);
		}
	}
	vd = args_lookup(argc, argv, &i, err, errlen);
	if (!vd)
		return -1;
	cmd->verb = vd->verb;
	if (vd->verb == UVCTL_CREATE) {
		cmd->body = json_object_new_object();
		json_object_object_add(cmd->body, "disks", json_object_new_array());
		json_object_object_add(cmd->body, "nets", json_object_new_array());
	} else if (vd->args == ARGS_PAIRS) {
		cmd->body = json_object_new_object();
	}
	if (args_verb(vd, argc - i, argv + i, cmd, err, errlen))
		goto fail;
	if (cmd->verb == UVCTL_HELP) {
		json_object_put(cmd->body);
		cmd->body = NULL;
		return 0;
	}
	if (args_check(vd, cmd, err, errlen))
		goto fail;
	return 0;
fail:
	uvctl_cmd_fini(cmd);
	return -1;
}

void uvctl_cmd_fini(struct uvctl_cmd *cmd)
{
	json_object_put(cmd->body);
	cmd->body = NULL;
}
