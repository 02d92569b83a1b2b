/* daemon: the start-up and signal handling both daemons share, so that
 * patients-gateway and patients-worker read their settings, answer --help
 * and --version, set up logging, handle signals and choose their exit status
 * the same way. Each main() is then its own start, loop and stop.
 *
 * Signals: TERM and INT ask to stop (a second one exits at once, 128 +
 * signal); HUP reopens --log-file (logrotate) in the handler itself (open
 * and dup2 are async-signal-safe) and raises a flag the daemon may read to
 * reload more (the gateway's keys). PIPE is ignored: a peer that went away
 * is an error return, not a death. */
#ifndef PATIENTS_DAEMON_H
#define PATIENTS_DAEMON_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "settings.h"

/* The settings every daemon has, embedded in its configuration struct
 * under the member name `common` (DAEMON_SETTINGS's offsets point there). */
struct daemon_common {
	struct settings_list kafka_props;
	char *kafka_props_file;
	char *log_level;
	char *log_file;
	bool help;
	bool version;
};

/* The table rows for struct daemon_common, for a daemon's settings table
 * whose configuration struct is `type`. */
#define DAEMON_SETTINGS(type)                                                                   \
	{ "kafka-prop", 'X', SETTING_LIST, "PATIENTS_KAFKA_PROPS", NULL, 0, 0,                 \
	  offsetof(type, common.kafka_props), "KEY=VALUE",                                      \
	  "any librdkafka property, repeatable (env: ';'-separated)" },                         \
	{ "kafka-props-file", 0, SETTING_STRING, "PATIENTS_KAFKA_PROPS_FILE", NULL, 0, 0,       \
	  offsetof(type, common.kafka_props_file), "PATH",                                      \
	  "librdkafka key=value lines (# comments), before -X: put sasl.password here" },       \
	{ "log-level", 'l', SETTING_STRING, "PATIENTS_LOG_LEVEL", "info", 0, 0,                \
	  offsetof(type, common.log_level), "LEVEL", "error, warning, notice, info or debug" }, \
	{ "log-file", 0, SETTING_STRING, "PATIENTS_LOG_FILE", NULL, 0, 0,                      \
	  offsetof(type, common.log_file), "PATH",                                              \
	  "append log lines to PATH instead of stderr; SIGHUP reopens it (logrotate)" },        \
	{ "help", 'h', SETTING_FLAG, NULL, NULL, 0, 0, offsetof(type, common.help), NULL,       \
	  "show this help and exit" },                                                          \
	{ "version", 'V', SETTING_FLAG, NULL, NULL, 0, 0, offsetof(type, common.version), NULL, \
	  "show the version and exit" }

struct daemon_spec {
	const char *name;		/* "patients-gateway": prefixes every message on stderr */
	const struct setting *settings; /* the daemon's table, DAEMON_SETTINGS included */
	size_t nsettings;
	void (*usage)(FILE *out);	/* --help's text (settings_usage inside) */
};

/* A daemon_spec for a daemon NAME whose settings table is the array TABLE
 * and whose --help is USAGE. */
#define DAEMON_SPEC(NAME, TABLE, USAGE)                                                       \
	{ .name = (NAME), .settings = (TABLE), .nsettings = sizeof(TABLE) / sizeof((TABLE)[0]), \
	  .usage = (USAGE) }

/* Loads cfg from flags, environment and defaults; answers --help and
 * --version; reads --kafka-props-file into the common kafka_props; sets the
 * log level; opens --log-file; installs the signal handlers. common points
 * into cfg. Returns true when the daemon goes on; false when it must exit
 * now with *status (0 after --help or --version; EXITCODE_USAGE for a bad
 * flag or value; EXITCODE_CONFIG for a props or log file it cannot read),
 * having said why on stderr. cfg is freed with daemon_end() either way. */
bool daemon_start(const struct daemon_spec *d, void *cfg, struct daemon_common *common, int argc,
		  char **argv, int *status);

/* Prints "NAME: message" on stderr: the one way a start-up failure is told
 * before the log is the place for it. */
void daemon_fail(const struct daemon_spec *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* True once TERM or INT arrived. */
bool daemon_stopping(void);

/* The flag daemon_stopping() reads, for a loop that takes one. */
volatile sig_atomic_t *daemon_stop_flag(void);

/* True once per HUP since the last call: the caller reloads what it has to.
 * Logs a failed reopen of --log-file (the handler could not). */
bool daemon_reload_requested(void);

/* Frees cfg's settings and forgets --log-file. */
void daemon_end(const struct daemon_spec *d, void *cfg);

#endif
