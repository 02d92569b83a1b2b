/* Table-driven tests for the gateway's in-flight byte budget: what fits,
 * what does not, forced bytes, and that a refusal takes nothing. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "budget.h"

enum op { RESERVE, FORCE, RELEASE };

struct step {
	enum op op;
	size_t n;
	int want;     /* budget_reserve's return */
	size_t used;  /* afterwards */
};

struct scenario {
	const char *name;
	size_t limit;
	struct step steps[8];
	size_t nsteps;
};

static const struct scenario scenarios[] = {
	{ "fills to the limit exactly, then refuses", 100, {
		{ RESERVE, 60, 0, 60 },
		{ RESERVE, 40, 0, 100 },
		{ RESERVE, 1, -ENOBUFS, 100 },
		{ RELEASE, 40, 0, 60 },
		{ RESERVE, 41, -ENOBUFS, 60 }, /* a refusal takes nothing */
		{ RESERVE, 40, 0, 100 },
	}, 6 },
	{ "more than the whole budget never fits", 100, {
		{ RESERVE, 101, -ENOBUFS, 0 },
		{ RESERVE, SIZE_MAX, -ENOBUFS, 0 }, /* no overflow past the limit */
		{ RESERVE, 100, 0, 100 },
	}, 3 },
	{ "forced bytes go past the limit and block new ones", 100, {
		{ RESERVE, 90, 0, 90 },
		{ FORCE, 20, 0, 110 },
		{ RESERVE, 1, -ENOBUFS, 110 },
		{ RESERVE, 0, -ENOBUFS, 110 }, /* even nothing, while over */
		{ RELEASE, 110, 0, 0 },
		{ RESERVE, 0, 0, 0 },
	}, 6 },
};

static void test_scenarios(void **state)
{
	(void)state;
	for (size_t s = 0; s < sizeof(scenarios) / sizeof(scenarios[0]); s++) {
		const struct scenario *sc = &scenarios[s];
		struct budget *b = NULL;

		print_message("# scenario: %s\n", sc->name);
		assert_int_equal(budget_new(&b, sc->limit), 0);
		assert_int_equal(budget_limit(b), sc->limit);
		for (size_t i = 0; i < sc->nsteps; i++) {
			const struct step *st = &sc->steps[i];
			int r = 0;

			if (st->op == RESERVE)
				r = budget_reserve(b, st->n);
			else if (st->op == FORCE)
				budget_force(b, st->n);
			else
				budget_release(b, st->n);
			assert_int_equal(r, st->want);
			assert_int_equal(budget_used(b), st->used);
		}
		budget_free(b);
	}
	budget_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scenarios),
	};
	return cmocka_run_group_tests_name("budget", tests, NULL, NULL);
}
