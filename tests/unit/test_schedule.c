/* Table tests for daemon/worker/schedule: the appliers' queue bounds and
 * which applier a partition's batch goes to. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "schedule.h"

static void test_room(void **state)
{
	static const struct {
		size_t queued, bytes;
		struct schedule_limit lim;
		bool room;
	} cases[] = {
		{ 0, 0, { 128, 1000 }, true },
		{ 0, 5000, { 128, 1000 }, true },   /* empty: one always fits */
		{ 1, 5000, { 128, 1000 }, false },  /* over the bytes */
		{ 1, 999, { 128, 1000 }, true },
		{ 1, 1000, { 128, 1000 }, false },  /* at the bytes */
		{ 127, 10, { 128, 1000 }, true },
		{ 128, 10, { 128, 1000 }, false },  /* at the jobs */
		{ 500, 10, { 128, 1000 }, false },
		{ 0, 0, { 0, 0 }, true },	   /* even with no room at all */
		{ 1, 0, { 0, 0 }, false },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (schedule_room(cases[i].queued, cases[i].bytes, cases[i].lim) != cases[i].room)
			fail_msg("case %zu: room %d, want %d", i, !cases[i].room, cases[i].room);
}

static void test_choose(void **state)
{
	static const struct {
		int current;
		bool pending;
		size_t backlog[4];
		size_t n;
		size_t want;
	} cases[] = {
		{ -1, false, { 0, 0 }, 2, 0 },		 /* first of equals */
		{ -1, false, { 3, 1 }, 2, 1 },		 /* least busy */
		{ 0, true, { 9, 0 }, 2, 0 },		 /* stays while it has a batch there */
		{ 0, false, { 9, 0 }, 2, 1 },		 /* free to move once it has none */
		{ 1, false, { 2, 2, 1, 5 }, 4, 2 },
		{ 3, true, { 0, 0, 0, 7 }, 4, 3 },
		{ 5, true, { 4, 2 }, 2, 1 },		 /* a current out of range: chosen anew */
		{ -1, true, { 1, 1, 0 }, 3, 2 },	 /* pending without a current: chosen */
		{ -1, false, { 7 }, 1, 0 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t got = schedule_choose(cases[i].current, cases[i].pending, cases[i].backlog,
					     cases[i].n);

		if (got != cases[i].want)
			fail_msg("case %zu: applier %zu, want %zu", i, got, cases[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_room),
		cmocka_unit_test(test_choose),
	};
	return cmocka_run_group_tests_name("schedule", tests, NULL, NULL);
}
