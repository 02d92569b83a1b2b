/* Table-driven tests for common/metrics: the exact text a registry renders,
 * the registrations it refuses, and counts that survive concurrent updates. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"

static void build_empty(struct metrics *m)
{
	(void)m;
}

static void build_counter(struct metrics *m)
{
	struct metrics_family *f = metrics_counter(m, "batches_total", "Batches seen.", NULL, NULL);

	metrics_counter_add(f, NULL, 2);
	metrics_counter_add(f, "ignored", 3); /* unlabelled: the value is ignored */
}

static void build_labelled_counter(struct metrics *m)
{
	static const char *const outcomes[] = { "ok", "error", NULL };
	struct metrics_family *f =
		metrics_counter(m, "requests_total", "Requests by outcome.", "outcome", outcomes);

	metrics_counter_add(f, "error", 1);
	metrics_counter_add(f, "late", 7); /* not declared: appended */
	metrics_counter_add(f, "error", 1);
}

static void build_gauge(struct metrics *m)
{
	struct metrics_family *up = metrics_gauge(m, "db_up", "1 when the database answers.", NULL, NULL);
	struct metrics_family *lag = metrics_gauge(m, "lag", "Lag by partition.", "partition", NULL);

	metrics_gauge_set(up, NULL, 1);
	metrics_gauge_set(lag, "3", 10);
	metrics_gauge_add(lag, "3", -2.5);
	metrics_gauge_set(lag, "11", 0.1);
}

static void build_histogram(struct metrics *m)
{
	static const double bounds[] = { 0.005, 0.1, 1 };
	struct metrics_family *f =
		metrics_histogram(m, "latency_seconds", "Latency.", NULL, NULL, bounds, 3);

	metrics_histogram_observe(f, NULL, 0.001);
	metrics_histogram_observe(f, NULL, 0.1); /* on a bound: that bucket */
	metrics_histogram_observe(f, NULL, 0.5);
	metrics_histogram_observe(f, NULL, 30);
	metrics_histogram_observe(f, NULL, NAN); /* dropped */
}

static void build_labelled_histogram(struct metrics *m)
{
	static const double bounds[] = { 1, 2 };
	static const char *const kinds[] = { "a", NULL };
	struct metrics_family *f = metrics_histogram(m, "size", "Sizes.", "kind", kinds, bounds, 2);

	metrics_histogram_observe(f, "b", 2);
}

static void build_escapes(struct metrics *m)
{
	struct metrics_family *f =
		metrics_counter(m, "esc_total", "Back\\slash and\nnewline.", "v", NULL);

	metrics_counter_add(f, "q\"b\\n\n", 1);
}

static void build_two_families(struct metrics *m)
{
	struct metrics_family *a = metrics_gauge(m, "a", "First.", NULL, NULL);
	struct metrics_family *b = metrics_counter(m, "b_total", "Second.", NULL, NULL);

	metrics_gauge_set(a, NULL, 1e21);
	metrics_counter_add(b, NULL, UINT64_MAX);
	metrics_counter_add(a, NULL, 1); /* wrong kind: ignored */
	metrics_counter_add(NULL, NULL, 1); /* NULL family: a no-op */
}

static void test_render(void **state)
{
	static const struct {
		const char *name;
		void (*build)(struct metrics *m);
		const char *want;
	} cases[] = {
		{ "empty", build_empty, "" },
		{ "counter", build_counter,
		  "# HELP batches_total Batches seen.\n"
		  "# TYPE batches_total counter\n"
		  "batches_total 5\n" },
		{ "labelled counter", build_labelled_counter,
		  "# HELP requests_total Requests by outcome.\n"
		  "# TYPE requests_total counter\n"
		  "requests_total{outcome=\"ok\"} 0\n"
		  "requests_total{outcome=\"error\"} 2\n"
		  "requests_total{outcome=\"late\"} 7\n" },
		{ "gauges", build_gauge,
		  "# HELP db_up 1 when the database answers.\n"
		  "# TYPE db_up gauge\n"
		  "db_up 1\n"
		  "# HELP lag Lag by partition.\n"
		  "# TYPE lag gauge\n"
		  "lag{partition=\"3\"} 7.5\n"
		  "lag{partition=\"11\"} 0.1\n" },
		{ "histogram", build_histogram,
		  "# HELP latency_seconds Latency.\n"
		  "# TYPE latency_seconds histogram\n"
		  "latency_seconds_bucket{le=\"0.005\"} 1\n"
		  "latency_seconds_bucket{le=\"0.1\"} 2\n"
		  "latency_seconds_bucket{le=\"1\"} 3\n"
		  "latency_seconds_bucket{le=\"+Inf\"} 4\n"
		  "latency_seconds_sum 30.601\n"
		  "latency_seconds_count 4\n" },
		{ "labelled histogram", build_labelled_histogram,
		  "# HELP size Sizes.\n"
		  "# TYPE size histogram\n"
		  "size_bucket{kind=\"a\",le=\"1\"} 0\n"
		  "size_bucket{kind=\"a\",le=\"2\"} 0\n"
		  "size_bucket{kind=\"a\",le=\"+Inf\"} 0\n"
		  "size_sum{kind=\"a\"} 0\n"
		  "size_count{kind=\"a\"} 0\n"
		  "size_bucket{kind=\"b\",le=\"1\"} 0\n"
		  "size_bucket{kind=\"b\",le=\"2\"} 1\n"
		  "size_bucket{kind=\"b\",le=\"+Inf\"} 1\n"
		  "size_sum{kind=\"b\"} 2\n"
		  "size_count{kind=\"b\"} 1\n" },
		{ "escapes", build_escapes,
		  "# HELP esc_total Back\\\\slash and\\nnewline.\n"
		  "# TYPE esc_total counter\n"
		  "esc_total{v=\"q\\\"b\\\\n\\n\"} 1\n" },
		{ "order, big numbers, wrong kinds", build_two_families,
		  "# HELP a First.\n"
		  "# TYPE a gauge\n"
		  "a 1e+21\n"
		  "# HELP b_total Second.\n"
		  "# TYPE b_total counter\n"
		  "b_total 18446744073709551615\n" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct metrics *m = metrics_new();
		char *text = NULL;
		size_t len = 0;

		print_message("# case %s\n", cases[i].name);
		assert_non_null(m);
		cases[i].build(m);
		assert_int_equal(metrics_render(m, &text, &len), 0);
		assert_non_null(text);
		assert_string_equal(text, cases[i].want);
		assert_int_equal(len, strlen(cases[i].want));
		free(text);
		metrics_free(m);
	}
}

static void test_register_errors(void **state)
{
	static const double good[] = { 1, 2 }, unordered[] = { 2, 1 }, inf[] = { 1, INFINITY };
	static const struct {
		const char *name, *label;
		int histogram;
		const double *bounds;
		size_t nbounds;
		int want_errno; /* 0: accepted */
	} cases[] = {
		{ "ok_name:sub", NULL, 0, NULL, 0, 0 },
		{ "", NULL, 0, NULL, 0, EINVAL },
		{ "9starts_with_digit", NULL, 0, NULL, 0, EINVAL },
		{ "has-dash", NULL, 0, NULL, 0, EINVAL },
		{ "bad_label", "with:colon", 0, NULL, 0, EINVAL },
		{ "reserved_label", "__x", 0, NULL, 0, EINVAL },
		{ "dup", NULL, 0, NULL, 0, 0 },
		{ "dup", NULL, 0, NULL, 0, EEXIST },
		{ "h_ok", "kind", 1, good, 2, 0 },
		{ "h_le", "le", 1, good, 2, EINVAL },
		{ "h_unordered", NULL, 1, unordered, 2, EINVAL },
		{ "h_inf", NULL, 1, inf, 2, EINVAL },
		{ "h_null_bounds", NULL, 1, NULL, 2, EINVAL },
	};
	struct metrics *m = metrics_new();

	(void)state;
	assert_non_null(m);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct metrics_family *f;

		errno = 0;
		if (cases[i].histogram)
			f = metrics_histogram(m, cases[i].name, "h", cases[i].label, NULL,
					      cases[i].bounds, cases[i].nbounds);
		else
			f = metrics_counter(m, cases[i].name, "h", cases[i].label, NULL);
		print_message("# case %zu %s: errno=%d\n", i, cases[i].name, errno);
		if (cases[i].want_errno) {
			assert_null(f);
			assert_int_equal(errno, cases[i].want_errno);
		} else {
			assert_non_null(f);
		}
	}
	metrics_free(m);
}

static void test_series_cap(void **state)
{
	struct metrics *m = metrics_new();
	struct metrics_family *f = metrics_counter(m, "c_total", "h", "k", NULL);
	char *text = NULL, v[16];
	size_t len = 0, lines = 0;

	(void)state;
	for (int i = 0; i < METRICS_SERIES_MAX + 10; i++) {
		snprintf(v, sizeof(v), "%d", i);
		metrics_counter_add(f, v, 1);
	}
	assert_int_equal(metrics_render(m, &text, &len), 0);
	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	assert_int_equal(lines, 2 + METRICS_SERIES_MAX);
	free(text);
	metrics_free(m);
}

#define THREADS 4
#define ADDS 20000

static void *hammer(void *arg)
{
	struct metrics_family **f = arg;

	for (int i = 0; i < ADDS; i++) {
		metrics_counter_add(f[0], (i & 1) ? "odd" : "even", 1);
		metrics_histogram_observe(f[1], NULL, 1);
	}
	return NULL;
}

static void test_concurrent(void **state)
{
	static const double bounds[] = { 0.5 };
	struct metrics *m = metrics_new();
	struct metrics_family *f[2];
	pthread_t t[THREADS];
	char *text = NULL;
	size_t len = 0;

	(void)state;
	f[0] = metrics_counter(m, "c_total", "h", "parity", NULL);
	f[1] = metrics_histogram(m, "h", "h", NULL, NULL, bounds, 1);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer, f), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(metrics_render(m, &text, &len), 0);
	assert_non_null(strstr(text, "c_total{parity=\"even\"} 40000\n"));
	assert_non_null(strstr(text, "c_total{parity=\"odd\"} 40000\n"));
	assert_non_null(strstr(text, "h_bucket{le=\"+Inf\"} 80000\nh_sum 80000\nh_count 80000\n"));
	free(text);
	metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_register_errors),
		cmocka_unit_test(test_series_cap),
		cmocka_unit_test(test_concurrent),
	};
	return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
