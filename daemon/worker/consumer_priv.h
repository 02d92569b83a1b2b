/* consumer_priv: the consumer's state, shared by the files that make up the
 * consumer (consumer.c: creation, polling, backpressure, dispatch, the end
 * offsets; rebalance.c: assignment, revocation, offsets and rewinds). Not
 * for any other module: they see struct consumer through consumer.h only.
 * Everything here belongs to the polling thread unless marked atomic. */
#ifndef PATIENTS_CONSUMER_PRIV_H
#define PATIENTS_CONSUMER_PRIV_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "applier.h"
#include "consumer.h"
#include "schedule.h"

/* What the polling thread alone knows of one partition. */
struct consumer_partition {
	bool assigned;
	int64_t end_offset; /* high watermark at start (exit_at_end), -1 unknown */
	bool at_end;	    /* the fetcher reached end_offset */
};

struct consumer {
	rd_kafka_t *rk; /* owned */
	struct consumer_options opt;
	char *group; /* owned */
	char *topic; /* owned */
	struct store *store; /* borrowed: the polling thread's connection, for offsets */
	struct consumer_partition *parts; /* APPLIER_MAX_PARTITIONS */
	struct applier_shared shared;
	struct applier *appliers;
	size_t nappliers;
	rd_kafka_message_t *held;  /* polled, waiting for room in the lanes */
	uint64_t held_since_ms;
	uint64_t held_ms, holds; /* time polling stood still for full lanes, how often */
	uint64_t released_ms; /* when the last hold ended */
	struct kicker *kicker;
	bool paused; /* every assigned partition is paused (a long hold) */
	bool ever_assigned;
	volatile sig_atomic_t *stop;
	unsigned seed;
	struct consumer_totals totals;
	uint64_t last_status_ms;
	atomic_bool kafka_up; /* a broker connection is up (statistics) */
	struct metrics_family *m_lag, *m_assigned, *m_kafka_up;
	struct lag *lagm; /* patients_worker_consumer_lag */
	int assigned;
};

/* Whether p is a partition the appliers' tables have room for; logs
 * partition_out_of_range when not. */
bool consumer_partition_ok(int32_t p);

#endif
