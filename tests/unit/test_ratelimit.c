/* Table-driven tests for the gateway's GCRA rate limiter, on a clock the
 * test drives: the burst, the smooth refill, the headers' numbers, keys
 * kept apart. */
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

#include "ratelimit.h"

struct step {
	const char *key;
	uint64_t at_ms;
	unsigned repeat; /* the same request this many times (0 = once) */
	bool allowed;	 /* of the last one */
	unsigned remaining, reset_s, retry_after_s;
};

struct scenario {
	const char *name;
	unsigned limit;
	struct step steps[12];
};

static const struct scenario scenarios[] = {
	{ "the default: 600 at once, the 601st refused", 600, {
		{ "k", 0, 0, true, 599, 1, 0 },
		{ "k", 0, 597, true, 1, 60, 0 },
		{ "k", 0, 0, true, 0, 60, 0 },	 /* the 600th */
		{ "k", 0, 0, false, 0, 60, 1 },	 /* the 601st */
		{ "k", 50, 0, false, 0, 60, 1 }, /* half an interval later: still no */
		{ "k", 100, 0, true, 0, 60, 0 }, /* 60/600 s later: one more */
		{ "k", 100, 0, false, 0, 60, 1 },
		{ "k", 1100, 9, true, 0, 60, 0 }, /* a second later: ten more */
		{ "k", 1100, 0, false, 0, 60, 1 },
		{ "other", 1100, 0, true, 599, 1, 0 }, /* keys are apart */
		{ "k", 61100, 0, true, 599, 1, 0 },    /* a quiet minute: all back */
	} },
	{ "one a minute", 1, {
		{ "k", 0, 0, true, 0, 60, 0 },
		{ "k", 1, 0, false, 0, 60, 60 },
		{ "k", 59000, 0, false, 0, 1, 1 },
		{ "k", 60000, 0, true, 0, 60, 0 },
	} },
	{ "smooth, not a fixed window", 60, {
		{ "k", 0, 59, true, 0, 60, 0 }, /* all 60 */
		{ "k", 30000, 29, true, 0, 60, 0 }, /* half a minute: 30 back, not 0 nor 60 */
		{ "k", 30000, 0, false, 0, 60, 1 },
		{ "k", 30500, 0, false, 0, 60, 1 },
		{ "k", 31000, 0, true, 0, 60, 0 },
	} },
};

static void test_scenarios(void **state)
{
	(void)state;
	for (size_t s = 0; s < sizeof(scenarios) / sizeof(scenarios[0]); s++) {
		const struct scenario *sc = &scenarios[s];
		struct ratelimit *rl = NULL;

		print_message("# scenario: %s\n", sc->name);
		assert_int_equal(ratelimit_new(&rl, sc->limit), 0);
		for (size_t i = 0; i < 12 && sc->steps[i].key; i++) {
			const struct step *st = &sc->steps[i];
			struct ratelimit_verdict v;

			for (unsigned r = 0; r < st->repeat; r++) {
				ratelimit_check(rl, st->key, st->at_ms, &v);
				assert_true(v.allowed);
			}
			ratelimit_check(rl, st->key, st->at_ms, &v);
			print_message("#   step %zu: allowed=%d remaining=%u reset=%u retry=%u\n", i,
				      v.allowed, v.remaining, v.reset_s, v.retry_after_s);
			assert_int_equal(v.allowed, st->allowed);
			assert_int_equal(v.limit, sc->limit);
			assert_int_equal(v.remaining, st->remaining);
			assert_int_equal(v.reset_s, st->reset_s);
			assert_int_equal(v.retry_after_s, st->retry_after_s);
		}
		ratelimit_free(rl);
	}
}

static void test_unspent_and_errors(void **state)
{
	struct ratelimit *rl = NULL;
	struct ratelimit_verdict v;

	(void)state;
	assert_int_equal(ratelimit_new(&rl, 0), -EINVAL);
	assert_null(rl);
	assert_int_equal(ratelimit_new(&rl, 600), 0);
	ratelimit_unspent(rl, &v);
	assert_true(v.allowed);
	assert_int_equal(v.limit, 600);
	assert_int_equal(v.remaining, 600);
	assert_int_equal(v.reset_s, 0);
	ratelimit_free(rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scenarios),
		cmocka_unit_test(test_unspent_and_errors),
	};
	return cmocka_run_group_tests_name("ratelimit", tests, NULL, NULL);
}
