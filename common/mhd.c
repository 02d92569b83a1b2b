#include "config.h"

#include "mhd.h"

#include <errno.h>
#include <stddef.h>

/* libmicrohttpd's external logger; cls is a const struct mhd_log_as *. */
__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	const struct mhd_log_as *as = cls;

	log_library(as->level, as->event, fmt, ap);
}

int mhd_start(struct MHD_Daemon **out, const struct mhd_listener *l)
{
	static const struct MHD_OptionItem none[] = { { MHD_OPTION_END, 0, NULL } };

	errno = 0;
	*out = MHD_start_daemon(l->flags | MHD_USE_ERROR_LOG, 0, NULL, NULL, l->handler,
				l->handler_cls,
				/* First: options before it would log to stderr. */
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, (void *)l->log,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)l->addr,
				MHD_OPTION_ARRAY, (struct MHD_OptionItem *)(l->options ? l->options : none),
				MHD_OPTION_END);
	if (!*out)
		return errno ? -errno : l->failure;
	return 0;
}
