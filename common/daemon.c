#include "config.h"

#include "daemon.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "exitcode.h"
#include "kafka.h"
#include "log.h"

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reload_requested;
static volatile sig_atomic_t reopen_errno; /* of the handler's last log_reopen */

/* --log-file for the HUP handler; NULL: stderr as it was given. Set before
 * the handler is installed, cleared only after the daemon is done. */
static const char *volatile log_file;

static void daemon_on_stop(int sig)
{
	if (stop_requested)
		_exit(128 + sig); /* a second signal: the operator means it */
	stop_requested = 1;
}

static void daemon_on_hup(int sig)
{
	const char *path = log_file;

	(void)sig;
	if (path)
		reopen_errno = -log_reopen(path);
	reload_requested = 1;
}

static void daemon_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = daemon_on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = daemon_on_hup;
	sa.sa_flags = SA_RESTART; /* nothing to stop for: no call should see EINTR */
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

void daemon_fail(const struct daemon_spec *d, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", d->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

bool daemon_start(const struct daemon_spec *d, void *cfg, struct daemon_common *c, int argc,
		  char **argv, int *status)
{
	char err[600];
	int level, r;

	*status = EXITCODE_USAGE;
	if (settings_load(d->settings, d->nsettings, cfg, argc, argv, err, sizeof(err)) < 0) {
		daemon_fail(d, "%s", err);
		return false;
	}
	if (c->help || c->version) {
		if (c->help)
			d->usage(stdout);
		else
			printf("%s %s\n", d->name, PACKAGE_VERSION);
		*status = EXITCODE_OK;
		return false;
	}
	level = log_level_parse(c->log_level);
	if (level < 0) {
		daemon_fail(d, "--log-level: \"%s\" is not one of error, warning, notice, info, "
			       "debug", c->log_level);
		return false;
	}
	log_set_level((enum log_level)level);
	*status = EXITCODE_CONFIG;
	if (c->kafka_props_file &&
	    kafka_props_file_load(c->kafka_props_file, &c->kafka_props, err, sizeof(err)) < 0) {
		daemon_fail(d, "%s", err);
		return false;
	}
	if (c->log_file && *c->log_file) {
		r = log_reopen(c->log_file);
		if (r < 0) {
			daemon_fail(d, "--log-file %s: %s", c->log_file, strerror(-r));
			return false;
		}
		log_file = c->log_file;
	}
	daemon_signals();
	*status = EXITCODE_OK;
	return true;
}

bool daemon_stopping(void)
{
	return stop_requested != 0;
}

volatile sig_atomic_t *daemon_stop_flag(void)
{
	return &stop_requested;
}

bool daemon_reload_requested(void)
{
	int e;

	if (!reload_requested)
		return false;
	reload_requested = 0;
	e = reopen_errno;
	if (e) {
		reopen_errno = 0;
		log_error("log_reopen_failed", "error=%s", strerror(e));
	}
	return true;
}

void daemon_end(const struct daemon_spec *d, void *cfg)
{
	log_file = NULL;
	settings_free(d->settings, d->nsettings, cfg);
}
