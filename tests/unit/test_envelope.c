/* Table-driven tests for common/envelope: the Kafka message value of
 * DESIGN.md s.3, its metadata checks, and every way a value can be wrong. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "envelope.h"
#include "patient.h"
#include "uuid7.h"

#define RID "01936f5e-8a2b-7c3d-9e4f-0123456789ab"
#define AT "2026-11-24T10:00:00.123Z"
#define BODY                                                                                   \
	"{\"patients\":[{\"code\":\"c1\",\"first_name\":\"Jos\u00e9 \\\"Pepe\\\"\","              \
	"\"gender\":\"male\",\"birthdate\":\"1990-01-02\",\"x\":[1.50,  2e3, \"\\u00e9\"]}]}"

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void test_round_trip(void **state)
{
	static const struct envelope_meta metas[] = {
		{ "acme", RID, NULL, AT },
		{ "a", RID, "client-123", AT },
		{ "Tenant_1.prod-eu", RID, "with \"quotes\" and \\back\\slashes", AT },
		{ "0123456789012345678901234567890123456789012345678901234567890123", RID, "", AT },
		{ "acme", "00000000-0000-0000-0000-000000000000", " ~!@#$%^&*()",
		  "1970-01-01T00:00:00.000Z" },
	};
	static const char *const bodies[] = {
		BODY,
		"{}",
		" \n{\"patients\":[]}\n ",
	};
	(void)state;
	for (size_t m = 0; m < sizeof(metas) / sizeof(metas[0]); m++) {
		for (size_t k = 0; k < sizeof(bodies) / sizeof(bodies[0]); k++) {
			const char *body = bodies[k];
			struct envelope env;
			struct json_object *want;
			char err[256];
			char *out;
			size_t len;

			assert_int_equal(envelope_encode(&metas[m], body, strlen(body), &out, &len), 0);
			assert_int_equal(out[len], '\0');
			/* the body's bytes, verbatim, in the value */
			assert_non_null(memmem(out, len, body, strlen(body)));
			assert_memory_equal(out, "{\"v\":1,\"tenant\":\"", 17);
			assert_int_equal(out[len - 1], '}');
			if (envelope_decode(out, len, &env, err, sizeof(err)) != 0)
				fail_msg("meta %zu body %zu: %s", m, k, err);
			assert_string_equal(env.meta.tenant, metas[m].tenant);
			assert_string_equal(env.meta.request_id, metas[m].request_id);
			assert_true(str_eq(env.meta.client_request_id, metas[m].client_request_id));
			assert_string_equal(env.meta.received_at, metas[m].received_at);
			want = json_tokener_parse(body);
			assert_non_null(want);
			assert_true(json_object_equal(env.body, want));
			json_object_put(want);
			envelope_free(&env);
			envelope_free(&env); /* twice is harmless */
			free(out);
		}
	}
}

/* The exact bytes, key order included: other readers may grep them. */
static void test_encode_exact(void **state)
{
	static const struct envelope_meta meta = { "acme", RID, "c-1", AT };
	static const char want[] = "{\"v\":1,\"tenant\":\"acme\",\"request_id\":\"" RID
				   "\",\"client_request_id\":\"c-1\",\"received_at\":\"" AT
				   "\",\"body\":{\"patients\":[]}}";
	char *out;
	size_t len;
	(void)state;

	assert_int_equal(envelope_encode(&meta, "{\"patients\":[]}", 15, &out, &len), 0);
	assert_int_equal(len, sizeof(want) - 1);
	assert_memory_equal(out, want, len);
	free(out);
}

static void test_encode_rejects(void **state)
{
	static const struct {
		const char *what;
		struct envelope_meta meta;
		const char *body;
	} cases[] = {
		{ "no tenant", { NULL, RID, NULL, AT }, "{}" },
		{ "empty tenant", { "", RID, NULL, AT }, "{}" },
		{ "65-byte tenant",
		  { "01234567890123456789012345678901234567890123456789012345678901234", RID, NULL, AT },
		  "{}" },
		{ "tenant with space", { "ac me", RID, NULL, AT }, "{}" },
		{ "tenant with quote", { "ac\"me", RID, NULL, AT }, "{}" },
		{ "tenant with slash", { "ac/me", RID, NULL, AT }, "{}" },
		{ "tenant with colon", { "ac:me", RID, NULL, AT }, "{}" },
		{ "non-ASCII tenant", { "acm\u00e9", RID, NULL, AT }, "{}" },
		{ "no request_id", { "acme", NULL, NULL, AT }, "{}" },
		{ "uppercase request_id",
		  { "acme", "01936F5E-8A2B-7C3D-9E4F-0123456789AB", NULL, AT }, "{}" },
		{ "braced request_id", { "acme", "{" RID "}", NULL, AT }, "{}" },
		{ "short request_id",
		  { "acme", "01936f5e-8a2b-7c3d-9e4f-0123456789a", NULL, AT }, "{}" },
		{ "long request_id", { "acme", RID "0", NULL, AT }, "{}" },
		{ "request_id without dashes",
		  { "acme", "01936f5e8a2b7c3d9e4f0123456789ab", NULL, AT }, "{}" },
		{ "request_id dash moved",
		  { "acme", "01936f5e8-a2b-7c3d-9e4f-0123456789ab", NULL, AT }, "{}" },
		{ "no received_at", { "acme", RID, NULL, NULL }, "{}" },
		{ "received_at without ms", { "acme", RID, NULL, "2026-11-24T10:00:00Z" }, "{}" },
		{ "received_at with offset", { "acme", RID, NULL, "2026-11-24T10:00:00.123+00:00" }, "{}" },
		{ "received_at lowercase", { "acme", RID, NULL, "2026-11-24t10:00:00.123z" }, "{}" },
		{ "received_at hour 24", { "acme", RID, NULL, "2026-11-24T24:00:00.000Z" }, "{}" },
		{ "received_at minute 60", { "acme", RID, NULL, "2026-11-24T10:60:00.000Z" }, "{}" },
		{ "received_at second 60", { "acme", RID, NULL, "2026-11-24T10:00:60.000Z" }, "{}" },
		{ "received_at Feb 30", { "acme", RID, NULL, "2026-02-30T10:00:00.000Z" }, "{}" },
		{ "received_at space", { "acme", RID, NULL, "2026-11-24 10:00:00.123Z" }, "{}" },
		{ "received_at trailing", { "acme", RID, NULL, AT "x" }, "{}" },
		{ "129-byte client_request_id",
		  { "acme", RID,
		    "0123456789012345678901234567890123456789012345678901234567890123"
		    "01234567890123456789012345678901234567890123456789012345678901234",
		    AT },
		  "{}" },
		{ "client_request_id newline", { "acme", RID, "a\nb", AT }, "{}" },
		{ "client_request_id DEL", { "acme", RID, "a\x7f", AT }, "{}" },
		{ "client_request_id non-ASCII", { "acme", RID, "\u00e9", AT }, "{}" },
		{ "no body", { "acme", RID, NULL, AT }, NULL },
		{ "empty body", { "acme", RID, NULL, AT }, "" },
		{ "array body", { "acme", RID, NULL, AT }, "[]" },
		{ "half a body", { "acme", RID, NULL, AT }, "{" },
		{ "string body", { "acme", RID, NULL, AT }, "\"{}\"" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = (char *)1;
		size_t len = 1;
		const char *body = cases[i].body;
		int r = envelope_encode(&cases[i].meta, body, body ? strlen(body) : 0, &out, &len);

		if (r != -EINVAL)
			fail_msg("%s: r=%d", cases[i].what, r);
		assert_null(out);
		assert_int_equal(len, 0);
	}
}

static void test_decode_rejects(void **state)
{
#define ENV(fields, body) "{\"v\":1," fields ",\"body\":" body "}"
#define META "\"tenant\":\"acme\",\"request_id\":\"" RID "\",\"received_at\":\"" AT "\""
#define RAW(s) s, sizeof(s) - 1
	static const struct {
		const char *what;
		const char *value;
		size_t len;
		const char *err; /* NULL: decodes */
	} cases[] = {
		{ "valid", RAW(ENV(META, "{}")), NULL },
		{ "client_request_id", RAW(ENV(META ",\"client_request_id\":\"x\"", "{}")), NULL },
		{ "client_request_id null", RAW(ENV(META ",\"client_request_id\":null", "{}")), NULL },
		{ "unknown keys", RAW("{\"later\":[1],\"v\":1," META ",\"body\":{}}"), NULL },
		{ "empty", RAW(""), "envelope is empty" },
		{ "not JSON", RAW("v=1"), "envelope is not valid JSON" },
		{ "truncated", RAW("{\"v\":1," META ",\"body\":{}"), "envelope is not valid JSON" },
		{ "trailing garbage", RAW(ENV(META, "{}") "x"), "envelope is not valid JSON" },
		{ "NUL byte", RAW(ENV(META, "{}") "\0"), "NUL" },
		{ "bad UTF-8", RAW(ENV(META, "{\"a\":\"\xc0\xaf\"}")), "envelope is not valid UTF-8" },
		{ "lone surrogate", RAW(ENV(META, "{\"a\":\"\\udfff\"}")), "surrogate" },
		{ "array", RAW("[1]"), "not a JSON object" },
		{ "null", RAW("null"), "not a JSON object" },
		{ "v missing", RAW("{" META ",\"body\":{}}"), "no \"v\"" },
		{ "v null", RAW("{\"v\":null," META ",\"body\":{}}"), "no \"v\"" },
		{ "v=2", RAW("{\"v\":2," META ",\"body\":{}}"), "unsupported envelope version 2" },
		{ "v=0", RAW("{\"v\":0," META ",\"body\":{}}"), "unsupported envelope version 0" },
		{ "v=-1", RAW("{\"v\":-1," META ",\"body\":{}}"), "unsupported envelope version -1" },
		{ "v huge", RAW("{\"v\":99999999999999999999," META ",\"body\":{}}"), "unsupported" },
		{ "v=\"1\"", RAW("{\"v\":\"1\"," META ",\"body\":{}}"), "\"v\" must be an integer" },
		{ "v=1.0", RAW("{\"v\":1.0," META ",\"body\":{}}"), "\"v\" must be an integer" },
		{ "v=true", RAW("{\"v\":true," META ",\"body\":{}}"), "\"v\" must be an integer" },
		{ "tenant missing",
		  RAW(ENV("\"request_id\":\"" RID "\",\"received_at\":\"" AT "\"", "{}")), "\"tenant\"" },
		{ "tenant empty",
		  RAW(ENV("\"tenant\":\"\",\"request_id\":\"" RID "\",\"received_at\":\"" AT "\"", "{}")),
		  "\"tenant\"" },
		{ "tenant bad chars",
		  RAW(ENV("\"tenant\":\"a b\",\"request_id\":\"" RID "\",\"received_at\":\"" AT "\"",
			  "{}")),
		  "\"tenant\"" },
		{ "tenant \\u0000",
		  RAW(ENV("\"tenant\":\"a\\u0000b\",\"request_id\":\"" RID "\",\"received_at\":\"" AT
			  "\"",
			  "{}")),
		  "\"tenant\"" },
		{ "tenant number",
		  RAW(ENV("\"tenant\":7,\"request_id\":\"" RID "\",\"received_at\":\"" AT "\"", "{}")),
		  "\"tenant\"" },
		{ "request_id missing", RAW(ENV("\"tenant\":\"acme\",\"received_at\":\"" AT "\"", "{}")),
		  "\"request_id\"" },
		{ "request_id uppercase",
		  RAW(ENV("\"tenant\":\"acme\",\"request_id\":\"01936F5E-8A2B-7C3D-9E4F-0123456789AB\","
			  "\"received_at\":\"" AT "\"",
			  "{}")),
		  "\"request_id\"" },
		{ "request_id short",
		  RAW(ENV("\"tenant\":\"acme\",\"request_id\":\"01936f5e\",\"received_at\":\"" AT "\"",
			  "{}")),
		  "\"request_id\"" },
		{ "request_id number",
		  RAW(ENV("\"tenant\":\"acme\",\"request_id\":1,\"received_at\":\"" AT "\"", "{}")),
		  "\"request_id\"" },
		{ "received_at missing", RAW(ENV("\"tenant\":\"acme\",\"request_id\":\"" RID "\"", "{}")),
		  "\"received_at\"" },
		{ "received_at no ms",
		  RAW(ENV("\"tenant\":\"acme\",\"request_id\":\"" RID
			  "\",\"received_at\":\"2026-11-24T10:00:00Z\"",
			  "{}")),
		  "\"received_at\"" },
		{ "received_at not a date",
		  RAW(ENV("\"tenant\":\"acme\",\"request_id\":\"" RID
			  "\",\"received_at\":\"2026-02-29T10:00:00.000Z\"",
			  "{}")),
		  "\"received_at\"" },
		{ "client_request_id number", RAW(ENV(META ",\"client_request_id\":5", "{}")),
		  "\"client_request_id\"" },
		{ "client_request_id control", RAW(ENV(META ",\"client_request_id\":\"a\\nb\"", "{}")),
		  "\"client_request_id\"" },
		{ "client_request_id \\u0000",
		  RAW(ENV(META ",\"client_request_id\":\"a\\u0000\"", "{}")), "\"client_request_id\"" },
		{ "body missing", RAW("{\"v\":1," META "}"), "no \"body\"" },
		{ "body null", RAW(ENV(META, "null")), "no \"body\"" },
		{ "body array", RAW(ENV(META, "[]")), "\"body\" is not a JSON object" },
		{ "body string", RAW(ENV(META, "\"{}\"")), "\"body\" is not a JSON object" },
		{ "body number", RAW(ENV(META, "1")), "\"body\" is not a JSON object" },
	};
#undef ENV
#undef META
#undef RAW
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct envelope env;
		char err[128];
		int r = envelope_decode(cases[i].value, cases[i].len, &env, err, sizeof(err));

		if (!cases[i].err) {
			if (r != 0)
				fail_msg("%s: r=%d err=%s", cases[i].what, r, err);
			assert_non_null(env.body);
			assert_string_equal(env.meta.tenant, "acme");
		} else {
			if (r != -EBADMSG || !strstr(err, cases[i].err))
				fail_msg("%s: r=%d err=%s, want %s", cases[i].what, r, err, cases[i].err);
			assert_null(env.root);
			assert_null(env.body);
			/* reasons name the problem, never the value */
			assert_null(strstr(err, "a b"));
			assert_null(strstr(err, "01936"));
		}
		envelope_free(&env);
	}
}

/* The envelope allows the body every level a request body may use. */
static void test_decode_depth(void **state)
{
	static const struct {
		int body_depth;
		int want;
	} cases[] = { { 1, 0 }, { 16, 0 }, { 17, 0 }, { 64, 0 }, { 65, -EBADMSG }, { 1000, -EBADMSG } };
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct envelope_meta meta = { "acme", RID, NULL, AT };
		size_t n = (size_t)cases[i].body_depth;
		size_t blen = 2 * n + 4 * (n - 1);
		char *body = malloc(blen + 1), *out, err[128];
		struct envelope env;
		size_t len, o = 0;

		assert_non_null(body);
		/* {"a":{"a":{...{}...}}} */
		for (size_t d = 0; d < n; d++) {
			memcpy(body + o, d + 1 < n ? "{\"a\":" : "{", d + 1 < n ? 5 : 1);
			o += d + 1 < n ? 5 : 1;
		}
		for (size_t d = 0; d < n; d++)
			body[o++] = '}';
		body[o] = '\0';
		assert_int_equal(envelope_encode(&meta, body, o, &out, &len), 0);
		assert_int_equal(envelope_decode(out, len, &env, err, sizeof(err)), cases[i].want);
		envelope_free(&env);
		{
			/* the worker's fast path takes what the full path takes */
			char *fbody;
			size_t fblen;

			assert_int_equal(envelope_decode_inplace(out, len, &env, &fbody, &fblen),
					 cases[i].want == 0 ? 0 : 1);
			envelope_free(&env);
		}
		free(out);
		free(body);
	}
}

static void test_validators(void **state)
{
	static const struct {
		bool (*fn)(const char *);
		const char *s;
		bool want;
	} cases[] = {
		{ envelope_tenant_valid, "acme", true },
		{ envelope_tenant_valid, "A.b_c-9", true },
		{ envelope_tenant_valid, "", false },
		{ envelope_tenant_valid, NULL, false },
		{ envelope_tenant_valid, "a+b", false },
		{ envelope_received_at_valid, AT, true },
		{ envelope_received_at_valid, "2024-02-29T23:59:59.999Z", true },
		{ envelope_received_at_valid, "2023-02-29T23:59:59.999Z", false },
		{ envelope_received_at_valid, "2024-02-29T23:59:59.99Z", false },
		{ envelope_received_at_valid, "", false },
		{ envelope_received_at_valid, NULL, false },
		{ envelope_client_request_id_valid, "", true },
		{ envelope_client_request_id_valid, "abc DEF ~", true },
		{ envelope_client_request_id_valid, "\t", false },
		{ envelope_client_request_id_valid, NULL, false },
		{ uuid7_is_canonical, RID, true },
		{ uuid7_is_canonical, "", false },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (cases[i].fn(cases[i].s) != cases[i].want)
			fail_msg("case %zu (%s): want %d", i, cases[i].s ? cases[i].s : "NULL",
				 cases[i].want);
}

static void test_format_time(void **state)
{
	static const struct {
		uint64_t ms;
		const char *want;
	} cases[] = {
		{ 0, "1970-01-01T00:00:00.000Z" },
		{ 1, "1970-01-01T00:00:00.001Z" },
		{ UINT64_C(1795860000123), "2026-11-28T10:00:00.123Z" },
		{ UINT64_C(1709251199999), "2024-02-29T23:59:59.999Z" },
		{ UINT64_C(253402300799999), "9999-12-31T23:59:59.999Z" },
		{ UINT64_MAX, "9999-12-31T23:59:59.999Z" },
	};
	char out[ENVELOPE_TIME_LEN + 1];
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		envelope_format_time(cases[i].ms, out);
		assert_string_equal(out, cases[i].want);
		assert_true(envelope_received_at_valid(out));
	}
}

/* What the gateway does, then the worker: both agree on the batch. */
/* The worker's in-place reading: a value as our gateway writes it is read
 * without json-c, to the same meta and body text; any other form is left
 * (1) to envelope_decode. */
static void test_decode_inplace(void **state)
{
#define IP_RID "\"request_id\":\"01936f5e-8a2b-7c3d-9e4f-0123456789ab\""
#define IP_AT "\"received_at\":\"2026-11-25T10:00:00.000Z\""
#define SIMPLE_BODY "{\"patients\":[{\"code\":\"c1\"}]}"
	static const struct {
		const char *value;
		int want;
		const char *client; /* client_request_id when read */
	} cases[] = {
		{ "{\"v\":1,\"tenant\":\"acme\"," IP_RID "," IP_AT ",\"body\":" SIMPLE_BODY "}", 0, NULL },
		{ " { \"body\" : " SIMPLE_BODY " , \"v\" : 1 , \"tenant\":\"acme\"," IP_AT "," IP_RID
		  ",\"client_request_id\":\"abc-1\",\"extra\":[null] }\n", 0, "abc-1" },
		{ "{\"v\":1,\"tenant\":\"acme\"," IP_RID "," IP_AT ",\"client_request_id\":null,\"body\":{}}", 0, NULL },
		{ "{\"v\":1.0,\"tenant\":\"acme\"," IP_RID "," IP_AT ",\"body\":{}}", 1, NULL },
		{ "{\"v\":10,\"tenant\":\"acme\"," IP_RID "," IP_AT ",\"body\":{}}", 1, NULL },
		{ "{\"v\":2,\"tenant\":\"acme\"," IP_RID "," IP_AT ",\"body\":{}}", 1, NULL },
		{ "{\"v\":1,\"tenant\":\"acme\",\"tenant\":\"beta\"," IP_RID "," IP_AT ",\"body\":{}}", 1, NULL },
		{ "{\"v\":1,\"tenant\":\"ac me\"," IP_RID "," IP_AT ",\"body\":{}}", 1, NULL },
		{ "{\"v\":1,\"tenant\":\"acme\"," IP_AT ",\"body\":{}}", 1, NULL },
		{ "{\"v\":1,\"tenant\":\"acme\"," IP_RID ",\"received_at\":\"yesterday\",\"body\":{}}", 1, NULL },
		{ "{\"v\":1,\"tenant\":\"acme\"," IP_RID "," IP_AT "}", 1, NULL },
		{ "{\"v\":1,\"tenant\":\"acme\"," IP_RID "," IP_AT ",\"body\":[]}", 1, NULL },
		{ "{\"v\":1,\"tenant\":\"acme\"," IP_RID "," IP_AT ",\"client_request_id\":\"a\\\"b\",\"body\":{}}", 1, NULL },
		{ "{\"v\":1,\"tenant\":\"acme\"," IP_RID "," IP_AT ",\"body\":{}} {}", 1, NULL },
		{ "not json", 1, NULL },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct envelope fast, full;
		char err[256], *body;
		size_t blen, len = strlen(cases[i].value);
		int r = envelope_decode_inplace(cases[i].value, len, &fast, &body, &blen);

		if (r != cases[i].want)
			fail_msg("case %zu: %d, want %d", i, r, cases[i].want);
		if (r == 0) {
			assert_int_equal(envelope_decode(cases[i].value, len, &full, err, sizeof(err)), 0);
			assert_string_equal(fast.meta.tenant, full.meta.tenant);
			assert_string_equal(fast.meta.request_id, full.meta.request_id);
			assert_string_equal(fast.meta.received_at, full.meta.received_at);
			if (cases[i].client)
				assert_string_equal(fast.meta.client_request_id, cases[i].client);
			else
				assert_null(fast.meta.client_request_id);
			assert_int_equal(blen, strlen(body));
			assert_string_equal(body, strstr(cases[i].value, SIMPLE_BODY) ? SIMPLE_BODY : "{}");
			envelope_free(&full);
		} else {
			assert_null(fast.buf);
			assert_null(body);
		}
		envelope_free(&fast);
	}
#undef IP_RID
#undef IP_AT
#undef SIMPLE_BODY
}

static void test_gateway_to_worker(void **state)
{
	struct date today = { 2026, 11, 25 };
	struct patient_batch in, out;
	struct uuid7_state ids;
	char rid[UUID7_STRLEN + 1], at[ENVELOPE_TIME_LEN + 1], err[128], *value;
	struct envelope_meta meta = { "acme", rid, NULL, at };
	struct envelope env;
	size_t len;
	(void)state;

	assert_int_equal(uuid7_init(&ids), 0);
	uuid7_next(&ids, UINT64_C(1795860000123), rid);
	envelope_format_time(UINT64_C(1795860000123), at);
	assert_int_equal(patient_batch_parse(BODY, strlen(BODY), today, &in), 0);
	assert_int_equal(envelope_encode(&meta, BODY, strlen(BODY), &value, &len), 0);
	assert_int_equal(envelope_decode(value, len, &env, err, sizeof(err)), 0);
	assert_int_equal(patient_batch_validate(env.body, today, &out), 0);
	envelope_free(&env); /* the batch keeps the body alive */
	assert_int_equal(out.count, in.count);
	assert_string_equal(out.patients[0].first_name, in.patients[0].first_name);
	assert_string_equal(out.patients[0].first_name, "Jos\u00e9 \"Pepe\"");
	patient_batch_free(&in);
	patient_batch_free(&out);
	free(value);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_encode_exact),
		cmocka_unit_test(test_encode_rejects),
		cmocka_unit_test(test_decode_rejects),
		cmocka_unit_test(test_decode_depth),
		cmocka_unit_test(test_validators),
		cmocka_unit_test(test_format_time),
		cmocka_unit_test(test_decode_inplace),
		cmocka_unit_test(test_gateway_to_worker),
	};
	return cmocka_run_group_tests_name("envelope", tests, NULL, NULL);
}
