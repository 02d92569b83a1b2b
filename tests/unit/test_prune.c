/* Table test for daemon/worker/prune's durations: what
 * --prune-batches-older-than accepts, and what it refuses rather than guess. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "prune.h"

static void test_durations(void **state)
{
	static const struct {
		const char *text;
		int rc;
		long long seconds;
	} cases[] = {
		{ "0s", 0, 0 },
		{ "45s", 0, 45 },
		{ "90m", 0, 5400 },
		{ "12h", 0, 43200 },
		{ "30d", 0, 2592000 },
		{ "2w", 0, 1209600 },
		{ "007d", 0, 604800 },
		{ "36600d", 0, 36600LL * 86400 }, /* 100 years of 366 days: the bound */
		{ "36601d", -EINVAL, 0 },
		{ "99999999999999999999s", -EINVAL, 0 }, /* no overflow */
		{ "30", -EINVAL, 0 },			 /* a unit is required */
		{ "", -EINVAL, 0 },
		{ "d", -EINVAL, 0 },
		{ "-1d", -EINVAL, 0 },
		{ "+1d", -EINVAL, 0 },
		{ " 1d", -EINVAL, 0 },
		{ "1 d", -EINVAL, 0 },
		{ "1.5d", -EINVAL, 0 },
		{ "1dd", -EINVAL, 0 },
		{ "1D", -EINVAL, 0 },
		{ "1y", -EINVAL, 0 },
		{ "1ms", -EINVAL, 0 },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long long got = -1;
		int rc = prune_parse_duration(cases[i].text, &got);

		if (rc != cases[i].rc)
			fail_msg("\"%s\": rc %d, want %d", cases[i].text, rc, cases[i].rc);
		if (rc == 0 && got != cases[i].seconds)
			fail_msg("\"%s\": %lld s, want %lld", cases[i].text, got, cases[i].seconds);
	}
	assert_int_equal(prune_parse_duration(NULL, &(long long){ 0 }), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_durations),
	};
	return cmocka_run_group_tests_name("prune", tests, NULL, NULL);
}
