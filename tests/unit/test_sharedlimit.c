/* Table tests for the shared (Redis) rate limit's pure parts: the URL it
 * accepts, the key it stores (a hash, never the API key), and the headers'
 * numbers from the script's reply; plus a Redis that is not there failing
 * fast and open. The script itself runs in 0213-gateway-shared-ratelimit. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sharedlimit.h"

static const struct {
	const char *url;
	int ret;
	const char *host;
	unsigned port;
} urls[] = {
	{ "redis://127.0.0.1:6380", 0, "127.0.0.1", 6380 },
	{ "redis://localhost", 0, "localhost", 6379 },
	{ "redis://redis.internal:1", 0, "redis.internal", 1 },
	{ "redis://[::1]:7000", 0, "::1", 7000 },
	{ "redis://[::1]", 0, "::1", 6379 },
	{ "redis://::1:7000", -EINVAL, NULL, 0 },   /* IPv6 without brackets */
	{ "redis://:secret@host:6379", -EINVAL, NULL, 0 }, /* no password in a URL */
	{ "redis://host:6379/0", -EINVAL, NULL, 0 },
	{ "redis://host:6379?x=1", -EINVAL, NULL, 0 },
	{ "redis://host:0", -EINVAL, NULL, 0 },
	{ "redis://host:65536", -EINVAL, NULL, 0 },
	{ "redis://host:", -EINVAL, NULL, 0 },
	{ "redis://host:12a", -EINVAL, NULL, 0 },
	{ "redis://", -EINVAL, NULL, 0 },
	{ "rediss://host", -EINVAL, NULL, 0 },
	{ "http://host", -EINVAL, NULL, 0 },
	{ "host:6379", -EINVAL, NULL, 0 },
	{ "", -EINVAL, NULL, 0 },
};

static void test_parse_url(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		char host[SHAREDLIMIT_HOST_MAX + 1] = "";
		unsigned port = 0;
		int r = sharedlimit_parse_url(urls[i].url, host, &port);

		if (r != urls[i].ret)
			fail_msg("%s: returned %d, want %d", urls[i].url, r, urls[i].ret);
		if (r == 0) {
			assert_string_equal(host, urls[i].host);
			assert_int_equal(port, urls[i].port);
		}
	}
}

static void test_key(void **state)
{
	char k[SHAREDLIMIT_KEY_LEN + 1], k2[SHAREDLIMIT_KEY_LEN + 1];

	(void)state;
	assert_int_equal(sharedlimit_key("abc", 3, k), 0);
	/* SHA-256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad */
	assert_string_equal(k, "patients:rl:ba7816bf8f01cfea414140de5dae2223");
	assert_int_equal(strlen(k), SHAREDLIMIT_KEY_LEN);
	assert_int_equal(sharedlimit_key("abd", 3, k2), 0);
	assert_string_not_equal(k, k2);
	/* the key never appears in what is stored */
	assert_int_equal(sharedlimit_key("ak_secret_key", 13, k), 0);
	assert_null(strstr(k, "ak_secret"));
	assert_int_equal(sharedlimit_key("", 0, k), 0);
	assert_string_equal(k, "patients:rl:e3b0c44298fc1c149afbf4c8996fb924");
}

static const struct {
	const char *name;
	unsigned limit;
	long long allowed, ahead_us, retry_us;
	int ret;
	bool v_allowed;
	unsigned remaining, reset_s, retry_after_s;
} verdicts[] = {
	/* 600/min: one request every 100 ms, 60 s of window */
	{ "first of 600", 600, 1, 100000, 0, 0, true, 599, 1, 0 },
	{ "the 600th", 600, 1, 60000000, 0, 0, true, 0, 60, 0 },
	{ "half spent", 600, 1, 30000000, 0, 0, true, 300, 30, 0 },
	{ "just earned one back: floor", 600, 1, 59950000, 0, 0, true, 0, 60, 0 },
	{ "refused, one due in 40 ms", 600, 0, 59960000, 40000, 0, false, 0, 60, 1 },
	{ "refused, one due now: Retry-After >= 1", 600, 0, 59900000, 0, 0, false, 0, 60, 1 },
	{ "one a minute, refused", 1, 0, 30000000, 30000000, 0, false, 0, 30, 30 },
	{ "one a minute, allowed", 1, 1, 60000000, 0, 0, true, 0, 60, 0 },
	{ "60/min, 2.5 s of tat", 60, 1, 2500000, 0, 0, true, 57, 3, 0 },
	/* what no script of ours answers */
	{ "allowed 2", 600, 2, 100, 0, -EPROTO, false, 0, 0, 0 },
	{ "negative", 600, 1, -1, 0, -EPROTO, false, 0, 0, 0 },
	{ "past the window", 600, 1, 60000001, 0, -EPROTO, false, 0, 0, 0 },
	{ "negative retry", 600, 0, 100, -5, -EPROTO, false, 0, 0, 0 },
	{ "no limit", 0, 1, 100, 0, -EPROTO, false, 0, 0, 0 },
};

static void test_verdict(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(verdicts) / sizeof(verdicts[0]); i++) {
		struct ratelimit_verdict v = { .limit = 12345 };
		int r = sharedlimit_verdict(verdicts[i].limit, verdicts[i].allowed,
					    verdicts[i].ahead_us, verdicts[i].retry_us, &v);

		if (r != verdicts[i].ret)
			fail_msg("%s: returned %d", verdicts[i].name, r);
		if (r < 0) {
			assert_int_equal(v.limit, 12345); /* untouched */
			continue;
		}
		if (v.allowed != verdicts[i].v_allowed || v.limit != verdicts[i].limit ||
		    v.remaining != verdicts[i].remaining || v.reset_s != verdicts[i].reset_s ||
		    v.retry_after_s != verdicts[i].retry_after_s)
			fail_msg("%s: allowed=%d limit=%u remaining=%u reset=%u retry=%u",
				 verdicts[i].name, v.allowed, v.limit, v.remaining, v.reset_s,
				 v.retry_after_s);
	}
}

/* Nothing listens on port 1 of loopback: refused at once, and then no new
 * attempt before retry_ms (the second answer is -EAGAIN, not a connect). */
static void test_down_fails_open(void **state)
{
	struct sharedlimit_options o = {
		.url = "redis://127.0.0.1:1",
		.per_minute = 600,
		.timeout_ms = 5,
		.retry_ms = 600000,
		.connections = 1,
	};
	struct sharedlimit *sl = NULL;
	struct ratelimit_verdict v = { .limit = 7 };
	char err[256];

	(void)state;
	assert_int_equal(sharedlimit_new(&sl, &o, err, sizeof(err)), 0);
	assert_true(sharedlimit_check(sl, "k", &v) < 0);
	assert_int_equal(sharedlimit_check(sl, "k", &v), -EAGAIN);
	assert_int_equal(v.limit, 7);
	sharedlimit_free(sl);

	o.url = "redis://:pw@127.0.0.1:1";
	assert_int_equal(sharedlimit_new(&sl, &o, err, sizeof(err)), -EINVAL);
	assert_null(sl);
	assert_null(strstr(err, "pw")); /* the URL is not quoted */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_url),
		cmocka_unit_test(test_key),
		cmocka_unit_test(test_verdict),
		cmocka_unit_test(test_down_fails_open),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
