/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UVCTL_H
#define UVCTL_H

/*
 * uvctl, the command line on opsd's REST API (docs/uvctl.md): argument
 * parsing into one request (uvctl_args.c), the request over opsd's unix
 * socket (uvctl_http.c), tables and key: value lines (uvctl_print.c), the
 * console relay (uvctl_console.c), and the verbs tied together (uvctl_run.c).
 * Everything but main() is here so that unit tests drive it.
 */

#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

/* opsd_name_valid(): a name is part of a URL and of a console path, so uvctl checks it too. */
#include "partition.h"

/* Exit statuses, as docs/control-plane.md fixes them. */
enum uvctl_status {
	UVCTL_OK = 0,
	UVCTL_REFUSED = 1,     /* opsd said no; its message was printed */
	UVCTL_USAGE = 2,       /* bad command line */
	UVCTL_UNREACHABLE = 3, /* no opsd on the socket, or no answer we understand */
};

enum uvctl_verb {
	UVCTL_HELP,
	UVCTL_VERSION,
	UVCTL_CREATE,
	UVCTL_START,
	UVCTL_SHUTDOWN,
	UVCTL_DESTROY,
	UVCTL_DELETE,
	UVCTL_LIST,
	UVCTL_SHOW,
	UVCTL_CONSOLE,
	UVCTL_STATUS,
	UVCTL_POLICY_GET,
	UVCTL_POLICY_SET,
};

#define UVCTL_NAME_MAX OPSD_NAME_MAX
#define UVCTL_PATH_MAX 128 /* an API path: "/v1/partitions/" NAME "/shutdown" */

struct uvctl_cmd {
	enum uvctl_verb verb;
	bool json; /* --json: print the API's JSON */
	char name[UVCTL_NAME_MAX + 1];
	/* The request: method, API path, body (NULL: none; owned). */
	const char *method;
	char path[UVCTL_PATH_MAX];
	json_object *body;
};

/* A verb's help names it; NULL for a word that is none. */
const char *uvctl_verb_name(enum uvctl_verb v);
bool uvctl_verb_reads(enum uvctl_verb v);

/*
 * argv (as main gets it) into cmd. Returns 0, or -1 with a one-line reason
 * in err (a usage error, status 2). "VERB --help" gives UVCTL_HELP with
 * cmd->name holding the verb. Free with uvctl_cmd_fini.
 */
int uvctl_parse(int argc, char **argv, struct uvctl_cmd *cmd, char *err, size_t errlen);
void uvctl_cmd_fini(struct uvctl_cmd *cmd);

/* "512M", "2G" (binary units), or bare digits meaning MiB, into whole MiB. 0 or -1. */
int uvctl_parse_memory(const char *s, unsigned long long *mib);
/* policy set's VALUE: an integer, true/false, or else a string. */
json_object *uvctl_policy_value(const char *s);

/* One HTTP exchange with opsd. */
struct uvctl_reply {
	long status; /* HTTP status */
	char *body;  /* NUL-terminated, malloc'd; may be empty */
	size_t len;
};

/*
 * Sends method path (body: JSON text or NULL) over the unix socket sock.
 * Returns 0 with the reply (any HTTP status), or -1 when opsd could not be
 * reached or did not answer in HTTP, with the reason (naming sock) in err.
 */
int uvctl_http(const char *sock, const char *method, const char *path, const char *body,
	       struct uvctl_reply *r, char *err, size_t errlen);
void uvctl_reply_fini(struct uvctl_reply *r);
/* The message of an API error body, or a generic one naming the status. */
void uvctl_reply_error(const struct uvctl_reply *r, char *msg, size_t msglen);

/*
 * Layout (uvctl_fmt.c). A table's columns are as wide as their widest cell,
 * two spaces apart; "key: value" lines have their values aligned. Both are
 * freed by printing them.
 */
struct uvctl_table {
	int ncols;
	size_t nrows, cap; /* cap: cells allocated */
	char **cells;	   /* row after row */
};
void uvctl_table_init(struct uvctl_table *t, int ncols, const char *const *heads);
void uvctl_table_add(struct uvctl_table *t, const char *const *row);
void uvctl_table_print(struct uvctl_table *t, FILE *out, const char *indent);

struct uvctl_kv {
	size_t n, cap, width;
	char **cells; /* key, value, key, value... */
};
void uvctl_kv_add(struct uvctl_kv *l, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void uvctl_kv_print(struct uvctl_kv *l, FILE *out, const char *indent);

/* 1024 -> "1G", 1536 -> "1536M" (list's MEMORY, create's --memory). */
void uvctl_format_mib(char *buf, size_t len, long long mib);
/* 512 -> "512 MiB", 2048 -> "2 GiB", 19284 -> "18.8 GiB". */
void uvctl_format_size(char *buf, size_t len, long long mib);
/* A JSON array of CPU numbers: "4 (0-2,7)", or "none". */
void uvctl_format_cpus(char *buf, size_t len, json_object *cpus);

/* Human output of read verbs (uvctl_print.c). */
void uvctl_print_json(FILE *out, json_object *o);
void uvctl_print_list(FILE *out, json_object *reply);
void uvctl_print_partition(FILE *out, json_object *p);
/* Any object as "key: value" lines, nested keys dotted, array items [i]. */
void uvctl_print_flat(FILE *out, json_object *o);
/* A scalar member as text: "" when absent or null, yes/no, objects as JSON. */
const char *uvctl_scalar(json_object *o, const char *key, char *buf, size_t len);

/*
 * What "uvctl status" adds to opsd's answer (uvctl_status.c): whether each
 * daemon holds its pid file, and commandd's own view from commandd.sock
 * (roles, failover figures), which opsd does not have.
 */
enum { UVCTL_D_ULTRAVISORD, UVCTL_D_OPSD, UVCTL_D_COMMANDD, UVCTL_NDAEMONS };
struct uvctl_probe {
	int running[UVCTL_NDAEMONS]; /* uv_pidfile_running(): 1, 0 or -errno */
	pid_t pid[UVCTL_NDAEMONS];
	json_object *commandd; /* its status reply; NULL when it gave none */
	char commandd_err[256];
};
#define UVCTL_COMMANDD_MS 2000 /* longest wait for commandd's status */

void uvctl_probe_run(struct uvctl_probe *p, const char *runtime_dir);
void uvctl_probe_fini(struct uvctl_probe *p);
/* Sections: host, I/O partitions, daemons, failover. */
void uvctl_print_status(FILE *out, json_object *status, const struct uvctl_probe *p);

/*
 * Relays between in/out and the unix socket sock until the socket closes or,
 * for a terminal, until Ctrl-] (then raw mode is left and a line says so).
 * When in is no terminal, its EOF half-closes the socket and the relay
 * goes on until the far end closes. Returns a status (UVCTL_*); err has
 * the reason of a failure.
 */
int uvctl_console(const char *sock, const char *name, int in, int out, char *err, size_t errlen);

/* A parsed command against opsd at sock (console: below runtime_dir). Returns the exit status. */
int uvctl_run(const struct uvctl_cmd *cmd, const char *runtime_dir, FILE *out, FILE *errf);

extern const char uvctl_usage_text[];

#endif
