/* publisher: the gateway's Kafka producer. One batch is one message; it
 * counts as published only when its delivery report says the broker has it
 * (acks=all, idempotent). Reports arrive on the publisher's own poller
 * thread, never on an HTTP thread, and every message gets one, at the
 * latest after the publish timeout (message.timeout.ms). */
#ifndef PATIENTS_GATEWAY_PUBLISHER_H
#define PATIENTS_GATEWAY_PUBLISHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct budget;
struct publisher;
struct settings_list;

/* Called once per message sent, on the poller thread: err is 0 when the
 * broker acknowledged it, -ETIMEDOUT when it did not within timeout_ms
 * (the publisher's own deadline, kept to within 50 ms), -EIO on any other
 * failure. It must not block. */
typedef void (*publisher_delivered_fn)(void *opaque, int err);

struct publisher_options {
	const char *brokers;
	const char *topic;
	const struct settings_list *kafka_props; /* --kafka-prop, last word */
	int timeout_ms;				 /* message.timeout.ms */
	size_t max_message_bytes;		 /* message.max.bytes */
	/* How long every broker must have been down before
	 * publisher_known_down says so (see brokerstate.h). */
	int down_grace_ms;
	/* Borrowed; NULL: none. A message sent holds len bytes of it, given
	 * back when librdkafka frees the value (which can be after the
	 * delivered() call of a publish timeout). */
	struct budget *budget;
	publisher_delivered_fn delivered;
};

/* Creates the producer and starts its poller thread. Returns 0, or -EINVAL
 * (a bad property) / -ENOMEM with a message in err. */
int publisher_new(struct publisher **out, const struct publisher_options *opt, char *err,
		  size_t errsize);

/* Queues value (malloc'd; on success the publisher owns and frees it) with
 * key. Never blocks. Returns 0, then exactly one delivered() call follows
 * and the len bytes the caller reserved in the budget are the publisher's
 * to give back;
 * -ENOBUFS when the local queue is full, -EMSGSIZE when the message is over
 * message.max.bytes, -EIO otherwise: the caller still owns value and no
 * report follows. Thread-safe. */
int publisher_send(struct publisher *p, const char *key, char *value, size_t len, void *opaque);

/* Asks the cluster for the topic's metadata, waiting up to timeout_ms,
 * then probes the brokers it names (TCP connect, up to 500 ms more): true
 * when the topic is known with at least one partition and each partition's
 * leader and a majority of its replicas are reachable (replicas.h: a
 * broker cut off from the quorum answers from a stale view). Logs
 * kafka_not_writable / kafka_writable when that last part changes. Blocks
 * the caller (the main loop), never the poller. */
bool publisher_reachable(struct publisher *p, int timeout_ms);

/* True while every broker has been unreachable for at least down_grace_ms
 * with no sign of life since: a new batch would only wait out the publish
 * timeout. A metadata request that succeeds (publisher_reachable) or a
 * delivery report from a broker ends it at once. */
bool publisher_known_down(struct publisher *p);

/* How long every broker has been unreachable (0: a broker is up, or none
 * was seen down), grace or not. */
uint64_t publisher_down_for_ms(struct publisher *p);

/* Messages queued or in flight, not yet reported. */
int publisher_outq_len(struct publisher *p);

/* Waits up to timeout_ms for every report. Returns the messages left. */
int publisher_flush(struct publisher *p, int timeout_ms);

/* Flushes (up to the publish timeout), stops the poller and destroys the
 * producer; NULL is a no-op. */
void publisher_free(struct publisher *p);

#endif
