/* Table-driven tests for the gateway's answers (answer.h): the headers on
 * every response, read back from a libmicrohttpd response that is never
 * sent (no daemon, no connection), and the error envelope's JSON with and
 * without a batch's problems. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <microhttpd.h>

#include "answer.h"
#include "patient.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define ID "01890a5d-ac96-774b-bcce-b302099a8057"

static const struct ratelimit_verdict rl = {
	.allowed = true, .limit = 600, .remaining = 599, .reset_s = 1, .retry_after_s = 7
};

static void test_headers(void **state)
{
	static const struct {
		const char *what;
		unsigned status;
		enum policy_unavailable unavailable;
		bool close;
		const char *allow;
		const char *retry_after; /* NULL: none */
	} cases[] = {
		{ "a 200", 200, POLICY_AVAILABLE, false, NULL, NULL },
		{ "a 429: the limiter's Retry-After", 429, POLICY_AVAILABLE, false, NULL, "7" },
		{ "a 503, the budget", 503, POLICY_UNAVAILABLE_BUDGET, false, NULL, "1" },
		{ "a 503, Kafka down", 503, POLICY_UNAVAILABLE_KAFKA_DOWN, false, NULL, "5" },
		{ "a 503 after publishing: no Retry-After", 503, POLICY_AVAILABLE, false, NULL, NULL },
		{ "a 405", 405, POLICY_AVAILABLE, false, "PUT", NULL },
		{ "a 400 that closes", 400, POLICY_AVAILABLE, true, NULL, NULL },
	};

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		struct answer_meta m = { .request_id = ID, .rl = &rl,
					 .unavailable = cases[i].unavailable,
					 .close = cases[i].close };
		struct MHD_Response *r = answer_new(&m, cases[i].status, "application/json", "{}", 2,
						    cases[i].allow);
		const char *v;

		print_message("# %s\n", cases[i].what);
		assert_non_null(r);
		assert_string_equal(MHD_get_response_header(r, "Content-Type"), "application/json");
		assert_string_equal(MHD_get_response_header(r, "Cache-Control"), "no-store");
		assert_string_equal(MHD_get_response_header(r, "X-Request-Id"), ID);
		assert_string_equal(MHD_get_response_header(r, "X-RateLimit-Limit"), "600");
		assert_string_equal(MHD_get_response_header(r, "X-RateLimit-Remaining"), "599");
		assert_string_equal(MHD_get_response_header(r, "X-RateLimit-Reset"), "1");
		v = MHD_get_response_header(r, "Retry-After");
		if (cases[i].retry_after)
			assert_string_equal(v, cases[i].retry_after);
		else
			assert_null(v);
		v = MHD_get_response_header(r, "Allow");
		if (cases[i].allow)
			assert_string_equal(v, cases[i].allow);
		else
			assert_null(v);
		v = MHD_get_response_header(r, "Connection");
		if (cases[i].close)
			assert_string_equal(v, "close");
		else
			assert_null(v);
		MHD_destroy_response(r);
	}
}

static void test_error_json(void **state)
{
	struct patient_error errors[] = {
		{ .index = -1, .field = "patients", .message = "not an array" },
		{ .index = 3, .field = "email", .message = "not an \"email\"/address" },
	};
	struct patient_batch b = { .errors = errors, .error_count = N(errors) };
	static const struct {
		unsigned status;
		const char *message;
		bool batch;
		const char *json;
	} cases[] = {
		{ 404, "not found", false,
		  "{\"error\":{\"status\":404,\"message\":\"not found\",\"details\":[]}}" },
		{ 422, "validation failed: 2 errors", true,
		  "{\"error\":{\"status\":422,\"message\":\"validation failed: 2 errors\",\"details\":["
		  "{\"index\":null,\"field\":\"patients\",\"message\":\"not an array\"},"
		  "{\"index\":3,\"field\":\"email\",\"message\":\"not an \\\"email\\\"/address\"}]}}" },
	};

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		struct json_object *o =
			answer_error_json(cases[i].status, cases[i].message, cases[i].batch ? &b : NULL);

		assert_non_null(o);
		assert_string_equal(json_object_to_json_string_ext(
					    o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
				    cases[i].json);
		json_object_put(o);
	}
}

static void test_error_response(void **state)
{
	struct answer_meta m = { .request_id = ID, .rl = &rl };
	struct MHD_Response *r;

	(void)state;
	r = answer_error(&m, 405, "method not allowed", NULL, "GET, HEAD");
	assert_non_null(r);
	assert_string_equal(MHD_get_response_header(r, "Content-Type"), "application/json");
	assert_string_equal(MHD_get_response_header(r, "Allow"), "GET, HEAD");
	assert_string_equal(MHD_get_response_header(r, "X-Request-Id"), ID);
	MHD_destroy_response(r);
	/* The success body is the one DESIGN.md s.2 shows. */
	assert_string_equal(ANSWER_SUCCESS, "{\"data\":[{\"message\":\"Success\"}]}");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_error_json),
		cmocka_unit_test(test_error_response),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
