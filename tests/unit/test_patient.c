/* Table-driven tests for common/patient: every rule of DESIGN.md s.2 at its
 * boundaries, the batch rules, and the guards in front of json-c. */
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
#include <json-c/json.h>

#include "patient.h"

static const struct date today = { 2026, 11, 25 };

/* Pieces of a valid patient, so each case changes one thing. */
#define CODE "\"code\":\"c1\""
#define FIRST "\"first_name\":\"Ana\""
#define GENDER "\"gender\":\"female\""
#define BIRTH "\"birthdate\":\"1990-01-02\""
#define VALID "{" CODE "," FIRST "," GENDER "," BIRTH "}"
#define WITHOUT_CODE FIRST "," GENDER "," BIRTH
#define WITHOUT_FIRST CODE "," GENDER "," BIRTH
#define WITHOUT_GENDER CODE "," FIRST "," BIRTH
#define WITHOUT_BIRTH CODE "," FIRST "," GENDER

/* A growing string, for generated bodies. */
struct buf {
	char *s;
	size_t len, cap;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->s = realloc(b->s, b->cap);
		assert_non_null(b->s);
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/* Appends tmpl with its "@@" (if any) replaced by fill bytes of 'a'. */
static void buf_fill(struct buf *b, const char *tmpl, size_t fill)
{
	const char *at = strstr(tmpl, "@@");

	if (!at) {
		buf_str(b, tmpl);
		return;
	}
	buf_add(b, tmpl, (size_t)(at - tmpl));
	for (size_t i = 0; i < fill; i++)
		buf_add(b, "a", 1);
	buf_str(b, at + 2);
}

/* {"patients":[p, p, ...]} with n copies of the patient made by gen. */
static char *make_body(size_t n, void (*gen)(struct buf *, size_t), size_t *len)
{
	struct buf b = { 0 };

	buf_str(&b, "{\"patients\":[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_str(&b, ",");
		gen(&b, i);
	}
	buf_str(&b, "]}");
	*len = b.len;
	return b.s;
}

static int parse_str(const char *body, struct patient_batch *b)
{
	return patient_batch_parse(body, strlen(body), today, b);
}

/* First error with this index and field, or NULL. */
static const struct patient_error *find_error(const struct patient_batch *b, int index,
					      const char *field)
{
	for (size_t i = 0; i < b->error_count; i++)
		if (b->errors[i].index == index && strcmp(b->errors[i].field, field) == 0)
			return &b->errors[i];
	return NULL;
}

static void dump_errors(const char *what, const struct patient_batch *b)
{
	for (size_t i = 0; i < b->error_count; i++)
		print_message("# %s: [%d] %s: %s\n", what, b->errors[i].index, b->errors[i].field,
			      b->errors[i].message);
}

/* One patient per case, each breaking at most one rule. "@@" in the
 * patient becomes fill bytes of 'a'. */
static void test_patient_rules(void **state)
{
	static const struct {
		const char *patient;
		size_t fill;
		const char *field; /* NULL: valid */
		const char *message;
	} cases[] = {
		/* valid shapes */
		{ VALID, 0, NULL, NULL },
		{ "{" CODE "," FIRST ",\"last_name\":\"Ruiz\",\"gender\":\"male\"," BIRTH
		  ",\"email\":\"ana@example.com\"}", 0, NULL, NULL },
		{ "{" CODE "," FIRST ",\"last_name\":null," GENDER "," BIRTH ",\"email\":null}", 0,
		  NULL, NULL },
		{ "{" CODE "," FIRST ",\"last_name\":\"\"," GENDER "," BIRTH "}", 0, NULL, NULL },
		{ "{" CODE ",\"first_name\":\"Jos\u00e9 \u00d1\u00fa\u00f1ez\"," GENDER "," BIRTH "}", 0,
		  NULL, NULL },
		{ "{" CODE ",\"first_name\":\"\u5c71\u7530\",\"last_name\":\"\u592a\u90ce\"," GENDER
		  "," BIRTH "}", 0, NULL, NULL },
		{ "{" CODE ",\"first_name\":\"Jos\\u00e9\"," GENDER "," BIRTH "}", 0, NULL, NULL },
		{ "{" CODE ",\"first_name\":\"\\ud83d\\ude00\"," GENDER "," BIRTH "}", 0, NULL, NULL },
		{ "{" CODE ",\"first_name\":\" Ana \"," GENDER "," BIRTH "}", 0, NULL, NULL },
		{ "{" CODE "," FIRST "," GENDER "," BIRTH ",\"extra\":[1,{\"x\":null}],\"Code\":5}",
		  0, NULL, NULL },
		{ "{" BIRTH "," GENDER "," FIRST "," CODE "}", 0, NULL, NULL },
		{ "{\"code\":\"A-1/\u00e9 x\"," WITHOUT_CODE "}", 0, NULL, NULL },

		/* code */
		{ "{" WITHOUT_CODE "}", 0, "code", "is required" },
		{ "{\"code\":null," WITHOUT_CODE "}", 0, "code", "must not be null" },
		{ "{\"code\":42," WITHOUT_CODE "}", 0, "code", "must be a string" },
		{ "{\"code\":4.2," WITHOUT_CODE "}", 0, "code", "must be a string" },
		{ "{\"code\":true," WITHOUT_CODE "}", 0, "code", "must be a string" },
		{ "{\"code\":[\"c1\"]," WITHOUT_CODE "}", 0, "code", "must be a string" },
		{ "{\"code\":{}," WITHOUT_CODE "}", 0, "code", "must be a string" },
		{ "{\"code\":\"\"," WITHOUT_CODE "}", 0, "code", "must not be empty" },
		{ "{\"code\":\"@@\"," WITHOUT_CODE "}", 1, NULL, NULL },
		{ "{\"code\":\"@@\"," WITHOUT_CODE "}", 255, NULL, NULL },
		{ "{\"code\":\"@@\"," WITHOUT_CODE "}", 256, "code", "must be at most 255 bytes" },
		{ "{\"code\":\"\u00e9@@\"," WITHOUT_CODE "}", 253, NULL, NULL },
		{ "{\"code\":\"\u00e9@@\"," WITHOUT_CODE "}", 254, "code", "must be at most 255 bytes" },
		{ "{\"code\":\"a\\u0000b\"," WITHOUT_CODE "}", 0, "code", "must not contain NUL" },
		{ "{\"code\":\"\\u0000\"," WITHOUT_CODE "}", 0, "code", "must not contain NUL" },
		{ "{\"code\":\"a\\tb\"," WITHOUT_CODE "}", 0, "code", "control characters" },
		{ "{\"code\":\"a\\nb\"," WITHOUT_CODE "}", 0, "code", "control characters" },
		{ "{\"code\":\"a\\u001fb\"," WITHOUT_CODE "}", 0, "code", "control characters" },
		{ "{\"code\":\"a\x7f" "b\"," WITHOUT_CODE "}", 0, "code", "control characters" },
		{ "{\"code\":\"a\\u0085\"," WITHOUT_CODE "}", 0, "code", "control characters" },
		{ "{\"code\":\"a\xc2\x9f\"," WITHOUT_CODE "}", 0, "code", "control characters" },

		/* first_name */
		{ "{" WITHOUT_FIRST "}", 0, "first_name", "is required" },
		{ "{\"first_name\":null," WITHOUT_FIRST "}", 0, "first_name", "must not be null" },
		{ "{\"first_name\":7," WITHOUT_FIRST "}", 0, "first_name", "must be a string" },
		{ "{\"first_name\":false," WITHOUT_FIRST "}", 0, "first_name", "must be a string" },
		{ "{\"first_name\":\"\"," WITHOUT_FIRST "}", 0, "first_name", "must not be empty" },
		{ "{\"first_name\":\"   \"," WITHOUT_FIRST "}", 0, "first_name", "only whitespace" },
		{ "{\"first_name\":\" \\t\\n\"," WITHOUT_FIRST "}", 0, "first_name", "only whitespace" },
		{ "{\"first_name\":\"\\u00a0\\u3000\"," WITHOUT_FIRST "}", 0, "first_name",
		  "only whitespace" },
		{ "{\"first_name\":\"Ana\\u0000\"," WITHOUT_FIRST "}", 0, "first_name",
		  "must not contain NUL" },
		{ "{\"first_name\":\"@@\"," WITHOUT_FIRST "}", 1, NULL, NULL },
		{ "{\"first_name\":\"@@\"," WITHOUT_FIRST "}", 255, NULL, NULL },
		{ "{\"first_name\":\"@@\"," WITHOUT_FIRST "}", 256, "first_name",
		  "must be at most 255 bytes" },
		{ "{\"first_name\":\"\u5c71@@\"," WITHOUT_FIRST "}", 252, NULL, NULL },
		{ "{\"first_name\":\"\u5c71@@\"," WITHOUT_FIRST "}", 253, "first_name",
		  "must be at most 255 bytes" },
		/* control characters, as in code: C0 (escaped or, for DEL and C1,
		 * raw: the in-place reader lets those through), DEL, C1 */
		{ "{\"first_name\":\"An\\ta\"," WITHOUT_FIRST "}", 0, "first_name",
		  "must not contain control characters" },
		{ "{\"first_name\":\"Ana\\n\"," WITHOUT_FIRST "}", 0, "first_name",
		  "must not contain control characters" },
		{ "{\"first_name\":\"\\r\\nAna\"," WITHOUT_FIRST "}", 0, "first_name",
		  "must not contain control characters" },
		{ "{\"first_name\":\"\\u001b[31mAna\"," WITHOUT_FIRST "}", 0, "first_name",
		  "must not contain control characters" },
		{ "{\"first_name\":\"A\\u0001\"," WITHOUT_FIRST "}", 0, "first_name",
		  "must not contain control characters" },
		{ "{\"first_name\":\"Ana\x7f\"," WITHOUT_FIRST "}", 0, "first_name",
		  "must not contain control characters" },
		{ "{\"first_name\":\"Ana\\u007f\"," WITHOUT_FIRST "}", 0, "first_name",
		  "must not contain control characters" },
		{ "{\"first_name\":\"Ana\\u0085\"," WITHOUT_FIRST "}", 0, "first_name",
		  "must not contain control characters" },
		{ "{\"first_name\":\"A\xc2\x80na\"," WITHOUT_FIRST "}", 0, "first_name",
		  "must not contain control characters" },
		{ "{\"first_name\":\"Ana\xc2\x9f\"," WITHOUT_FIRST "}", 0, "first_name",
		  "must not contain control characters" },
		/* the neighbours are letters: U+00A0 NBSP, U+00A1, U+2028 */
		{ "{\"first_name\":\"A\xc2\xa0na\"," WITHOUT_FIRST "}", 0, NULL, NULL },
		{ "{\"first_name\":\"\xc2\xa1" "Ana!\"," WITHOUT_FIRST "}", 0, NULL, NULL },
		{ "{\"first_name\":\"A~na\"," WITHOUT_FIRST "}", 0, NULL, NULL },

		/* last_name */
		{ "{\"last_name\":\"@@\"," WITHOUT_FIRST "," FIRST "}", 255, NULL, NULL },
		{ "{\"last_name\":\"@@\"," WITHOUT_FIRST "," FIRST "}", 256, "last_name",
		  "must be at most 255 bytes" },
		{ "{\"last_name\":1," WITHOUT_FIRST "," FIRST "}", 0, "last_name", "must be a string" },
		{ "{\"last_name\":[]," WITHOUT_FIRST "," FIRST "}", 0, "last_name", "must be a string" },
		{ "{\"last_name\":\"R\\u0000\"," WITHOUT_FIRST "," FIRST "}", 0, "last_name",
		  "must not contain NUL" },
		{ "{\"last_name\":\"Ru\\tiz\"," WITHOUT_FIRST "," FIRST "}", 0, "last_name",
		  "must not contain control characters" },
		{ "{\"last_name\":\"Ruiz\\n\"," WITHOUT_FIRST "," FIRST "}", 0, "last_name",
		  "must not contain control characters" },
		{ "{\"last_name\":\"\\u001b\"," WITHOUT_FIRST "," FIRST "}", 0, "last_name",
		  "must not contain control characters" },
		{ "{\"last_name\":\"Ruiz\x7f\"," WITHOUT_FIRST "," FIRST "}", 0, "last_name",
		  "must not contain control characters" },
		{ "{\"last_name\":\"Ruiz\\u009b\"," WITHOUT_FIRST "," FIRST "}", 0, "last_name",
		  "must not contain control characters" },
		{ "{\"last_name\":\"R\xc2\x85uiz\"," WITHOUT_FIRST "," FIRST "}", 0, "last_name",
		  "must not contain control characters" },
		/* an empty last name has none */
		{ "{\"last_name\":\"\"," WITHOUT_FIRST "," FIRST "}", 0, NULL, NULL },

		/* gender */
		{ "{" WITHOUT_GENDER "}", 0, "gender", "is required" },
		{ "{\"gender\":null," WITHOUT_GENDER "}", 0, "gender", "must not be null" },
		{ "{\"gender\":\"male\"," WITHOUT_GENDER "}", 0, NULL, NULL },
		{ "{\"gender\":\"Male\"," WITHOUT_GENDER "}", 0, "gender", "\"male\" or \"female\"" },
		{ "{\"gender\":\"FEMALE\"," WITHOUT_GENDER "}", 0, "gender", "\"male\" or \"female\"" },
		{ "{\"gender\":\"m\"," WITHOUT_GENDER "}", 0, "gender", "\"male\" or \"female\"" },
		{ "{\"gender\":\"male \"," WITHOUT_GENDER "}", 0, "gender", "\"male\" or \"female\"" },
		{ "{\"gender\":\"male\\u0000\"," WITHOUT_GENDER "}", 0, "gender",
		  "must not contain NUL" },
		{ "{\"gender\":\"\"," WITHOUT_GENDER "}", 0, "gender", "\"male\" or \"female\"" },
		{ "{\"gender\":\"other\"," WITHOUT_GENDER "}", 0, "gender", "\"male\" or \"female\"" },
		{ "{\"gender\":true," WITHOUT_GENDER "}", 0, "gender", "must be a string" },
		{ "{\"gender\":1," WITHOUT_GENDER "}", 0, "gender", "must be a string" },

		/* birthdate */
		{ "{" WITHOUT_BIRTH "}", 0, "birthdate", "is required" },
		{ "{\"birthdate\":null," WITHOUT_BIRTH "}", 0, "birthdate", "must not be null" },
		{ "{\"birthdate\":19900102," WITHOUT_BIRTH "}", 0, "birthdate", "must be a string" },
		{ "{\"birthdate\":\"1900-01-01\"," WITHOUT_BIRTH "}", 0, NULL, NULL },
		{ "{\"birthdate\":\"1899-12-31\"," WITHOUT_BIRTH "}", 0, "birthdate",
		  "must be on or after 1900-01-01" },
		{ "{\"birthdate\":\"0000-01-01\"," WITHOUT_BIRTH "}", 0, "birthdate",
		  "must be on or after 1900-01-01" },
		{ "{\"birthdate\":\"2026-11-25\"," WITHOUT_BIRTH "}", 0, NULL, NULL },
		{ "{\"birthdate\":\"2026-11-26\"," WITHOUT_BIRTH "}", 0, "birthdate",
		  "must not be after today (2026-11-25)" },
		{ "{\"birthdate\":\"2026-12-01\"," WITHOUT_BIRTH "}", 0, "birthdate", "after today" },
		{ "{\"birthdate\":\"2027-01-01\"," WITHOUT_BIRTH "}", 0, "birthdate", "after today" },
		{ "{\"birthdate\":\"9999-12-31\"," WITHOUT_BIRTH "}", 0, "birthdate", "after today" },
		{ "{\"birthdate\":\"2024-02-29\"," WITHOUT_BIRTH "}", 0, NULL, NULL },
		{ "{\"birthdate\":\"2000-02-29\"," WITHOUT_BIRTH "}", 0, NULL, NULL },
		{ "{\"birthdate\":\"2023-02-29\"," WITHOUT_BIRTH "}", 0, "birthdate",
		  "is not a calendar date" },
		{ "{\"birthdate\":\"1900-02-29\"," WITHOUT_BIRTH "}", 0, "birthdate",
		  "is not a calendar date" },
		{ "{\"birthdate\":\"2023-02-28\"," WITHOUT_BIRTH "}", 0, NULL, NULL },
		{ "{\"birthdate\":\"2023-04-31\"," WITHOUT_BIRTH "}", 0, "birthdate",
		  "is not a calendar date" },
		{ "{\"birthdate\":\"2023-04-30\"," WITHOUT_BIRTH "}", 0, NULL, NULL },
		{ "{\"birthdate\":\"2023-12-31\"," WITHOUT_BIRTH "}", 0, NULL, NULL },
		{ "{\"birthdate\":\"2023-13-01\"," WITHOUT_BIRTH "}", 0, "birthdate",
		  "is not a calendar date" },
		{ "{\"birthdate\":\"2023-00-10\"," WITHOUT_BIRTH "}", 0, "birthdate",
		  "is not a calendar date" },
		{ "{\"birthdate\":\"2023-01-00\"," WITHOUT_BIRTH "}", 0, "birthdate",
		  "is not a calendar date" },
		{ "{\"birthdate\":\"2023-01-32\"," WITHOUT_BIRTH "}", 0, "birthdate",
		  "is not a calendar date" },
		{ "{\"birthdate\":\"2023-1-01\"," WITHOUT_BIRTH "}", 0, "birthdate", "YYYY-MM-DD" },
		{ "{\"birthdate\":\"2023-01-1\"," WITHOUT_BIRTH "}", 0, "birthdate", "YYYY-MM-DD" },
		{ "{\"birthdate\":\"2023/01/01\"," WITHOUT_BIRTH "}", 0, "birthdate", "YYYY-MM-DD" },
		{ "{\"birthdate\":\"20230101\"," WITHOUT_BIRTH "}", 0, "birthdate", "YYYY-MM-DD" },
		{ "{\"birthdate\":\" 2023-01-01\"," WITHOUT_BIRTH "}", 0, "birthdate", "YYYY-MM-DD" },
		{ "{\"birthdate\":\"2023-01-01 \"," WITHOUT_BIRTH "}", 0, "birthdate", "YYYY-MM-DD" },
		{ "{\"birthdate\":\"2023-01-01T00:00:00Z\"," WITHOUT_BIRTH "}", 0, "birthdate",
		  "YYYY-MM-DD" },
		{ "{\"birthdate\":\"+023-01-01\"," WITHOUT_BIRTH "}", 0, "birthdate", "YYYY-MM-DD" },
		{ "{\"birthdate\":\"2023-+1-01\"," WITHOUT_BIRTH "}", 0, "birthdate", "YYYY-MM-DD" },
		{ "{\"birthdate\":\"\uff12\uff10\uff12\uff13-01-01\"," WITHOUT_BIRTH "}", 0, "birthdate",
		  "YYYY-MM-DD" },
		{ "{\"birthdate\":\"\"," WITHOUT_BIRTH "}", 0, "birthdate", "YYYY-MM-DD" },
		{ "{\"birthdate\":\"01-02-1990\"," WITHOUT_BIRTH "}", 0, "birthdate", "YYYY-MM-DD" },

		/* email */
		{ "{" WITHOUT_BIRTH "," BIRTH ",\"email\":\"ana@example.com\"}", 0, NULL, NULL },
		{ "{" WITHOUT_BIRTH "," BIRTH ",\"email\":\"a@b.c\"}", 0, NULL, NULL },
		{ "{" WITHOUT_BIRTH "," BIRTH ",\"email\":\"jos\u00e9@ejemplo.es\"}", 0, NULL, NULL },
		{ "{" WITHOUT_BIRTH "," BIRTH ",\"email\":\"a.b+tag@mail.example.co.uk\"}", 0, NULL,
		  NULL },
		{ "{" WITHOUT_BIRTH "," BIRTH ",\"email\":\"@@@example.com\"}", 242, NULL, NULL },
		{ "{" WITHOUT_BIRTH "," BIRTH ",\"email\":\"@@@example.com\"}", 243, "email",
		  "must be at most 254 bytes" },
		{ "{" WITHOUT_BIRTH "," BIRTH ",\"email\":\"ana@localhost\"}", 0, "email",
		  "domain containing a dot" },
		{ "{" WITHOUT_BIRTH "," BIRTH ",\"email\":\"ana@\"}", 0, "email",
		  "domain containing a dot" },
		{ "{" WITHOUT_BIRTH "," BIRTH ",\"email\":\"ana.example.com\"}", 0, "email",
		  "exactly one '@'" },
		{ "{" WITHOUT_BIRTH "," BIRTH ",\"email\":\"a@b@example.com\"}", 0, "email",
		  "exactly one '@'" },
		{ "{" WITHOUT_BIRTH "," BIRTH ",\"email\":\"ana@example.com@\"}", 0, "email",
		  "exactly one '@'" },
		{ "{" WITHOUT_BIRTH "," BIRTH ",\"email\":\"\"}", 0, "email", "exactly one '@'" },
		{ "{" WITHOUT_BIRTH "," BIRTH ",\"email\":\"@example.com\"}", 0, "email",
		  "non-empty part before" },
		{ "{" WITHOUT_BIRTH "," BIRTH ",\"email\":\"ana@.example.com\"}", 0, "email",
		  "starts or ends with a dot" },
		{ "{" WITHOUT_BIRTH "," BIRTH ",\"email\":\"ana@example.com.\"}", 0, "email",
		  "starts or ends with a dot" },
		{ "{" WITHOUT_BIRTH "," BIRTH ",\"email\":\"ana@exa\\r\\nmple.com\"}", 0, "email",
		  "control characters" },
		{ "{" WITHOUT_BIRTH "," BIRTH ",\"email\":\"ana@example.com\\u0000\"}", 0, "email",
		  "must not contain NUL" },
		{ "{" WITHOUT_BIRTH "," BIRTH ",\"email\":42}", 0, "email", "must be a string" },
		{ "{" WITHOUT_BIRTH "," BIRTH ",\"email\":{\"a\":1}}", 0, "email", "must be a string" },

		/* the patient itself */
		{ "42", 0, "patients", "must be a JSON object" },
		{ "null", 0, "patients", "must be a JSON object" },
		{ "\"c1\"", 0, "patients", "must be a JSON object" },
		{ "[" VALID "]", 0, "patients", "must be a JSON object" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf body = { 0 };
		struct patient_batch b;
		int r, want = cases[i].field ? -EINVAL : 0;

		buf_str(&body, "{\"patients\":[");
		buf_fill(&body, cases[i].patient, cases[i].fill);
		buf_str(&body, "]}");
		r = patient_batch_parse(body.s, body.len, today, &b);
		if (r != want || b.error_count != (cases[i].field ? 1u : 0u) ||
		    (cases[i].field &&
		     (b.errors[0].index != 0 || strcmp(b.errors[0].field, cases[i].field) != 0 ||
		      !strstr(b.errors[0].message, cases[i].message)))) {
			dump_errors("got", &b);
			fail_msg("case %zu (%s, fill %zu): r=%d want %d, %zu errors, want %s: %s", i,
				 cases[i].patient, cases[i].fill, r, want, b.error_count,
				 cases[i].field ? cases[i].field : "-",
				 cases[i].message ? cases[i].message : "-");
		}
		if (want == 0) {
			assert_int_equal(b.count, 1);
			assert_non_null(b.patients);
		} else {
			assert_int_equal(b.count, 0);
			assert_null(b.patients);
		}
		assert_false(b.errors_truncated);
		patient_batch_free(&b);
		free(body.s);
	}
}

/* What a valid batch hands the worker. */
static void test_patient_fields(void **state)
{
	static const char body[] =
		"{\"patients\":["
		"{\"code\":\"A-1\",\"first_name\":\"Jos\u00e9\",\"last_name\":\"\u00d1\u00fa\u00f1ez\","
		"\"gender\":\"male\",\"birthdate\":\"1980-05-17\",\"email\":\"jose@example.com\"},"
		"{\"code\":\"B-2\",\"first_name\":\"\u5c71\u7530\",\"last_name\":null,"
		"\"gender\":\"female\",\"birthdate\":\"2000-02-29\"},"
		"{\"code\":\"C-3\",\"first_name\":\"Ana\",\"last_name\":\"\",\"gender\":\"female\","
		"\"birthdate\":\"1900-01-01\",\"email\":null}]}";
	struct patient_batch b;
	const struct patient *p;
	(void)state;

	assert_int_equal(parse_str(body, &b), 0);
	assert_int_equal(b.count, 3);
	assert_int_equal(b.error_count, 0);
	assert_null(b.errors);
	p = &b.patients[0];
	assert_string_equal(p->code, "A-1");
	assert_int_equal(p->code_len, 3);
	assert_string_equal(p->first_name, "Jos\u00e9");
	assert_int_equal(p->first_name_len, 5);
	assert_string_equal(p->last_name, "\u00d1\u00fa\u00f1ez");
	assert_int_equal(p->last_name_len, 8);
	assert_int_equal(p->gender, PATIENT_GENDER_MALE);
	assert_string_equal(p->birthdate, "1980-05-17");
	assert_string_equal(p->email, "jose@example.com");
	assert_int_equal(p->email_len, 16);
	p = &b.patients[1];
	assert_string_equal(p->first_name, "\u5c71\u7530");
	assert_int_equal(p->first_name_len, 6);
	assert_null(p->last_name);
	assert_int_equal(p->gender, PATIENT_GENDER_FEMALE);
	assert_string_equal(p->birthdate, "2000-02-29");
	assert_null(p->email);
	p = &b.patients[2];
	assert_non_null(p->last_name);
	assert_int_equal(p->last_name_len, 0);
	assert_null(p->email);
	patient_batch_free(&b);
	patient_batch_free(&b); /* twice is harmless */
	assert_null(b.root);
}

/* Problems with the body as a whole: 400s (-EBADMSG) and batch-level 422s. */
static void test_batch_rules(void **state)
{
#define BODY(...) "{\"patients\":[" __VA_ARGS__ "]}"
#define RAW(s) s, sizeof(s) - 1
	static const struct {
		const char *what;
		const char *body;
		size_t len;
		int want;
		const char *field; /* of the one error, index -1 */
		const char *message;
	} cases[] = {
		{ "valid", RAW(BODY(VALID)), 0, NULL, NULL },
		{ "whitespace around", RAW(" \r\n\t" BODY(VALID) " \n"), 0, NULL, NULL },
		{ "empty", RAW(""), -EBADMSG, "body", "body is empty" },
		{ "only blanks", RAW("  \n"), -EBADMSG, "body", "not valid JSON" },
		{ "not JSON", RAW("patients=1"), -EBADMSG, "body", "not valid JSON" },
		{ "truncated", RAW("{\"patients\":[" VALID), -EBADMSG, "body", "not valid JSON" },
		{ "array", RAW("[" VALID "]"), -EBADMSG, "body", "must be a JSON object" },
		{ "null", RAW("null"), -EBADMSG, "body", "must be a JSON object" },
		{ "number", RAW("42"), -EBADMSG, "body", "must be a JSON object" },
		{ "string", RAW("\"patients\""), -EBADMSG, "body", "must be a JSON object" },
		{ "trailing garbage", RAW(BODY(VALID) "x"), -EBADMSG, "body", "not valid JSON" },
		{ "two documents", RAW(BODY(VALID) "{}"), -EBADMSG, "body", "not valid JSON" },
		{ "trailing comma", RAW("{\"patients\":[" VALID ",]}"), -EBADMSG, "body",
		  "not valid JSON" },
		{ "single quotes", RAW("{'patients':[" VALID "]}"), -EBADMSG, "body",
		  "not valid JSON" },
		{ "NaN", RAW("{\"x\":NaN,\"patients\":[" VALID "]}"), -EBADMSG, "body",
		  "not valid JSON" },
		{ "-Infinity", RAW("{\"x\":-Infinity,\"patients\":[" VALID "]}"), -EBADMSG, "body",
		  "not valid JSON" },
		{ "comment", RAW("{\"patients\":[" VALID "]}/**/"), -EBADMSG, "body",
		  "not valid JSON" },
		{ "bare word", RAW("{\"x\":truth,\"patients\":[" VALID "]}"), -EBADMSG, "body",
		  "not valid JSON" },
		{ "number +1", RAW("{\"x\":+1,\"patients\":[" VALID "]}"), -EBADMSG, "body",
		  "not valid JSON" },
		{ "number 1.", RAW("{\"x\":1.,\"patients\":[" VALID "]}"), -EBADMSG, "body",
		  "not valid JSON" },
		{ "number .5", RAW("{\"x\":.5,\"patients\":[" VALID "]}"), -EBADMSG, "body",
		  "not valid JSON" },
		{ "number -01", RAW("{\"x\":-01,\"patients\":[" VALID "]}"), -EBADMSG, "body",
		  "not valid JSON" },
		{ "number 1.e5", RAW("{\"x\":1.e5,\"patients\":[" VALID "]}"), -EBADMSG, "body",
		  "not valid JSON" },
		{ "number 1e", RAW("{\"x\":1e,\"patients\":[" VALID "]}"), -EBADMSG, "body",
		  "not valid JSON" },
		{ "number 0x10", RAW("{\"x\":0x10,\"patients\":[" VALID "]}"), -EBADMSG, "body",
		  "not valid JSON" },
		{ "number 1.5.2", RAW("{\"x\":1.5.2,\"patients\":[" VALID "]}"), -EBADMSG, "body",
		  "not valid JSON" },
		{ "Null", RAW("{\"x\":Null,\"patients\":[" VALID "]}"), -EBADMSG, "body",
		  "not valid JSON" },
		{ "bad escape", RAW("{\"x\":\"\\x41\",\"patients\":[" VALID "]}"), -EBADMSG, "body",
		  "not valid JSON" },
		{ "short \\u escape", RAW("{\"x\":\"\\u12\",\"patients\":[" VALID "]}"), -EBADMSG,
		  "body", "not valid JSON" },
		{ "literals are fine",
		  RAW("{\"x\":[true,false,null,-1.5e+3,0E0,-0.0e-0,10,\"\\/\\\"\"],"
		      "\"patients\":[" VALID "]}"),
		  0, NULL, NULL },
		{ "raw newline in a string", RAW(BODY("{\"code\":\"a\nb\"," WITHOUT_CODE "}")),
		  -EBADMSG, "body", "control character" },
		{ "NUL byte", RAW(BODY(VALID) "\0"), -EBADMSG, "body", "NUL byte" },
		{ "NUL byte in a string", RAW(BODY("{\"code\":\"a\0b\"," WITHOUT_CODE "}")), -EBADMSG,
		  "body", "NUL byte" },
		{ "\\u0000 in a key", RAW("{\"patients\":[{\"code\\u0000x\":\"c2\"," CODE "," FIRST
					  "," GENDER "," BIRTH "}]}"), -EBADMSG, "body", "\\u0000" },
		{ "lone high surrogate", RAW(BODY("{\"first_name\":\"\\ud800\"," WITHOUT_FIRST "}")),
		  -EBADMSG, "body", "surrogate" },
		{ "high surrogate then letter",
		  RAW(BODY("{\"first_name\":\"\\uD800\\u0041\"," WITHOUT_FIRST "}")), -EBADMSG, "body",
		  "surrogate" },
		{ "lone low surrogate", RAW(BODY("{\"first_name\":\"\\udc00x\"," WITHOUT_FIRST "}")),
		  -EBADMSG, "body", "surrogate" },
		{ "surrogate at the end", RAW(BODY("{\"first_name\":\"\\ud83d")), -EBADMSG, "body",
		  "surrogate" },
		{ "overlong C0 AF", RAW(BODY("{\"first_name\":\"\xc0\xaf\"," WITHOUT_FIRST "}")),
		  -EBADMSG, "body", "not valid UTF-8" },
		{ "overlong E0 80 AF", RAW(BODY("{\"code\":\"\xe0\x80\xaf\"," WITHOUT_CODE "}")),
		  -EBADMSG, "body", "not valid UTF-8" },
		{ "surrogate ED A0 80", RAW(BODY("{\"code\":\"\xed\xa0\x80\"," WITHOUT_CODE "}")),
		  -EBADMSG, "body", "not valid UTF-8" },
		{ "above U+10FFFF", RAW(BODY("{\"code\":\"\xf4\x90\x80\x80\"," WITHOUT_CODE "}")),
		  -EBADMSG, "body", "not valid UTF-8" },
		{ "truncated sequence", RAW(BODY("{\"code\":\"\xe5\xb1\"," WITHOUT_CODE "}")),
		  -EBADMSG, "body", "not valid UTF-8" },
		{ "stray continuation", RAW(BODY("{\"code\":\"\x80\"," WITHOUT_CODE "}")), -EBADMSG,
		  "body", "not valid UTF-8" },
		{ "Latin-1 body", RAW(BODY("{\"first_name\":\"Jos\xe9\"," WITHOUT_FIRST "}")),
		  -EBADMSG, "body", "not valid UTF-8" },
		{ "bad UTF-8 in an ignored key", RAW("{\"\xff\":1,\"patients\":[" VALID "]}"),
		  -EBADMSG, "body", "not valid UTF-8" },
		{ "no patients", RAW("{}"), -EINVAL, "patients", "is required" },
		{ "Patients", RAW("{\"Patients\":[" VALID "]}"), -EINVAL, "patients", "is required" },
		{ "patients null", RAW("{\"patients\":null}"), -EINVAL, "patients", "must be an array" },
		{ "patients object", RAW("{\"patients\":" VALID "}"), -EINVAL, "patients",
		  "must be an array" },
		{ "patients string", RAW("{\"patients\":\"[]\"}"), -EINVAL, "patients",
		  "must be an array" },
		{ "0 patients", RAW("{\"patients\":[]}"), -EINVAL, "patients", "at least one" },
	};
#undef BODY
#undef RAW
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct patient_batch b;
		int r = patient_batch_parse(cases[i].body, cases[i].len, today, &b);

		if (r != cases[i].want || b.error_count != (cases[i].field ? 1u : 0u) ||
		    (cases[i].field &&
		     (b.errors[0].index != -1 || strcmp(b.errors[0].field, cases[i].field) != 0 ||
		      !strstr(b.errors[0].message, cases[i].message)))) {
			dump_errors("got", &b);
			fail_msg("%s: r=%d want %d", cases[i].what, r, cases[i].want);
		}
		assert_true(r == 0 ? b.count == 1 : b.count == 0);
		patient_batch_free(&b);
	}
}

/* Nesting: {"patients":[{..., "x": [[...]]}]} is 3 + the brackets of x. */
static void test_depth(void **state)
{
	static const struct {
		int depth;
		const char *inner; /* innermost value; "": an empty innermost array
				    * (null when the innermost is an object) */
		int want;
	} cases[] = {
		{ 15, "1", 0 },
		{ 16, "1", 0 },
		{ 16, "\"s\"", 0 },
		{ 17, "1", 0 },
		{ 17, "", 0 },
		{ 40, "\"s\"", 0 },
		{ 63, "", 0 },
		{ 64, "1", 0 },
		{ 64, "\"s\"", 0 },
		{ 64, "", 0 },
		{ 65, "1", -EBADMSG },
		{ 65, "", -EBADMSG },
		{ 65, "\"s\"", -EBADMSG },
		{ 200, "1", -EBADMSG },
		{ 100000, "", -EBADMSG },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf body = { 0 };
		struct patient_batch b;
		int extra = cases[i].depth - 3, r;

		buf_str(&body, "{\"patients\":[{" CODE "," FIRST "," GENDER "," BIRTH ",\"x\":");
		for (int d = 0; d < extra; d++)
			buf_str(&body, d % 2 ? "{\"k\":" : "[");
		buf_str(&body, cases[i].inner[0] || extra % 2 == 1 ? cases[i].inner : "null");
		for (int d = extra - 1; d >= 0; d--)
			buf_str(&body, d % 2 ? "}" : "]");
		buf_str(&body, "}]}");
		r = patient_batch_parse(body.s, body.len, today, &b);
		if (r != cases[i].want)
			fail_msg("depth %d: r=%d want %d", cases[i].depth, r, cases[i].want);
		/* The 400 says where the limit is, so a partner can fix it. */
		if (r == -EBADMSG)
			assert_string_equal(b.errors[0].message,
					    "body nests too deep: at most 64 levels of arrays and "
					    "objects, the body's own 3 included");
		patient_batch_free(&b);
		/* The worker's in-place reader agrees (numbers are not its form:
		 * it leaves those to the full path whatever the depth). */
		r = patient_batch_parse_inplace(body.s, body.len, today, &b);
		if (r != (cases[i].want == 0 && strcmp(cases[i].inner, "1") != 0 ? 0 : 1))
			fail_msg("depth %d (%s): in place r=%d", cases[i].depth, cases[i].inner, r);
		patient_batch_free(&b);
		free(body.s);
	}
}

static void gen_valid(struct buf *b, size_t i)
{
	char p[200];

	snprintf(p, sizeof(p),
		 "{\"code\":\"p%zu\",\"first_name\":\"N%zu\",\"gender\":\"%s\","
		 "\"birthdate\":\"19%02zu-0%zu-1%zu\"}",
		 i, i, i % 2 ? "male" : "female", i % 100, 1 + i % 9, i % 10);
	buf_str(b, p);
}

/* Bad in one field each (alternating), unique codes. */
static void gen_bad(struct buf *b, size_t i)
{
	char p[200];

	snprintf(p, sizeof(p), "{\"code\":\"p%zu\",\"first_name\":\"N\",\"gender\":\"%s\","
		 "\"birthdate\":\"1990-01-01\"}", i, i % 2 ? "Male" : "f");
	buf_str(b, p);
}

static const char *const dup_codes[] = { "a", "b", "a", "c", "b", "a", "A", "a ", "\u00e9",
					 "e\u0301" };

static void gen_dups(struct buf *b, size_t i)
{
	char p[200];

	snprintf(p, sizeof(p), "{\"code\":\"%s\",\"first_name\":\"N\",\"gender\":\"male\","
		 "\"birthdate\":\"%s\"}", dup_codes[i], i == 5 ? "2023-02-29" : "1990-01-01");
	buf_str(b, p);
}

static void gen_same(struct buf *b, size_t i)
{
	(void)i;
	buf_str(b, VALID);
}

static void test_batch_sizes(void **state)
{
	static const struct {
		size_t n;
		void (*gen)(struct buf *, size_t);
		int want;
		size_t errors;
		bool truncated;
	} cases[] = {
		{ 1, gen_valid, 0, 0, false },
		{ 2, gen_valid, 0, 0, false },
		{ 999, gen_valid, 0, 0, false },
		{ 1000, gen_valid, 0, 0, false },
		{ 1001, gen_valid, -EINVAL, 1, false },
		{ 5000, gen_valid, -EINVAL, 1, false },
		{ 100, gen_bad, -EINVAL, 100, false },
		{ 101, gen_bad, -EINVAL, 100, true },
		{ 150, gen_bad, -EINVAL, 100, true },
		{ 1000, gen_same, -EINVAL, 100, true },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct patient_batch b;
		size_t len;
		char *body = make_body(cases[i].n, cases[i].gen, &len);
		int r = patient_batch_parse(body, len, today, &b);

		if (r != cases[i].want || b.error_count != cases[i].errors ||
		    b.errors_truncated != cases[i].truncated)
			fail_msg("case %zu (%zu patients): r=%d, %zu errors, truncated %d", i,
				 cases[i].n, r, b.error_count, b.errors_truncated);
		if (r == 0)
			assert_int_equal(b.count, cases[i].n);
		if (cases[i].n > PATIENT_BATCH_MAX) {
			assert_int_equal(b.errors[0].index, -1);
			assert_string_equal(b.errors[0].field, "patients");
			assert_non_null(strstr(b.errors[0].message, "at most 1000"));
		}
		if (cases[i].gen == gen_bad)
			for (size_t e = 0; e < b.error_count; e++) {
				assert_int_equal(b.errors[e].index, (int)e);
				assert_string_equal(b.errors[e].field, "gender");
			}
		patient_batch_free(&b);
		free(body);
	}
}

static void test_duplicates(void **state)
{
	static const struct {
		int index;
		const char *field;
		const char *message;
	} want[] = {
		{ 2, "code", "duplicate of patients[0]" },
		{ 4, "code", "duplicate of patients[1]" },
		/* a duplicate and otherwise wrong: both said */
		{ 5, "code", "duplicate of patients[0]" },
		{ 5, "birthdate", "is not a calendar date" },
	};
	struct patient_batch b;
	size_t len;
	char *body = make_body(sizeof(dup_codes) / sizeof(dup_codes[0]), gen_dups, &len);
	(void)state;

	/* "A", "a ", "é" and "e" + combining accent are all different codes. */
	assert_int_equal(patient_batch_parse(body, len, today, &b), -EINVAL);
	if (b.error_count != sizeof(want) / sizeof(want[0]))
		dump_errors("got", &b);
	assert_int_equal(b.error_count, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_int_equal(b.errors[i].index, want[i].index);
		assert_string_equal(b.errors[i].field, want[i].field);
		assert_string_equal(b.errors[i].message, want[i].message);
	}
	patient_batch_free(&b);
	free(body);
}

/* Error messages end up in logs and DLQ headers: no value may leak. */
static void test_messages_quote_nothing(void **state)
{
	static const char body[] =
		"{\"patients\":["
		"{\"code\":\"Zq7\\t\",\"first_name\":\"   \",\"last_name\":\"Zq7@@\","
		"\"gender\":\"Zq7\",\"birthdate\":\"Zq7\",\"email\":\"Zq7@Zq7\"},"
		"{\"code\":\"Zq7\",\"first_name\":\"Zq7\",\"gender\":\"male\","
		"\"birthdate\":\"2023-02-29\",\"email\":\"Zq7@@Zq7.com\"},"
		"{\"code\":\"Zq7\",\"first_name\":\"Zq7\",\"gender\":\"male\","
		"\"birthdate\":\"2099-01-01\",\"email\":\"@Zq7.com\"},"
		"{\"code\":\"Zq7\",\"first_name\":\"Zq7\",\"gender\":\"male\","
		"\"birthdate\":\"1800-01-01\",\"email\":\"Zq7@.Zq7\"}]}";
	struct buf big = { 0 };
	struct patient_batch b;
	(void)state;

	buf_str(&big, "{\"patients\":[{\"code\":\"x\",\"first_name\":\"Zq7\",\"last_name\":\"");
	buf_fill(&big, "Zq7@@", 300);
	buf_str(&big, "\",\"gender\":\"male\",\"birthdate\":\"1990-01-01\"}]}");
	for (int pass = 0; pass < 2; pass++) {
		const char *s = pass ? big.s : body;

		assert_int_equal(patient_batch_parse(s, strlen(s), today, &b), -EINVAL);
		assert_true(b.error_count >= (pass ? 1u : 12u));
		for (size_t i = 0; i < b.error_count; i++) {
			const char *m = b.errors[i].message;

			if (strstr(m, "Zq7") || strstr(m, "2023-02-29") || strstr(m, "2099") ||
			    strstr(m, "1800"))
				fail_msg("message quotes a value: %s", m);
		}
		patient_batch_free(&b);
	}
	free(big.s);
}

/* Every missing required field is reported, in field order. */
static void test_all_errors_of_one_patient(void **state)
{
	static const char *const fields[] = { "code", "first_name", "gender", "birthdate" };
	struct patient_batch b;
	(void)state;

	assert_int_equal(parse_str("{\"patients\":[" VALID ",{}]}", &b), -EINVAL);
	assert_int_equal(b.error_count, 4);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(b.errors[i].index, 1);
		assert_string_equal(b.errors[i].field, fields[i]);
		assert_string_equal(b.errors[i].message, "is required");
	}
	assert_null(find_error(&b, 0, "code"));
	patient_batch_free(&b);
}

/* The worker's path: a document json-c already holds. */
static void test_validate(void **state)
{
	struct patient_batch b;
	struct json_object *doc;
	(void)state;

	doc = json_tokener_parse("{\"patients\":[" VALID "]}");
	assert_non_null(doc);
	assert_int_equal(patient_batch_validate(doc, today, &b), 0);
	json_object_put(doc); /* the batch holds its own reference */
	assert_int_equal(b.count, 1);
	assert_string_equal(b.patients[0].code, "c1");
	assert_string_equal(b.patients[0].first_name, "Ana");
	patient_batch_free(&b);

	doc = json_tokener_parse("{\"patients\":[{\"code\":1}]}");
	assert_int_equal(patient_batch_validate(doc, today, &b), -EINVAL);
	assert_non_null(find_error(&b, 0, "code"));
	assert_non_null(find_error(&b, 0, "birthdate"));
	patient_batch_free(&b);
	json_object_put(doc);

	/* "today" is the caller's: the worker passes the envelope's date. */
	doc = json_tokener_parse("{\"patients\":[{\"code\":\"c\",\"first_name\":\"A\","
				 "\"gender\":\"male\",\"birthdate\":\"2026-11-26\"}]}");
	assert_int_equal(patient_batch_validate(doc, (struct date){ 2026, 11, 26 }, &b), 0);
	patient_batch_free(&b);
	assert_int_equal(patient_batch_validate(doc, today, &b), -EINVAL);
	patient_batch_free(&b);
	json_object_put(doc);

	doc = json_tokener_parse("[" VALID "]");
	assert_int_equal(patient_batch_validate(doc, today, &b), -EBADMSG);
	assert_int_equal(b.error_count, 1);
	assert_string_equal(b.errors[0].field, "body");
	patient_batch_free(&b);
	json_object_put(doc);

	assert_int_equal(patient_batch_validate(NULL, today, &b), -EBADMSG);
	patient_batch_free(&b);
}

/* The worker's in-place path: it takes the simple form and reads it exactly
 * as the full path does; anything else it leaves (1) to the full path. */
static void test_inplace(void **state)
{
	static const struct {
		const char *body;
		int want; /* 0 read here; 1 left to the full path */
	} cases[] = {
		{ "{\"patients\":[" VALID "]}", 0 },
		{ " {\"patients\" : [ " VALID " , " "{\"code\":\"c2\",\"first_name\":\"Jos\u00e9\","
		  "\"last_name\":null," GENDER "," BIRTH ",\"email\":\"a@b.es\"}" " ] }\n", 0 },
		{ "{\"x\":{\"y\":[true,false,null,\"s\"]},\"patients\":[" VALID "],\"z\":\"\"}", 0 },
		{ "{\"patients\":[{" CODE "," FIRST "," GENDER "," BIRTH ",\"note\":[[]]}]}", 0 },
		/* escapes, numbers, duplicate fields: the full path decides */
		{ "{\"patients\":[{" CODE ",\"first_name\":\"Jos\\u00e9\"," GENDER "," BIRTH "}]}", 1 },
		{ "{\"patients\":[{" CODE "," FIRST "," GENDER "," BIRTH ",\"age\":5}]}", 1 },
		{ "{\"patients\":[{" CODE "," CODE "," FIRST "," GENDER "," BIRTH "}]}", 1 },
		{ "{\"patients\":[" VALID "],\"patients\":[" VALID "]}", 1 },
		{ "{\"c\\u006fde\":1,\"patients\":[" VALID "]}", 1 },
		/* broken rules and shapes: the full path names them */
		{ "{\"patients\":[{" WITHOUT_CODE "}]}", 1 },
		{ "{\"patients\":[" VALID "," VALID "]}", 1 },
		{ "{\"patients\":[]}", 1 },
		{ "{\"patients\":{}}", 1 },
		{ "{\"other\":[]}", 1 },
		{ "{\"patients\":[\"x\"]}", 1 },
		{ "[" VALID "]", 1 },
		{ "{\"patients\":[" VALID "]} x", 1 },
		{ "{\"patients\":[" VALID "],}", 1 },
		{ "{\"patients\":[" VALID ",]}", 1 },
		{ "{\"patients\" [" VALID "]}", 1 },
		{ "{\"patients\":[" VALID "]", 1 },
		{ "{\"patients\":[{" CODE "," FIRST "," GENDER "," BIRTH ",\"x\":nul}]}", 1 },
		{ "{\"patients\":[{" CODE "," FIRST "," GENDER "," BIRTH ",\"x\":nullx}]}", 1 },
		{ "{\"patients\":[{\"code\":\"c\001\"," FIRST "," GENDER "," BIRTH "}]}", 1 },
		{ "{\"a\":[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]],\"patients\":[" VALID "]}", 0 },
		/* control characters the reader lets through (DEL, C1): the
		 * rules refuse them, so the full path gives the verdict */
		{ "{\"patients\":[{" CODE ",\"first_name\":\"Ana\x7f\"," GENDER "," BIRTH "}]}", 1 },
		{ "{\"patients\":[{" CODE "," FIRST ",\"last_name\":\"R\xc2\x9f\"," GENDER "," BIRTH
		  "}]}", 1 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct patient_batch fast, full;
		size_t len = strlen(cases[i].body);
		char *copy = strdup(cases[i].body);
		int r, rf;

		assert_non_null(copy);
		r = patient_batch_parse_inplace(copy, len, today, &fast);
		rf = patient_batch_parse(cases[i].body, len, today, &full);
		if (r != cases[i].want)
			fail_msg("case %zu: inplace %d, want %d (full path: %d)", i, r, cases[i].want, rf);
		if (r == 0) {
			assert_int_equal(rf, 0);
			assert_int_equal(fast.count, full.count);
			for (size_t k = 0; k < full.count; k++) {
				const struct patient *a = &fast.patients[k], *b = &full.patients[k];

				assert_string_equal(a->code, b->code);
				assert_string_equal(a->first_name, b->first_name);
				assert_true(!a->last_name == !b->last_name);
				if (a->last_name)
					assert_string_equal(a->last_name, b->last_name);
				assert_true(!a->email == !b->email);
				if (a->email)
					assert_string_equal(a->email, b->email);
				assert_int_equal(a->gender, b->gender);
				assert_string_equal(a->birthdate, b->birthdate);
			}
		} else {
			assert_null(fast.patients);
			assert_null(fast.errors);
		}
		patient_batch_free(&fast);
		patient_batch_free(&full);
		free(copy);
	}
}

/* 1000 patients are read in place; the 1001st sends the batch to the full
 * path, which refuses it. */
static void test_inplace_sizes(void **state)
{
	static const size_t sizes[] = { 1, 1000, 1001 };

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct patient_batch b;
		size_t len;
		char *body = make_body(sizes[i], gen_valid, &len);
		int r = patient_batch_parse_inplace(body, len, today, &b);

		assert_int_equal(r, sizes[i] <= PATIENT_BATCH_MAX ? 0 : 1);
		assert_int_equal(b.count, sizes[i] <= PATIENT_BATCH_MAX ? sizes[i] : 0);
		patient_batch_free(&b);
		free(body);
	}
}

static void test_free_zeroed(void **state)
{
	struct patient_batch b = { 0 };
	(void)state;

	patient_batch_free(&b);
	patient_batch_free(NULL);
}

static void test_date_parse(void **state)
{
	static const struct {
		const char *s;
		int want;
		struct date d;
	} cases[] = {
		{ "2024-02-29", 0, { 2024, 2, 29 } }, { "2000-02-29", 0, { 2000, 2, 29 } },
		{ "1999-12-31", 0, { 1999, 12, 31 } }, { "0001-01-01", 0, { 1, 1, 1 } },
		{ "2023-02-29", -ERANGE, { 0 } },     { "1900-02-29", -ERANGE, { 0 } },
		{ "2100-02-29", -ERANGE, { 0 } },     { "2023-06-31", -ERANGE, { 0 } },
		{ "2023-09-31", -ERANGE, { 0 } },     { "2023-11-31", -ERANGE, { 0 } },
		{ "2023-00-01", -ERANGE, { 0 } },     { "2023-1-01", -EINVAL, { 0 } },
		{ "2023-01-01x", -EINVAL, { 0 } },    { "2023_01-01", -EINVAL, { 0 } },
		{ "abcd-01-01", -EINVAL, { 0 } },     { "", -EINVAL, { 0 } },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct date d = { -1, -1, -1 };
		int r = date_parse(cases[i].s, strlen(cases[i].s), &d);

		if (r != cases[i].want)
			fail_msg("%s: r=%d want %d", cases[i].s, r, cases[i].want);
		if (r == 0)
			assert_int_equal(date_cmp(d, cases[i].d), 0);
	}
	assert_true(date_cmp((struct date){ 2000, 1, 1 },
				     (struct date){ 1999, 12, 31 }) > 0);
	assert_true(date_cmp((struct date){ 2000, 1, 31 },
				     (struct date){ 2000, 2, 1 }) < 0);
	assert_true(date_cmp((struct date){ 2000, 2, 1 },
				     (struct date){ 2000, 2, 2 }) < 0);
}

static void test_small_helpers(void **state)
{
	struct date d = date_today_utc();
	(void)state;

	assert_string_equal(patient_gender_name(PATIENT_GENDER_MALE), "male");
	assert_string_equal(patient_gender_name(PATIENT_GENDER_FEMALE), "female");
	assert_null(patient_gender_name((enum patient_gender)0));
	assert_true(d.year >= 2024);
	assert_in_range(d.month, 1, 12);
	assert_in_range(d.day, 1, 31);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_patient_rules),
		cmocka_unit_test(test_patient_fields),
		cmocka_unit_test(test_batch_rules),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_batch_sizes),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_messages_quote_nothing),
		cmocka_unit_test(test_all_errors_of_one_patient),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_inplace),
		cmocka_unit_test(test_inplace_sizes),
		cmocka_unit_test(test_free_zeroed),
		cmocka_unit_test(test_date_parse),
		cmocka_unit_test(test_small_helpers),
	};
	return cmocka_run_group_tests_name("patient", tests, NULL, NULL);
}
