/* uuid7: UUIDv7 request ids (RFC 9562), monotonic within one process so
 * that ids sort in the order the gateway handed them out. */
#ifndef PATIENTS_UUID7_H
#define PATIENTS_UUID7_H

#include <stdbool.h>
#include <stdint.h>

#define UUID7_STRLEN 36 /* "xxxxxxxx-xxxx-7xxx-yxxx-xxxxxxxxxxxx" */

/* Generator state. Not thread-safe: callers sharing one state hold a lock
 * around uuid7_next (a mutex, or one state per thread if cross-thread order
 * does not matter). */
struct uuid7_state {
	uint64_t last_ms; /* timestamp of the last id; may run ahead of the clock */
	uint16_t counter; /* the 12-bit rand_a field, used as a counter */
	uint64_t rng;	  /* splitmix64 state for rand_b */
};

/* Seeds the state from getrandom(2). Returns 0 or a negative errno. */
int uuid7_init(struct uuid7_state *st);

/* Writes the next id and a NUL into out. unix_ms is the caller's clock
 * (uuid7_now_ms() in production). Ids only increase: within one millisecond
 * the counter steps (RFC 9562 s.6.2 method 1), its overflow carries into the
 * timestamp, and a clock that goes back is ignored until it catches up. The
 * random bits make ids unique across processes, not unguessable. */
void uuid7_next(struct uuid7_state *st, uint64_t unix_ms, char out[UUID7_STRLEN + 1]);

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
uint64_t uuid7_now_ms(void);

/* True for any UUID in canonical text form: 8-4-4-4-12 lowercase hex digits
 * and nothing else. The envelope's request_id check. */
bool uuid7_is_canonical(const char *s);

/* True for a canonical UUID that is also version 7 with the RFC variant. */
bool uuid7_is_valid(const char *s);

#endif
