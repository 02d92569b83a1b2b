#include "config.h"

#include "dlq.h"

#include <errno.h>
#include <inttypes.h>
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
	const struct kafka_client_options ko = {
		.type = RD_KAFKA_PRODUCER,
		.what = "DLQ producer",
		.brokers = brokers,
		.defaults = defaults,
		.props = props,
		.dr_msg_cb = dlq_delivered,
	};
	int r;

	memset(d, 0, sizeof(*d));
	r = kafka_client_new(&d->rk, &ko, err, errsize);
	if (r < 0)
		return r;
	d->topic = strdup(topic);
	if (!d->topic) {
		dlq_close(d);
		snprintf(err, errsize, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

int dlq_send(struct dlq *d, const rd_kafka_message_t *src, const char *error_class,
	     const char *error_message, int timeout_ms, bool (*wanted)(void *), void *opaque)
{
	struct dlq_result *res = calloc(1, sizeof(*res));
	char partition[16], offset[24];
	rd_kafka_headers_t *hdrs = rd_kafka_headers_new(5);
	rd_kafka_resp_err_t err;
	const char *src_topic = rd_kafka_topic_name(src->rkt);
	uint64_t start;
	int r = -EIO;

	if (!res || !hdrs) {
		free(res);
		if (hdrs)
			rd_kafka_headers_destroy(hdrs);
		return -ENOMEM;
	}
	atomic_init(&res->state, DLQ_PENDING);
	snprintf(partition, sizeof(partition), "%" PRId32, src->partition);
	snprintf(offset, sizeof(offset), "%" PRId64, src->offset);
	rd_kafka_header_add(hdrs, "error.class", -1, error_class, -1);
	rd_kafka_header_add(hdrs, "error.message", -1, error_message, -1);
	rd_kafka_header_add(hdrs, "source.topic", -1, src_topic, -1);
	rd_kafka_header_add(hdrs, "source.partition", -1, partition, -1);
	rd_kafka_header_add(hdrs, "source.offset", -1, offset, -1);
	err = rd_kafka_producev(d->rk, RD_KAFKA_V_TOPIC(d->topic),
				RD_KAFKA_V_KEY(src->key, src->key_len),
				RD_KAFKA_V_VALUE(src->payload, src->len),
				RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
				RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(res), RD_KAFKA_V_END);
	if (err) {
		rd_kafka_headers_destroy(hdrs); /* not taken by a failed producev */
		free(res);
		log_warning("dlq_produce_failed", "error=%s", rd_kafka_err2name(err));
		return -EIO;
	}
	hdrs = NULL; /* now owned by the message */
	start = clock_mono_ms();
	/* Polled in short steps: a stop or a revocation need not wait for
	 * the broker (a missing topic takes the whole timeout). */
	while (atomic_load(&res->state) == DLQ_PENDING) {
		rd_kafka_poll(d->rk, 100);
		if (clock_mono_ms() - start > (uint64_t)timeout_ms) {
			log_warning("dlq_timeout", "timeout_ms=%d", timeout_ms);
			break;
		}
		if (wanted && !wanted(opaque)) {
			r = -ECANCELED;
			break;
		}
	}
	if (atomic_exchange(&res->state, DLQ_ABANDONED) == DLQ_PENDING)
		return r; /* the report frees it */
	err = res->err;
	free(res);
	if (err) {
		log_warning("dlq_delivery_failed", "error=%s", rd_kafka_err2name(err));
		return -EIO;
	}
	return 0;
}

void dlq_close(struct dlq *d)
{
	if (d->rk) {
		/* Every send that succeeded was acknowledged before dlq_send
		 * returned: what is left was given up on, and its batch is sent
		 * again by whoever applies it next. Purged, not flushed, so that
		 * a stop does not wait for a broker that is not answering; the
		 * flush then only serves the purge's reports (which free what
		 * the senders left). */
		rd_kafka_purge(d->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		rd_kafka_flush(d->rk, 5000);
		if (rd_kafka_outq_len(d->rk) > 0)
			log_warning("dlq_unflushed", "messages=%d", rd_kafka_outq_len(d->rk));
		rd_kafka_destroy(d->rk);
	}
	free(d->topic);
	memset(d, 0, sizeof(*d));
}
