/* Table-driven tests for the rule that makes the gateway answer 503 at once:
 * every broker down for at least the grace, with no sign of life since. A
 * blip shorter than the grace never counts. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "brokerstate.h"

enum op { DOWN, UP, ASK };

struct step {
	enum op op;
	uint64_t at_ms;
	bool known_down; /* for ASK */
	uint64_t down_for_ms;
};

struct scenario {
	const char *name;
	uint64_t grace_ms;
	struct step steps[10];
	size_t nsteps;
};

static const struct scenario scenarios[] = {
	{ "never seen down: never known down", 5000, {
		{ ASK, 0, false, 0 },
		{ ASK, 1000000, false, 0 },
	}, 2 },
	{ "down for the whole grace: known down, until a broker answers", 5000, {
		{ DOWN, 1000, false, 0 },
		{ ASK, 1000, false, 1 },
		{ ASK, 5999, false, 4999 },
		{ ASK, 6000, true, 5000 },
		{ DOWN, 7000, false, 0 }, /* repeated reports keep the first time */
		{ ASK, 7000, true, 6000 },
		{ UP, 8000, false, 0 },
		{ ASK, 8000, false, 0 },
	}, 8 },
	{ "a blip shorter than the grace never refuses", 5000, {
		{ DOWN, 1000, false, 0 },
		{ ASK, 4000, false, 3000 },
		{ UP, 4500, false, 0 },
		{ ASK, 6500, false, 0 },
		{ DOWN, 7000, false, 0 }, /* a new outage starts a new clock */
		{ ASK, 11999, false, 4999 },
		{ ASK, 12000, true, 5000 },
	}, 7 },
	{ "grace 0: known down at once", 0, {
		{ DOWN, 0, false, 0 }, /* at the clock's 0 too */
		{ ASK, 0, true, 1 },
		{ UP, 0, false, 0 },
		{ ASK, 0, false, 0 },
	}, 4 },
};

static void test_scenarios(void **state)
{
	(void)state;
	for (size_t s = 0; s < sizeof(scenarios) / sizeof(scenarios[0]); s++) {
		const struct scenario *sc = &scenarios[s];
		struct brokerstate bs;

		print_message("# scenario: %s\n", sc->name);
		brokerstate_init(&bs, sc->grace_ms);
		for (size_t i = 0; i < sc->nsteps; i++) {
			const struct step *st = &sc->steps[i];

			if (st->op == DOWN) {
				brokerstate_down(&bs, st->at_ms);
			} else if (st->op == UP) {
				brokerstate_up(&bs);
			} else {
				assert_int_equal(brokerstate_known_down(&bs, st->at_ms), st->known_down);
				assert_int_equal(brokerstate_down_for_ms(&bs, st->at_ms),
						 st->down_for_ms);
			}
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scenarios),
	};
	return cmocka_run_group_tests_name("brokerstate", tests, NULL, NULL);
}
