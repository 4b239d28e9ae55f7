/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UV_LOG_H
#define UV_LOG_H

/* Levels are syslog's, so "<N>" prefixes work when stderr is the journal. */
enum uv_log_level {
	UV_LOG_ERR = 3,
	UV_LOG_WARN = 4,
	UV_LOG_INFO = 6,
	UV_LOG_DEBUG = 7,
};

void log_init(const char *prog, enum uv_log_level level);
void log_set_level(enum uv_log_level level);
int log_parse_level(const char *s, enum uv_log_level *out);
void log_msg(enum uv_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pr_err(...)   log_msg(UV_LOG_ERR, __VA_ARGS__)
#define pr_warn(...)  log_msg(UV_LOG_WARN, __VA_ARGS__)
#define pr_info(...)  log_msg(UV_LOG_INFO, __VA_ARGS__)
#define pr_debug(...) log_msg(UV_LOG_DEBUG, __VA_ARGS__)

#endif
