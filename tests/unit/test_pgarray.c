/* Table test for daemon/worker/pgarray: the array literal PostgreSQL reads
 * back as the values we meant, whatever bytes a patient's text holds. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_literals),
		cmocka_unit_test(test_growth),
	};
	return cmocka_run_group_tests_name("pgarray", tests, NULL, NULL);
}
