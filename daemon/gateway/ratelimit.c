#include "config.h"

#include "ratelimit.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define RATELIMIT_BUCKETS 1024 /* power of two */

struct ratelimit_entry {
	struct ratelimit_entry *next;
	uint64_t tat_us; /* theoretical arrival time of the next request */
	char key[];
};

struct ratelimit {
	unsigned limit;
	uint64_t interval_us; /* one request's share of the minute */
	uint64_t window_us;   /* limit * interval: how far ahead tat may run */
	pthread_mutex_t mu;
	struct ratelimit_entry *buckets[RATELIMIT_BUCKETS];
};

int ratelimit_new(struct ratelimit **out, unsigned per_minute)
{
	struct ratelimit *rl;

	*out = NULL;
	if (per_minute == 0)
		return -EINVAL;
	rl = calloc(1, sizeof(*rl));
	if (!rl)
		return -ENOMEM;
	rl->limit = per_minute;
	rl->interval_us = 60000000u / per_minute;
	if (rl->interval_us == 0)
		rl->interval_us = 1;
	rl->window_us = rl->interval_us * per_minute;
	pthread_mutex_init(&rl->mu, NULL);
	*out = rl;
	return 0;
}

void ratelimit_free(struct ratelimit *rl)
{
	if (!rl)
		return;
	for (size_t i = 0; i < RATELIMIT_BUCKETS; i++) {
		struct ratelimit_entry *e = rl->buckets[i], *next;
		for (; e; e = next) {
			next = e->next;
			free(e);
		}
	}
	pthread_mutex_destroy(&rl->mu);
	free(rl);
}

static size_t ratelimit_hash(const char *s)
{
	uint64_t h = 1469598103934665603u; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return (size_t)(h & (RATELIMIT_BUCKETS - 1));
}

static unsigned ratelimit_ceil_s(uint64_t us)
{
	return (unsigned)((us + 999999u) / 1000000u);
}

void ratelimit_unspent(const struct ratelimit *rl, struct ratelimit_verdict *v)
{
	*v = (struct ratelimit_verdict){
		.allowed = true,
		.limit = rl->limit,
		.remaining = rl->limit,
	};
}

void ratelimit_check(struct ratelimit *rl, const char *key, uint64_t now_ms,
		     struct ratelimit_verdict *v)
{
	uint64_t now = now_ms * 1000u, tat, next_tat;
	size_t b = ratelimit_hash(key);
	struct ratelimit_entry *e;

	pthread_mutex_lock(&rl->mu);
	for (e = rl->buckets[b]; e; e = e->next)
		if (strcmp(e->key, key) == 0)
			break;
	if (!e) {
		size_t len = strlen(key);

		e = malloc(sizeof(*e) + len + 1);
		if (!e) {
			pthread_mutex_unlock(&rl->mu);
			ratelimit_unspent(rl, v);
			return;
		}
		memcpy(e->key, key, len + 1);
		e->tat_us = 0;
		e->next = rl->buckets[b];
		rl->buckets[b] = e;
	}
	tat = e->tat_us > now ? e->tat_us : now;
	next_tat = tat + rl->interval_us;
	v->limit = rl->limit;
	if (next_tat > now + rl->window_us) {
		/* Refused: it may come back once tat has drained to one window. */
		v->allowed = false;
		v->remaining = 0;
		v->retry_after_s = ratelimit_ceil_s(next_tat - rl->window_us - now);
		if (v->retry_after_s == 0)
			v->retry_after_s = 1;
		v->reset_s = ratelimit_ceil_s(tat - now);
	} else {
		e->tat_us = next_tat;
		v->allowed = true;
		v->remaining = (unsigned)((now + rl->window_us - next_tat) / rl->interval_us);
		v->retry_after_s = 0;
		v->reset_s = ratelimit_ceil_s(next_tat - now);
	}
	pthread_mutex_unlock(&rl->mu);
}
