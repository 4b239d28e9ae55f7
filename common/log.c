// SPDX-License-Identifier: GPL-2.0
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

static const char *log_prog = "uv";
static enum uv_log_level log_level = UV_LOG_INFO;
/* Under systemd, stderr is a journal stream and levels travel as "<N>". */
static int log_journal;

/*
 * JOURNAL_STREAM ("DEV:INODE") is inherited by children whose stderr went
 * elsewhere (commandd's uvmm writes to its uvmm.log): it counts only when
 * it names our stderr, as systemd.exec(5) says.
 */
static int log_stderr_is_journal(void)
{
	const char *v = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!v || sscanf(v, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st))
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(const char *prog, enum uv_log_level level)
{
	log_prog = prog;
	log_level = level;
	log_journal = log_stderr_is_journal();
}

void log_set_level(enum uv_log_level level)
{
	log_level = level;
}

int log_parse_level(const char *s, enum uv_log_level *out)
{
	static const struct {
		const char *name;
		enum uv_log_level level;
	} names[] = {
		{"error", UV_LOG_ERR},
		{"warn", UV_LOG_WARN},
		{"info", UV_LOG_INFO},
		{"debug", UV_LOG_DEBUG},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcasecmp(s, names[i].name)) {
			*out = names[i].level;
			return 0;
		}
	}
	return -1;
}

static const char *log_level_name(enum uv_log_level level)
{
	switch (level) {
	case UV_LOG_ERR:
		return "error";
	case UV_LOG_WARN:
		return "warning";
	case UV_LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

void log_msg(enum uv_log_level level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	/* One write per message keeps lines whole when threads log at once. */
	if (log_journal)
		fprintf(stderr, "<%d>%s\n", level, buf);
	else
		fprintf(stderr, "%s: %s: %s\n", log_prog, log_level_name(level), buf);
}
