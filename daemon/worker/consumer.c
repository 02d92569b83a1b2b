#include "config.h"

#include "consumer.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <librdkafka/rdkafka.h>

#include "applier.h"
#include "backoff.h"
#include "clock.h"
#include "kafka.h"
#include "kicker.h"
#include "lag.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "store.h"

#define CONSUMER_RETRY_BASE_MS 100
/* Backpressure. Messages arrive in runs of one partition (a fetched record
 * batch, dozens of messages when lz4-compressed), so the consumer hands
 * them to their appliers' own queues, deep enough to take a run without
 * stopping (a message held for a full applier stops the polling, and with
 * it every other applier: they idled a fifth of the time with 16-message
 * queues). Past either limit the message is held and polling stops, so
 * librdkafka's prefetch queue (queued.max.messages.kbytes) is the rest of
 * the buffer. Pausing partitions would throw that prefetched data away, so
 * it is kept for a long stall (PostgreSQL down): past
 * CONSUMER_HOLD_PAUSE_MS every partition is paused and polling resumes,
 * which keeps the group membership alive (max.poll.interval.ms). Message
 * memory is bounded by the prefetch, one fetch response and
 * CONSUMER_QUEUE_BYTES over all appliers. */
#define CONSUMER_QUEUE_JOBS 128
#define CONSUMER_QUEUE_BYTES (16u << 20)
#define CONSUMER_HOLD_PAUSE_MS 10000
/* librdkafka 2.0 checks its queue after each fetch response and, once it
 * is over queued.max.messages.kbytes, fetches again only at its next
 * one-second tick: the appliers' queues hold about a second's work, and
 * the prefetch is kept well above one response. */
#define CONSUMER_PREFETCH_KBYTES "8192"
#define CONSUMER_FETCH_BYTES "1048576"
#define CONSUMER_PARTITION_FETCH_BYTES "262144"
/* How often librdkafka reports the lag and the brokers' state. */
#define CONSUMER_STATS_MS "5000"

/* What the polling thread alone knows of one partition. */
struct consumer_partition {
	bool assigned;
	int64_t end_offset; /* high watermark at start (exit_at_end), -1 unknown */
	bool at_end;	    /* the fetcher reached end_offset */
	int applier;	    /* consumer_applier's choice, -1 none yet */
};

struct consumer {
	rd_kafka_t *rk;
	struct consumer_options opt;
	char *group;
	char *topic;
	struct store *store; /* the polling thread's connection, for offsets */
	struct consumer_partition *parts; /* APPLIER_MAX_PARTITIONS */
	struct applier_shared shared;
	struct applier *appliers;
	size_t nappliers;
	size_t *backlog; /* consumer_applier's look at each applier, nappliers */
	struct schedule_limit room; /* per applier */
	rd_kafka_message_t *held;  /* polled, waiting for room in its applier */
	uint64_t held_since_ms;
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

static bool consumer_partition_ok(int32_t p)
{
	if (p >= 0 && p < APPLIER_MAX_PARTITIONS)
		return true;
	log_error("partition_out_of_range", "partition=%" PRId32 " max=%d", p,
		  APPLIER_MAX_PARTITIONS - 1);
	return false;
}

/* The applier for partition p's next message. A partition stays with its
 * applier while it has a batch there (queued or being applied), which keeps
 * its batches in order and one at a time; once it has none it goes to the
 * least busy one, so a partition with more traffic than the others does not
 * leave an applier idle (a fixed p % n did, with tenants unevenly hashed).
 * Only this thread adds jobs, so pending cannot grow behind its back. */
static struct applier *consumer_applier(struct consumer *c, int32_t p)
{
	struct consumer_partition *cp = &c->parts[p];
	bool pending = atomic_load(&c->shared.parts[p].pending) > 0;

	if (!(cp->applier >= 0 && pending))
		for (size_t i = 0; i < c->nappliers; i++)
			c->backlog[i] = applier_backlog(&c->appliers[i]);
	cp->applier = (int)schedule_choose(cp->applier, pending, c->backlog, c->nappliers);
	return &c->appliers[cp->applier];
}

/* Where a partition with no offset recorded in PostgreSQL starts. */
static int64_t consumer_default_start(struct consumer *c, int32_t partition)
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
static void consumer_load_offsets(struct consumer *c, rd_kafka_topic_partition_list_t *parts,
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
			long wait = backoff_ms(CONSUMER_RETRY_BASE_MS, c->opt.retry_max_ms, ++attempts,
					       &c->seed);
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
		tp->offset = r == 1 ? next : consumer_default_start(c, tp->partition);
		if (consumer_partition_ok(tp->partition))
			atomic_store(&c->shared.parts[tp->partition].expected,
				     r == 1 ? next : STORE_NO_OFFSET);
		log_info(event, "topic=%s partition=%" PRId32 " start=%" PRId64 " from=%s",
			 tp->topic, tp->partition, tp->offset, r == 1 ? "postgresql" : "default");
	}
}

static void consumer_assign(struct consumer *c, rd_kafka_topic_partition_list_t *parts)
{
	consumer_load_offsets(c, parts, "partition_assigned");
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

static void consumer_revoke(struct consumer *c, rd_kafka_topic_partition_list_t *parts)
{
	for (int i = 0; i < parts->cnt; i++) {
		int32_t p = parts->elems[i].partition;

		if (!consumer_partition_ok(p))
			continue;
		/* Jobs of the old generation are dropped or let go; a batch
		 * being applied finishes first, so the next owner finds its
		 * commit (or nothing) in PostgreSQL. */
		atomic_fetch_add(&c->shared.parts[p].generation, 1);
		for (size_t k = 0; k < c->nappliers; k++)
			applier_forget(&c->appliers[k], p);
		if (c->held && c->held->partition == p) {
			rd_kafka_message_destroy(c->held); /* never stored: not lost */
			c->held = NULL;
		}
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
 * before the seek can be handed over after it: the partition's generation
 * is bumped, its jobs dropped (never stored, so not lost), the fence
 * reloaded, and only then the fetcher moved. Returns 0, or -EAGAIN when the
 * seek failed (the request stays, tried again next loop; the partition's
 * jobs are dropped meanwhile). */
static int consumer_rewind_one(struct consumer *c, int32_t p)
{
	rd_kafka_topic_partition_list_t *l;
	rd_kafka_error_t *error;
	int r = 0;

	if (!c->parts[p].assigned) {
		applier_rewind_clear(&c->shared, p); /* someone else's now */
		return 0;
	}
	atomic_fetch_add(&c->shared.parts[p].generation, 1);
	for (size_t k = 0; k < c->nappliers; k++)
		applier_forget(&c->appliers[k], p);
	if (c->held && c->held->partition == p) {
		rd_kafka_message_destroy(c->held);
		c->held = NULL;
	}
	l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, c->topic, p);
	consumer_load_offsets(c, l, "partition_rewound");
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

/* The rewinds the appliers asked for. */
static void consumer_rewind(struct consumer *c)
{
	if (atomic_load(&c->shared.rewinds) == 0)
		return;
	for (int32_t p = 0; p < APPLIER_MAX_PARTITIONS && !*c->stop; p++)
		if (atomic_load(&c->shared.parts[p].rewind))
			consumer_rewind_one(c, p);
}

static void consumer_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			       rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct consumer *c = opaque;
	bool cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
	rd_kafka_error_t *error = NULL;
	rd_kafka_resp_err_t ret = RD_KAFKA_RESP_ERR_NO_ERROR;

	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		consumer_assign(c, parts);
		if (cooperative)
			error = rd_kafka_incremental_assign(rk, parts);
		else
			ret = rd_kafka_assign(rk, parts);
		if (c->paused) /* still stalled: the new ones wait too */
			rd_kafka_pause_partitions(rk, parts);
	} else {
		consumer_revoke(c, parts);
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

/* Pauses or resumes every assigned partition. */
static void consumer_pause_all(struct consumer *c, bool pause)
{
	rd_kafka_topic_partition_list_t *l = NULL;

	if (rd_kafka_assignment(c->rk, &l) == RD_KAFKA_RESP_ERR_NO_ERROR) {
		if (pause)
			rd_kafka_pause_partitions(c->rk, l);
		else
			rd_kafka_resume_partitions(c->rk, l);
	}
	if (l)
		rd_kafka_topic_partition_list_destroy(l);
	c->paused = pause;
	log_info(pause ? "consumption_paused" : "consumption_resumed", "held_ms=%" PRIu64,
		 clock_mono_ms() - c->held_since_ms);
}

/* Gives the message to its partition's applier (ownership goes with it), or
 * holds it while that applier is full. */
static void consumer_dispatch(struct consumer *c, rd_kafka_message_t *m)
{
	struct applier *a = consumer_partition_ok(m->partition) ? consumer_applier(c, m->partition)
								 : NULL;

	if (a && !c->held && !applier_has_room(a, c->room)) {
		c->held = m;
		c->held_since_ms = clock_mono_ms();
		return;
	}
	/* A second message while one is held can only come from a partition
	 * assigned during a long hold, before its pause took: it is read
	 * again later, like any message not handed over. */
	if (!a || c->held || applier_enqueue(a, m) < 0) {
		/* Not stored, so not lost: the partition is re-read from
		 * PostgreSQL's offset at the next assignment. Seek there now. */
		rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
		rd_kafka_error_t *error;

		rd_kafka_topic_partition_list_add(l, rd_kafka_topic_name(m->rkt), m->partition)
			->offset = m->offset;
		error = rd_kafka_seek_partitions(c->rk, l, 5000);
		if (error)
			rd_kafka_error_destroy(error);
		rd_kafka_topic_partition_list_destroy(l);
		rd_kafka_message_destroy(m);
		clock_sleep_ms(100);
	}
}

/* The topic's metadata from the cluster, within timeout_ms. Returns 0 with
 * *md (the caller destroys it) when the cluster knows the topic; otherwise
 * the error, with *md NULL. */
static rd_kafka_resp_err_t consumer_topic_metadata(struct consumer *c, int timeout_ms,
						   const struct rd_kafka_metadata **md)
{
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(c->rk, c->topic, NULL);
	rd_kafka_resp_err_t e;

	*md = NULL;
	if (!rkt)
		return rd_kafka_last_error();
	e = rd_kafka_metadata(c->rk, 0, rkt, md, timeout_ms);
	if (!e && ((*md)->topic_cnt != 1 || (*md)->topics[0].err))
		e = (*md)->topic_cnt ? (*md)->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
	rd_kafka_topic_destroy(rkt);
	if (e && *md) {
		rd_kafka_metadata_destroy(*md);
		*md = NULL;
	}
	return e;
}

/* With exit_at_end: the high watermark of every partition, as seen now. */
static int consumer_read_ends(struct consumer *c, char *err, size_t errsize)
{
	const struct rd_kafka_metadata *md;
	rd_kafka_resp_err_t e;
	int r = 0;

	e = consumer_topic_metadata(c, 10000, &md);
	if (e) {
		snprintf(err, errsize, "topic %s: %s", c->topic, rd_kafka_err2str(e));
		return -EINVAL;
	}
	for (int i = 0; i < md->topics[0].partition_cnt; i++) {
		int32_t id = md->topics[0].partitions[i].id;
		int64_t lo = 0, hi = 0;

		if (!consumer_partition_ok(id)) {
			snprintf(err, errsize, "topic %s has more than %d partitions", c->topic,
				 APPLIER_MAX_PARTITIONS);
			r = -EINVAL;
			goto out;
		}
		e = rd_kafka_query_watermark_offsets(c->rk, c->topic, id, &lo, &hi, 10000);
		if (e) {
			snprintf(err, errsize, "watermarks of %s/%d: %s", c->topic, id,
				 rd_kafka_err2str(e));
			r = -EINVAL;
			goto out;
		}
		c->parts[id].end_offset = hi;
	}
out:
	rd_kafka_metadata_destroy(md);
	return r;
}

/* Caught up: every partition we hold reached the end seen at start, and
 * nothing of it is waiting to be applied. */
static bool consumer_caught_up(struct consumer *c)
{
	if (!c->ever_assigned || c->held)
		return false;
	for (size_t i = 0; i < APPLIER_MAX_PARTITIONS; i++) {
		const struct consumer_partition *p = &c->parts[i];

		if (p->assigned && p->end_offset > 0 &&
		    (!p->at_end || atomic_load(&c->shared.parts[i].pending) > 0))
			return false;
	}
	return true;
}

static void consumer_eof(struct consumer *c, const rd_kafka_message_t *m)
{
	if (consumer_partition_ok(m->partition) && m->offset >= c->parts[m->partition].end_offset)
		c->parts[m->partition].at_end = true;
}

/* Whether any broker connection is up, from the statistics' "brokers". */
static bool consumer_stats_brokers_up(struct json_object *root)
{
	struct json_object *brokers, *state;

	if (!json_object_object_get_ex(root, "brokers", &brokers) ||
	    !json_object_is_type(brokers, json_type_object))
		return false;
	json_object_object_foreach(brokers, name, b)
	{
		(void)name;
		if (json_object_object_get_ex(b, "state", &state) &&
		    strcmp(json_object_get_string(state), "UP") == 0)
			return true;
	}
	return false;
}

static int64_t consumer_stats_int(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : -1;
}

/* What the statistics say of each assigned partition's lag, for lag.c:
 * the high watermark of the last fetch (frozen while the partition is
 * paused, which is why lag.c also asks the broker), the offset stored
 * after the last PostgreSQL commit, and failing those, the offset committed
 * to Kafka or the next one read. */
static void consumer_stats_lag(struct consumer *c, struct json_object *root)
{
	static const char *const fallbacks[] = { "committed_offset", "app_offset", "next_offset" };
	struct json_object *topics, *topic, *parts;

	if (!json_object_object_get_ex(root, "topics", &topics) ||
	    !json_object_object_get_ex(topics, c->topic, &topic) ||
	    !json_object_object_get_ex(topic, "partitions", &parts) ||
	    !json_object_is_type(parts, json_type_object))
		return;
	json_object_object_foreach(parts, key, part)
	{
		char *end;
		long p = strtol(key, &end, 10);
		int64_t fallback = -1;

		if (*end || p < 0 || !consumer_partition_ok((int32_t)p) || !c->parts[p].assigned)
			continue;
		for (size_t i = 0; fallback < 0 && i < sizeof(fallbacks) / sizeof(fallbacks[0]); i++)
			fallback = consumer_stats_int(part, fallbacks[i]);
		lag_note_stats(c->lagm, (int32_t)p, consumer_stats_int(part, "hi_offset"),
			       consumer_stats_int(part, "stored_offset"), fallback);
	}
}

/* librdkafka's statistics, served by rd_kafka_consumer_poll() on the
 * polling thread, so c->parts may be read here. */
static int consumer_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
	struct consumer *c = opaque;
	struct json_tokener *tok = json_tokener_new();
	struct json_object *root;
	bool up;

	(void)rk;
	if (!tok)
		return 0;
	root = json_tokener_parse_ex(tok, json, (int)len);
	json_tokener_free(tok);
	if (!root)
		return 0;
	up = consumer_stats_brokers_up(root);
	if (up != atomic_load(&c->kafka_up))
		log_notice(up ? "kafka_up" : "kafka_down", "topic=%s", c->topic);
	atomic_store(&c->kafka_up, up);
	metrics_gauge_set(c->m_kafka_up, NULL, up ? 1 : 0);
	consumer_stats_lag(c, root);
	json_object_put(root);
	return 0;
}

bool consumer_ready(const struct consumer *c)
{
	return atomic_load(&c->kafka_up) && atomic_load(&c->shared.db_up);
}

static void consumer_register_metrics(struct consumer *c, struct metrics *m)
{
	if (!m)
		return;
	applier_register_metrics(&c->shared.metrics, m);
	c->m_kafka_up = metrics_gauge(m, "patients_worker_kafka_up",
				      "1 when a connection to a Kafka broker is up.", NULL, NULL);
	c->m_assigned = metrics_gauge(m, "patients_worker_partitions_assigned",
				      "Partitions this worker owns in its group.", NULL, NULL);
	c->m_lag = metrics_gauge(m, "patients_worker_consumer_lag",
				 "Messages of an assigned partition not yet applied: its high "
				 "watermark (asked of the broker every 5 s, paused or not) minus "
				 "the next offset to apply; 0 once revoked.", "partition", NULL);
}

void consumer_free(struct consumer *c)
{
	if (!c)
		return;
	for (size_t i = 0; c->appliers && i < c->nappliers; i++)
		applier_stop(&c->appliers[i]);
	kicker_stop(c->kicker);
	lag_stop(c->lagm);
	if (c->rk)
		rd_kafka_destroy(c->rk);
	if (c->held)
		rd_kafka_message_destroy(c->held);
	free(c->appliers);
	free(c->backlog);
	free(c->shared.parts);
	free(c->parts);
	free(c->group);
	free(c->topic);
	free(c);
}

int consumer_new(struct consumer **out, const struct consumer_options *opt, struct store *store,
		 struct dlq *dlq, char *err, size_t errsize)
{
	const char *defaults[] = {
		"group.id", opt->group,
		"partition.assignment.strategy", "cooperative-sticky",
		"enable.auto.offset.store", "false",
		"enable.auto.commit", "true",
		"auto.commit.interval.ms", "1000",
		"auto.offset.reset", "earliest",
		"enable.partition.eof", opt->exit_at_end ? "true" : "false",
		/* What librdkafka prefetches is memory: keep it near what the
		 * appliers can hold, not the 64 MiB default. */
		"queued.max.messages.kbytes", CONSUMER_PREFETCH_KBYTES,
		/* ... and the prefetch is counted decompressed, after a fetch:
		 * one response must stay well under it (1 MiB of lz4 is some
		 * 5 MiB of batches), or a single fetch overshoots it and fetching
		 * stops until librdkafka 2.0's next one-second tick; 12 partitions
		 * of the 1 MiB default would also be 50 MiB at once. */
		"fetch.max.bytes", CONSUMER_FETCH_BYTES,
		"max.partition.fetch.bytes", CONSUMER_PARTITION_FETCH_BYTES,
		/* A cooperative rebalance takes two rounds, and members learn of
		 * the second from a heartbeat: a second, not three, when a
		 * worker joins or leaves. */
		"heartbeat.interval.ms", "1000",
		/* A crashed worker's partitions wait for its session to expire:
		 * 10 s, not 45, before the group hands them on. */
		"session.timeout.ms", "10000",
		/* Live traffic trickles in: answer within 100 ms, not 500. */
		"fetch.wait.max.ms", "100",
		"client.id", "patients-worker",
		"statistics.interval.ms", CONSUMER_STATS_MS,
		NULL,
	};
	struct consumer *c = calloc(1, sizeof(*c));
	rd_kafka_conf_t *conf = NULL;
	char errstr[512];
	int r = -EINVAL;

	if (!c)
		goto nomem;
	c->opt = *opt;
	c->store = store;
	c->seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	c->group = strdup(opt->group);
	c->topic = strdup(opt->topic);
	c->parts = calloc(APPLIER_MAX_PARTITIONS, sizeof(*c->parts));
	c->shared.parts = calloc(APPLIER_MAX_PARTITIONS, sizeof(*c->shared.parts));
	c->nappliers = opt->db_connections > 0 ? (size_t)opt->db_connections : 1;
	c->room.jobs = CONSUMER_QUEUE_JOBS;
	c->room.bytes = CONSUMER_QUEUE_BYTES / c->nappliers;
	c->appliers = calloc(c->nappliers, sizeof(*c->appliers));
	c->backlog = calloc(c->nappliers, sizeof(*c->backlog));
	if (!c->group || !c->topic || !c->parts || !c->shared.parts || !c->appliers || !c->backlog)
		goto nomem;
	for (size_t i = 0; i < APPLIER_MAX_PARTITIONS; i++) {
		c->parts[i].end_offset = -1;
		c->parts[i].applier = -1;
	}
	conf = kafka_conf_new(opt->brokers, defaults, opt->kafka_props, err, errsize);
	if (!conf)
		goto fail;
	consumer_register_metrics(c, opt->metrics);
	rd_kafka_conf_set_rebalance_cb(conf, consumer_rebalance);
	rd_kafka_conf_set_stats_cb(conf, consumer_stats);
	rd_kafka_conf_set_opaque(conf, c);
	c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	if (!c->rk) {
		snprintf(err, errsize, "consumer: %s", errstr);
		goto fail;
	}
	conf = NULL; /* now owned by c->rk */
	rd_kafka_poll_set_consumer(c->rk);
	if (kicker_start(&c->kicker, c->rk, c->topic) < 0 ||
	    lag_start(&c->lagm, c->rk, c->topic, APPLIER_MAX_PARTITIONS, c->m_lag) < 0)
		goto nomem;
	if (opt->exit_at_end && consumer_read_ends(c, err, errsize) < 0)
		goto fail;
	c->shared.rk = c->rk;
	c->shared.group = c->group;
	c->shared.dlq = dlq;
	c->shared.retry_max_ms = opt->retry_max_ms;
	applier_set_db_up(&c->shared, true);
	for (size_t i = 0; i < c->nappliers; i++) {
		r = applier_start(&c->appliers[i], &c->shared, opt->conninfo, (unsigned)i);
		if (r < 0) {
			snprintf(err, errsize, "applier %zu: %s", i, strerror(-r));
			goto fail;
		}
	}
	*out = c;
	return 0;
nomem:
	snprintf(err, errsize, "out of memory");
	r = -ENOMEM;
fail:
	if (conf)
		rd_kafka_conf_destroy(conf);
	consumer_free(c);
	return r;
}

/* After a hold, librdkafka's queue drains as the appliers take messages,
 * but its fetcher notices only at its next one-second tick (see kicker.h):
 * meanwhile the appliers ate into their own queues (measured: up to half a
 * second idle per second at 200k patients). So in the second after a hold,
 * each message handed over asks the kicker to wake the fetcher. */
static void consumer_kick_fetcher(struct consumer *c, int32_t partition)
{
	if (c->kicker && clock_mono_ms() - c->released_ms <= 1000)
		kicker_kick(c->kicker, partition);
}

/* Hands the held message over once its applier has room (waiting a little
 * for it). Returns whether it did. */
static bool consumer_place_held(struct consumer *c)
{
	rd_kafka_message_t *m = c->held;

	if (!applier_wait_room(consumer_applier(c, m->partition), c->room, 100))
		return false;
	c->held = NULL;
	c->released_ms = clock_mono_ms();
	consumer_dispatch(c, m);
	if (c->paused)
		consumer_pause_all(c, false);
	return true;
}

static void consumer_update_totals(struct consumer *c)
{
	c->totals.batches = atomic_load(&c->shared.totals.batches);
	c->totals.patients = atomic_load(&c->shared.totals.patients);
	c->totals.rows_written = atomic_load(&c->shared.totals.rows_written);
	c->totals.dead_lettered = atomic_load(&c->shared.totals.dead_lettered);
	c->totals.retries = atomic_load(&c->shared.totals.retries);
}

/* READY=1 means Kafka answered: waits for the topic's metadata, however
 * long it takes, unless stopped. Returns false when stopped. */
static bool consumer_wait_kafka(struct consumer *c)
{
	bool logged = false;

	while (!*c->stop) {
		const struct rd_kafka_metadata *md;
		rd_kafka_resp_err_t e = consumer_topic_metadata(c, 2000, &md);
		bool ok = !e && md->topics[0].partition_cnt > 0;

		if (md)
			rd_kafka_metadata_destroy(md);
		if (ok)
			break;
		if (!logged)
			log_warning("kafka_unavailable", "topic=%s error=%s", c->topic,
				    rd_kafka_err2name(e ? e : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
		logged = true;
		notify_status("waiting for Kafka");
		notify_watchdog();
		clock_sleep_ms(500);
	}
	if (*c->stop)
		return false;
	atomic_store(&c->kafka_up, true);
	metrics_gauge_set(c->m_kafka_up, NULL, 1);
	return true;
}

/* One turn of the polling loop: places the held message, or polls one and
 * hands it over. While a held message finds no room, it does not poll
 * (librdkafka buffers), until CONSUMER_HOLD_PAUSE_MS have passed: then
 * every partition is paused and polling goes on, for the group's sake. */
static void consumer_poll_once(struct consumer *c)
{
	rd_kafka_message_t *m;

	if (c->held && !consumer_place_held(c) && !c->paused) {
		if (clock_mono_ms() - c->held_since_ms >= CONSUMER_HOLD_PAUSE_MS)
			consumer_pause_all(c, true);
		return;
	}
	m = rd_kafka_consumer_poll(c->rk, 100);
	if (!m)
		return;
	if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
		consumer_eof(c, m);
		rd_kafka_message_destroy(m);
	} else if (m->err) {
		log_warning("kafka_error", "error=%s message=%s", rd_kafka_err2name(m->err),
			    rd_kafka_err2str(m->err));
		rd_kafka_message_destroy(m);
	} else {
		int32_t p = m->partition;

		consumer_dispatch(c, m); /* m now belongs to an applier, or is held */
		if (!c->held)
			consumer_kick_fetcher(c, p);
	}
}

/* What every turn does besides polling: rewinds, the watchdog, STATUS=
 * every 5 s. Returns true once caught up with exit_at_end. */
static bool consumer_housekeeping(struct consumer *c)
{
	uint64_t now;

	consumer_rewind(c);
	notify_watchdog();
	now = clock_mono_ms();
	if (now - c->last_status_ms >= 5000) {
		consumer_update_totals(c);
		notify_status("%s; partitions=%d lag=%" PRId64 " batches=%" PRIu64
			      " patients=%" PRIu64 " dlq=%" PRIu64 " retries=%" PRIu64,
			      !atomic_load(&c->shared.db_up)  ? "PostgreSQL unavailable"
			      : !atomic_load(&c->kafka_up) ? "Kafka unavailable"
							   : "consuming",
			      c->assigned, lag_total(c->lagm), c->totals.batches, c->totals.patients,
			      c->totals.dead_lettered, c->totals.retries);
		c->last_status_ms = now;
	}
	if (!c->opt.exit_at_end || !consumer_caught_up(c))
		return false;
	consumer_update_totals(c);
	log_notice("caught_up", "batches=%" PRIu64 " patients=%" PRIu64, c->totals.batches,
		   c->totals.patients);
	return true;
}

int consumer_run(struct consumer *c, volatile sig_atomic_t *stop)
{
	rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
	rd_kafka_resp_err_t err;

	c->stop = stop;
	rd_kafka_topic_partition_list_add(topics, c->topic, RD_KAFKA_PARTITION_UA);
	err = rd_kafka_subscribe(c->rk, topics);
	rd_kafka_topic_partition_list_destroy(topics);
	if (err) {
		log_error("subscribe_failed", "topic=%s error=%s", c->topic, rd_kafka_err2name(err));
		return -EIO;
	}
	if (!consumer_wait_kafka(c))
		return 0; /* stopped while waiting */
	notify_ready("consuming");
	while (!*stop) {
		consumer_poll_once(c);
		if (consumer_housekeeping(c))
			break; /* caught up (exit_at_end) */
	}
	return 0;
}

const struct consumer_totals *consumer_totals(const struct consumer *c)
{
	return &c->totals;
}

void consumer_close(struct consumer *c)
{
	rd_kafka_resp_err_t err;

	if (!c)
		return;
	/* Finish the batches in hand, then tell Kafka, then leave the group:
	 * the revocation that close triggers finds the appliers idle. */
	for (size_t i = 0; i < c->nappliers; i++)
		applier_stop(&c->appliers[i]);
	consumer_update_totals(c);
	err = rd_kafka_commit(c->rk, NULL, 0);
	if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
		log_warning("commit_failed", "error=%s", rd_kafka_err2name(err));
	err = rd_kafka_consumer_close(c->rk);
	if (err)
		log_warning("consumer_close_failed", "error=%s", rd_kafka_err2name(err));
}
