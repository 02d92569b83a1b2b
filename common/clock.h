/* clock: time for timeouts and durations, from the monotonic clock (never
 * stepped by NTP or an operator), and deadlines for pthread_cond_timedwait,
 * which reads CLOCK_REALTIME. */
#ifndef PATIENTS_CLOCK_H
#define PATIENTS_CLOCK_H

#include <stdint.h>
#include <time.h>

uint64_t clock_mono_ms(void);
uint64_t clock_mono_us(void);

/* Sleeps ms; a signal cuts it short (a stop is then seen at once). */
void clock_sleep_ms(long ms);

/* ms from now on CLOCK_REALTIME, for pthread_cond_timedwait. */
struct timespec clock_realtime_in(long ms);

#endif
