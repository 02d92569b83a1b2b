#include "config.h"

#include "dlq.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "kafka.h"
#include "log.h"

/* One send's outcome. Heap-allocated and shared by the sender and the
 * delivery report, which may run on any thread that polls the producer:
 * whichever of the two comes second frees it. The report always comes in
 * the end (message.timeout.ms), even for a sender that gave up. */
enum { DLQ_PENDING, DLQ_DELIVERED, DLQ_ABANDONED };

struct dlq_result {
	atomic_int state;
	rd_kafka_resp_err_t err; /* written before state becomes DELIVERED */
};

static void dlq_delivered(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
	struct dlq_result *res = msg->_private;

	(void)rk;
	(void)opaque;
	if (!res)
		return;
	res->err = msg->err;
	if (atomic_exchange(&res->state, DLQ_DELIVERED) == DLQ_ABANDONED)
		free(res);
}

/* One producer, shared by the senders: the dlq holds a reference while it
 * is the current one, each sender one while it sends. */
struct dlq_producer {
	rd_kafka_t *rk;
	int refs; /* under dlq.mu */
};

/* Every send that succeeded was acknowledged before dlq_send returned: what
 * is left was given up on, and its batch is sent again by whoever applies
 * it next. Purged, not flushed, so that a stop does not wait for a broker
 * that is not answering; the flush then only serves the purge's reports
 * (which free what the senders left). */
static void dlq_producer_free(struct dlq_producer *p)
{
	if (!p)
		return;
	rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	rd_kafka_flush(p->rk, 5000);
	if (rd_kafka_outq_len(p->rk) > 0)
		log_warning("dlq_unflushed", "messages=%d", rd_kafka_outq_len(p->rk));
	rd_kafka_destroy(p->rk);
	free(p);
}

static int dlq_producer_new(const struct dlq *d, struct dlq_producer **out, char *err,
			    size_t errsize)
{
	struct dlq_producer *p = calloc(1, sizeof(*p));
	int r;

	*out = NULL;
	if (!p) {
		snprintf(err, errsize, "out of memory");
		return -ENOMEM;
	}
	r = kafka_client_new(&p->rk, &d->ko, err, errsize);
	if (r < 0) {
		free(p);
		return r;
	}
	p->refs = 1;
	*out = p;
	return 0;
}

int dlq_open(struct dlq *d, const char *brokers, const struct settings_list *props,
	     const char *topic, char *err, size_t errsize)
{
	/* A poison batch goes over whole, whatever its size: librdkafka's
	 * 1,000,000-byte default refused a large one for ever, and the
	 * partition waited at it. This is the largest envelope a gateway
	 * writes at its largest --max-body-bytes (64 MiB, plus 64 KiB); the
	 * DLQ topic's max.message.bytes must take what the topic does. */
	static const char *const defaults[] = {
		"enable.idempotence", "true", "acks", "all", "linger.ms", "0",
		"compression.type", "lz4", "message.timeout.ms", "30000",
		"message.max.bytes", "67174400", NULL,
	};
	int r;

	memset(d, 0, sizeof(*d));
	pthread_mutex_init(&d->mu, NULL);
	d->open = true;
	d->ko = (struct kafka_client_options){
		.type = RD_KAFKA_PRODUCER,
		.what = "DLQ producer",
		.brokers = brokers,
		.defaults = defaults,
		.props = props,
		.dr_msg_cb = dlq_delivered,
	};
	r = dlq_producer_new(d, &d->cur, err, errsize);
	if (r == 0 && !(d->topic = strdup(topic))) {
		snprintf(err, errsize, "out of memory");
		r = -ENOMEM;
	}
	if (r < 0)
		dlq_close(d); /* zeroed, as the caller may expect */
	return r;
}

/* The producer to send with, with a reference for the caller: the current
 * one, replaced first if it failed for good (no send can succeed on it;
 * the cause, an ACL say, may be gone by now). If no new one can be made,
 * the old one is used and refuses the send: retried later. */
static struct dlq_producer *dlq_acquire(struct dlq *d)
{
	struct dlq_producer *p, *old = NULL, *fresh;
	char why[512], q[600], err[256];
	rd_kafka_resp_err_t fatal;

	pthread_mutex_lock(&d->mu);
	p = d->cur;
	fatal = rd_kafka_fatal_error(p->rk, why, sizeof(why));
	if (fatal && dlq_producer_new(d, &fresh, err, sizeof(err)) < 0) {
		log_error("dlq_producer_replace_failed", "error=%s message=%s",
			  rd_kafka_err2name(fatal), log_quote(q, sizeof(q), err));
	} else if (fatal) {
		log_warning("dlq_producer_replaced", "error=%s reason=%s", rd_kafka_err2name(fatal),
			    log_quote(q, sizeof(q), why));
		if (--p->refs == 0)
			old = p;
		p = d->cur = fresh;
	}
	p->refs++;
	pthread_mutex_unlock(&d->mu);
	dlq_producer_free(old); /* outside the lock: it may wait for its purge */
	return p;
}

static void dlq_release(struct dlq *d, struct dlq_producer *p)
{
	bool last;

	pthread_mutex_lock(&d->mu);
	last = --p->refs == 0;
	pthread_mutex_unlock(&d->mu);
	if (last)
		dlq_producer_free(p);
}

/* A failed send's line; names the producer's fatal error when it has one
 * (a refused producer id says CLUSTER_AUTHORIZATION_FAILED there). */
static void dlq_log_failure(const char *event, rd_kafka_t *rk, rd_kafka_resp_err_t err)
{
	rd_kafka_resp_err_t fatal = rd_kafka_fatal_error(rk, NULL, 0);

	log_warning(event, "error=%s cause=%s", rd_kafka_err2name(err),
		    fatal ? rd_kafka_err2name(fatal) : "-");
}

/* The headers saying why and whence; NULL when out of memory. */
static rd_kafka_headers_t *dlq_headers(const rd_kafka_message_t *src, const char *error_class,
				       const char *error_message)
{
	rd_kafka_headers_t *hdrs = rd_kafka_headers_new(5);
	char partition[16], offset[24];

	if (!hdrs)
		return NULL;
	snprintf(partition, sizeof(partition), "%" PRId32, src->partition);
	snprintf(offset, sizeof(offset), "%" PRId64, src->offset);
	rd_kafka_header_add(hdrs, "error.class", -1, error_class, -1);
	rd_kafka_header_add(hdrs, "error.message", -1, error_message, -1);
	rd_kafka_header_add(hdrs, "source.topic", -1, rd_kafka_topic_name(src->rkt), -1);
	rd_kafka_header_add(hdrs, "source.partition", -1, partition, -1);
	rd_kafka_header_add(hdrs, "source.offset", -1, offset, -1);
	return hdrs;
}

/* Polls rk until res is reported, in short steps: a stop or a revocation
 * need not wait for the broker (a missing topic takes the whole timeout),
 * nor a producer that has failed for good. Returns 0 when reported,
 * -ECANCELED when no longer wanted, -EIO otherwise. */
static int dlq_wait(rd_kafka_t *rk, struct dlq_result *res, int timeout_ms,
		    bool (*wanted)(void *), void *opaque)
{
	uint64_t start = clock_mono_ms();

	while (atomic_load(&res->state) == DLQ_PENDING) {
		rd_kafka_poll(rk, 100);
		if (atomic_load(&res->state) != DLQ_PENDING)
			break;
		if (rd_kafka_fatal_error(rk, NULL, 0)) {
			dlq_log_failure("dlq_producer_failed", rk, RD_KAFKA_RESP_ERR__FATAL);
			return -EIO;
		}
		if (clock_mono_ms() - start > (uint64_t)timeout_ms) {
			log_warning("dlq_timeout", "timeout_ms=%d", timeout_ms);
			return -EIO;
		}
		if (wanted && !wanted(opaque))
			return -ECANCELED;
	}
	return 0;
}

int dlq_send(struct dlq *d, const rd_kafka_message_t *src, const char *error_class,
	     const char *error_message, int timeout_ms, bool (*wanted)(void *), void *opaque)
{
	struct dlq_result *res = calloc(1, sizeof(*res));
	rd_kafka_headers_t *hdrs = dlq_headers(src, error_class, error_message);
	struct dlq_producer *p = NULL;
	rd_kafka_resp_err_t err;
	int r = -ENOMEM;

	if (!res || !hdrs)
		goto out;
	atomic_init(&res->state, DLQ_PENDING);
	p = dlq_acquire(d);
	err = rd_kafka_producev(p->rk, RD_KAFKA_V_TOPIC(d->topic),
				RD_KAFKA_V_KEY(src->key, src->key_len),
				RD_KAFKA_V_VALUE(src->payload, src->len),
				RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
				RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(res), RD_KAFKA_V_END);
	if (err) {
		dlq_log_failure("dlq_produce_failed", p->rk, err);
		r = -EIO;
		goto out; /* hdrs not taken by a failed producev */
	}
	hdrs = NULL; /* now owned by the message */
	r = dlq_wait(p->rk, res, timeout_ms, wanted, opaque);
	if (atomic_exchange(&res->state, DLQ_ABANDONED) == DLQ_PENDING) {
		res = NULL; /* the report frees it */
		goto out;
	}
	/* Reported, if only just after a timeout or a cancel: it counts. */
	err = res->err;
	r = 0;
	if (err) {
		dlq_log_failure("dlq_delivery_failed", p->rk, err);
		r = -EIO;
	}
out:
	if (hdrs)
		rd_kafka_headers_destroy(hdrs);
	free(res);
	if (p)
		dlq_release(d, p);
	return r;
}

void dlq_close(struct dlq *d)
{
	if (d->cur)
		dlq_release(d, d->cur); /* the dlq's own reference: senders are gone */
	if (d->open)
		pthread_mutex_destroy(&d->mu);
	free(d->topic);
	memset(d, 0, sizeof(*d));
}
