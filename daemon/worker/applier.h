/* applier: a thread with its own PostgreSQL connection that applies the
 * batches handed to it, in order. The consumer gives a partition to one
 * applier at a time (it stays there while it has a batch there), so batches
 * of one partition stay in order while different partitions are applied
 * concurrently. Every write is fenced on the offset PostgreSQL holds
 * (store_position); a failed fence asks the consumer to rewind the
 * partition to what PostgreSQL says. */
#ifndef PATIENTS_APPLIER_H
#define PATIENTS_APPLIER_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

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
	 * rewind) by the consumer, then written by the one applier that has
	 * the partition's batches. STORE_NO_OFFSET: no row. */
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

/* Records whether PostgreSQL answered, for readiness and the db_up gauge. */
void applier_set_db_up(struct applier_shared *sh, bool up);

/* Registers the appliers' metric families in m and points am at them. */
void applier_register_metrics(struct applier_metrics *am, struct metrics *m);

/* Clears partition p's rewind request. Returns whether one was set. */
bool applier_rewind_clear(struct applier_shared *sh, int32_t p);

struct applier_job;

struct applier {
	const struct applier_shared *sh;
	struct applier_shared *shw; /* the same, for the counters */
	struct store store;
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;	/* work arrived, or stop/revoke: wake up */
	pthread_cond_t idle_cv; /* a job finished */
	struct applier_job *head, *tail;
	size_t queued;
	size_t queued_bytes; /* of the queued messages' values */
	int32_t busy_partition; /* -1 when idle */
	bool stopping;
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

/* Hands m (ownership included) to the applier, tagged with the partition's
 * current generation. Returns 0, or -ENOMEM: then m stays the caller's. */
int applier_enqueue(struct applier *a, rd_kafka_message_t *m);

/* Jobs waiting plus the one being applied: how busy it is. */
size_t applier_backlog(struct applier *a);

/* Whether one more message fits within lim (schedule_room). */
bool applier_has_room(struct applier *a, struct schedule_limit lim);

/* Waits up to timeout_ms for room within lim. Returns whether there is. */
bool applier_wait_room(struct applier *a, struct schedule_limit lim, int timeout_ms);

/* After the partition's generation was bumped: drops its queued jobs and
 * waits until the applier is no longer applying one of its batches. */
void applier_forget(struct applier *a, int32_t partition);

/* Finishes the job in hand (abandoning it if it is only waiting to retry),
 * drops the rest, joins the thread, closes the connection. */
void applier_stop(struct applier *a);

#endif
