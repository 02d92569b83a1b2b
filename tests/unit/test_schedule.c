/* Table tests for daemon/worker/schedule: how much may wait in the lanes. */
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_room),
	};
	return cmocka_run_group_tests_name("schedule", tests, NULL, NULL);
}
