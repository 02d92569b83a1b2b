/* schedule: the pure rules of who applies what and how much may wait,
 * shared by the consumer (which hands batches over) and the appliers
 * (which hold them), kept apart so that a table test can pin them down. */
#ifndef PATIENTS_SCHEDULE_H
#define PATIENTS_SCHEDULE_H

#include <stdbool.h>
#include <stddef.h>

/* How much may wait in an applier, not counting the job being applied:
 * at most jobs messages and bytes of message values. */
struct schedule_limit {
	size_t jobs;
	size_t bytes;
};

/* Whether one more message fits an applier that holds queued messages of
 * queued_bytes: within both limits, and one message is always let in,
 * however large (a batch over the byte limit must still be applied). */
bool schedule_room(size_t queued, size_t queued_bytes, struct schedule_limit lim);

/* The applier (0..n-1) for a partition's next batch, given the one it has
 * now (current, -1 none) and whether it still has a batch there (queued
 * or being applied), and each applier's backlog. A partition stays while
 * it has a batch there, which keeps its batches in order and one at a
 * time; otherwise it goes to the least busy (the first of equals). n > 0. */
size_t schedule_choose(int current, bool pending, const size_t *backlog, size_t n);

#endif
