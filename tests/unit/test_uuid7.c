/* Tests for common/uuid7: the RFC 9562 layout, canonical text, and order
 * that holds when many ids share a millisecond or the clock goes back. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "uuid7.h"

#define N_IDS 10000

/* The 48-bit timestamp an id carries. */
static uint64_t id_ms(const char *id)
{
	char hex[13];

	memcpy(hex, id, 8);
	memcpy(hex + 8, id + 9, 4);
	hex[12] = '\0';
	return strtoull(hex, NULL, 16);
}

static void check_layout(const char *id)
{
	assert_int_equal(strlen(id), UUID7_STRLEN);
	assert_true(uuid7_is_canonical(id));
	assert_true(uuid7_is_valid(id));
	assert_int_equal(id[14], '7');			  /* version */
	assert_non_null(strchr("89ab", id[19]));	  /* variant 10xx */
}

static void test_format(void **state)
{
	struct uuid7_state st;
	char id[UUID7_STRLEN + 1];
	uint64_t now = uuid7_now_ms();
	(void)state;

	assert_int_equal(uuid7_init(&st), 0);
	uuid7_next(&st, now, id);
	check_layout(id);
	assert_true(id_ms(id) == now);
	/* a fresh state, since ids never go back to an earlier clock */
	assert_int_equal(uuid7_init(&st), 0);
	uuid7_next(&st, UINT64_C(0x0123456789ab), id);
	assert_memory_equal(id, "01234567-89ab-7", 15);
	/* the clock is 48 bits: higher bits are dropped, not spilled */
	uuid7_next(&st, UINT64_C(0xff0123456789ac), id);
	assert_memory_equal(id, "01234567-89ac-7", 15);
}

/* Each scenario is a clock: the ms it reads for the i-th id. */
static uint64_t clock_fixed(size_t i)
{
	(void)i;
	return UINT64_C(1795860000000);
}

static uint64_t clock_backwards(size_t i)
{
	return UINT64_C(1795860000000) - i;
}

static uint64_t clock_jumps_back(size_t i)
{
	/* forward a while, then back by an hour, then forward again */
	return UINT64_C(1795860000000) + (i < N_IDS / 2 ? i : i - 3600000);
}

static uint64_t clock_ticking(size_t i)
{
	return UINT64_C(1795860000000) + i / 7;
}

static uint64_t clock_zero(size_t i)
{
	(void)i;
	return 0;
}

static void test_monotonic(void **state)
{
	static const struct {
		const char *what;
		uint64_t (*clock)(size_t);
	} cases[] = {
		{ "same millisecond", clock_fixed },
		{ "clock going backwards", clock_backwards },
		{ "clock jumping back", clock_jumps_back },
		{ "clock ticking", clock_ticking },
		{ "clock at zero", clock_zero },
	};
	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct uuid7_state st;
		char prev[UUID7_STRLEN + 1] = "", id[UUID7_STRLEN + 1];

		assert_int_equal(uuid7_init(&st), 0);
		for (size_t i = 0; i < N_IDS; i++) {
			uint64_t ms = cases[c].clock(i);

			uuid7_next(&st, ms, id);
			check_layout(id);
			if (strcmp(prev, id) >= 0)
				fail_msg("%s: id %zu %s is not after %s", cases[c].what, i, id, prev);
			/* never behind the clock it was given */
			assert_true(id_ms(id) >= ms);
			memcpy(prev, id, sizeof(id));
		}
		/* 10000 in one millisecond overflow the 12-bit counter: the
		 * timestamp carries, but only by a few milliseconds. */
		if (cases[c].clock == clock_fixed)
			assert_true(id_ms(id) > clock_fixed(0) && id_ms(id) < clock_fixed(0) + 10);
	}
}

/* Two generators (two gateway processes) do not collide. */
static void test_unique_across_states(void **state)
{
	struct uuid7_state a, b;
	char x[UUID7_STRLEN + 1], y[UUID7_STRLEN + 1];
	(void)state;

	assert_int_equal(uuid7_init(&a), 0);
	assert_int_equal(uuid7_init(&b), 0);
	for (int i = 0; i < 1000; i++) {
		uuid7_next(&a, 1000, x);
		uuid7_next(&b, 1000, y);
		assert_string_not_equal(x, y);
	}
}

static void test_is_valid(void **state)
{
	static const struct {
		const char *s;
		bool canonical, v7;
	} cases[] = {
		{ "01936f5e-8a2b-7c3d-9e4f-0123456789ab", true, true },
		{ "01936f5e-8a2b-7c3d-ae4f-0123456789ab", true, true },
		{ "01936f5e-8a2b-7c3d-be4f-0123456789ab", true, true },
		{ "01936f5e-8a2b-4c3d-9e4f-0123456789ab", true, false }, /* v4 */
		{ "01936f5e-8a2b-7c3d-ce4f-0123456789ab", true, false }, /* variant */
		{ "01936f5e-8a2b-7c3d-7e4f-0123456789ab", true, false },
		{ "00000000-0000-0000-0000-000000000000", true, false },
		{ "01936F5E-8A2B-7C3D-9E4F-0123456789AB", false, false },
		{ "01936f5e-8a2b-7c3d-9e4f-0123456789a", false, false },
		{ "01936f5e-8a2b-7c3d-9e4f-0123456789abc", false, false },
		{ "01936f5e_8a2b-7c3d-9e4f-0123456789ab", false, false },
		{ "01936f5e-8a2b-7c3d-9e4f-0123456789ag", false, false },
		{ "01936f5e8a2b7c3d9e4f0123456789ab", false, false },
		{ " 01936f5e-8a2b-7c3d-9e4f-0123456789a", false, false },
		{ "", false, false },
		{ NULL, false, false },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (uuid7_is_canonical(cases[i].s) != cases[i].canonical ||
		    uuid7_is_valid(cases[i].s) != cases[i].v7)
			fail_msg("%s", cases[i].s ? cases[i].s : "NULL");
	}
}

static void test_now(void **state)
{
	uint64_t a = uuid7_now_ms(), b = uuid7_now_ms();
	(void)state;

	assert_true(a > UINT64_C(1700000000000)); /* after 2023 */
	assert_true(b >= a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_monotonic),
		cmocka_unit_test(test_unique_across_states),
		cmocka_unit_test(test_is_valid),
		cmocka_unit_test(test_now),
	};
	return cmocka_run_group_tests_name("uuid7", tests, NULL, NULL);
}
