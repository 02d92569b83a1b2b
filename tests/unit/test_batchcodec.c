/* Table tests for common/batchcodec: both entry points give the verdicts
 * of the full (json-c) path whichever reader decides, and a message from
 * Kafka is judged by the day it was received, not by today. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "batchcodec.h"

#define P1 "{\"code\":\"c1\",\"first_name\":\"Ada\",\"gender\":\"female\",\"birthdate\":\"1985-12-10\"}"
#define P2 "{\"code\":\"c2\",\"first_name\":\"Bob\",\"gender\":\"male\",\"birthdate\":\"2026-11-20\"}"
/* The same as P1, with an escape: not the in-place reader's form. */
#define P1_ESCAPED "{\"code\":\"c\\u0031\",\"first_name\":\"Ada\",\"gender\":\"female\",\"birthdate\":\"1985-12-10\"}"

static const struct date today = { 2026, 11, 24 };

static void test_body(void **state)
{
	static const struct {
		const char *body;
		int r;
		size_t count;	   /* on 0 */
		const char *field; /* first error's, on -EINVAL */
	} cases[] = {
		{ "{\"patients\":[" P1 "]}", 0, 1, NULL },
		{ "{\"patients\":[" P1_ESCAPED "]}", 0, 1, NULL },	 /* json-c reads it */
		{ "{\"patients\":[" P1 "," P2 "]}", 0, 2, NULL },
		{ "{\"patients\":[" P1 "," P1 "]}", -EINVAL, 0, "code" }, /* twice */
		{ "{\"patients\":[]}", -EINVAL, 0, "patients" },
		{ "{\"patients\":[" P1 "],\"x\":{\"y\":[1,2,{\"z\":null}]}}", 0, 1, NULL },
		{ "not json", -EBADMSG, 0, NULL },
		{ "[1]", -EBADMSG, 0, NULL },
		{ "", -EBADMSG, 0, NULL },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct patient_batch b;
		int r = batchcodec_body(cases[i].body, strlen(cases[i].body), today, &b);

		if (r != cases[i].r)
			fail_msg("case %zu: %d, want %d", i, r, cases[i].r);
		if (r == 0 && b.count != cases[i].count)
			fail_msg("case %zu: %zu patients, want %zu", i, b.count, cases[i].count);
		if (r == -EINVAL && (!b.error_count || strcmp(b.errors[0].field, cases[i].field)))
			fail_msg("case %zu: first error %s", i, b.error_count ? b.errors[0].field : "-");
		patient_batch_free(&b);
	}
}

static void test_message(void **state)
{
	static const struct {
		const char *received_at;
		const char *body;
		int r;
		size_t count;
		const char *why; /* a prefix of it, on errors */
	} cases[] = {
		{ "2026-11-24T10:00:00.000Z", "{\"patients\":[" P1 "," P2 "]}", 0, 2, NULL },
		{ "2026-11-24T10:00:00.000Z", "{\"patients\":[" P1_ESCAPED "]}", 0, 1, NULL },
		/* P2 was born on 2026-11-20: valid when received on the 24th,
		 * not when received on the 19th, whatever today is. */
		{ "2026-11-19T10:00:00.000Z", "{\"patients\":[" P1 "," P2 "]}", -EINVAL, 0,
		  "1 validation errors; first: patients[1].birthdate" },
		{ "2026-11-24T10:00:00.000Z", "{\"patients\":[]}", -EINVAL, 0, "1 validation errors" },
		{ "2026-11-24T10:00:00.000Z", "[]", -EBADMSG, 0, "" },
		{ "not a time", "{\"patients\":[" P1 "]}", -EBADMSG, 0, "envelope \"received_at\"" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct batchcodec_message m;
		char value[2048];
		int n = snprintf(value, sizeof(value),
				 "{\"v\":1,\"tenant\":\"acme\",\"request_id\":"
				 "\"0190a0b0-0000-7000-8000-000000000001\",\"received_at\":\"%s\","
				 "\"body\":%s}",
				 cases[i].received_at, cases[i].body);
		int r = batchcodec_message(value, (size_t)n, &m);

		if (r != cases[i].r)
			fail_msg("case %zu: %d, want %d (%s)", i, r, cases[i].r, m.why);
		if (r == 0 && (m.batch.count != cases[i].count || strcmp(m.env.meta.tenant, "acme")))
			fail_msg("case %zu: %zu patients of %s", i, m.batch.count, m.env.meta.tenant);
		if (r < 0 && strncmp(m.why, cases[i].why, strlen(cases[i].why)) != 0)
			fail_msg("case %zu: why \"%s\"", i, m.why);
		batchcodec_message_free(&m);
		batchcodec_message_free(&m); /* twice is safe */
	}
}

/* The worker reads the envelope and its body in one pass: whatever order
 * the members come in, the verdict is the full path's, and the one pass
 * decides (no json-c document) exactly when the value is in the simple
 * form. received_at after the body still names the day it is judged by. */
static void test_message_order(void **state)
{
#define RID "\"request_id\":\"0190a0b0-0000-7000-8000-000000000001\""
#define AT24 "\"received_at\":\"2026-11-24T10:00:00.000Z\""
#define AT19 "\"received_at\":\"2026-11-19T10:00:00.000Z\""
#define BODY "\"body\":{\"patients\":[" P1 "," P2 "]}"
	static const struct {
		const char *value;
		int r;
		bool one_pass; /* decided without json-c */
	} cases[] = {
		{ "{\"v\":1,\"tenant\":\"acme\"," RID "," AT24 "," BODY "}", 0, true },
		/* the body first, its day after it */
		{ "{" BODY ",\"v\":1,\"tenant\":\"acme\"," RID "," AT24 "}", 0, true },
		{ "{" BODY ",\"v\":1,\"tenant\":\"acme\"," RID "," AT19 "}", -EINVAL, false },
		/* a member we do not know, after the body, nested */
		{ "{\"v\":1,\"tenant\":\"acme\"," RID "," AT24 "," BODY
		  ",\"x\":[true,{\"y\":null}]}", 0, true },
		/* unknown members inside the body, around the patients */
		{ "{\"v\":1,\"tenant\":\"acme\"," RID "," AT24
		  ",\"body\":{\"a\":{\"b\":[true]},\"patients\":[" P1 "],\"c\":\"d\"}}", 0, true },
		/* an escape in the body: json-c reads it */
		{ "{\"v\":1,\"tenant\":\"acme\"," RID "," AT24 ",\"body\":{\"patients\":["
		  P1_ESCAPED "]}}", 0, false },
		/* the body twice: json-c keeps the last, as it always did */
		{ "{\"v\":1,\"tenant\":\"acme\"," RID "," AT24 "," BODY
		  ",\"body\":{\"patients\":[]}}", -EINVAL, false },
		/* a body that does not close, or is not an object */
		{ "{\"v\":1,\"tenant\":\"acme\"," RID "," AT24 ",\"body\":{\"patients\":[" P1
		  "]}", -EBADMSG, false },
		{ "{\"v\":1,\"tenant\":\"acme\"," RID "," AT24 ",\"body\":[" P1 "]}", -EBADMSG,
		  false },
		/* no patients in the body */
		{ "{\"v\":1,\"tenant\":\"acme\"," RID "," AT24 ",\"body\":{\"x\":1}}", -EINVAL,
		  false },
	};
#undef RID
#undef AT24
#undef AT19
#undef BODY
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct batchcodec_message m;
		int r = batchcodec_message(cases[i].value, strlen(cases[i].value), &m);

		if (r != cases[i].r)
			fail_msg("case %zu: %d, want %d (%s)", i, r, cases[i].r, m.why);
		if (r == 0 && (m.batch.count == 0 || strcmp(m.env.meta.tenant, "acme")))
			fail_msg("case %zu: %zu patients of %s", i, m.batch.count, m.env.meta.tenant);
		if (r == 0 && (m.env.root == NULL) != cases[i].one_pass)
			fail_msg("case %zu: decided %s", i, m.env.root ? "by json-c" : "in one pass");
		batchcodec_message_free(&m);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_body),
		cmocka_unit_test(test_message),
		cmocka_unit_test(test_message_order),
	};
	return cmocka_run_group_tests_name("batchcodec", tests, NULL, NULL);
}
