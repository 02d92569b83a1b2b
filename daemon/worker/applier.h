/* applier: a thread with its own PostgreSQL connection that applies batches
 * taken from the lanes every applier shares (lanes.h): a partition's
 * batches in order and one at a time, different partitions concurrently,
 * whichever applier is free. Every write is fenced on the offset
 * PostgreSQL holds (store_position); a failed fence asks the consumer to
 * rewind the partition to what PostgreSQL says. */
#ifndef PATIENTS_APPLIER_H
#define PATIENTS_APPLIER_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "lanes.h"
#include "schedule.h"
#include "store.h"

struct dlq;
struct metrics;
struct metrics_family;

#define APPLIER_MAX_PARTITIONS 4096

/* What every applier and the consumer share about one partition. */
struct applier_partition {
	/* Bumped when the partition is revoked: jobs of an older generation
	 * are abandoned (uncommitted; the next owner starts from PostgreSQL). */
	atomic_uint generation;
	atomic_int pending; /* jobs queued or being applied */
	/* The next_offset PostgreSQL should hold: loaded at assignment (or a
	 * rewind) by the consumer, then written by the applier that holds the
	 * partition's lane. STORE_NO_OFFSET: no row. */
	atomic_llong expected;
	/* Set by an applier whose fence failed; the consumer seeks the
	 * partition back to PostgreSQL's offset and clears it. Meanwhile the
	 * partition's jobs are dropped unapplied (nothing stored: re-read). */
	atomic_bool rewind;
};

struct applier_totals {
	atomic_ullong batches, patients, rows_written, dead_lettered, retries;
};

/* The metric families the appliers feed (any may be NULL). */
struct applier_metrics {
	struct metrics_family *batches;	 /* counter {outcome}: applied, dead_lettered */
	struct metrics_family *patients; /* counter: patients in applied batches */
	struct metrics_family *rows;	 /* counter: rows inserted or updated */
	struct metrics_family *dlq;	 /* counter {class}: undecodable, invalid, sql */
	struct metrics_family *retries;	 /* counter: transient failures retried */
	struct metrics_family *duration; /* histogram: seconds to apply a batch */
	struct metrics_family *db_up;	 /* gauge */
	struct metrics_family *rewinds;	 /* counter: failed fences, partitions sought back */
};

/* Owned by the consumer; read by the appliers. */
struct applier_shared {
	struct lanes lanes; /* the jobs waiting, owned: applier_shared_init */
	rd_kafka_t *rk; /* to store offsets (thread-safe) */
	const char *group;
	struct dlq *dlq;
	long long retry_max_ms;
	struct applier_partition *parts; /* APPLIER_MAX_PARTITIONS */
	struct applier_totals totals;
	atomic_bool db_up; /* the last statement reached PostgreSQL */
	atomic_int rewinds; /* partitions with rewind set */
	struct applier_metrics metrics;
};

/* Sets up sh's lanes for nparts partitions, room bounding what waits in
 * them. Returns 0 or -errno. */
int applier_shared_init(struct applier_shared *sh, int32_t nparts, struct schedule_limit room);

/* Frees the jobs still waiting and the lanes, once every applier stopped.
 * Does nothing when applier_shared_init failed or was never called (sh
 * zeroed). */
void applier_shared_destroy(struct applier_shared *sh);

/* Records whether PostgreSQL answered, for readiness and the db_up gauge. */
void applier_set_db_up(struct applier_shared *sh, bool up);

/* Registers the appliers' metric families in m and points am at them. */
void applier_register_metrics(struct applier_metrics *am, struct metrics *m);

/* Clears partition p's rewind request. Returns whether one was set. */
bool applier_rewind_clear(struct applier_shared *sh, int32_t p);

struct applier {
	const struct applier_shared *sh;
	struct applier_shared *shw; /* the same, for the counters and the lanes */
	struct store store;
	pthread_t thread;
	bool started;
	unsigned seed;
	unsigned id;
	/* Where this applier's time went, for the line it logs at stop
	 * (applier_stopped): waiting for a batch to apply (none queued), in
	 * PostgreSQL (from sending a batch's statement to reading its
	 * answer), and everything else of a job (decoding one not decoded
	 * ahead, the arrays, the offset's store, freeing, and the waits
	 * between retries). Its thread only. */
	uint64_t jobs, wait_us, pg_us, job_us;
};

/* Starts the thread with a connection for conninfo. Returns 0 or -errno. */
int applier_start(struct applier *a, struct applier_shared *sh, const char *conninfo,
		  unsigned id);

/* Queues m (ownership included) in its partition's lane, tagged with the
 * partition's current generation. Returns 0, or -ENOMEM: then m stays the
 * caller's. */
int applier_enqueue(struct applier_shared *sh, rd_kafka_message_t *m);

/* Whether one more message fits in the lanes (schedule_room). */
bool applier_has_room(struct applier_shared *sh);

/* Waits up to timeout_ms for room in the lanes. Returns whether there is. */
bool applier_wait_room(struct applier_shared *sh, int timeout_ms);

/* After the partition's generation was bumped: drops its queued jobs and
 * waits until no applier is applying one of its batches (one waiting to
 * retry lets go). */
void applier_forget(struct applier_shared *sh, int32_t partition);

/* Finishes the job in hand (abandoning it if it is only waiting to retry),
 * joins the thread, closes the connection. Stops every applier of sh from
 * taking more: the jobs left wait for applier_shared_destroy. */
void applier_stop(struct applier *a);

#endif
