#include "config.h"

#include "rebalance.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "applier.h"
#include "backoff.h"
#include "clock.h"
#include "consumer_priv.h"
#include "lag.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "store.h"

#define REBALANCE_RETRY_BASE_MS 100

/* Where a partition with no offset recorded in PostgreSQL starts. */
static int64_t rebalance_default_start(struct consumer *c, int32_t partition)
{
	if (c->opt.from_time_ms > 0) {
		rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
		int64_t off = RD_KAFKA_OFFSET_INVALID, lo = 0, hi = RD_KAFKA_OFFSET_END;

		/* The end as it is before the time lookup, as an offset: the
		 * logical END is resolved only when fetching starts, and a batch
		 * produced in between would be skipped. */
		if (rd_kafka_query_watermark_offsets(c->rk, c->topic, partition, &lo, &hi, 10000) !=
		    RD_KAFKA_RESP_ERR_NO_ERROR)
			hi = RD_KAFKA_OFFSET_END;
		rd_kafka_topic_partition_list_add(l, c->topic, partition)->offset =
			c->opt.from_time_ms;
		if (rd_kafka_offsets_for_times(c->rk, l, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
		    l->elems[0].err == RD_KAFKA_RESP_ERR_NO_ERROR)
			off = l->elems[0].offset; /* -1 (END) when nothing is that recent */
		if (off == RD_KAFKA_OFFSET_END)
			off = hi;
		rd_kafka_topic_partition_list_destroy(l);
		return off;
	}
	return c->opt.from_beginning ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_INVALID;
}

/* Sets each partition's start from PostgreSQL, the source of truth for what
 * was applied, and the appliers' fence with it. Retries until the database
 * answers: starting a partition anywhere else could apply a batch twice or
 * skip one. Kafka heartbeats go on in librdkafka's own threads meanwhile.
 * event names the log line (an assignment or a rewind). */
static void rebalance_load_offsets(struct consumer *c, rd_kafka_topic_partition_list_t *parts,
				   const char *event)
{
	for (int i = 0; i < parts->cnt; i++) {
		rd_kafka_topic_partition_t *tp = &parts->elems[i];
		struct store_error err = { 0 };
		unsigned attempts = 0;
		int64_t next = 0;
		int r;

		while ((r = store_load_offset(c->store, c->group, tp->topic, tp->partition, &next,
					      &err)) < 0) {
			long wait = backoff_ms(REBALANCE_RETRY_BASE_MS, c->opt.retry_max_ms,
					       ++attempts, &c->seed);
			char q[300];

			log_warning("offset_load_failed",
				    "partition=%" PRId32 " sqlstate=%s message=%s retry_ms=%ld",
				    tp->partition, err.sqlstate[0] ? err.sqlstate : "-",
				    log_quote(q, sizeof(q), err.message), wait);
			notify_status("waiting for PostgreSQL to load offsets");
			notify_watchdog();
			if (*c->stop)
				return;
			clock_sleep_ms(wait);
		}
		tp->offset = r == 1 ? next : rebalance_default_start(c, tp->partition);
		if (consumer_partition_ok(tp->partition))
			atomic_store(&c->shared.parts[tp->partition].expected,
				     r == 1 ? next : STORE_NO_OFFSET);
		log_info(event, "topic=%s partition=%" PRId32 " start=%" PRId64 " from=%s",
			 tp->topic, tp->partition, tp->offset, r == 1 ? "postgresql" : "default");
	}
}

static void rebalance_assign(struct consumer *c, rd_kafka_topic_partition_list_t *parts)
{
	rebalance_load_offsets(c, parts, "partition_assigned");
	for (int i = 0; i < parts->cnt; i++) {
		int32_t p = parts->elems[i].partition;

		if (!consumer_partition_ok(p))
			continue;
		applier_rewind_clear(&c->shared, p); /* just loaded: nothing to rewind */
		if (!c->parts[p].assigned)
			c->assigned++;
		c->parts[p].assigned = true;
		c->parts[p].at_end = false;
		lag_assign(c->lagm, p, parts->elems[i].offset);
	}
	c->ever_assigned = true;
	metrics_gauge_set(c->m_assigned, NULL, (double)c->assigned);
}

/* Drops what partition p has not applied yet: jobs of the old generation
 * are dropped or let go, and the held message too (never stored, so not
 * lost: it is read again from PostgreSQL's offset). A batch being applied
 * finishes first, so whoever reads p next finds its commit (or nothing) in
 * PostgreSQL. */
static void rebalance_drop(struct consumer *c, int32_t p)
{
	atomic_fetch_add(&c->shared.parts[p].generation, 1);
	applier_forget(&c->shared, p);
	if (c->held && c->held->partition == p) {
		rd_kafka_message_destroy(c->held);
		c->held = NULL;
	}
}

static void rebalance_revoke(struct consumer *c, rd_kafka_topic_partition_list_t *parts)
{
	for (int i = 0; i < parts->cnt; i++) {
		int32_t p = parts->elems[i].partition;

		if (!consumer_partition_ok(p))
			continue;
		rebalance_drop(c, p);
		if (c->parts[p].assigned)
			c->assigned--;
		c->parts[p].assigned = false;
		c->parts[p].at_end = false;
		lag_revoke(c->lagm, p); /* someone else's to report now */
		log_info("partition_revoked", "topic=%s partition=%" PRId32, parts->elems[i].topic,
			 p);
	}
	metrics_gauge_set(c->m_assigned, NULL, (double)c->assigned);
	/* Hand over what Kafka should know, unless the partitions are already
	 * someone else's. PostgreSQL has the truth either way. */
	if (!rd_kafka_assignment_lost(c->rk))
		rd_kafka_commit(c->rk, NULL, 0);
}

/* Seeks partition p back to the offset PostgreSQL holds, after an applier's
 * fence failed. Done here, on the polling thread, so that no message read
 * before the seek can be handed over after it: the partition's jobs are
 * dropped, the fence reloaded, and only then the fetcher moved. Returns 0,
 * or -EAGAIN when the seek failed (the request stays, tried again next
 * loop; the partition's jobs are dropped meanwhile). */
static int rebalance_rewind_one(struct consumer *c, int32_t p)
{
	rd_kafka_topic_partition_list_t *l;
	rd_kafka_error_t *error;
	int r = 0;

	if (!c->parts[p].assigned) {
		applier_rewind_clear(&c->shared, p); /* someone else's now */
		return 0;
	}
	rebalance_drop(c, p);
	l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, c->topic, p);
	rebalance_load_offsets(c, l, "partition_rewound");
	/* No offset at all any more: everything the topic still holds. */
	if (l->elems[0].offset == RD_KAFKA_OFFSET_INVALID)
		l->elems[0].offset = RD_KAFKA_OFFSET_BEGINNING;
	error = rd_kafka_seek_partitions(c->rk, l, 10000);
	if (error || l->elems[0].err) {
		log_warning("partition_rewind_failed", "partition=%" PRId32 " error=%s", p,
			    error ? rd_kafka_error_name(error) : rd_kafka_err2name(l->elems[0].err));
		r = -EAGAIN;
	} else {
		applier_rewind_clear(&c->shared, p);
		c->parts[p].at_end = false;
		lag_assign(c->lagm, p, l->elems[0].offset); /* behind again: the lag says so */
	}
	if (error)
		rd_kafka_error_destroy(error);
	rd_kafka_topic_partition_list_destroy(l);
	return r;
}

void rebalance_rewind(struct consumer *c)
{
	if (atomic_load(&c->shared.rewinds) == 0)
		return;
	for (int32_t p = 0; p < APPLIER_MAX_PARTITIONS && !*c->stop; p++)
		if (atomic_load(&c->shared.parts[p].rewind))
			rebalance_rewind_one(c, p);
}

void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
		  rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct consumer *c = opaque;
	bool cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
	rd_kafka_error_t *error = NULL;
	rd_kafka_resp_err_t ret = RD_KAFKA_RESP_ERR_NO_ERROR;

	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		rebalance_assign(c, parts);
		if (cooperative)
			error = rd_kafka_incremental_assign(rk, parts);
		else
			ret = rd_kafka_assign(rk, parts);
		if (c->paused) /* still stalled: the new ones wait too */
			rd_kafka_pause_partitions(rk, parts);
	} else {
		rebalance_revoke(c, parts);
		if (cooperative)
			error = rd_kafka_incremental_unassign(rk, parts);
		else
			ret = rd_kafka_assign(rk, NULL);
	}
	if (error) {
		log_error("rebalance_failed", "error=%s", rd_kafka_error_name(error));
		rd_kafka_error_destroy(error);
	} else if (ret) {
		log_error("rebalance_failed", "error=%s", rd_kafka_err2name(ret));
	}
}
