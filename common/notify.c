#include "config.h"

#include "notify.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "clock.h"

void notify_ready(const char *status)
{
	sd_notifyf(0, "READY=1\nSTATUS=%s", status ? status : "ready");
}

void notify_status(const char *fmt, ...)
{
	char status[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(status, sizeof(status), fmt, ap);
	va_end(ap);
	sd_notifyf(0, "STATUS=%s", status);
}

void notify_stopping(void)
{
	sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}

void notify_reloading(void)
{
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)clock_mono_us());
}

void notify_watchdog(void)
{
	/* Process-wide by nature: the watchdog clock belongs to the process. */
	static uint64_t interval, last;
	static int enabled = -1;
	uint64_t now;

	if (enabled < 0)
		enabled = sd_watchdog_enabled(0, &interval) > 0;
	if (!enabled)
		return;
	now = clock_mono_us();
	if (now - last >= interval / 2) {
		sd_notify(0, "WATCHDOG=1");
		last = now;
	}
}
