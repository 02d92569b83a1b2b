/* consumer: the worker's polling loop. Reads batches from the topic as a
 * member of a consumer group and queues each partition's batches, in order,
 * in the lanes its appliers take from (lanes.h, applier.h). The appliers do
 * the rest of a batch's life: apply it to PostgreSQL, send poison to the
 * DLQ (dlq.h) themselves, and store the Kafka offset only after PostgreSQL
 * committed; librdkafka commits what was stored (and the consumer once more
 * at a revocation and at close). The consumer loads the partitions' offsets
 * from PostgreSQL at assignment and rewinds a partition whose fence failed
 * (rebalance.c), keeps memory bounded (holds, then pauses, when the lanes
 * are full), and reads librdkafka's statistics (kstats.h) for readiness and
 * the lag. */
#ifndef PATIENTS_CONSUMER_H
#define PATIENTS_CONSUMER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

struct metrics;
struct settings_list;
struct store;
struct dlq;

struct consumer_options {
	const char *brokers;
	const char *topic;
	const char *group;
	const char *conninfo;	/* for the appliers' connections */
	long long db_connections; /* appliers: partitions applied concurrently */
	const struct settings_list *kafka_props;
	bool from_beginning;	/* partitions with no recorded offset start at the beginning */
	int64_t from_time_ms;	/* > 0: ... start at the first message at or after this time */
	bool exit_at_end;	/* stop once caught up with the end offsets seen at start */
	long long retry_max_ms; /* cap of the transient-error backoff */
	struct metrics *metrics; /* families registered here; NULL: none */
};

struct consumer_totals {
	uint64_t batches;	/* applied to PostgreSQL */
	uint64_t patients;	/* in those batches */
	uint64_t rows_written;	/* rows inserted or updated */
	uint64_t dead_lettered; /* sent to the DLQ */
	uint64_t retries;	/* transient failures retried */
};

struct consumer;

/* Creates the consumer and its appliers; joins the group at the first poll.
 * store (the polling thread's connection, for offsets) and dlq are borrowed
 * and must outlive it. Returns 0; -EINVAL (a setting librdkafka refused, a
 * topic it cannot read with exit_at_end) or -ENOMEM, with a message in err;
 * or pthread_create's negative errno when an applier's thread cannot start
 * (err names the applier). */
int consumer_new(struct consumer **out, const struct consumer_options *opt, struct store *store,
		 struct dlq *dlq, char *err, size_t errsize);

/* Subscribes, waits for the topic's metadata (then READY=1), and polls
 * until *stop is set or, with exit_at_end, until caught up. Errors Kafka
 * reports meanwhile are logged and waited out. Returns 0, or -EIO when the
 * subscription itself fails. */
int consumer_run(struct consumer *c, volatile sig_atomic_t *stop);

const struct consumer_totals *consumer_totals(const struct consumer *c);

/* Kafka and PostgreSQL both answered lately. Thread-safe (the admin
 * listener's /readyz). */
bool consumer_ready(const struct consumer *c);

/* Finishes the batches being applied (abandoning those only waiting to
 * retry: uncommitted, they are applied by whoever owns the partition next),
 * commits stored offsets and leaves the group. consumer_totals() stays
 * readable until consumer_free(). */
void consumer_close(struct consumer *c);

/* Frees c (closing it first is the caller's job for a clean exit). */
void consumer_free(struct consumer *c);

#endif
