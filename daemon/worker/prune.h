/* prune: keeps the worker's bookkeeping bounded. patient_batches gains a
 * row per batch and consumer_offsets keeps every group that ever ran; the
 * operator prunes them with `patients-worker --prune-batches-older-than
 * DURATION` and `--prune-group GROUP`, run as the migrator.
 *
 * Why this never breaks exactly-once: the worker resumes each partition at
 * the next_offset consumer_offsets holds for its own group, and a replayed
 * batch changes no row of patients (its (received_at, request_id) is not
 * newer than what it wrote). patient_batches is an audit record: it is
 * written with ON CONFLICT DO NOTHING and never read to decide whether a
 * batch is applied, so pruning it changes only the audit (a batch replayed
 * after its record was pruned is recorded again, with no row changed).
 * The live group's offsets are never pruned. */
#ifndef PATIENTS_PRUNE_H
#define PATIENTS_PRUNE_H

#include <signal.h>
#include <stddef.h>

#include "store.h"

/* Rows deleted per transaction: short locks, bounded WAL per commit. */
#define PRUNE_CHUNK_ROWS 5000

/* A group whose offsets moved this recently may still be running. */
#define PRUNE_GROUP_IDLE_S 3600

/* Parses "45s", "90m", "12h", "30d", "2w" (digits, then one unit) into
 * *seconds. Returns 0, or -EINVAL (no unit, bad characters, over 100
 * years). */
int prune_parse_duration(const char *text, long long *seconds);

/* Deletes the patient_batches rows applied more than older_than_s seconds
 * before now (fixed once at the start, so the run ends), PRUNE_CHUNK_ROWS
 * per transaction, until none is left or *stop is set. *deleted receives
 * the count, cutoff (cutoff_size bytes) the boundary as PostgreSQL prints
 * it. Returns 0 or -EIO with err set (a partial prune stays done). */
int prune_batches(struct store *s, long long older_than_s, volatile sig_atomic_t *stop,
		  long long *deleted, char *cutoff, size_t cutoff_size, struct store_error *err);

/* Deletes group's consumer_offsets rows. Returns 0 with *deleted (0: the
 * group had none); -EPERM when group is live_group (the worker's own
 * --group); -EBUSY when a row of it was written in the last
 * PRUNE_GROUP_IDLE_S seconds (checked in the DELETE itself); -EIO with err
 * set. */
int prune_group(struct store *s, const char *group, const char *live_group, long long *deleted,
		struct store_error *err);

#endif
