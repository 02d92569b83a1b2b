/* clock: time for timeouts and durations, from the monotonic clock (never
 * stepped by NTP or an operator), also for condition-variable deadlines. */
#ifndef PATIENTS_CLOCK_H
#define PATIENTS_CLOCK_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

uint64_t clock_mono_ms(void);
uint64_t clock_mono_us(void);

/* Sleeps ms; a signal cuts it short (a stop is then seen at once). */
void clock_sleep_ms(long ms);

/* Initialises cv so that pthread_cond_timedwait reads its deadline on
 * CLOCK_MONOTONIC: a wall clock stepped back does not stretch a wait.
 * Returns 0 or an errno value (as pthread_cond_init). */
int clock_cond_init(pthread_cond_t *cv);

/* ms from now on CLOCK_MONOTONIC: the deadline for a cv of clock_cond_init. */
struct timespec clock_deadline_in(long ms);

#endif
