/* dlq: the dead-letter producer. A poison message is copied, value intact,
 * to the DLQ topic with headers saying why, and only once the broker has
 * acknowledged it (acks=all) may the worker move past it. */
#ifndef PATIENTS_DLQ_H
#define PATIENTS_DLQ_H

#include <pthread.h>
#include <stdbool.h>

#include <librdkafka/rdkafka.h>

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
	rd_kafka_conf_t *conf; /* template of every producer */
	struct dlq_producer *cur;
	char *topic;
};

/* Creates the producer (d may be all zeros before; dlq_close is safe
 * whatever this returns). Returns 0, or -EINVAL / -ENOMEM with a message
 * in err. */
int dlq_open(struct dlq *d, const char *brokers, const struct settings_list *props,
	     const char *topic, char *err, size_t errsize);

/* Sends src's key and value to the DLQ with the headers error.class,
 * error.message, source.topic, source.partition, source.offset, and waits
 * up to timeout_ms for the acknowledgement, asking wanted(opaque) every
 * 100 ms whether it is still wanted (NULL: always). Returns 0 once
 * delivered, -ECANCELED when no longer wanted, -EIO otherwise (the caller
 * retries later; the DLQ may then get it twice, never zero times). A
 * producer found failed for good is replaced first (logged once as
 * dlq_producer_replaced with librdkafka's cause). Thread-safe: appliers
 * share one producer. */
int dlq_send(struct dlq *d, const rd_kafka_message_t *src, const char *error_class,
	     const char *error_message, int timeout_ms, bool (*wanted)(void *), void *opaque);

/* Destroys the producers (what is still queued was given up on: purged);
 * a d left all zeros, or whose dlq_open failed, is fine. */
void dlq_close(struct dlq *d);

#endif
