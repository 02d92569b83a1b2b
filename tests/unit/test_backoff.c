/* Table test for common/backoff: doubling, the cap, and the jitter's
 * bounds over many draws. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "backoff.h"

static const struct {
	long long base, cap;
	unsigned attempts;
	long lo, hi; /* every draw within */
} cases[] = {
	{ 100, 30000, 1, 50, 100 },
	{ 100, 30000, 2, 100, 200 },
	{ 100, 30000, 3, 200, 400 },
	{ 100, 30000, 9, 12800, 25600 },
	{ 100, 30000, 10, 15000, 30000 }, /* 51200 capped */
	{ 100, 30000, 4000000000u, 15000, 30000 }, /* no overflow */
	{ 100, 2000, 6, 1000, 2000 },
	{ 100, 50, 1, 25, 50 },	  /* cap below base */
	{ 0, 30000, 5, 0, 0 },	  /* nothing to wait */
	{ 1, 1, 1, 0, 1 },
};

static void test_bounds(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned seed = (unsigned)i;
		long min = cases[i].hi, max = cases[i].lo;

		for (int k = 0; k < 2000; k++) {
			long d = backoff_ms(cases[i].base, cases[i].cap, cases[i].attempts, &seed);

			if (d < cases[i].lo || d > cases[i].hi)
				fail_msg("case %zu: %ld outside [%ld, %ld]", i, d, cases[i].lo,
					 cases[i].hi);
			min = d < min ? d : min;
			max = d > max ? d : max;
		}
		/* Jitter: the draws spread over the range, not one value. */
		if (cases[i].hi - cases[i].lo >= 50 && max - min < (cases[i].hi - cases[i].lo) / 2)
			fail_msg("case %zu: draws within [%ld, %ld] only", i, min, max);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bounds),
	};
	return cmocka_run_group_tests_name("backoff", tests, NULL, NULL);
}
