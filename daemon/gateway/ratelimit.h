/* ratelimit: N requests per minute per API key, smooth (GCRA: the generic
 * cell rate algorithm). A key may spend its whole minute at once (a burst
 * of N), after which it earns one request back every 60/N seconds, so
 * there is no cliff at the top of the minute. State is in this process
 * only: each gateway instance limits on its own. The clock is passed in,
 * so tests are deterministic. */
#ifndef PATIENTS_GATEWAY_RATELIMIT_H
#define PATIENTS_GATEWAY_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ratelimit;

/* What to tell the client: the X-RateLimit-* and Retry-After headers. */
struct ratelimit_verdict {
	bool allowed;
	unsigned limit;		/* requests per minute */
	unsigned remaining;	/* requests it could make right now */
	unsigned reset_s;	/* seconds until the full burst is back */
	unsigned retry_after_s; /* when refused: seconds until one is allowed (>= 1) */
};

/* A limiter of per_minute (>= 1) requests per minute per key. Returns 0 with
 * *out set, -EINVAL or -ENOMEM. */
int ratelimit_new(struct ratelimit **out, unsigned per_minute);

void ratelimit_free(struct ratelimit *rl);

/* Counts one request of key at now_ms (a monotonic clock, milliseconds)
 * when it is allowed, and fills *v either way. Thread-safe. When memory for
 * a new key runs short the request is allowed. */
void ratelimit_check(struct ratelimit *rl, const char *key, uint64_t now_ms,
		     struct ratelimit_verdict *v);

/* The headers for an answer that counted against no key (no or bad
 * credentials): the full limit, nothing spent. */
void ratelimit_unspent(const struct ratelimit *rl, struct ratelimit_verdict *v);

#endif
