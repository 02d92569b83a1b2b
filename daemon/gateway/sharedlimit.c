#include "config.h"

#include "sharedlimit.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <gnutls/crypto.h>
#include <hiredis/hiredis.h>

#include "clock.h"
#include "keys.h"
#include "log.h"
#include "metrics.h"

#define SHAREDLIMIT_DEFAULT_PORT 6379u
#define SHAREDLIMIT_SHA1_HEX 40

/* GCRA, as ratelimit.c, in one script so that reading and moving the
 * key's theoretical arrival time (tat, microseconds on Redis' clock) is
 * atomic across every gateway. TIME before a write is allowed since Redis
 * 5 (effects replication). The key expires once tat is in the past: a key
 * with nothing spent holds no memory. ARGV: interval_us, limit. */
static const char sharedlimit_script[] =
	"local t = redis.call('TIME')\n"
	"local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
	"local interval = tonumber(ARGV[1])\n"
	"local window = interval * tonumber(ARGV[2])\n"
	"local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0\n"
	"if tat < now then tat = now end\n"
	"local nxt = tat + interval\n"
	"if nxt > now + window then\n"
	"  return {0, tat - now, nxt - window - now}\n"
	"end\n"
	"redis.call('SET', KEYS[1], string.format('%d', nxt), 'PX',\n"
	"  string.format('%d', math.ceil((nxt - now) / 1000) + 1000))\n"
	"return {1, nxt - now, 0}\n";

struct sharedlimit_conn {
	pthread_mutex_t mu;
	redisContext *ctx;  /* NULL: not connected */
	uint64_t retry_at;  /* monotonic ms before which no connect is tried */
};

struct sharedlimit {
	char host[SHAREDLIMIT_HOST_MAX + 1];
	unsigned port;
	unsigned per_minute;
	unsigned long long interval_us;
	unsigned timeout_ms, retry_ms;
	char sha[SHAREDLIMIT_SHA1_HEX + 1];
	/* Known state, for the log (once per change) and the gauge. */
	pthread_mutex_t state_mu;
	int up; /* -1 unknown (start), 0 down, 1 up */
	struct metrics_family *m_fallback, *m_up;
	size_t nconns;
	atomic_size_t next; /* where a request starts looking for a free connection */
	struct sharedlimit_conn conns[];
};

int sharedlimit_parse_url(const char *url, char host[SHAREDLIMIT_HOST_MAX + 1], unsigned *port)
{
	static const char scheme[] = "redis://";
	const char *p, *end, *colon;
	size_t n;

	if (!url || strncmp(url, scheme, sizeof(scheme) - 1) != 0)
		return -EINVAL;
	p = url + sizeof(scheme) - 1;
	/* No credentials, database, path or query: a password in a URL would
	 * show in `ps` and in the start-up log. */
	if (strpbrk(p, "@/?#"))
		return -EINVAL;
	if (*p == '[') {
		end = strchr(p, ']');
		if (!end)
			return -EINVAL;
		n = (size_t)(end - p - 1);
		colon = end[1] == ':' ? end + 1 : NULL;
		if (end[1] != '\0' && !colon)
			return -EINVAL;
		p++;
	} else {
		colon = strchr(p, ':');
		if (colon && strchr(colon + 1, ':'))
			return -EINVAL; /* an IPv6 address wants brackets */
		n = colon ? (size_t)(colon - p) : strlen(p);
	}
	if (n == 0 || n > SHAREDLIMIT_HOST_MAX)
		return -EINVAL;
	memcpy(host, p, n);
	host[n] = '\0';
	*port = SHAREDLIMIT_DEFAULT_PORT;
	if (colon) {
		unsigned long v = 0;
		const char *d = colon + 1;

		if (*d == '\0' || strlen(d) > 5)
			return -EINVAL;
		for (; *d; d++) {
			if (*d < '0' || *d > '9')
				return -EINVAL;
			v = v * 10u + (unsigned long)(*d - '0');
		}
		if (v == 0 || v > 65535u)
			return -EINVAL;
		*port = (unsigned)v;
	}
	return 0;
}

int sharedlimit_key(const char *api_key, size_t len, char out[SHAREDLIMIT_KEY_LEN + 1])
{
	char hex[KEYS_HASH_HEX_LEN + 1];
	size_t plen = sizeof(SHAREDLIMIT_KEY_PREFIX) - 1;

	if (keys_hash_hex(api_key, len, hex) < 0)
		return -EIO;
	memcpy(out, SHAREDLIMIT_KEY_PREFIX, plen);
	memcpy(out + plen, hex, SHAREDLIMIT_KEY_HEX);
	out[plen + SHAREDLIMIT_KEY_HEX] = '\0';
	return 0;
}

static unsigned sharedlimit_ceil_s(unsigned long long us)
{
	return (unsigned)((us + 999999u) / 1000000u);
}

int sharedlimit_verdict(unsigned per_minute, long long allowed, long long ahead_us,
			long long retry_us, struct ratelimit_verdict *v)
{
	unsigned long long interval, window;

	if (per_minute == 0)
		return -EPROTO;
	interval = 60000000u / per_minute;
	if (interval == 0)
		interval = 1;
	window = interval * per_minute;
	if ((allowed != 0 && allowed != 1) || ahead_us < 0 || retry_us < 0 ||
	    (unsigned long long)ahead_us > window ||
	    (unsigned long long)retry_us > window + interval)
		return -EPROTO;
	v->limit = per_minute;
	v->reset_s = sharedlimit_ceil_s((unsigned long long)ahead_us);
	if (allowed) {
		v->allowed = true;
		v->remaining = (unsigned)((window - (unsigned long long)ahead_us) / interval);
		v->retry_after_s = 0;
	} else {
		v->allowed = false;
		v->remaining = 0;
		v->retry_after_s = sharedlimit_ceil_s((unsigned long long)retry_us);
		if (v->retry_after_s == 0)
			v->retry_after_s = 1;
	}
	return 0;
}

/* Logs and sets the gauge only when the state changes: an outage is two
 * lines, not one per request. */
static void sharedlimit_state(struct sharedlimit *sl, int up, int err)
{
	pthread_mutex_lock(&sl->state_mu);
	if (sl->up != up) {
		sl->up = up;
		metrics_gauge_set(sl->m_up, NULL, up);
		if (up)
			log_notice("ratelimit_redis_up", "redis=%s:%u", sl->host, sl->port);
		else
			log_warning("ratelimit_redis_down",
				    "redis=%s:%u error=%s action=local_limit retry_ms=%u", sl->host,
				    sl->port, strerror(-err), sl->retry_ms);
	}
	pthread_mutex_unlock(&sl->state_mu);
}

int sharedlimit_new(struct sharedlimit **out, const struct sharedlimit_options *opt, char *err,
		    size_t errsize)
{
	struct sharedlimit *sl = NULL;
	uint8_t digest[20];
	size_t n = opt->connections ? opt->connections : 1;
	int r;

	*out = NULL;
	if (opt->per_minute == 0 || opt->timeout_ms == 0) {
		snprintf(err, errsize, "shared rate limit: bad options");
		return -EINVAL;
	}
	sl = calloc(1, sizeof(*sl) + n * sizeof(sl->conns[0]));
	if (!sl) {
		snprintf(err, errsize, "out of memory");
		return -ENOMEM;
	}
	r = sharedlimit_parse_url(opt->url, sl->host, &sl->port);
	if (r < 0) {
		/* Not quoting the URL: whatever follows "redis://" may be a password. */
		snprintf(err, errsize, "--rate-limit-redis: expected redis://HOST[:PORT]");
		goto fail;
	}
	if (gnutls_hash_fast(GNUTLS_DIG_SHA1, sharedlimit_script, sizeof(sharedlimit_script) - 1,
			     digest) != 0) {
		snprintf(err, errsize, "cannot hash the rate limit script");
		r = -EIO;
		goto fail;
	}
	for (size_t i = 0; i < sizeof(digest); i++)
		snprintf(sl->sha + 2 * i, 3, "%02x", digest[i]);
	sl->per_minute = opt->per_minute;
	sl->interval_us = 60000000u / opt->per_minute;
	if (sl->interval_us == 0)
		sl->interval_us = 1;
	sl->timeout_ms = opt->timeout_ms;
	sl->retry_ms = opt->retry_ms;
	sl->up = -1;
	sl->nconns = n;
	pthread_mutex_init(&sl->state_mu, NULL);
	for (size_t i = 0; i < n; i++)
		pthread_mutex_init(&sl->conns[i].mu, NULL);
	if (opt->metrics) {
		sl->m_fallback = metrics_counter(
			opt->metrics, "patients_gateway_ratelimit_fallback_total",
			"requests limited by this gateway alone because Redis did not answer in time",
			NULL, NULL);
		sl->m_up = metrics_gauge(opt->metrics, "patients_gateway_ratelimit_redis_up",
					 "1 while the shared rate limit's Redis answers", NULL, NULL);
		if (!sl->m_fallback || !sl->m_up) {
			snprintf(err, errsize, "metrics: out of memory");
			r = -ENOMEM;
			goto fail_init;
		}
		metrics_counter_add(sl->m_fallback, NULL, 0);
		metrics_gauge_set(sl->m_up, NULL, 0);
	}
	*out = sl;
	return 0;
fail_init:
	for (size_t i = 0; i < n; i++)
		pthread_mutex_destroy(&sl->conns[i].mu);
	pthread_mutex_destroy(&sl->state_mu);
fail:
	free(sl);
	return r;
}

void sharedlimit_free(struct sharedlimit *sl)
{
	if (!sl)
		return;
	for (size_t i = 0; i < sl->nconns; i++) {
		if (sl->conns[i].ctx)
			redisFree(sl->conns[i].ctx);
		pthread_mutex_destroy(&sl->conns[i].mu);
	}
	pthread_mutex_destroy(&sl->state_mu);
	free(sl);
}

static struct timeval sharedlimit_tv(unsigned ms)
{
	return (struct timeval){ .tv_sec = ms / 1000u, .tv_usec = (long)(ms % 1000u) * 1000 };
}

/* hiredis' error, as a negative errno. */
static int sharedlimit_ctx_errno(const redisContext *c)
{
	if (!c)
		return -ENOMEM;
	switch (c->err) {
	case REDIS_ERR_IO:
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ETIMEDOUT ||
		    errno == EINPROGRESS)
			return -ETIMEDOUT;
		return errno ? -errno : -EIO;
	case REDIS_ERR_EOF:
		return -ECONNRESET;
	default:
		return -EIO;
	}
}

/* Connects c->ctx, within the timeout. Returns 0 or a negative errno (and
 * no new attempt before retry_ms). */
static int sharedlimit_connect(struct sharedlimit *sl, struct sharedlimit_conn *c, uint64_t now)
{
	struct timeval tv = sharedlimit_tv(sl->timeout_ms);
	redisContext *ctx;
	int r;

	if (now < c->retry_at)
		return -EAGAIN;
	c->retry_at = now + sl->retry_ms;
	errno = 0;
	ctx = redisConnectWithTimeout(sl->host, (int)sl->port, tv);
	if (!ctx || ctx->err) {
		r = sharedlimit_ctx_errno(ctx);
		if (ctx)
			redisFree(ctx);
		return r;
	}
	/* Every later read and write is bounded too. */
	if (redisSetTimeout(ctx, tv) != REDIS_OK) {
		redisFree(ctx);
		return -EIO;
	}
	c->ctx = ctx;
	return 0;
}

/* Reads the script's {allowed, ahead_us, retry_us}. */
static int sharedlimit_reply(struct sharedlimit *sl, const redisReply *rep,
			     struct ratelimit_verdict *v)
{
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 3)
		return -EPROTO;
	for (size_t i = 0; i < 3; i++)
		if (rep->element[i]->type != REDIS_REPLY_INTEGER)
			return -EPROTO;
	return sharedlimit_verdict(sl->per_minute, rep->element[0]->integer,
				   rep->element[1]->integer, rep->element[2]->integer, v);
}

static bool sharedlimit_noscript(const redisReply *rep)
{
	return rep->type == REDIS_REPLY_ERROR && rep->str && strncmp(rep->str, "NOSCRIPT", 8) == 0;
}

static int sharedlimit_eval(struct sharedlimit *sl, struct sharedlimit_conn *c, const char *key,
			    struct ratelimit_verdict *v)
{
	char interval[24], limit[16];
	redisReply *rep;
	int r;

	snprintf(interval, sizeof(interval), "%llu", sl->interval_us);
	snprintf(limit, sizeof(limit), "%u", sl->per_minute);
	errno = 0;
	rep = redisCommand(c->ctx, "EVALSHA %s 1 %s %s %s", sl->sha, key, interval, limit);
	if (rep && sharedlimit_noscript(rep)) {
		/* A restarted or flushed Redis: EVAL caches the script again. */
		freeReplyObject(rep);
		errno = 0;
		rep = redisCommand(c->ctx, "EVAL %s 1 %s %s %s", sharedlimit_script, key, interval,
				   limit);
	}
	if (!rep)
		return sharedlimit_ctx_errno(c->ctx);
	r = sharedlimit_reply(sl, rep, v);
	freeReplyObject(rep);
	return r;
}

int sharedlimit_check(struct sharedlimit *sl, const char *api_key, struct ratelimit_verdict *v)
{
	char key[SHAREDLIMIT_KEY_LEN + 1];
	struct sharedlimit_conn *c = NULL;
	size_t start = atomic_fetch_add(&sl->next, 1);
	uint64_t now;
	int r;

	r = sharedlimit_key(api_key, strlen(api_key), key);
	if (r < 0)
		goto out;
	/* A free connection, never a wait for a busy one: with one per HTTP
	 * thread there is always one. */
	for (size_t i = 0; i < sl->nconns; i++) {
		struct sharedlimit_conn *t = &sl->conns[(start + i) % sl->nconns];

		if (pthread_mutex_trylock(&t->mu) == 0) {
			c = t;
			break;
		}
	}
	if (!c) {
		r = -EAGAIN;
		goto out;
	}
	now = clock_mono_ms();
	if (!c->ctx) {
		r = sharedlimit_connect(sl, c, now);
		if (r < 0)
			goto unlock;
	}
	r = sharedlimit_eval(sl, c, key, v);
	if (r < 0 && r != -EPROTO) {
		/* A late reply must not be read as the next request's: the
		 * connection goes, and is tried again after retry_ms. */
		redisFree(c->ctx);
		c->ctx = NULL;
		c->retry_at = now + sl->retry_ms;
	}
unlock:
	pthread_mutex_unlock(&c->mu);
out:
	if (r == 0) {
		sharedlimit_state(sl, 1, 0);
	} else {
		metrics_counter_add(sl->m_fallback, NULL, 1);
		/* A wait for the next attempt or a busy pool says nothing new. */
		if (r != -EAGAIN)
			sharedlimit_state(sl, 0, r);
	}
	return r;
}
