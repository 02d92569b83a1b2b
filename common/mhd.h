/* mhd: what every libmicrohttpd listener of ours sets up the same way, the
 * admin listener (admin.c) and the gateway's public one alike: its own
 * complaints as logfmt lines through log_library, the logger given before
 * any other option (so that nothing reaches stderr), error logging on, the
 * socket address already parsed by netaddr_parse, and a failure as a
 * negative errno. Everything that differs (threads, limits, timeouts, TLS,
 * callbacks) stays in the caller's own option array. */
#ifndef PATIENTS_MHD_H
#define PATIENTS_MHD_H

#include <stdarg.h>

#include <microhttpd.h>

#include "log.h"

/* Where libmicrohttpd's own lines go: their level and event name. */
struct mhd_log_as {
	enum log_level level;
	const char *event;
};

struct mhd_listener {
	unsigned flags;			  /* MHD_USE_*; MHD_USE_ERROR_LOG is added */
	const struct sockaddr *addr;	  /* borrowed for the call */
	MHD_AccessHandlerCallback handler;
	void *handler_cls;
	const struct mhd_log_as *log;	  /* borrowed for the daemon's life */
	const struct MHD_OptionItem *options; /* the caller's, MHD_OPTION_END last; NULL: none */
	/* Returned when libmicrohttpd fails without setting errno. */
	int failure;
};

/* Starts the daemon. Returns 0 with *out set; -errno as libmicrohttpd left
 * it (-EADDRINUSE...) or l->failure, *out NULL. Stop it with
 * MHD_stop_daemon. */
int mhd_start(struct MHD_Daemon **out, const struct mhd_listener *l);

#endif
