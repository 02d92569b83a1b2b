/* Table-driven tests for common/jsonscan's string reader: the bytes that
 * end or refuse a string ('"', '\\', control bytes) found at every position,
 * in and across the 8-byte words it reads at a time, against a byte-by-byte
 * reference. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jsonscan.h"

/* The reading the fast path must agree with: the string's length up to its
 * closing quote, or -1 for an escape, a control byte or no closing quote. */
static long ref_string(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"')
			return (long)i;
		if (s[i] == '\\' || s[i] < 0x20)
			return -1;
	}
	return -1;
}

static void test_string_bytes(void **state)
{
	/* The special bytes, their neighbours, and bytes of UTF-8 letters. */
	static const unsigned char bytes[] = { '"', '\\', 0x01, 0x0a, 0x1f, 0x20, 0x21, 0x23,
					       0x5b, 0x5d, 0x7f, 0x80, 0xa2, 0xc3, 0xdc, 0xff };
	(void)state;

	for (size_t len = 0; len <= 24; len++) {
		for (size_t at = 0; at < len; at++) {
			for (size_t b = 0; b < sizeof(bytes); b++) {
				for (size_t second = 0; second <= sizeof(bytes); second++) {
					/* '"' + len bytes of letters, with bytes[b] at
					 * `at` and maybe a second one further on, then
					 * the closing quote (or none, when len is the
					 * whole text). */
					size_t n = 1 + len + 1;
					char *text = malloc(n);
					struct jsonscan sc;
					char *str;
					size_t slen;
					long want;
					int r;

					assert_non_null(text);
					text[0] = '"';
					memset(text + 1, 'x', len);
					text[1 + at] = (char)bytes[b];
					if (second < sizeof(bytes) && at + 3 < len)
						text[1 + at + 3] = (char)bytes[second];
					text[1 + len] = '"';
					want = ref_string((const unsigned char *)text + 1, len + 1);
					jsonscan_init(&sc, text, n, 4);
					r = jsonscan_string(&sc, &str, &slen);
					if (want < 0) {
						if (r != -1)
							fail_msg("len %zu: byte %02x at %zu read as a string",
								 len, bytes[b], at);
					} else if (r != 0 || slen != (size_t)want || str != text + 1 ||
						   str[slen] != '\0' || sc.p != text + 1 + want + 1) {
						fail_msg("len %zu: byte %02x at %zu: got %d, length %zu, "
							 "want %ld", len, bytes[b], at, r, r ? 0 : slen, want);
					}
					free(text);
				}
			}
		}
	}
}

/* No closing quote: the reader stops at the end of the text (an exact-size
 * heap copy lets ASan see an overread). */
static void test_string_unterminated(void **state)
{
	(void)state;
	for (size_t len = 0; len <= 24; len++) {
		char *text = malloc(1 + len);
		struct jsonscan sc;
		char *str;
		size_t slen;

		assert_non_null(text);
		text[0] = '"';
		memset(text + 1, 'y', len);
		jsonscan_init(&sc, text, 1 + len, 4);
		assert_int_equal(jsonscan_string(&sc, &str, &slen), -1);
		free(text);
	}
}

/* A scanner over a writable copy of text (NUL-terminated, as the readers
 * leave it), nesting at most 4; the copy is the caller's to free. */
static char *scan_copy(const char *text, struct jsonscan *sc)
{
	size_t n = strlen(text);
	char *copy = malloc(n + 1);

	assert_non_null(copy);
	memcpy(copy, text, n + 1);
	jsonscan_init(sc, copy, n, 4);
	return copy;
}

/* Skipping reads past a value and leaves its text intact (the envelope
 * hands the body it skipped to the patient reader as it was); what it
 * cannot skip, it refuses. */
static void test_skip(void **state)
{
	static const struct {
		const char *text;
		long rest; /* offset where the skip stops, -1 when refused */
	} cases[] = {
		{ "{\"a\":\"x\",\"b\":[\"y\",null,true,{\"c\":false}]} ,", 41 },
		{ "\"Jos\xc3\xa9 Garc\xc3\xad" "a\" ", 15 },
		{ "[] ", 2 },
		{ "{ } ", 3 },
		{ "null,", 4 },
		{ "{\"a\":1}", -1 },	   /* a number */
		{ "{\"a\":\"x\\ny\"}", -1 }, /* an escape */
		{ "{\"a\" \"x\"}", -1 },   /* no colon */
		{ "[\"x\" \"y\"]", -1 },   /* no comma */
		{ "{\"a\":\"x\"", -1 },	   /* not closed */
		{ "[[[[[\"deep\"]]]]]", -1 }, /* deeper than 4 */
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct jsonscan sc;
		char *text = scan_copy(cases[i].text, &sc);
		int r = jsonscan_skip(&sc);
		if (cases[i].rest < 0) {
			if (r != -1)
				fail_msg("case %zu: skipped", i);
		} else if (r != 0 || sc.p != text + cases[i].rest) {
			fail_msg("case %zu: got %d, stopped at %td", i, r, sc.p - text);
		}
		if (strcmp(text, cases[i].text) != 0)
			fail_msg("case %zu: the text was changed", i);
		free(text);
	}
}

/* peek: past whitespace to the next byte, which stays where it is. */
static void test_peek(void **state)
{
	static const struct {
		const char *text;
		char want;
		long at; /* where the reader is after it */
	} cases[] = {
		{ "\"a\"", '"', 0 },
		{ " \t\r\n null", 'n', 5 },
		{ "", '\0', 0 },
		{ "   ", '\0', 3 },
		{ "}", '}', 0 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct jsonscan sc;
		char *text = scan_copy(cases[i].text, &sc);
		char c = jsonscan_peek(&sc);
		if (c != cases[i].want || sc.p != text + cases[i].at)
			fail_msg("case %zu: '%c' at %td", i, c, sc.p - text);
		/* Twice: nothing was consumed. */
		if (jsonscan_peek(&sc) != c)
			fail_msg("case %zu: consumed", i);
		free(text);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_string_bytes),
		cmocka_unit_test(test_string_unterminated),
		cmocka_unit_test(test_skip),
		cmocka_unit_test(test_peek),
	};
	return cmocka_run_group_tests_name("jsonscan", tests, NULL, NULL);
}
