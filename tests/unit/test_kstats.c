/* Table-driven tests for daemon/worker/kstats: what the worker reads in
 * librdkafka's statistics JSON (brokers up or down, each partition's lag
 * offsets and their fallbacks) and what it does with a report that does not
 * parse. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kstats.h"

#define MAXP 4

struct seen {
	size_t n;
	struct kstats_partition p[MAXP];
};

static void note(void *arg, const struct kstats_partition *p)
{
	struct seen *s = arg;

	assert_true(s->n < MAXP);
	s->p[s->n++] = *p;
}

/* The shape librdkafka 2.0 writes, cut down to what is read. */
#define BROKERS(a, b)                                                                           \
	"\"brokers\":{\"k1:9092/1\":{\"state\":\"" a "\"},\"k2:9092/2\":{\"state\":\"" b "\"}}"
#define TOPIC(parts) "\"topics\":{\"patients\":{\"topic\":\"patients\",\"partitions\":{" parts "}}}"

static void test_parse(void **state)
{
	static const struct {
		const char *what, *json;
		int want_rc;
		bool want_up;
		size_t want_n;
		struct kstats_partition want[MAXP];
	} cases[] = {
		{ "one broker up", "{" BROKERS("DOWN", "UP") "}", 0, true, 0, { { 0 } } },
		{ "every broker down", "{" BROKERS("DOWN", "CONNECT") "}", 0, false, 0, { { 0 } } },
		{ "no brokers at all", "{}", 0, false, 0, { { 0 } } },
		{ "brokers not an object", "{\"brokers\":[1,2]}", 0, false, 0, { { 0 } } },
		{ "a broker without state", "{\"brokers\":{\"k1\":{}}}", 0, false, 0, { { 0 } } },
		{ "a state that is not a string", "{\"brokers\":{\"k1\":{\"state\":null},"
		  "\"k2\":{\"state\":1}}}", 0, false, 0, { { 0 } } },
		{ "every offset there",
		  "{" BROKERS("UP", "UP") "," TOPIC("\"0\":{\"hi_offset\":100,\"stored_offset\":90,"
						   "\"committed_offset\":80,\"app_offset\":85}") "}",
		  0, true, 1, { { 0, 100, 90, 80 } } },
		/* The fallback: committed, else app, else next; -1 for none. */
		{ "fallback: app_offset",
		  "{" TOPIC("\"3\":{\"hi_offset\":7,\"app_offset\":5,\"next_offset\":6}") "}", 0,
		  false, 1, { { 3, 7, -1, 5 } } },
		{ "fallback: next_offset", "{" TOPIC("\"1\":{\"next_offset\":6}") "}", 0, false, 1,
		  { { 1, -1, -1, 6 } } },
		{ "fallback: a negative committed offset is passed over",
		  "{" TOPIC("\"1\":{\"committed_offset\":-1001,\"app_offset\":4}") "}", 0, false, 1,
		  { { 1, -1, -1, 4 } } },
		{ "nothing known", "{" TOPIC("\"2\":{}") "}", 0, false, 1, { { 2, -1, -1, -1 } } },
		/* librdkafka's internal partition -1, and keys that are no ids. */
		{ "-1 and non-numeric keys skipped",
		  "{" TOPIC("\"-1\":{\"hi_offset\":1},\"x\":{},\"\":{},\"2x\":{},"
			    "\"99999999999\":{},\"0\":{\"hi_offset\":3}") "}",
		  0, false, 1, { { 0, 3, -1, -1 } } },
		{ "another topic only",
		  "{\"topics\":{\"other\":{\"partitions\":{\"0\":{\"hi_offset\":1}}}}}", 0, false,
		  0, { { 0 } } },
		{ "partitions not an object", "{\"topics\":{\"patients\":{\"partitions\":1}}}", 0,
		  false, 0, { { 0 } } },
		{ "malformed: cut short", "{\"brokers\":{\"k1\":{\"state\":\"UP\"", -EBADMSG, false,
		  0, { { 0 } } },
		{ "malformed: not JSON", "brokers=UP", -EBADMSG, false, 0, { { 0 } } },
		{ "malformed: empty", "", -EBADMSG, false, 0, { { 0 } } },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct seen s = { 0 };
		bool up = !cases[i].want_up; /* must be set (or, on error, left) */
		bool before = up;
		int rc = kstats_parse(cases[i].json, strlen(cases[i].json), "patients", &up, note, &s);

		print_message("%s: rc %d up %d n %zu\n", cases[i].what, rc, up, s.n);
		assert_int_equal(rc, cases[i].want_rc);
		assert_int_equal(up, rc < 0 ? before : cases[i].want_up);
		assert_int_equal(s.n, cases[i].want_n);
		for (size_t j = 0; j < s.n; j++) {
			assert_int_equal(s.p[j].partition, cases[i].want[j].partition);
			assert_int_equal(s.p[j].hi_offset, cases[i].want[j].hi_offset);
			assert_int_equal(s.p[j].stored_offset, cases[i].want[j].stored_offset);
			assert_int_equal(s.p[j].fallback, cases[i].want[j].fallback);
		}
	}
}

/* The length is what counts, not a NUL: librdkafka's buffer is not cut at
 * the report's end. */
static void test_length(void **state)
{
	static const char json[] = "{\"brokers\":{\"k1\":{\"state\":\"UP\"}}}garbage";
	struct seen s = { 0 };
	bool up = false;

	(void)state;
	assert_int_equal(kstats_parse(json, strlen(json) - strlen("garbage"), "patients", &up, note,
				      &s),
			 0);
	assert_true(up);
	assert_int_equal(kstats_parse(json, 10, "patients", &up, note, &s), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_length),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
