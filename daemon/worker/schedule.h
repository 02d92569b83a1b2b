/* schedule: the pure rule of how much may wait to be applied, used by the
 * lanes (lanes.h), kept apart so that a table test can pin it down. */
#ifndef PATIENTS_SCHEDULE_H
#define PATIENTS_SCHEDULE_H

#include <stdbool.h>
#include <stddef.h>

/* How much may wait in the lanes, not counting the jobs being applied: at
 * most jobs messages and bytes of message values. */
struct schedule_limit {
	size_t jobs;
	size_t bytes;
};

/* Whether one more message fits lanes that hold queued messages of
 * queued_bytes: within both limits, and one message is always let in,
 * however large (a batch over the byte limit must still be applied). */
bool schedule_room(size_t queued, size_t queued_bytes, struct schedule_limit lim);

#endif
