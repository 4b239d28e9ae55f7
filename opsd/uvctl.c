// SPDX-License-Identifier: GPL-2.0
/* uvctl: the command line on opsd's REST API (docs/uvctl.md). */
#include <curl/curl.h>
#include <stdio.h>

#include "daemon.h"
#include "uvctl.h"

int main(int argc, char **argv)
{
	struct uvctl_cmd cmd;
	struct uv_paths paths = {.runtime_dir = ""};
	char err[512];
	int status;

	if (uvctl_parse(argc, argv, &cmd, err, sizeof(err))) {
		fprintf(stderr, "uvctl: error: %s (see uvctl --help)\n", err);
		return UVCTL_USAGE;
	}
	if (cmd.verb == UVCTL_VERSION) {
		printf("uvctl %s\n", UV_VERSION);
		return UVCTL_OK;
	}
	if (cmd.verb != UVCTL_HELP && uv_paths_init(&paths, err, sizeof(err))) {
		fprintf(stderr, "uvctl: error: %s\n", err);
		uvctl_cmd_fini(&cmd);
		return UVCTL_USAGE;
	}
	if (curl_global_init(CURL_GLOBAL_NOTHING)) {
		fprintf(stderr, "uvctl: error: cannot initialise libcurl\n");
		uvctl_cmd_fini(&cmd);
		return UVCTL_UNREACHABLE;
	}
	status = uvctl_run(&cmd, paths.runtime_dir, stdout, stderr);
	curl_global_cleanup();
	uvctl_cmd_fini(&cmd);
	return status;
}
