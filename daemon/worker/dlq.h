/* dlq: the dead-letter producer. A poison message is copied, value intact,
 * to the DLQ topic with headers saying why, and only once the broker has
 * acknowledged it (acks=all) may the worker move past it. */
#ifndef PATIENTS_DLQ_H
#define PATIENTS_DLQ_H

#include <stdbool.h>

#include <librdkafka/rdkafka.h>

struct settings_list;

struct dlq {
	rd_kafka_t *rk;
	char *topic;
};

/* Creates the producer (kafka_client_new). Returns 0, or -EINVAL (a
 * property librdkafka refused, or the producer itself) or -ENOMEM, with a
 * message in err; d is zeroed on failure. */
int dlq_open(struct dlq *d, const char *brokers, const struct settings_list *props,
	     const char *topic, char *err, size_t errsize);

/* Sends src's key and value to the DLQ with the headers error.class,
 * error.message, source.topic, source.partition, source.offset, and waits
 * up to timeout_ms for the acknowledgement, asking wanted(opaque) every
 * 100 ms whether it is still wanted (NULL: always). Returns 0 once
 * delivered, -ECANCELED when no longer wanted, -ENOMEM before sending,
 * -EIO otherwise: refused, failed or not acknowledged in time (the caller
 * retries later; the DLQ may then get it twice, never zero times).
 * Thread-safe: appliers share one producer. */
int dlq_send(struct dlq *d, const rd_kafka_message_t *src, const char *error_class,
	     const char *error_message, int timeout_ms, bool (*wanted)(void *), void *opaque);

/* Purges what was never acknowledged (every dlq_send that returned 0 was),
 * waits up to 5 s for the purge's reports, destroys the producer. Safe on
 * a zeroed d. */
void dlq_close(struct dlq *d);

#endif
