/* Table test for daemon/worker/pgarray: the array literal PostgreSQL reads
 * back as the values we meant, whatever bytes a patient's text holds. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pgarray.h"

static void test_literals(void **state)
{
	static const struct {
		const char *v[4]; /* "\x01" in v[i] stands for NULL */
		size_t n;
		const char *want;
	} cases[] = {
		{ { NULL }, 0, "{}" },
		{ { "a" }, 1, "{\"a\"}" },
		{ { "a", "b" }, 2, "{\"a\",\"b\"}" },
		{ { "\x01" }, 1, "{NULL}" },
		{ { "x", "\x01", "" }, 3, "{\"x\",NULL,\"\"}" },
		/* the two bytes a quoted element escapes */
		{ { "say \"hi\"" }, 1, "{\"say \\\"hi\\\"\"}" },
		{ { "C:\\dir" }, 1, "{\"C:\\\\dir\"}" },
		/* what an unquoted element would have to escape stands as it is */
		{ { "a,b{c}", "NULL", " sp " }, 3, "{\"a,b{c}\",\"NULL\",\" sp \"}" },
		{ { "Jos\xc3\xa9" }, 1, "{\"Jos\xc3\xa9\"}" },
	};
	struct pgarray a = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(pgarray_begin(&a), 0);
		for (size_t k = 0; k < cases[i].n; k++) {
			const char *v = cases[i].v[k];

			if (strcmp(v, "\x01") == 0)
				assert_int_equal(pgarray_add(&a, NULL, 0), 0);
			else
				assert_int_equal(pgarray_add(&a, v, strlen(v)), 0);
		}
		assert_int_equal(pgarray_end(&a), 0);
		if (strcmp(a.buf, cases[i].want) != 0)
			fail_msg("case %zu: %s, want %s", i, a.buf, cases[i].want);
	}
	pgarray_free(&a);
}

/* Past the first buffer, and the worst case (every byte escaped). */
static void test_growth(void **state)
{
	static char big[10000];
	struct pgarray a = { 0 };

	(void)state;
	memset(big, '"', sizeof(big));
	assert_int_equal(pgarray_begin(&a), 0);
	assert_int_equal(pgarray_add(&a, big, sizeof(big)), 0);
	assert_int_equal(pgarray_add(&a, "z", 1), 0);
	assert_int_equal(pgarray_end(&a), 0);
	assert_int_equal(strlen(a.buf), 1 + 1 + 2 * sizeof(big) + 1 + 4 + 1);
	assert_string_equal(a.buf + strlen(a.buf) - 5, ",\"z\"}");
	pgarray_free(&a);
	assert_null(a.buf);
}

/* Values up to 24 bytes with a quote, a backslash or any other byte at
 * every position (the word-at-a-time copy and its tail), each held to the
 * rule byte by byte, in a buffer of its exact length (ASan sees a read
 * past it). */
static void test_every_position(void **state)
{
	const unsigned char bytes[] = { '"', '\\', 'a', 0x00, 0x7f, 0x80, 0xff };
	struct pgarray a = { 0 };

	(void)state;
	for (size_t len = 1; len <= 24; len++) {
		for (size_t at = 0; at < len; at++) {
			for (size_t b = 0; b < sizeof(bytes); b++) {
				char *v = malloc(len), want[64];
				size_t o = 0;

				assert_non_null(v);
				memset(v, 'x', len);
				v[at] = (char)bytes[b];
				if (at + 2 < len)
					v[at + 2] = '\\'; /* two in one word */
				want[o++] = '{';
				want[o++] = '"';
				for (size_t k = 0; k < len; k++) {
					if (v[k] == '"' || v[k] == '\\')
						want[o++] = '\\';
					want[o++] = v[k];
				}
				want[o++] = '"';
				want[o++] = '}';
				assert_int_equal(pgarray_begin(&a), 0);
				assert_int_equal(pgarray_add(&a, v, len), 0);
				assert_int_equal(pgarray_end(&a), 0);
				if (a.len + 1 != o || memcmp(a.buf, want, o) != 0)
					fail_msg("byte %02x at %zu of %zu", bytes[b], at, len);
				free(v);
			}
		}
	}
	pgarray_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_literals),
		cmocka_unit_test(test_growth),
		cmocka_unit_test(test_every_position),
	};
	return cmocka_run_group_tests_name("pgarray", tests, NULL, NULL);
}
