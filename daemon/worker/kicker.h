/* kicker: wakes librdkafka 2.0's fetcher when the application has made room.
 * That version stops fetching a partition while its queue is over
 * queued.max.messages.kbytes and looks again only when its broker thread
 * wakes: at a one-second tick, or to send a request. A request for the
 * partition's watermarks is the smallest thing that wakes it; it waits its
 * turn behind a fetch in flight on the same connection (up to
 * fetch.wait.max.ms), so it is sent from a thread of its own and the polling
 * thread never waits for it. */
#ifndef PATIENTS_KICKER_H
#define PATIENTS_KICKER_H

#include <stdint.h>

#include <librdkafka/rdkafka.h>

struct kicker;

/* Starts the thread for topic's partitions on rk (which must outlive it).
 * Returns 0 or -errno. */
int kicker_start(struct kicker **out, rd_kafka_t *rk, const char *topic);

/* Asks for a wake-up of partition's leader; never blocks. Requests made
 * while one is on its way are folded into the next, sent at most every
 * KICKER_INTERVAL_MS. */
void kicker_kick(struct kicker *k, int32_t partition);

/* Stops and joins the thread (after its request in flight, if any); NULL is
 * fine. */
void kicker_stop(struct kicker *k);

#endif
