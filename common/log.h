/* log: one logfmt line per event on stderr, prefixed with the <N> syslog
 * priority journald understands. Never pass patient fields, keys or
 * passwords: counts and request ids only. */
#ifndef PATIENTS_LOG_H
#define PATIENTS_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum log_level {
	LOG_LEVEL_ERR = 3,
	LOG_LEVEL_WARNING = 4,
	LOG_LEVEL_NOTICE = 5,
	LOG_LEVEL_INFO = 6,
	LOG_LEVEL_DEBUG = 7,
};

/* Sets the most verbose level written (default LOG_LEVEL_INFO). */
void log_set_level(enum log_level level);

/* Parses "error", "warning", "notice", "info" or "debug".
 * Returns the level, or -EINVAL for anything else. */
int log_level_parse(const char *name);

/* Writes `<N>ts=... level=... event=<event> <fields>` where fields is the
 * printf-formatted rest (already key=value pairs). Thread-safe: one write(2)
 * per line. */
void log_event(enum log_level level, const char *event, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A library's own printf-style complaint (libmicrohttpd's logger), as one
 * event line with the text, trailing newlines dropped, as message=. */
void log_library(enum log_level level, const char *event, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* Points stderr (where every line goes) at the file path, appending,
 * created 0640 if missing: called at start with --log-file, and again on
 * SIGHUP after logrotate moved the file away. Only open, dup2 and close:
 * safe in a signal handler. Returns 0 or -errno (stderr unchanged). */
int log_reopen(const char *path);

/* Quotes s as a logfmt value into buf (escaping quotes, backslashes and
 * control characters, truncating to fit). Returns buf. */
const char *log_quote(char *buf, size_t size, const char *s);

#define log_error(ev, ...) log_event(LOG_LEVEL_ERR, ev, __VA_ARGS__)
#define log_warning(ev, ...) log_event(LOG_LEVEL_WARNING, ev, __VA_ARGS__)
#define log_notice(ev, ...) log_event(LOG_LEVEL_NOTICE, ev, __VA_ARGS__)
#define log_info(ev, ...) log_event(LOG_LEVEL_INFO, ev, __VA_ARGS__)
#define log_debug(ev, ...) log_event(LOG_LEVEL_DEBUG, ev, __VA_ARGS__)

#endif
