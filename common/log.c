// SPDX-License-Identifier: GPL-2.0
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char *log_prog = "uv";
static enum uv_log_level log_level = UV_LOG_INFO;
/* Under systemd, stderr is a journal stream and levels travel as "<N>". */
static int log_journal;
/*
 * UV_LOG_TIME=1: each line starts with the wall clock in seconds since the
 * epoch, to the microsecond, so that the logs of several daemons (and a
 * benchmark's own timestamps) can be merged into one timeline.
 */
static int log_time;

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
	log_time = getenv("UV_LOG_TIME") && !strcmp(getenv("UV_LOG_TIME"), "1");
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
	char buf[1024], stamp[32] = "";
	struct timespec ts;
	va_list ap;
	int n;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (log_time && !clock_gettime(CLOCK_REALTIME, &ts))
		snprintf(stamp, sizeof(stamp), "%lld.%06ld ", (long long)ts.tv_sec,
			 ts.tv_nsec / 1000);
	/* One write per message keeps lines whole when threads log at once. */
	if (log_journal)
		fprintf(stderr, "<%d>%s%s\n", level, stamp, buf);
	else
		fprintf(stderr, "%s%s: %s: %s\n", stamp, log_prog, log_level_name(level), buf);
}
