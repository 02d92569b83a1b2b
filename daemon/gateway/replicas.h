/* replicas: whether a batch published now could be acknowledged with
 * acks=all, judged from what the gateway can see itself. A metadata answer
 * alone does not say it: a broker cut off from the controller quorum (two
 * of three nodes down) still answers from its last view, naming leaders
 * and in-sync replicas that are dead. So the gateway connects (TCP only)
 * to every broker that view names, and a partition counts as writable
 * when its leader is reachable and so is a majority of its replicas: RF 1
 * needs 1, RF 3 needs 2, which is min.insync.replicas=2 and what a KRaft
 * quorum of three needs. librdkafka's own connection states cannot tell
 * it: the producer connects only to the leaders it sends to. */
#ifndef PATIENTS_GATEWAY_REPLICAS_H
#define PATIENTS_GATEWAY_REPLICAS_H

#include <stdbool.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

/* A broker of the metadata's list and whether the probe reached it. */
struct replicas_broker {
	int32_t id;
	bool reachable;
};

enum replicas_reason {
	REPLICAS_OK,
	REPLICAS_NO_PARTITIONS,	     /* the topic has none */
	REPLICAS_NO_LEADER,	     /* a partition has no leader (-1) */
	REPLICAS_LEADER_UNREACHABLE, /* its leader is dead, or not in the list */
	REPLICAS_MINORITY,	     /* too few of its replicas are reachable */
};

/* What replicas_writable found. The partition figures are those of the
 * first partition that is not writable (-1 and 0 when all are). */
struct replicas_verdict {
	enum replicas_reason reason;
	int32_t partition;
	int reachable; /* of its replicas */
	int replicas;
	int unwritable; /* partitions that are not writable */
};

/* The rule, pure: true when every one of the cnt partitions is writable
 * with the brokers given (a replica missing from them counts as
 * unreachable: KRaft leaves a fenced broker out of the list). Fills *v. */
bool replicas_writable(const rd_kafka_metadata_partition_t *parts, int cnt,
		       const struct replicas_broker *brokers, int nbrokers,
		       struct replicas_verdict *v);

/* The reason's name for a log line ("replicas", "leader_unreachable"...). */
const char *replicas_reason_name(enum replicas_reason reason);

/* The probe: a non-blocking TCP connect to each of the n brokers' host:port
 * at once (to each of its first four addresses, as librdkafka goes on to
 * the next), waiting up to timeout_ms for all of them together; sets
 * out[i].id and out[i].reachable (one connected within the time). The
 * connection is closed at once, nothing is sent. Resolving a host name
 * (getaddrinfo) may block for longer: call it where blocking is allowed
 * (the main loop, never an HTTP thread nor the poller). Returns 0, or
 * -ENOMEM (out then says nothing is reachable). */
int replicas_probe(const rd_kafka_metadata_broker_t *brokers, int n, int timeout_ms,
		   struct replicas_broker *out);

#endif
