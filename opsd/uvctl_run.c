// SPDX-License-Identifier: GPL-2.0
/* uvctl's verbs: one request to opsd each, its answer printed. */
#include <limits.h>
#include <string.h>

#include "uvctl.h"

const char uvctl_usage_text[] =
	"NAME\n"
	"    uvctl - command line of the Ultravisor suite's operations daemon (opsd)\n"
	"\n"
	"SYNOPSIS\n"
	"    uvctl [--json] VERB [ARGS...]\n"
	"    uvctl --help | --version\n"
	"\n"
	"DESCRIPTION\n"
	"    Talks to opsd's REST API on $UV_RUNTIME_DIR/opsd.sock (default\n"
	"    /run/ultravisor/opsd.sock). Changes are recorded as desired state;\n"
	"    commandd then makes them happen, so start, shutdown and destroy return\n"
	"    at once: watch 'uvctl list' for the actual state.\n"
	"\n"
	"VERBS\n"
	"    create NAME --disk IMG[,readonly=on][,format=raw|qcow2]... [--cpus N]\n"
	"           [--memory SIZE] [--net tap=IFNAME]... [--restart POLICY] [--hugepages]\n"
	"           [--kernel PATH [--initrd PATH] [--cmdline STR]]\n"
	"        Defines a partition (desired state: stopped). --disk and --net may be\n"
	"        repeated; the first disk is the guest's vda. A relative IMG is taken\n"
	"        from the current directory; format is detected when not given.\n"
	"        SIZE is 512M, 2G or the like, or a number of MiB. POLICY is\n"
	"        on-failure (default), always or never: when a stopped guest is\n"
	"        started again. --hugepages backs guest memory with huge pages.\n"
	"        Without --kernel, uvmm's firmware boots the first disk; with it,\n"
	"        uvmm loads that Linux bzImage (and --initrd) itself and passes\n"
	"        --cmdline (default console=ttyS0); --disk is then optional. Paths\n"
	"        are files of the host, made absolute like IMG.\n"
	"    start NAME\n"
	"        Desired state running.\n"
	"    shutdown NAME\n"
	"        Desired state stopped, gracefully: the guest sees the power button.\n"
	"    destroy NAME\n"
	"        Desired state stopped, now: the guest is killed.\n"
	"    delete NAME\n"
	"        Forgets a partition; refused while it runs or is wanted running.\n"
	"    list\n"
	"        Every partition, a table: NAME STATE DESIRED CPUS MEMORY IOPARTD\n"
	"        STANDBY. STATE is the actual state (unknown until commandd reported\n"
	"        it); IOPARTD serves its channels, STANDBY holds their standbys.\n"
	"    show NAME\n"
	"        One partition, as key: value lines.\n"
	"    console NAME\n"
	"        Attaches to the partition's console ($UV_RUNTIME_DIR/partitions/\n"
	"        NAME/console.sock). A terminal is put in raw mode; Ctrl-] detaches.\n"
	"        Input that is no terminal is sent as it is; at its end uvctl\n"
	"        relays output until the console closes.\n"
	"    status\n"
	"        Host: CPUs, the memory pool (limit, used, free), partitions and\n"
	"        channels. I/O partitions: each iopartd's health, role (active,\n"
	"        standby, none), pid, channels and since when. Daemons: running or\n"
	"        not (their pid files), pid, commandd's links. Failover: commandd's\n"
	"        moves and iopartd starts, from $UV_RUNTIME_DIR/commandd.sock.\n"
	"        With --json, opsd's answer alone.\n"
	"    policy get\n"
	"    policy set KEY=VALUE...\n"
	"        Reads or changes the policy: restart_default, restart_max,\n"
	"        restart_window_s, cpu_pinning (none|dedicated), failover\n"
	"        (auto|manual). Only the keys given change. Numbers are sent as\n"
	"        numbers, true and false as booleans, anything else as a string.\n"
	"\n"
	"OPTIONS\n"
	"    --json\n"
	"        Read verbs print the API's JSON (pretty) instead of a table; the\n"
	"        other verbs print the API's answer, if any. Also after the verb.\n"
	"    --help\n"
	"        This text (also after a verb).\n"
	"    --version\n"
	"\n"
	"ENVIRONMENT\n"
	"    UV_RUNTIME_DIR   sockets (default /run/ultravisor)\n"
	"\n"
	"EXIT STATUS\n"
	"    0 success; 1 the request was refused (opsd's message is printed as\n"
	"    'uvctl: error: ...'), or the console could not be attached; 2 bad\n"
	"    usage; 3 opsd unreachable, or its answer was not understood. A\n"
	"    console ended by a signal N gives 128+N.\n";

static const char *const run_done[] = {
	[UVCTL_CREATE] = "Partition %s created (desired state: stopped)\n",
	[UVCTL_START] = "Partition %s: start requested\n",
	[UVCTL_SHUTDOWN] = "Partition %s: shutdown requested\n",
	[UVCTL_DESTROY] = "Partition %s: destroy requested\n",
	[UVCTL_DELETE] = "Partition %s deleted\n",
	[UVCTL_POLICY_SET] = "Policy updated%s\n",
};

static void run_status(const char *runtime_dir, json_object *reply, FILE *out)
{
	struct uvctl_probe p;

	uvctl_probe_run(&p, runtime_dir);
	uvctl_print_status(out, reply, &p);
	uvctl_probe_fini(&p);
}

static void run_print(const struct uvctl_cmd *cmd, const char *runtime_dir, json_object *reply,
		      FILE *out)
{
	if (cmd->json) {
		if (reply)
			uvctl_print_json(out, reply);
		return;
	}
	switch (cmd->verb) {
	case UVCTL_LIST:
		uvctl_print_list(out, reply);
		break;
	case UVCTL_SHOW:
		uvctl_print_partition(out, reply);
		break;
	case UVCTL_STATUS:
		run_status(runtime_dir, reply, out);
		break;
	case UVCTL_POLICY_GET:
		uvctl_print_flat(out, reply);
		break;
	default:
		fprintf(out, run_done[cmd->verb], cmd->name);
	}
}

/* One exchange; on success *reply is the answer's JSON (NULL when it had no body). */
static int run_exchange(const char *sock, const char *method, const char *path, json_object *body,
			json_object **reply, FILE *errf)
{
	const char *text =
		body ? json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN |
								    JSON_C_TO_STRING_NOSLASHESCAPE)
		     : NULL;
	struct uvctl_reply r;
	char err[512];
	int status = UVCTL_OK;

	*reply = NULL;
	if (uvctl_http(sock, method, path, text, &r, err, sizeof(err))) {
		fprintf(errf, "uvctl: error: %s\n", err);
		return UVCTL_UNREACHABLE;
	}
	if (r.status < 200 || r.status > 299) {
		uvctl_reply_error(&r, err, sizeof(err));
		fprintf(errf, "uvctl: error: %s\n", err);
		status = UVCTL_REFUSED;
	} else if (r.len && !(*reply = json_tokener_parse(r.body))) {
		fprintf(errf, "uvctl: error: opsd's answer to %s %s is not JSON\n", method, path);
		status = UVCTL_UNREACHABLE;
	}
	uvctl_reply_fini(&r);
	return status;
}

int uvctl_run(const struct uvctl_cmd *cmd, const char *runtime_dir, FILE *out, FILE *errf)
{
	char sock[PATH_MAX], err[PATH_MAX + 128];
	json_object *reply = NULL;
	int status;

	if (cmd->verb == UVCTL_HELP) {
		fputs(uvctl_usage_text, out);
		return UVCTL_OK;
	}
	if (cmd->verb == UVCTL_CONSOLE) {
		snprintf(sock, sizeof(sock), "%s/partitions/%s/console.sock", runtime_dir,
			 cmd->name);
		fflush(out);
		status = uvctl_console(sock, cmd->name, 0, fileno(out), err, sizeof(err));
		if (status == UVCTL_REFUSED)
			fprintf(errf, "uvctl: error: %s\n", err);
		return status;
	}
	snprintf(sock, sizeof(sock), "%s/opsd.sock", runtime_dir);
	status = run_exchange(sock, cmd->method, cmd->path, cmd->body, &reply, errf);
	if (status == UVCTL_OK) {
		if (uvctl_verb_reads(cmd->verb) && !reply) {
			fprintf(errf, "uvctl: error: opsd's answer to %s %s was empty\n",
				cmd->method, cmd->path);
			status = UVCTL_UNREACHABLE;
		} else {
			run_print(cmd, runtime_dir, reply, out);
		}
	}
	json_object_put(reply);
	return status;
}
