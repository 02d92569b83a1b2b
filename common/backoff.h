/* backoff: how long to wait before the next try of something that failed
 * for a passing reason (a database restarting, a broker away). */
#ifndef PATIENTS_BACKOFF_H
#define PATIENTS_BACKOFF_H

/* The wait in ms before try attempts + 1 (attempts >= 1 failures so far):
 * base_ms doubled per failure, capped at cap_ms, with full jitter in its
 * upper half, drawn from *seed (rand_r), so that a fleet that lost the same
 * database does not come back in lockstep. Within [d / 2, d] where d =
 * min(base_ms * 2^(attempts - 1), cap_ms). */
long backoff_ms(long long base_ms, long long cap_ms, unsigned attempts, unsigned *seed);

#endif
