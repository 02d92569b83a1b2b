#include "config.h"

#include "publisher.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "brokerstate.h"
#include "budget.h"
#include "clock.h"
#include "kafka.h"
#include "log.h"
#include "replicas.h"

/* One per message sent. librdkafka's own message.timeout.ms is only
 * enforced by a scan every second or so, and later still while a broker
 * is down, so the publisher keeps its own deadline: whichever of the
 * report and the deadline comes first is reported, once. The ticket lives
 * until librdkafka's report, which always comes. */
struct publisher_ticket {
	struct publisher_ticket *prev, *next; /* in the pending list while unreported */
	void *opaque;
	size_t bytes; /* of the value: given back to the budget when librdkafka frees it */
	uint64_t deadline_ms;
	bool reported;
};

struct publisher {
	rd_kafka_t *rk;
	rd_kafka_topic_t *rkt;
	publisher_delivered_fn delivered;
	struct budget *budget; /* borrowed; NULL: none */
	struct brokerstate brokers;
	int timeout_ms;
	/* The last verdict of publisher_writable, for its log lines: -1 none
	 * yet. Only the main loop's publisher_reachable reads and writes it. */
	int was_writable;
	pthread_t poller;
	bool poller_started;
	atomic_bool stop;
	/* Unreported tickets, oldest first: one timeout for all, so the list is
	 * in deadline order and the poller only looks at its head. */
	pthread_mutex_t mu;
	struct publisher_ticket *head, *tail;
};

/* Called with p->mu held. */
static void publisher_unlink(struct publisher *p, struct publisher_ticket *t)
{
	if (t->prev)
		t->prev->next = t->next;
	else
		p->head = t->next;
	if (t->next)
		t->next->prev = t->prev;
	else
		p->tail = t->prev;
	t->prev = t->next = NULL;
}

static void publisher_dr(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
	struct publisher *p = opaque;
	struct publisher_ticket *t = msg->_private;
	bool late;
	int err = 0;

	(void)rk;
	/* librdkafka is done with the value (it frees it after this call). */
	if (p->budget)
		budget_release(p->budget, t->bytes);
	if (!msg->err)
		brokerstate_up(&p->brokers); /* a broker has it: not down */
	if (msg->err == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT)
		err = -ETIMEDOUT;
	else if (msg->err)
		err = -EIO;
	pthread_mutex_lock(&p->mu);
	late = t->reported;
	if (!late) {
		t->reported = true;
		publisher_unlink(p, t);
	}
	pthread_mutex_unlock(&p->mu);
	if (msg->err || late)
		log_warning("publish_failed", "error=%s partition=%d after_deadline=%s",
			    msg->err ? rd_kafka_err2name(msg->err) : "none", (int)msg->partition,
			    late ? "yes" : "no");
	if (!late)
		p->delivered(t->opaque, err);
	free(t);
}

/* Reports every ticket past its deadline as timed out. */
static void publisher_expire(struct publisher *p)
{
	uint64_t now = clock_mono_ms();

	for (;;) {
		struct publisher_ticket *t;

		pthread_mutex_lock(&p->mu);
		t = p->head;
		if (!t || t->deadline_ms > now) {
			pthread_mutex_unlock(&p->mu);
			return;
		}
		t->reported = true;
		publisher_unlink(p, t);
		pthread_mutex_unlock(&p->mu);
		/* t itself stays: librdkafka's report frees it. */
		log_warning("publish_timeout", "timeout_ms=%d", p->timeout_ms);
		p->delivered(t->opaque, -ETIMEDOUT);
	}
}

static void publisher_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	char q[600];

	/* Every broker, bootstrap ones included, is unreachable: start the
	 * clock of publisher_known_down. */
	if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
		brokerstate_down(&((struct publisher *)opaque)->brokers, clock_mono_ms());
	/* A fatal error (the idempotent producer's guarantees are gone) is
	 * logged loudly; every later send fails and is answered 503. */
	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		char why[512];
		rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, why, sizeof(why));
		log_error("kafka_fatal", "error=%s message=%s", rd_kafka_err2name(orig),
			  log_quote(q, sizeof(q), why));
		return;
	}
	log_warning("kafka_error", "error=%s message=%s",
		    rd_kafka_err2name((rd_kafka_resp_err_t)err), log_quote(q, sizeof(q), reason));
}

/* The only place delivery reports run: HTTP threads never wait on Kafka. */
static void *publisher_poll_loop(void *arg)
{
	struct publisher *p = arg;

	while (!atomic_load(&p->stop)) {
		rd_kafka_poll(p->rk, 50);
		publisher_expire(p);
	}
	return NULL;
}

int publisher_new(struct publisher **out, const struct publisher_options *opt, char *err,
		  size_t errsize)
{
	char timeout[24], maxbytes[24];
	const char *defaults[] = {
		"enable.idempotence", "true",
		"acks", "all",
		"compression.type", "lz4",
		"linger.ms", "2",
		/* murmur2, as Java clients: a tenant lands on the same partition
		 * whichever kind of producer wrote it. */
		"partitioner", "murmur2_random",
		"message.timeout.ms", timeout,
		"message.max.bytes", maxbytes,
		NULL,
	};
	struct kafka_client_options ko = {
		.type = RD_KAFKA_PRODUCER,
		.what = "kafka producer",
		.brokers = opt->brokers,
		.defaults = defaults,
		.props = opt->kafka_props,
		.dr_msg_cb = publisher_dr,
		.error_cb = publisher_error,
	};
	struct publisher *p;
	int r;

	*out = NULL;
	p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err, errsize, "out of memory");
		return -ENOMEM;
	}
	p->delivered = opt->delivered;
	p->budget = opt->budget;
	brokerstate_init(&p->brokers, (uint64_t)opt->down_grace_ms);
	p->timeout_ms = opt->timeout_ms;
	p->was_writable = -1;
	atomic_init(&p->stop, false);
	pthread_mutex_init(&p->mu, NULL);
	snprintf(timeout, sizeof(timeout), "%d", opt->timeout_ms);
	snprintf(maxbytes, sizeof(maxbytes), "%zu", opt->max_message_bytes);
	ko.opaque = p;
	r = kafka_client_new(&p->rk, &ko, err, errsize);
	if (r < 0)
		goto fail;
	r = -EINVAL;
	p->rkt = rd_kafka_topic_new(p->rk, opt->topic, NULL);
	if (!p->rkt) {
		snprintf(err, errsize, "kafka topic %s: %s", opt->topic,
			 rd_kafka_err2str(rd_kafka_last_error()));
		goto fail;
	}
	if (pthread_create(&p->poller, NULL, publisher_poll_loop, p) != 0) {
		snprintf(err, errsize, "cannot start the Kafka poller thread");
		r = -ENOMEM;
		goto fail;
	}
	p->poller_started = true;
	*out = p;
	return 0;
fail:
	publisher_free(p);
	return r;
}

int publisher_send(struct publisher *p, const char *key, char *value, size_t len, void *opaque)
{
	struct publisher_ticket *t = calloc(1, sizeof(*t));
	rd_kafka_resp_err_t err;

	if (!t)
		return -ENOBUFS;
	t->opaque = opaque;
	t->bytes = len;
	t->deadline_ms = clock_mono_ms() + (uint64_t)p->timeout_ms;
	/* Linked before the send: the report may come before producev returns. */
	pthread_mutex_lock(&p->mu);
	t->prev = p->tail;
	if (p->tail)
		p->tail->next = t;
	else
		p->head = t;
	p->tail = t;
	pthread_mutex_unlock(&p->mu);
	err = rd_kafka_producev(p->rk, RD_KAFKA_V_RKT(p->rkt),
				RD_KAFKA_V_KEY(key, strlen(key)),
				RD_KAFKA_V_VALUE(value, len),
				RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
				RD_KAFKA_V_OPAQUE(t), RD_KAFKA_V_END);
	if (err) {
		/* No report will come, and the deadline must not fire either; a
		 * ticket already expired was reported: then say it was sent. */
		bool reported;

		pthread_mutex_lock(&p->mu);
		reported = t->reported;
		if (!reported)
			publisher_unlink(p, t);
		pthread_mutex_unlock(&p->mu);
		free(t);
		if (reported) {
			free(value);
			if (p->budget)
				budget_release(p->budget, len);
			return 0;
		}
	}
	switch (err) {
	case RD_KAFKA_RESP_ERR_NO_ERROR:
		return 0;
	case RD_KAFKA_RESP_ERR__QUEUE_FULL:
		return -ENOBUFS;
	case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
		return -EMSGSIZE;
	default:
		log_warning("produce_failed", "error=%s", rd_kafka_err2name(err));
		return -EIO;
	}
}

/* The probe's share of publisher_reachable's time: a TCP connect on a
 * working network takes a few milliseconds; a dead host's takes for ever. */
#define PUBLISHER_PROBE_MS 500

/* Whether a batch published now could be acknowledged (replicas.h): probes
 * the brokers of the metadata md and applies the rule to its one topic.
 * Logs once when the verdict changes, never per probe. */
static bool publisher_writable(struct publisher *p, const struct rd_kafka_metadata *md)
{
	const struct rd_kafka_metadata_topic *t = &md->topics[0];
	struct replicas_broker *brokers = calloc((size_t)md->broker_cnt + 1, sizeof(*brokers));
	struct replicas_verdict v;
	bool ok;
	int down = 0;

	if (!brokers || replicas_probe(md->brokers, md->broker_cnt, PUBLISHER_PROBE_MS, brokers) < 0) {
		/* Out of memory: keep the last verdict rather than flap. */
		free(brokers);
		return p->was_writable != 0;
	}
	ok = replicas_writable(t->partitions, t->partition_cnt, brokers, md->broker_cnt, &v);
	for (int i = 0; i < md->broker_cnt; i++)
		down += !brokers[i].reachable;
	free(brokers);
	if (!ok && p->was_writable != 0)
		log_warning("kafka_not_writable", "reason=%s topic=%s partition=%d"
			    " replicas_reachable=%d/%d partitions_unwritable=%d/%d"
			    " brokers_unreachable=%d/%d", replicas_reason_name(v.reason),
			    t->topic, (int)v.partition, v.reachable, v.replicas, v.unwritable,
			    t->partition_cnt, down, md->broker_cnt);
	else if (ok && p->was_writable == 0)
		log_notice("kafka_writable", "topic=%s partitions=%d brokers_unreachable=%d/%d",
			   t->topic, t->partition_cnt, down, md->broker_cnt);
	p->was_writable = ok;
	return ok;
}

bool publisher_reachable(struct publisher *p, int timeout_ms)
{
	const struct rd_kafka_metadata *md = NULL;
	bool ok;

	if (rd_kafka_metadata(p->rk, 0, p->rkt, &md, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		/* No broker answered within timeout_ms: as good a sign as the
		 * error callback's (which may not repeat while they stay down). */
		brokerstate_down(&p->brokers, clock_mono_ms());
		return false;
	}
	/* A broker answered, whatever it said of the topic. */
	brokerstate_up(&p->brokers);
	ok = md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
	     md->topics[0].partition_cnt > 0;
	/* An answer may come from a broker cut off from the others, from its
	 * last view: can the partitions' leaders and replicas be reached? */
	if (ok)
		ok = publisher_writable(p, md);
	rd_kafka_metadata_destroy(md);
	return ok;
}

bool publisher_known_down(struct publisher *p)
{
	return brokerstate_known_down(&p->brokers, clock_mono_ms());
}

uint64_t publisher_down_for_ms(struct publisher *p)
{
	return brokerstate_down_for_ms(&p->brokers, clock_mono_ms());
}

int publisher_outq_len(struct publisher *p)
{
	return rd_kafka_outq_len(p->rk);
}

int publisher_flush(struct publisher *p, int timeout_ms)
{
	rd_kafka_flush(p->rk, timeout_ms);
	return rd_kafka_outq_len(p->rk);
}

void publisher_free(struct publisher *p)
{
	if (!p)
		return;
	if (p->rk) {
		int left = publisher_flush(p, p->timeout_ms + 1000);
		if (left > 0) {
			/* Purged messages still get their report, which frees
			 * their ticket. */
			log_warning("publisher_unflushed", "messages=%d", left);
			rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
			rd_kafka_flush(p->rk, 1000);
		}
	}
	if (p->poller_started) {
		atomic_store(&p->stop, true);
		pthread_join(p->poller, NULL);
	}
	if (p->rkt)
		rd_kafka_topic_destroy(p->rkt);
	if (p->rk)
		rd_kafka_destroy(p->rk);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
