#include "config.h"

#include "dlq.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kafka.h"
#include "log.h"

/* Filled by the delivery report. Heap-allocated: when the sender gives up
 * waiting it sets abandoned, and the report, which always comes in the end
 * (message.timeout.ms), frees it. Reports run only inside rd_kafka_poll() on
 * the sender's thread, so there is no race. */
struct dlq_result {
	int done;
	int abandoned;
	rd_kafka_resp_err_t err;
};

static void dlq_delivered(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
	struct dlq_result *res = msg->_private;

	(void)rk;
	(void)opaque;
	if (!res)
		return;
	if (res->abandoned) {
		free(res);
		return;
	}
	res->err = msg->err;
	res->done = 1;
}

int dlq_open(struct dlq *d, const char *brokers, const struct settings_list *props,
	     const char *topic, char *err, size_t errsize)
{
	static const char *const defaults[] = {
		"enable.idempotence", "true", "acks", "all", "linger.ms", "0",
		"compression.type", "lz4", "message.timeout.ms", "30000", NULL,
	};
	rd_kafka_conf_t *conf;
	char errstr[512];

	memset(d, 0, sizeof(*d));
	conf = kafka_conf_new(brokers, defaults, props, err, errsize);
	if (!conf)
		return -EINVAL;
	rd_kafka_conf_set_dr_msg_cb(conf, dlq_delivered);
	d->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!d->rk) {
		rd_kafka_conf_destroy(conf);
		snprintf(err, errsize, "DLQ producer: %s", errstr);
		return -EINVAL;
	}
	conf = NULL; /* now owned by d->rk */
	pthread_mutex_init(&d->mu, NULL);
	d->topic = strdup(topic);
	if (!d->topic) {
		dlq_close(d);
		snprintf(err, errsize, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

static int dlq_send_locked(struct dlq *d, const rd_kafka_message_t *src,
			   const char *error_class, const char *error_message, int timeout_ms)
{
	struct dlq_result *res = calloc(1, sizeof(*res));
	char partition[16], offset[24];
	rd_kafka_headers_t *hdrs = rd_kafka_headers_new(5);
	rd_kafka_resp_err_t err;
	const char *src_topic = rd_kafka_topic_name(src->rkt);
	struct timespec start, now;

	if (!res || !hdrs) {
		free(res);
		if (hdrs)
			rd_kafka_headers_destroy(hdrs);
		return -ENOMEM;
	}
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
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!res->done) {
		rd_kafka_poll(d->rk, 100);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 >
		    timeout_ms)
			break;
	}
	if (!res->done) {
		res->abandoned = 1; /* the report frees it */
		log_warning("dlq_timeout", "timeout_ms=%d", timeout_ms);
		return -EIO;
	}
	err = res->err;
	free(res);
	if (err) {
		log_warning("dlq_delivery_failed", "error=%s", rd_kafka_err2name(err));
		return -EIO;
	}
	return 0;
}

int dlq_send(struct dlq *d, const rd_kafka_message_t *src, const char *error_class,
	     const char *error_message, int timeout_ms)
{
	int r;

	pthread_mutex_lock(&d->mu);
	r = dlq_send_locked(d, src, error_class, error_message, timeout_ms);
	pthread_mutex_unlock(&d->mu);
	return r;
}

void dlq_close(struct dlq *d)
{
	if (d->rk) {
		rd_kafka_flush(d->rk, 10000);
		if (rd_kafka_outq_len(d->rk) > 0)
			log_warning("dlq_unflushed", "messages=%d", rd_kafka_outq_len(d->rk));
		rd_kafka_destroy(d->rk);
		pthread_mutex_destroy(&d->mu);
	}
	free(d->topic);
	memset(d, 0, sizeof(*d));
}
