#include "config.h"

#include "applier.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backoff.h"
#include "batchcodec.h"
#include "clock.h"
#include "dlq.h"
#include "log.h"
#include "metrics.h"

#define APPLIER_DLQ_TIMEOUT_MS 30000
#define APPLIER_RETRY_BASE_MS 100

/* A message decoded and validated, kept across retries. */
struct applier_decoded {
	int rc; /* batchcodec_message's: 0; -EBADMSG undecodable, -EINVAL invalid (poison); -ENOMEM */
	struct batchcodec_message msg;
};

struct applier_job {
	struct lanes_node node; /* first: a node is its job */
	rd_kafka_message_t *m;
	unsigned generation;
	bool decoded; /* d holds the outcome */
	struct applier_decoded d;
};

/* The job a lanes node is (the node is its first member). */
static struct applier_job *applier_job_of(struct lanes_node *n)
{
	return (struct applier_job *)n;
}

enum applier_outcome {
	APPLIER_DONE,	 /* applied, or dead-lettered: the partition moves on */
	APPLIER_RETRY,	 /* transient failure: try the same batch again */
	APPLIER_LET_GO, /* stopping, revoked meanwhile, or to be rewound */
};

void applier_set_db_up(struct applier_shared *sh, bool up)
{
	atomic_store(&sh->db_up, up);
	metrics_gauge_set(sh->metrics.db_up, NULL, up ? 1 : 0);
}

void applier_register_metrics(struct applier_metrics *am, struct metrics *m)
{
	static const char *const outcomes[] = { "applied", "dead_lettered", NULL };
	static const char *const classes[] = { "undecodable", "invalid", "sql", NULL };
	static const double seconds[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };

	am->batches = metrics_counter(m, "patients_worker_batches_total",
				      "Batches done with, by outcome.", "outcome", outcomes);
	am->patients = metrics_counter(m, "patients_worker_patients_upserted_total",
				       "Patients in the batches applied.", NULL, NULL);
	am->rows = metrics_counter(m, "patients_worker_rows_written_total",
				   "Rows inserted or updated (older data loses and writes none).",
				   NULL, NULL);
	am->dlq = metrics_counter(m, "patients_worker_dlq_total",
				  "Batches sent to the dead-letter topic, by error class.", "class",
				  classes);
	am->retries = metrics_counter(m, "patients_worker_retries_total",
				      "Transient failures (PostgreSQL, DLQ) retried.", NULL, NULL);
	am->duration = metrics_histogram(m, "patients_worker_batch_duration_seconds",
					 "Time to validate and apply one batch (one transaction).",
					 NULL, NULL, seconds, sizeof(seconds) / sizeof(seconds[0]));
	am->db_up = metrics_gauge(m, "patients_worker_db_up",
				  "1 when the last statement reached PostgreSQL.", NULL, NULL);
	am->rewinds = metrics_counter(m, "patients_worker_offset_rewinds_total",
				      "Writes refused by the offset fence (PostgreSQL held another "
				      "offset than this worker last wrote): partition sought back.",
				      NULL, NULL);
}

bool applier_rewind_clear(struct applier_shared *sh, int32_t p)
{
	if (!atomic_exchange(&sh->parts[p].rewind, false))
		return false;
	atomic_fetch_sub(&sh->rewinds, 1);
	return true;
}

/* Still of the partition's current generation, and not waiting for a
 * rewind (whatever follows a failed fence is re-read from PostgreSQL's
 * offset). */
static bool applier_job_current(const struct applier *a, const struct applier_job *job)
{
	const struct applier_partition *pp = &a->sh->parts[job->m->partition];

	return atomic_load(&pp->generation) == job->generation && !atomic_load(&pp->rewind);
}

/* Still this applier's to finish: not stopping, not revoked. */
static bool applier_job_wanted(const struct applier *a, const struct applier_job *job)
{
	return !lanes_stopping(&a->sh->lanes) && applier_job_current(a, job);
}

struct applier_wait {
	const struct applier *a;
	const struct applier_job *job;
};

/* applier_job_wanted, for the waits that end when it no longer holds (the
 * DLQ's delivery, a retry's sleep). */
static bool applier_wait_wanted(void *opaque)
{
	const struct applier_wait *w = opaque;

	return applier_job_wanted(w->a, w->job);
}

/* The job's place, fenced on what this worker last wrote for it. */
static struct store_position applier_position(const struct applier *a,
					      const struct applier_job *job)
{
	const rd_kafka_message_t *m = job->m;

	return (struct store_position){
		.group = a->sh->group,
		.topic = rd_kafka_topic_name(m->rkt),
		.partition = m->partition,
		.offset = m->offset,
		.expected = atomic_load(&a->sh->parts[m->partition].expected),
	};
}

/* PostgreSQL holds another next_offset than the one this worker last
 * wrote: it went back in time (a failover to a standby that had not
 * received the last commits, a restore) or another member wrote the
 * partition. Returns true when the batch is already in (stored is just
 * past it: a commit whose answer was lost, or the new owner's); otherwise
 * asks the consumer to seek the partition to stored and returns false. */
static bool applier_fence_failed(struct applier *a, const struct store_position *pos,
				 int64_t stored)
{
	struct applier_partition *pp = &a->shw->parts[pos->partition];

	if (stored == pos->offset + 1) {
		atomic_store(&pp->expected, stored);
		log_notice("batch_already_applied", "partition=%" PRId32 " offset=%" PRId64,
			   pos->partition, pos->offset);
		return true;
	}
	log_warning("offset_fence", "partition=%" PRId32 " offset=%" PRId64 " expected=%lld"
		    " stored=%lld action=rewind", pos->partition, pos->offset,
		    (long long)pos->expected, (long long)stored);
	if (!atomic_exchange(&pp->rewind, true))
		atomic_fetch_add(&a->shw->rewinds, 1);
	metrics_counter_add(a->sh->metrics.rewinds, NULL, 1);
	return false;
}

/* Kafka may forget this message: PostgreSQL committed it (or its skip). */
static void applier_store_offset(struct applier *a, const struct applier_job *job)
{
	const rd_kafka_message_t *m = job->m;
	rd_kafka_topic_partition_list_t *l;
	rd_kafka_resp_err_t err;

	if (!applier_job_current(a, job))
		return; /* revoked meanwhile: the next owner reads PostgreSQL */
	l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, rd_kafka_topic_name(m->rkt), m->partition)->offset =
		m->offset + 1;
	err = rd_kafka_offsets_store(a->sh->rk, l);
	if (err)
		log_warning("offset_store_failed", "partition=%" PRId32 " error=%s", m->partition,
			    rd_kafka_err2name(err));
	rd_kafka_topic_partition_list_destroy(l);
}

/* A write the fence refused (PostgreSQL answered, so it is up): done when
 * the batch is already in, otherwise let go for the rewind. */
static enum applier_outcome applier_fenced(struct applier *a, const struct applier_job *job,
					   const struct store_position *pos, int64_t stored)
{
	applier_set_db_up(a->shw, true);
	if (!applier_fence_failed(a, pos, stored))
		return APPLIER_LET_GO;
	applier_store_offset(a, job);
	return APPLIER_DONE;
}

/* Poison: to the DLQ, then past it in PostgreSQL. A failure of either is
 * transient (the DLQ may then hold the message twice, never zero times). */
static enum applier_outcome applier_dead_letter(struct applier *a, const struct applier_job *job,
						const char *error_class, const char *why)
{
	const rd_kafka_message_t *m = job->m;
	struct store_error err = { 0 };
	struct applier_wait wait = { a, job };
	struct store_position pos = applier_position(a, job);
	int64_t stored;
	int r;

	r = dlq_send(a->sh->dlq, m, error_class, why, APPLIER_DLQ_TIMEOUT_MS, applier_wait_wanted,
		     &wait);
	if (r == -ECANCELED)
		return APPLIER_LET_GO;
	if (r < 0)
		return APPLIER_RETRY;
	r = store_skip_offset(&a->store, &pos, &stored, &err);
	if (r == -ESTALE)
		return applier_fenced(a, job, &pos, stored);
	if (r < 0) {
		applier_set_db_up(a->shw, false);
		return APPLIER_RETRY;
	}
	atomic_store(&a->shw->parts[m->partition].expected, m->offset + 1);
	log_warning("batch_dead_lettered", "partition=%" PRId32 " offset=%" PRId64 " class=%s",
		    m->partition, m->offset, error_class);
	atomic_fetch_add(&a->shw->totals.dead_lettered, 1);
	metrics_counter_add(a->sh->metrics.batches, "dead_lettered", 1);
	metrics_counter_add(a->sh->metrics.dlq, error_class, 1);
	applier_store_offset(a, job);
	return APPLIER_DONE;
}

static void applier_decoded_free(struct applier_job *job)
{
	if (!job->decoded)
		return;
	batchcodec_message_free(&job->d.msg);
	job->decoded = false;
}

/* Decodes and re-validates the job's message into job->d (batchcodec.h:
 * in place for the gateway's own form, json-c for the rest). Pure CPU work
 * on the job alone: safe on a job still in its lane while it is marked
 * ahead. */
static void applier_decode(struct applier_job *job)
{
	applier_decoded_free(job);
	job->decoded = true;
	job->d.rc = batchcodec_message(job->m->payload, job->m->len, &job->d.msg);
}

/* While PostgreSQL applies one batch, decodes one still waiting (its own
 * partition's next, or the one a free applier would take), so that a
 * connection does not idle through it (the decoding is as much CPU as the
 * statement's share on the worker's side). */
static void applier_decode_ahead(struct applier *a, int32_t partition)
{
	struct lanes_node *n = lanes_ahead_begin(&a->shw->lanes, partition);
	struct applier_job *next;

	if (!n)
		return;
	next = applier_job_of(n);
	if (!next->decoded)
		applier_decode(next);
	lanes_ahead_end(&a->shw->lanes, n);
}

static enum applier_outcome applier_try(struct applier *a, struct applier_job *job)
{
	const rd_kafka_message_t *m = job->m;
	const struct applier_decoded *d = &job->d;
	struct store_error serr = { 0 };
	struct store_position pos = applier_position(a, job);
	char why[512], q[300];
	uint64_t started = clock_mono_ms(), sent_us;
	int64_t stored = STORE_NO_OFFSET;
	long written = 0;
	int r;

	/* Before what PostgreSQL already holds: applied (a message fetched
	 * before a rewind). Nothing to write, nothing to store. */
	if (pos.expected != STORE_NO_OFFSET && m->offset < pos.expected)
		return APPLIER_DONE;
	if (!job->decoded || d->rc == -ENOMEM)
		applier_decode(job);
	if (d->rc == -ENOMEM)
		return APPLIER_RETRY;
	if (d->rc < 0)
		return applier_dead_letter(a, job, d->rc == -EBADMSG ? "undecodable" : "invalid",
					   d->msg.why);
	sent_us = clock_mono_us();
	r = store_apply_send(&a->store, &d->msg.batch, &d->msg.env.meta, &pos, &serr);
	if (r == 0) {
		applier_decode_ahead(a, m->partition);
		r = store_apply_finish(&a->store, &written, &stored, &serr);
	}
	a->pg_us += clock_mono_us() - sent_us;
	if (r == -ESTALE)
		return applier_fenced(a, job, &pos, stored);
	if (r < 0 && serr.failure == STORE_PERMANENT) {
		applier_set_db_up(a->shw, true);
		snprintf(why, sizeof(why), "SQLSTATE %s: %s", serr.sqlstate, serr.message);
		return applier_dead_letter(a, job, "sql", why);
	}
	if (r < 0) {
		applier_set_db_up(a->shw, false);
		log_warning("batch_failed", "partition=%" PRId32 " offset=%" PRId64
			    " sqlstate=%s message=%s", m->partition, m->offset,
			    serr.sqlstate[0] ? serr.sqlstate : "-",
			    log_quote(q, sizeof(q), serr.message));
		return APPLIER_RETRY;
	}
	applier_set_db_up(a->shw, true);
	atomic_store(&a->shw->parts[m->partition].expected, m->offset + 1);
	applier_store_offset(a, job);
	atomic_fetch_add(&a->shw->totals.batches, 1);
	atomic_fetch_add(&a->shw->totals.patients, d->msg.batch.count);
	atomic_fetch_add(&a->shw->totals.rows_written, (unsigned long long)written);
	metrics_counter_add(a->sh->metrics.batches, "applied", 1);
	metrics_counter_add(a->sh->metrics.patients, NULL, d->msg.batch.count);
	metrics_counter_add(a->sh->metrics.rows, NULL, (uint64_t)written);
	metrics_histogram_observe(a->sh->metrics.duration, NULL,
				  (double)(clock_mono_ms() - started) / 1000.0);
	log_info("batch_applied", "request_id=%s tenant=%s partition=%" PRId32 " offset=%" PRId64
		 " patients=%zu written=%ld duration_ms=%" PRIu64, d->msg.env.meta.request_id,
		 d->msg.env.meta.tenant, m->partition, m->offset, d->msg.batch.count, written,
		 clock_mono_ms() - started);
	return APPLIER_DONE;
}

/* Sleeps before a retry, waking early for a stop or a revocation. Returns
 * false when the job is to be abandoned. */
static bool applier_wait_retry(struct applier *a, const struct applier_job *job, long wait_ms)
{
	struct applier_wait wait = { a, job };

	return lanes_sleep(&a->shw->lanes, wait_ms, applier_wait_wanted, &wait);
}

static void applier_run_job(struct applier *a, struct applier_job *job)
{
	unsigned attempts = 0;
	enum applier_outcome o;

	while ((o = applier_try(a, job)) == APPLIER_RETRY) {
		long wait = backoff_ms(APPLIER_RETRY_BASE_MS, a->sh->retry_max_ms, ++attempts,
				       &a->seed);

		atomic_fetch_add(&a->shw->totals.retries, 1);
		metrics_counter_add(a->sh->metrics.retries, NULL, 1);
		log_warning("batch_retry", "partition=%" PRId32 " offset=%" PRId64
			    " attempt=%u retry_ms=%ld", job->m->partition, job->m->offset, attempts,
			    wait);
		if (!applier_wait_retry(a, job, wait)) {
			o = APPLIER_LET_GO;
			break;
		}
	}
	/* Nothing stored: the next owner, or the next start, begins here. */
	if (o == APPLIER_LET_GO)
		log_notice("batch_abandoned", "partition=%" PRId32 " offset=%" PRId64 " reason=%s",
			   job->m->partition, job->m->offset,
			   atomic_load(&a->sh->parts[job->m->partition].rewind) ? "rewind"
			   : applier_job_current(a, job)			   ? "stopping"
										   : "revoked");
}

/* Frees a job the lanes no longer hold (arg: the shared state). */
static void applier_job_free(struct lanes_node *n, void *arg)
{
	struct applier_job *job = applier_job_of(n);
	struct applier_shared *sh = arg;

	applier_decoded_free(job);
	atomic_fetch_sub(&sh->parts[job->m->partition].pending, 1);
	rd_kafka_message_destroy(job->m);
	free(job);
}

static void *applier_main(void *arg)
{
	struct applier *a = arg;
	struct lanes *l = &a->shw->lanes;
	struct store_error err = { 0 };

	/* Connected and prepared while the group is still being joined: the
	 * first batches took 10 ms more than the rest for it. A failure here
	 * is met again, and reported, by the first batch. */
	(void)store_prepare(&a->store, &err);
	for (;;) {
		uint64_t t0 = clock_mono_us(), t1;
		struct lanes_node *n = lanes_take(l);
		struct applier_job *job;

		t1 = clock_mono_us();
		a->wait_us += t1 - t0;
		if (!n)
			break; /* stopping */
		job = applier_job_of(n);
		if (applier_job_current(a, job))
			applier_run_job(a, job);
		/* Its partition's next batch may go to any applier now. */
		lanes_finish(l, n->partition);
		applier_job_free(n, a->shw);
		a->jobs++;
		a->job_us += clock_mono_us() - t1;
	}
	return NULL;
}

int applier_start(struct applier *a, struct applier_shared *sh, const char *conninfo,
		  unsigned id)
{
	int r;

	memset(a, 0, sizeof(*a));
	a->sh = sh;
	a->shw = sh;
	a->seed = (unsigned)time(NULL) * 2654435761u + id;
	a->id = id;
	r = store_init(&a->store, conninfo);
	if (r < 0)
		return r;
	r = pthread_create(&a->thread, NULL, applier_main, a);
	if (r != 0) {
		store_close(&a->store);
		return -r;
	}
	a->started = true;
	return 0;
}

int applier_shared_init(struct applier_shared *sh, int32_t nparts, struct schedule_limit room)
{
	return lanes_init(&sh->lanes, nparts, room);
}

void applier_shared_destroy(struct applier_shared *sh)
{
	lanes_destroy(&sh->lanes, applier_job_free, sh);
}

int applier_enqueue(struct applier_shared *sh, rd_kafka_message_t *m)
{
	struct applier_job *job = calloc(1, sizeof(*job));

	if (!job)
		return -ENOMEM;
	job->m = m;
	job->node.partition = m->partition;
	job->node.bytes = m->len;
	job->generation = atomic_load(&sh->parts[m->partition].generation);
	atomic_fetch_add(&sh->parts[m->partition].pending, 1);
	lanes_put(&sh->lanes, &job->node);
	return 0;
}

bool applier_has_room(struct applier_shared *sh)
{
	return lanes_has_room(&sh->lanes);
}

bool applier_wait_room(struct applier_shared *sh, int timeout_ms)
{
	return lanes_wait_room(&sh->lanes, timeout_ms);
}

void applier_forget(struct applier_shared *sh, int32_t partition)
{
	lanes_forget(&sh->lanes, partition, applier_job_free, sh);
}

void applier_stop(struct applier *a)
{
	if (!a->started)
		return;
	lanes_stop(&a->shw->lanes);
	pthread_join(a->thread, NULL);
	log_info("applier_stopped", "applier=%u jobs=%" PRIu64 " waiting_ms=%" PRIu64
		 " postgresql_ms=%" PRIu64 " other_ms=%" PRIu64, a->id, a->jobs, a->wait_us / 1000,
		 a->pg_us / 1000, (a->job_us > a->pg_us ? a->job_us - a->pg_us : 0) / 1000);
	store_close(&a->store);
	a->started = false;
}
