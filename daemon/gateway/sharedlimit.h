/* sharedlimit: the rate limit kept in Redis, so that every gateway behind a
 * load balancer spends from the same N requests per minute per API key.
 * The same GCRA as ratelimit.h, run as one Lua script per request
 * (EVALSHA, EVAL when Redis answers NOSCRIPT), on Redis' own clock, so the
 * gateways' clocks need not agree. The key in Redis is a SHA-256 prefix
 * of the API key, never the key itself.
 *
 * It fails open: when Redis does not answer within the timeout (down,
 * slow, unreachable, a reply it cannot read) sharedlimit_check says so and
 * the caller uses its local limiter; the connection is dropped and tried
 * again at most every retry_ms, so a Redis outage costs a request at most
 * one timeout (twice on a reconnect attempt), and usually nothing. */
#ifndef PATIENTS_GATEWAY_SHAREDLIMIT_H
#define PATIENTS_GATEWAY_SHAREDLIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ratelimit.h"

#define SHAREDLIMIT_HOST_MAX 255
/* "patients:rl:" and 32 hex digits (128 bits of SHA-256). */
#define SHAREDLIMIT_KEY_PREFIX "patients:rl:"
#define SHAREDLIMIT_KEY_HEX 32
#define SHAREDLIMIT_KEY_LEN (sizeof(SHAREDLIMIT_KEY_PREFIX) - 1 + SHAREDLIMIT_KEY_HEX)

struct metrics;
struct sharedlimit;

struct sharedlimit_options {
	const char *url;	 /* redis://HOST[:PORT] */
	unsigned per_minute;	 /* the limit (>= 1), as --rate-limit */
	unsigned timeout_ms;	 /* connect and each command, at most */
	unsigned retry_ms;	 /* a lost connection is tried again after it */
	unsigned connections;	 /* pool size: one per HTTP thread */
	struct metrics *metrics; /* borrowed; NULL: no metrics */
};

/* Parses redis://HOST[:PORT] (port 6379 by default; HOST may be an IPv4
 * or IPv6 address in brackets, or a name). Returns 0 with host (NUL-ended)
 * and *port set, or -EINVAL (anything else: user, password, path, query). */
int sharedlimit_parse_url(const char *url, char host[SHAREDLIMIT_HOST_MAX + 1], unsigned *port);

/* Writes the Redis key for api_key (NUL-ended). Returns 0 or -EIO. */
int sharedlimit_key(const char *api_key, size_t len, char out[SHAREDLIMIT_KEY_LEN + 1]);

/* Turns the script's answer {allowed, ahead_us, retry_us} (ahead_us: how
 * far the key's theoretical arrival time is ahead of Redis' now, after
 * this request when allowed; retry_us: when refused, until one would be
 * allowed) into the headers' numbers for a limit of per_minute. Returns 0,
 * or -EPROTO when the numbers cannot come from the script (v untouched). */
int sharedlimit_verdict(unsigned per_minute, long long allowed, long long ahead_us,
			long long retry_us, struct ratelimit_verdict *v);

/* A limiter on Redis; it connects on first use, not here, so a Redis that
 * is down at start does not stop the gateway. Returns 0 with *out set,
 * -EINVAL (bad URL or option) or -ENOMEM, with a message in err. */
int sharedlimit_new(struct sharedlimit **out, const struct sharedlimit_options *opt, char *err,
		    size_t errsize);

void sharedlimit_free(struct sharedlimit *sl);

/* Counts one request of api_key in Redis and fills *v. Thread-safe; blocks
 * at most the timeout (twice when it reconnects). Returns 0, or a negative
 * errno when Redis did not decide (v untouched; counted in
 * patients_gateway_ratelimit_fallback_total): -EAGAIN (no connection
 * now, or every connection busy), -ETIMEDOUT, -ECONNREFUSED, -EIO,
 * -EPROTO. */
int sharedlimit_check(struct sharedlimit *sl, const char *api_key, struct ratelimit_verdict *v);

#endif
