#include "config.h"

#include "consumer.h"
#include "consumer_priv.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "applier.h"
#include "backoff.h"
#include "clock.h"
#include "kafka.h"
#include "kicker.h"
#include "kstats.h"
#include "lag.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "rebalance.h"
#include "store.h"

/* Backpressure. Messages arrive in runs of one partition (a fetched record
 * batch, dozens of messages when lz4-compressed), so the consumer puts them
 * in the lanes every applier takes from (lanes.h), deep enough to take a
 * few runs without stopping (a message held for full lanes stops the
 * polling). Past either limit the message is held and polling stops, so
 * librdkafka's prefetch queue (queued.max.messages.kbytes) is the rest of
 * the buffer. Pausing partitions would throw that prefetched data away, so
 * it is kept for a long stall (PostgreSQL down): past
 * CONSUMER_HOLD_PAUSE_MS every partition is paused and polling resumes,
 * which keeps the group membership alive (max.poll.interval.ms). Message
 * memory is bounded by the prefetch, one fetch response and
 * CONSUMER_QUEUE_BYTES in the lanes. */
#define CONSUMER_QUEUE_JOBS 128 /* per applier */
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

bool consumer_partition_ok(int32_t p)
{
	if (p >= 0 && p < APPLIER_MAX_PARTITIONS)
		return true;
	log_error("partition_out_of_range", "partition=%" PRId32 " max=%d", p,
		  APPLIER_MAX_PARTITIONS - 1);
	return false;
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

/* Puts the message in its partition's lane (ownership goes with it), or
 * holds it while the lanes are full. */
static void consumer_dispatch(struct consumer *c, rd_kafka_message_t *m)
{
	bool ok = consumer_partition_ok(m->partition);

	if (ok && !c->held && !applier_has_room(&c->shared)) {
		c->held = m;
		c->held_since_ms = clock_mono_ms();
		return;
	}
	/* A second message while one is held can only come from a partition
	 * assigned during a long hold, before its pause took: it is read
	 * again later, like any message not handed over. */
	if (!ok || c->held || applier_enqueue(&c->shared, m) < 0) {
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

/* One partition's offsets from the statistics, for the lag. */
static void consumer_stats_partition(void *arg, const struct kstats_partition *kp)
{
	struct consumer *c = arg;

	if (!consumer_partition_ok(kp->partition) || !c->parts[kp->partition].assigned)
		return;
	lag_note_stats(c->lagm, kp->partition, kp->hi_offset, kp->stored_offset, kp->fallback);
}

/* librdkafka's statistics, served by rd_kafka_consumer_poll() on the
 * polling thread, so c->parts may be read here. A report that does not
 * parse changes nothing. */
static int consumer_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
	struct consumer *c = opaque;
	bool up;

	(void)rk;
	if (kstats_parse(json, len, c->topic, &up, consumer_stats_partition, c) < 0)
		return 0;
	if (up != atomic_load(&c->kafka_up))
		log_notice(up ? "kafka_up" : "kafka_down", "topic=%s", c->topic);
	atomic_store(&c->kafka_up, up);
	metrics_gauge_set(c->m_kafka_up, NULL, up ? 1 : 0);
	return 0; /* json is librdkafka's to free */
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
	/* Messages go back before their client does. */
	if (c->held)
		rd_kafka_message_destroy(c->held);
	applier_shared_destroy(&c->shared);
	if (c->rk)
		rd_kafka_destroy(c->rk);
	free(c->appliers);
	free(c->shared.parts);
	free(c->parts);
	free(c->group);
	free(c->topic);
	free(c);
}

/* The consumer's memory and what starts out at "unknown". Returns NULL when
 * out of memory. */
static struct consumer *consumer_alloc(const struct consumer_options *opt, struct store *store)
{
	struct consumer *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->opt = *opt;
	c->store = store;
	c->seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	c->group = strdup(opt->group);
	c->topic = strdup(opt->topic);
	c->parts = calloc(APPLIER_MAX_PARTITIONS, sizeof(*c->parts));
	c->shared.parts = calloc(APPLIER_MAX_PARTITIONS, sizeof(*c->shared.parts));
	c->nappliers = opt->db_connections > 0 ? (size_t)opt->db_connections : 1;
	c->appliers = calloc(c->nappliers, sizeof(*c->appliers));
	if (!c->group || !c->topic || !c->parts || !c->shared.parts || !c->appliers ||
	    applier_shared_init(&c->shared, APPLIER_MAX_PARTITIONS,
				(struct schedule_limit){ CONSUMER_QUEUE_JOBS * c->nappliers,
							 CONSUMER_QUEUE_BYTES }) < 0) {
		consumer_free(c);
		return NULL;
	}
	for (size_t i = 0; i < APPLIER_MAX_PARTITIONS; i++)
		c->parts[i].end_offset = -1;
	return c;
}

/* The librdkafka consumer, with the settings that are the worker's own. */
static int consumer_open_kafka(struct consumer *c, char *err, size_t errsize)
{
	const char *defaults[] = {
		"group.id", c->opt.group,
		"partition.assignment.strategy", "cooperative-sticky",
		"enable.auto.offset.store", "false",
		"enable.auto.commit", "true",
		"auto.commit.interval.ms", "1000",
		"auto.offset.reset", "earliest",
		"enable.partition.eof", c->opt.exit_at_end ? "true" : "false",
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
	const struct kafka_client_options ko = {
		.type = RD_KAFKA_CONSUMER,
		.what = "consumer",
		.brokers = c->opt.brokers,
		.defaults = defaults,
		.props = c->opt.kafka_props,
		.opaque = c,
		.rebalance_cb = rebalance_cb,
		.stats_cb = consumer_stats,
	};
	int r = kafka_client_new(&c->rk, &ko, err, errsize);

	if (r < 0)
		return r;
	rd_kafka_poll_set_consumer(c->rk);
	return 0;
}

int consumer_new(struct consumer **out, const struct consumer_options *opt, struct store *store,
		 struct dlq *dlq, char *err, size_t errsize)
{
	struct consumer *c = consumer_alloc(opt, store);
	int r;

	if (!c)
		goto nomem;
	consumer_register_metrics(c, opt->metrics);
	r = consumer_open_kafka(c, err, errsize);
	if (r < 0)
		goto fail;
	if (kicker_start(&c->kicker, c->rk, c->topic) < 0 ||
	    lag_start(&c->lagm, c->rk, c->topic, APPLIER_MAX_PARTITIONS, c->m_lag) < 0)
		goto nomem;
	if (opt->exit_at_end && (r = consumer_read_ends(c, err, errsize)) < 0)
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

/* Hands the held message over once the lanes have room (waiting a little
 * for it). Returns whether it did. */
static bool consumer_place_held(struct consumer *c)
{
	rd_kafka_message_t *m = c->held;

	if (!applier_wait_room(&c->shared, 100))
		return false;
	c->held = NULL;
	c->released_ms = clock_mono_ms();
	c->held_ms += c->released_ms - c->held_since_ms;
	c->holds++;
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

	rebalance_rewind(c);
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
	log_info("consumer_stopped", "holds=%" PRIu64 " held_ms=%" PRIu64, c->holds, c->held_ms);
	consumer_update_totals(c);
	err = rd_kafka_commit(c->rk, NULL, 0);
	if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
		log_warning("commit_failed", "error=%s", rd_kafka_err2name(err));
	err = rd_kafka_consumer_close(c->rk);
	if (err)
		log_warning("consumer_close_failed", "error=%s", rd_kafka_err2name(err));
}
