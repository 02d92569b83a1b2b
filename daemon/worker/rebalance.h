/* rebalance: the consumer's side of the group protocol, on its polling
 * thread. An assignment loads each partition's start from PostgreSQL (the
 * source of truth for what was applied) and sets the appliers' fence; a
 * revocation drops what was not applied yet; a rewind seeks a partition
 * whose fence failed back to PostgreSQL's offset. */
#ifndef PATIENTS_REBALANCE_H
#define PATIENTS_REBALANCE_H

#include <librdkafka/rdkafka.h>

struct consumer;

/* librdkafka's rebalance callback (opaque: the struct consumer), eager or
 * cooperative as the group's protocol says. Served by
 * rd_kafka_consumer_poll(), so on the polling thread. Retries the offset
 * loads until PostgreSQL answers or the consumer is stopped. */
void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
		  rd_kafka_topic_partition_list_t *parts, void *opaque);

/* Carries out the rewinds the appliers asked for (applier.h); a seek that
 * failed stays asked for, tried again at the next call. */
void rebalance_rewind(struct consumer *c);

#endif
