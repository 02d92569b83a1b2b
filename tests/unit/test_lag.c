/* Table-driven tests for daemon/worker/lag: which watermark and which
 * offset a partition's lag is computed from. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "lag.h"

#define BEGIN RD_KAFKA_OFFSET_BEGINNING
#define NONE RD_KAFKA_OFFSET_INVALID

static void test_compute(void **state)
{
	static const struct {
		const char *what;
		struct lag_inputs in; /* hi_queried, lo_queried, hi_stats, start, stored, fallback */
		int64_t want;
	} cases[] = {
		{ "nothing known", { -1, -1, -1, NONE, NONE, NONE }, -1 },
		{ "a watermark but no offset", { 50, 0, -1, NONE, NONE, NONE }, -1 },
		{ "an offset but no watermark", { -1, -1, -1, 10, 12, 12 }, -1 },
		{ "caught up", { 40, 0, 40, 40, 40, 40 }, 0 },
		{ "stored offset, fresh statistics", { -1, -1, 50, 10, 42, 42 }, 8 },
		/* paused: the statistics' watermark is frozen, the broker's moves */
		{ "paused: the broker's watermark wins", { 900, 0, 40, 10, 40, 40 }, 860 },
		{ "a query older than the statistics", { 40, 0, 50, 10, 42, 42 }, 8 },
		/* nothing stored yet since the assignment: PostgreSQL's offset */
		{ "PostgreSQL's offset before a store", { 100, 0, 60, 30, NONE, 55 }, 70 },
		/* a stored offset of an earlier assignment, older than PostgreSQL's */
		{ "stale stored offset", { 100, 0, 100, 80, 20, 20 }, 20 },
		{ "stored past the start", { 100, 0, 100, 80, 95, 95 }, 5 },
		{ "start at the beginning: the low watermark", { 100, 30, 100, BEGIN, NONE, 90 }, 70 },
		{ "start at the beginning, no answer yet: the fallback", { -1, -1, 100, BEGIN, NONE, 90 }, 10 },
		{ "start at the beginning, then stored", { 100, 30, 100, BEGIN, 60, 60 }, 40 },
		{ "no start (Kafka's committed offset)", { 100, 0, 100, NONE, NONE, 75 }, 25 },
		{ "never below 0 (watermark behind a store)", { 10, 0, 10, 0, 12, 12 }, 0 },
		{ "empty partition", { 0, 0, 0, 0, NONE, NONE }, 0 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t got = lag_compute(&cases[i].in);

		if (got != cases[i].want)
			fail_msg("%s: %lld, want %lld", cases[i].what, (long long)got,
				 (long long)cases[i].want);
	}
}

/* The bookkeeping without a broker: rk is never asked before the first
 * interval, so the thread is started on a consumer with no brokers. */
static void test_partitions(void **state)
{
	char errstr[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_t *rk;
	struct lag *l;
	(void)state;

	assert_int_equal(rd_kafka_conf_set(conf, "group.id", "t", errstr, sizeof(errstr)),
			 RD_KAFKA_CONF_OK);
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	assert_non_null(rk);
	assert_int_equal(lag_start(&l, rk, "t", 8, NULL), 0);
	assert_int_equal(lag_total(l), -1);
	lag_assign(l, 1, 10);
	lag_assign(l, 2, BEGIN);
	lag_note_stats(l, 1, 25, NONE, NONE);
	assert_int_equal(lag_total(l), 15);
	lag_note_stats(l, 2, 7, 3, 3);
	assert_int_equal(lag_total(l), 19);
	lag_note_stats(l, 1, 30, 12, 12);
	assert_int_equal(lag_total(l), 22);
	/* revoked: out of the total; statistics of it are ignored */
	lag_revoke(l, 1);
	assert_int_equal(lag_total(l), 4);
	lag_note_stats(l, 1, 90, 12, 12);
	assert_int_equal(lag_total(l), 4);
	/* reassigned: from the new start */
	lag_assign(l, 1, 80);
	lag_note_stats(l, 1, 90, 12, 12);
	assert_int_equal(lag_total(l), 14);
	/* out of range: ignored */
	lag_assign(l, 8, 0);
	lag_assign(l, -1, 0);
	lag_note_stats(l, 8, 100, 0, 0);
	assert_int_equal(lag_total(l), 14);
	lag_stop(l);
	lag_stop(NULL);
	assert_int_equal(lag_total(NULL), -1);
	rd_kafka_destroy(rk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compute),
		cmocka_unit_test(test_partitions),
	};

	return cmocka_run_group_tests_name("lag", tests, NULL, NULL);
}
