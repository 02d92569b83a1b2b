/* notify: the daemon's side of systemd's Type=notify protocol, in one place.
 * Without systemd (no NOTIFY_SOCKET) every call is a cheap no-op, so the
 * daemons run the same in the foreground. */
#ifndef PATIENTS_NOTIFY_H
#define PATIENTS_NOTIFY_H

/* READY=1 plus a STATUS line. */
void notify_ready(const char *status);

/* STATUS=<printf>. */
void notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* STOPPING=1. */
void notify_stopping(void);

/* RELOADING=1 with MONOTONIC_USEC, as systemd wants around a reload; follow
 * it with notify_ready(). */
void notify_reloading(void);

/* WATCHDOG=1, at most every half WATCHDOG_USEC; call it from the main loop
 * as often as you like. */
void notify_watchdog(void);

#endif
