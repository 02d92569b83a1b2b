#include "config.h"

#include "lag.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "metrics.h"

/* A watermark request waits its turn behind a long-poll fetch (100 ms);
 * with no broker it fails after this, and the next round tries again. */
#define LAG_QUERY_TIMEOUT_MS 2000

struct lag_partition {
	bool assigned;
	struct lag_inputs in;
	int64_t lag; /* last published, -1 unknown */
};

struct lag {
	rd_kafka_t *rk;
	char *topic;
	struct metrics_family *gauge;
	pthread_t thread;
	pthread_mutex_t mu; /* guards everything below and the gauge's series */
	pthread_cond_t cv;
	bool stopping;
	int32_t nparts;
	struct lag_partition *parts; /* nparts */
	int32_t *todo;		     /* the thread's list of partitions to ask about */
	int64_t total;
};

static int64_t lag_max(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

int64_t lag_compute(const struct lag_inputs *in)
{
	int64_t hi = lag_max(in->hi_queried, in->hi_stats), base = -1;

	if (hi < 0)
		return -1;
	if (in->start >= 0)
		base = in->start;
	if (in->stored >= 0)
		base = lag_max(base, in->stored);
	if (base < 0 && in->start == RD_KAFKA_OFFSET_BEGINNING)
		base = in->lo_queried;
	if (base < 0)
		base = in->fallback;
	if (base < 0)
		return -1;
	return hi > base ? hi - base : 0;
}

static bool lag_partition_ok(const struct lag *l, int32_t p)
{
	return p >= 0 && p < l->nparts;
}

static void lag_set_gauge(struct lag *l, int32_t p, int64_t v)
{
	char label[16];

	snprintf(label, sizeof(label), "%" PRId32, p);
	metrics_gauge_set(l->gauge, label, (double)v);
}

static void lag_total_locked(struct lag *l)
{
	int64_t total = 0;
	bool known = false;

	for (int32_t i = 0; i < l->nparts; i++) {
		if (l->parts[i].assigned && l->parts[i].lag >= 0) {
			total += l->parts[i].lag;
			known = true;
		}
	}
	l->total = known ? total : -1;
}

/* Recomputes assigned partition p and the total. Under l->mu, which also
 * orders the writes of p's series: once revoked (0), never written again. */
static void lag_publish_locked(struct lag *l, int32_t p)
{
	struct lag_partition *lp = &l->parts[p];

	if (!lp->assigned)
		return;
	lp->lag = lag_compute(&lp->in);
	if (lp->lag >= 0)
		lag_set_gauge(l, p, lp->lag);
	lag_total_locked(l);
}

/* One round: the watermarks of every assigned partition, asked without the
 * lock held (each request may take up to LAG_QUERY_TIMEOUT_MS). */
static void lag_round(struct lag *l)
{
	size_t n = 0;

	for (int32_t p = 0; p < l->nparts; p++)
		if (l->parts[p].assigned)
			l->todo[n++] = p;
	for (size_t i = 0; i < n && !l->stopping; i++) {
		int32_t p = l->todo[i];
		int64_t lo = -1, hi = -1;
		rd_kafka_resp_err_t err;

		pthread_mutex_unlock(&l->mu);
		err = rd_kafka_query_watermark_offsets(l->rk, l->topic, p, &lo, &hi,
						       LAG_QUERY_TIMEOUT_MS);
		pthread_mutex_lock(&l->mu);
		if (err)
			continue; /* the statistics' figure stands meanwhile */
		l->parts[p].in.hi_queried = hi;
		l->parts[p].in.lo_queried = lo;
		lag_publish_locked(l, p);
	}
}

static void *lag_main(void *arg)
{
	struct lag *l = arg;

	pthread_mutex_lock(&l->mu);
	while (!l->stopping) {
		struct timespec until = clock_deadline_in(LAG_INTERVAL_MS);

		while (!l->stopping && pthread_cond_timedwait(&l->cv, &l->mu, &until) != ETIMEDOUT)
			;
		if (!l->stopping)
			lag_round(l);
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

int lag_start(struct lag **out, rd_kafka_t *rk, const char *topic, int32_t partitions,
	      struct metrics_family *gauge)
{
	struct lag *l = calloc(1, sizeof(*l));
	int r;

	*out = NULL;
	if (!l)
		return -ENOMEM;
	l->rk = rk;
	l->nparts = partitions > 0 ? partitions : 1;
	l->gauge = gauge;
	l->total = -1;
	l->topic = strdup(topic);
	l->parts = calloc((size_t)l->nparts, sizeof(*l->parts));
	l->todo = calloc((size_t)l->nparts, sizeof(*l->todo));
	if (!l->topic || !l->parts || !l->todo) {
		r = -ENOMEM;
		goto fail;
	}
	pthread_mutex_init(&l->mu, NULL);
	r = clock_cond_init(&l->cv); /* the interval on the monotonic clock */
	if (r == 0 && (r = pthread_create(&l->thread, NULL, lag_main, l)) != 0)
		pthread_cond_destroy(&l->cv);
	if (r != 0) {
		pthread_mutex_destroy(&l->mu);
		r = -r;
		goto fail;
	}
	*out = l;
	return 0;
fail:
	free(l->todo);
	free(l->parts);
	free(l->topic);
	free(l);
	return r;
}

void lag_assign(struct lag *l, int32_t partition, int64_t start)
{
	struct lag_partition *lp;

	if (!l || !lag_partition_ok(l, partition))
		return;
	pthread_mutex_lock(&l->mu);
	lp = &l->parts[partition];
	lp->assigned = true;
	lp->in = (struct lag_inputs){ -1, -1, -1, start, -1, -1 };
	lp->lag = -1;
	pthread_mutex_unlock(&l->mu);
}

void lag_revoke(struct lag *l, int32_t partition)
{
	if (!l || !lag_partition_ok(l, partition))
		return;
	pthread_mutex_lock(&l->mu);
	l->parts[partition].assigned = false;
	l->parts[partition].lag = -1;
	lag_set_gauge(l, partition, 0);
	lag_total_locked(l);
	pthread_mutex_unlock(&l->mu);
}

void lag_note_stats(struct lag *l, int32_t partition, int64_t hi, int64_t stored,
		    int64_t fallback)
{
	struct lag_partition *lp;

	if (!l || !lag_partition_ok(l, partition))
		return;
	pthread_mutex_lock(&l->mu);
	lp = &l->parts[partition];
	if (lp->assigned) {
		lp->in.hi_stats = hi;
		lp->in.stored = stored;
		lp->in.fallback = fallback;
		lag_publish_locked(l, partition);
	}
	pthread_mutex_unlock(&l->mu);
}

int64_t lag_total(struct lag *l)
{
	int64_t total;

	if (!l)
		return -1;
	pthread_mutex_lock(&l->mu);
	total = l->total;
	pthread_mutex_unlock(&l->mu);
	return total;
}

void lag_stop(struct lag *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->mu);
	l->stopping = true;
	pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
	pthread_join(l->thread, NULL);
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mu);
	free(l->todo);
	free(l->parts);
	free(l->topic);
	free(l);
}
