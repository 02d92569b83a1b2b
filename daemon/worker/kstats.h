/* kstats: what the worker reads in librdkafka's statistics (the JSON that
 * statistics.interval.ms brings): whether any broker connection is up, and
 * each partition's offsets for lag.c. Parsing only: no state, no Kafka
 * handle, so it is tested on sample JSON (tests/unit/test_kstats.c). */
#ifndef PATIENTS_KSTATS_H
#define PATIENTS_KSTATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One partition of the topic, each offset -1 when the statistics lack it. */
struct kstats_partition {
	int32_t partition;
	int64_t hi_offset;     /* high watermark of the last fetch */
	int64_t stored_offset; /* stored after the last PostgreSQL commit */
	/* failing that, the offset committed to Kafka, else the next read */
	int64_t fallback;
};

/* Called once per partition of the topic with a numeric id >= 0 (not the
 * internal -1); p is valid during the call only. */
typedef void (*kstats_partition_fn)(void *arg, const struct kstats_partition *p);

/* Parses one statistics report of len bytes. Returns 0 with *brokers_up
 * (some broker's "state" is "UP") and each() called for the partitions of
 * topic (none when the report does not name it); -EBADMSG when json is not
 * a JSON document, -ENOMEM: then nothing is called and *brokers_up is left
 * alone. */
int kstats_parse(const char *json, size_t len, const char *topic, bool *brokers_up,
		 kstats_partition_fn each, void *arg);

#endif
