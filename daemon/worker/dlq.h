/* dlq: the dead-letter producer. A poison message is copied, value intact,
 * to the DLQ topic with headers saying why, and only once the broker has
 * acknowledged it (acks=all) may the worker move past it. */
#ifndef PATIENTS_DLQ_H
#define PATIENTS_DLQ_H

#include <pthread.h>
#include <stdbool.h>

#include <librdkafka/rdkafka.h>

#include "kafka.h"

struct settings_list;
struct dlq_producer;

/* The idempotent producer can fail for good (librdkafka's fatal error: a
 * user without Write on any topic is refused its producer id with
 * CLUSTER_AUTHORIZATION_FAILED, the moment it starts). Such a producer
 * refuses every later message, so the next send replaces it with a new one
 * made from the same configuration: a grant then takes effect without a
 * restart. Senders still using the old one keep it until they are done. */
struct dlq {
	pthread_mutex_t mu; /* guards cur and the producers' refs */
	bool open;	    /* mu initialised */
	struct kafka_client_options ko; /* every producer's, brokers and props borrowed */
	struct dlq_producer *cur;
	char *topic;
};

/* Creates the producer (kafka_client_new). brokers and props are borrowed:
 * they must outlive d (each replacement producer is made from them).
 * Returns 0, or -EINVAL (a property librdkafka refused, or the producer
 * itself) or -ENOMEM, with a message in err; d is zeroed on failure. */
int dlq_open(struct dlq *d, const char *brokers, const struct settings_list *props,
	     const char *topic, char *err, size_t errsize);

/* Sends src's key and value to the DLQ with the headers error.class,
 * error.message, source.topic, source.partition, source.offset, and waits
 * up to timeout_ms for the acknowledgement, asking wanted(opaque) every
 * 100 ms whether it is still wanted (NULL: always). Returns 0 once
 * delivered, -ECANCELED when no longer wanted, -ENOMEM before sending,
 * -EIO otherwise: refused, failed or not acknowledged in time (the caller
 * retries later; the DLQ may then get it twice, never zero times). A
 * producer found failed for good is replaced first (logged as
 * dlq_producer_replaced with librdkafka's cause). Thread-safe: appliers
 * share one producer. */
int dlq_send(struct dlq *d, const rd_kafka_message_t *src, const char *error_class,
	     const char *error_message, int timeout_ms, bool (*wanted)(void *), void *opaque);

/* Purges what was never acknowledged (every dlq_send that returned 0 was),
 * waits up to 5 s for the purge's reports, destroys the producers. Safe on
 * a zeroed d. */
void dlq_close(struct dlq *d);

#endif
