/* consumer: the worker's polling loop. Reads batches from the topic as a
 * member of a consumer group and hands each partition's batches, in order,
 * to one of its appliers (applier.h), which apply them to PostgreSQL, send
 * poison to the DLQ and store the Kafka offset only after PostgreSQL
 * committed. The consumer itself loads the partitions' offsets from
 * PostgreSQL at assignment, rewinds a partition whose fence failed, and
 * keeps memory bounded (holds, then pauses, when the appliers are full). */
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
 * or another negative errno when a thread cannot start. */
int consumer_new(struct consumer **out, const struct consumer_options *opt, struct store *store,
		 struct dlq *dlq, char *err, size_t errsize);

/* Runs until *stop is set or, with
 * exit_at_end, until caught up. Returns 0, or -EIO if Kafka failed fatally. */
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
