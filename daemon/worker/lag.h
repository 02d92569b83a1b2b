/* lag: patients_worker_consumer_lag, messages of each assigned partition not
 * yet applied to PostgreSQL. librdkafka's statistics alone froze it while
 * the partitions were paused (a PostgreSQL outage): their high watermark
 * comes from fetch responses, and a paused partition is not fetched. So a
 * thread of its own asks the brokers for every assigned partition's
 * watermarks each LAG_INTERVAL_MS (a ListOffsets request waits behind a
 * fetch in flight on the same connection, so never from the polling
 * thread), and publishes the lag from there, whatever the polling thread is
 * doing. Everything here is thread-safe unless said otherwise. */
#ifndef PATIENTS_LAG_H
#define PATIENTS_LAG_H

#include <stdint.h>

#include <librdkafka/rdkafka.h>

struct metrics_family;
struct lag;

#define LAG_INTERVAL_MS 5000

/* What is known of one partition when its lag is computed; -1 (any
 * negative value) for what is not known. */
struct lag_inputs {
	int64_t hi_queried; /* high watermark, asked of the broker */
	int64_t lo_queried; /* low watermark, same answer */
	int64_t hi_stats;   /* high watermark in the statistics (last fetch) */
	int64_t start;	    /* next offset to apply, from PostgreSQL at assignment;
			     * RD_KAFKA_OFFSET_BEGINNING when it starts at the beginning */
	int64_t stored;	    /* next offset stored after a PostgreSQL commit (statistics) */
	int64_t fallback;   /* the statistics' committed or application offset */
};

/* The lag of one partition: the high watermark (the fresher of the two)
 * minus the next offset to apply, never below 0. That offset is the later
 * of PostgreSQL's at assignment and the last one stored since (a stored
 * offset left over from an earlier assignment is older than PostgreSQL's);
 * with neither, the low watermark for a start at the beginning, else the
 * fallback. Returns -1 when unknown. */
int64_t lag_compute(const struct lag_inputs *in);

/* Starts the thread for topic's partitions 0..partitions-1 on rk (which
 * must outlive it; others are ignored), publishing to gauge (labelled by
 * partition; NULL: none). Returns 0 or -errno. */
int lag_start(struct lag **out, rd_kafka_t *rk, const char *topic, int32_t partitions,
	      struct metrics_family *gauge);

/* The partition is ours from start on (PostgreSQL's next offset, or a
 * logical offset such as RD_KAFKA_OFFSET_BEGINNING). */
void lag_assign(struct lag *l, int32_t partition, int64_t start);

/* The partition is no longer ours: its series goes to 0 (another worker
 * reports it now) and stays there. */
void lag_revoke(struct lag *l, int32_t partition);

/* What one statistics report says of an assigned partition (see
 * struct lag_inputs); updates the gauge at once. */
void lag_note_stats(struct lag *l, int32_t partition, int64_t hi, int64_t stored,
		    int64_t fallback);

/* Sum over the assigned partitions at the last update, -1 when unknown. */
int64_t lag_total(struct lag *l);

/* Stops and joins the thread (after its request in flight, if any); NULL is
 * fine. */
void lag_stop(struct lag *l);

#endif
