/* Table-driven tests for the gateway's request pipeline decisions
 * (policy.h): routing, Content-Type, Content-Length and the refusals before
 * the body, the 503s before any work and their Retry-After, the dropped
 * body's bound, the chunked body's growth, the answer to each validation
 * result and delivery outcome, and how each answer is counted. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "patient.h"
#include "policy.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_route(void **state)
{
	static const struct {
		const char *path, *method;
		enum policy_route route;
		unsigned status;
		const char *allow;
	} cases[] = {
		{ "/healthz", "GET", POLICY_ROUTE_HEALTHZ, 0, NULL },
		{ "/healthz", "HEAD", POLICY_ROUTE_HEALTHZ, 0, NULL },
		{ "/healthz", "PUT", POLICY_ROUTE_ANSWER, 405, "GET, HEAD" },
		{ "/healthz", "get", POLICY_ROUTE_ANSWER, 405, "GET, HEAD" },
		{ "/v1/patients", "PUT", POLICY_ROUTE_PATIENTS, 0, NULL },
		{ "/v1/patients", "POST", POLICY_ROUTE_ANSWER, 405, "PUT" },
		{ "/v1/patients", "GET", POLICY_ROUTE_ANSWER, 405, "PUT" },
		{ "/v1/patients/", "PUT", POLICY_ROUTE_ANSWER, 404, NULL },
		{ "/V1/patients", "PUT", POLICY_ROUTE_ANSWER, 404, NULL },
		{ "/", "GET", POLICY_ROUTE_ANSWER, 404, NULL },
		{ "/v1/patients%2F", "PUT", POLICY_ROUTE_ANSWER, 404, NULL },
	};

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		struct policy_answer a;

		print_message("# %s %s\n", cases[i].method, cases[i].path);
		assert_int_equal(policy_route(cases[i].path, cases[i].method, &a), cases[i].route);
		assert_int_equal(a.status, cases[i].status);
		if (cases[i].status) {
			assert_string_equal(a.message, cases[i].status == 404 ? "not found"
									       : "method not allowed");
			assert_false(a.details);
		}
		if (cases[i].allow)
			assert_string_equal(a.allow, cases[i].allow);
		else
			assert_null(a.allow);
	}
}

static void test_is_json(void **state)
{
	static const struct {
		const char *type;
		bool json;
	} cases[] = {
		{ "application/json", true },
		{ "Application/JSON", true },
		{ " \tapplication/json \t", true },
		{ "application/json; charset=utf-8", true },
		{ "application/json;charset=utf-8", true },
		{ "application/jsonx", false },
		{ "application/json-patch+json", false },
		{ "text/json", false },
		{ "application/", false },
		{ "", false },
		{ NULL, false },
	};

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		print_message("# %s\n", cases[i].type ? cases[i].type : "(none)");
		assert_int_equal(policy_is_json(cases[i].type), cases[i].json);
	}
	assert_true(policy_expects_continue("100-continue"));
	assert_true(policy_expects_continue("100-Continue"));
	assert_false(policy_expects_continue("100-continue, x"));
	assert_false(policy_expects_continue(""));
	assert_false(policy_expects_continue(NULL));
}

static void test_length(void **state)
{
	/* --max-body-bytes 1000: over 4000 is never read. */
	static const struct {
		const char *value;
		bool expect_continue;
		enum policy_length what;
		size_t declared;
	} cases[] = {
		{ NULL, false, POLICY_LENGTH_READ, 0 }, /* none, or chunked */
		{ NULL, true, POLICY_LENGTH_READ, 0 },
		{ "0", false, POLICY_LENGTH_READ, 0 },
		{ "10", false, POLICY_LENGTH_READ, 10 },
		{ "1000", false, POLICY_LENGTH_READ, 1000 },
		{ "1000", true, POLICY_LENGTH_READ, 1000 },
		{ "1001", false, POLICY_LENGTH_DROP, 0 },
		{ "4000", false, POLICY_LENGTH_DROP, 0 },
		{ "4001", false, POLICY_LENGTH_REFUSE, 0 },
		{ "1001", true, POLICY_LENGTH_REFUSE, 0 },
		/* a malformed or overflowing one never gets here: framing_check
		 * answers it 400 (test_framing) */
	};

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		size_t declared = 12345;
		enum policy_length what;
		const char *value = cases[i].value;

		print_message("# Content-Length %s%s\n", value ? value : "(none)",
			      cases[i].expect_continue ? ", Expect: 100-continue" : "");
		what = policy_length(value != NULL, value ? strtoull(value, NULL, 10) : 0, 1000,
				     cases[i].expect_continue, &declared);
		assert_int_equal(what, cases[i].what);
		if (what == POLICY_LENGTH_READ)
			assert_int_equal(declared, cases[i].declared);
	}
}

static void test_before_body(void **state)
{
	static const struct {
		bool chunked;
		uint64_t length;
		bool expect_continue;
		bool now;
	} cases[] = {
		{ false, 0, false, false }, { false, 0, true, false },	 /* no body coming */
		{ false, 10, false, false }, { false, 10, true, true },	 /* it waits */
		{ true, 0, false, false },   { true, 0, true, true },	 /* chunked, it waits */
		{ false, 4000, false, false }, { false, 4001, false, true }, /* too large to drop */
	};

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		print_message("# chunked=%d length=%llu continue=%d\n", cases[i].chunked,
			      (unsigned long long)cases[i].length, cases[i].expect_continue);
		assert_int_equal(policy_refuse_before_body(cases[i].chunked, cases[i].length,
							   cases[i].expect_continue, 1000),
				 cases[i].now);
	}
	assert_true(policy_unavailable_at_once(0, false));
	assert_true(policy_unavailable_at_once(10, true));
	assert_false(policy_unavailable_at_once(10, false));
	assert_false(policy_unavailable_at_once(1, false)); /* chunked, no Continue */
	assert_false(policy_drop_over(4000, 1000));
	assert_true(policy_drop_over(4001, 1000));
}

static void test_body_cap(void **state)
{
	static const struct {
		size_t cap, need, max, out;
	} cases[] = {
		{ 0, 1, 1u << 20, 64 * 1024 },
		{ 0, 64 * 1024, 1u << 20, 64 * 1024 },
		{ 0, 64 * 1024 + 1, 1u << 20, 128 * 1024 },
		{ 64 * 1024, 300 * 1024, 1u << 20, 512 * 1024 },
		{ 512 * 1024, 600 * 1024, 1u << 20, 1u << 20 },
		{ 512 * 1024, 600 * 1024, 700 * 1024, 700 * 1024 }, /* never over the limit */
		{ 0, 10, 100, 100 },
		{ 1000, 1500, 100000, 2000 }, /* a declared length's buffer doubles too */
	};

	(void)state;
	for (size_t i = 0; i < N(cases); i++)
		assert_int_equal(policy_body_cap(cases[i].cap, cases[i].need, cases[i].max),
				 cases[i].out);
}

static void test_unavailable(void **state)
{
	static const struct {
		enum policy_unavailable why;
		const char *message;
		unsigned retry_after;
	} cases[] = {
		{ POLICY_AVAILABLE, NULL, 0 },
		{ POLICY_UNAVAILABLE_BUDGET,
		  "the gateway is at its limit of bytes in flight; nothing was stored, retry later",
		  POLICY_RETRY_AFTER_BUDGET_S },
		{ POLICY_UNAVAILABLE_KAFKA_DOWN, "Kafka is unreachable; nothing was stored, retry later",
		  POLICY_RETRY_AFTER_KAFKA_DOWN_S },
	};

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		const char *m = policy_unavailable_message(cases[i].why);

		if (cases[i].message)
			assert_string_equal(m, cases[i].message);
		else
			assert_null(m);
		assert_int_equal(policy_retry_after_s(cases[i].why), cases[i].retry_after);
	}
	assert_int_equal(POLICY_RETRY_AFTER_BUDGET_S, 1);
	assert_int_equal(POLICY_RETRY_AFTER_KAFKA_DOWN_S, 5);
}

static void test_messages(void **state)
{
	char buf[128];

	(void)state;
	assert_string_equal(policy_rate_message(buf, sizeof(buf), 600),
			    "over 600 requests per minute for this API key");
	assert_string_equal(policy_too_large_message(buf, sizeof(buf), 1048576),
			    "the body is over the limit of 1048576 bytes");
}

static void test_batch(void **state)
{
	struct patient_error one = { .index = 2, .field = "email", .message = "not an email" };
	struct patient_error two[2] = { { .index = 0, .field = "name", .message = "missing" },
					{ .index = 1, .field = "name", .message = "missing" } };
	static const struct {
		int r;
		size_t errors;
		bool truncated;
		unsigned status;
		const char *message;
		bool details;
	} cases[] = {
		{ 0, 0, false, 0, NULL, false },
		{ -EBADMSG, 0, false, 400, "the body is not a JSON object", true },
		{ -EBADMSG, 1, false, 400, "not an email", true },
		{ -EINVAL, 1, false, 422, "validation failed: 1 error", true },
		{ -EINVAL, 2, false, 422, "validation failed: 2 errors", true },
		{ -EINVAL, 2, true, 422, "validation failed: 2 errors (only the first ones are listed)",
		  true },
		{ -ENOMEM, 0, false, 503, "out of memory", false },
	};

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		struct patient_batch b = { .error_count = cases[i].errors,
					   .errors_truncated = cases[i].truncated };
		struct policy_answer a;
		char buf[128];

		b.errors = cases[i].errors == 1 ? &one : two;
		print_message("# r=%d errors=%zu\n", cases[i].r, cases[i].errors);
		a = policy_batch(cases[i].r, &b, buf, sizeof(buf));
		assert_int_equal(a.status, cases[i].status);
		assert_int_equal(a.details, cases[i].details);
		assert_null(a.allow);
		if (cases[i].message)
			assert_string_equal(a.message, cases[i].message);
	}
}

static void test_delivery(void **state)
{
	static const struct {
		int err;
		enum policy_outcome outcome;
		unsigned status;
		const char *message;
	} cases[] = {
		{ 0, POLICY_OUTCOME_DELIVERED, 200, NULL },
		{ -ETIMEDOUT, POLICY_OUTCOME_TIMEOUT, 503,
		  "Kafka did not confirm the batch in time; nothing was promised, retrying is safe" },
		{ -EIO, POLICY_OUTCOME_FAILED, 503,
		  "Kafka refused the batch; nothing was promised, retrying is safe" },
		{ -EMSGSIZE, POLICY_OUTCOME_FAILED, 503,
		  "Kafka refused the batch; nothing was promised, retrying is safe" },
		{ -ENOBUFS, POLICY_OUTCOME_FAILED, 503,
		  "Kafka refused the batch; nothing was promised, retrying is safe" },
	};

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		enum policy_outcome o = policy_outcome_of(cases[i].err);
		struct policy_answer a;

		assert_int_equal(o, cases[i].outcome);
		a = policy_delivery(o);
		assert_int_equal(a.status, cases[i].status);
		assert_false(a.details);
		if (cases[i].message)
			assert_string_equal(a.message, cases[i].message);
		else
			assert_null(a.message);
	}
}

static void test_tally(void **state)
{
	static const struct {
		unsigned status;
		size_t patients;
		enum policy_tally tally;
	} cases[] = {
		{ 200, 3, POLICY_TALLY_PUBLISHED }, { 200, 0, POLICY_TALLY_NONE },
		{ 400, 0, POLICY_TALLY_REJECTED },  { 401, 0, POLICY_TALLY_REJECTED },
		{ 422, 5, POLICY_TALLY_REJECTED },  { 429, 0, POLICY_TALLY_REJECTED },
		{ 431, 0, POLICY_TALLY_REJECTED },  { 499, 0, POLICY_TALLY_REJECTED },
		{ 501, 0, POLICY_TALLY_FAILED },    { 503, 2, POLICY_TALLY_FAILED },
		{ 0, 0, POLICY_TALLY_FAILED },	    /* aborted: no answer sent */
		{ 100, 0, POLICY_TALLY_NONE },	    { 304, 0, POLICY_TALLY_NONE },
	};

	(void)state;
	for (size_t i = 0; i < N(cases); i++)
		assert_int_equal(policy_tally(cases[i].status, cases[i].patients), cases[i].tally);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_route),	     cmocka_unit_test(test_is_json),
		cmocka_unit_test(test_length),	     cmocka_unit_test(test_before_body),
		cmocka_unit_test(test_body_cap),     cmocka_unit_test(test_unavailable),
		cmocka_unit_test(test_messages),     cmocka_unit_test(test_batch),
		cmocka_unit_test(test_delivery),     cmocka_unit_test(test_tally),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
