/* Table tests for common/date: the calendar (leap years, month lengths),
 * the exact YYYY-MM-DD form, the order of days and RFC 3339 instants. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "date.h"

static void test_parse(void **state)
{
	static const struct {
		const char *s;
		int r;
		int y, m, d;
	} cases[] = {
		{ "2026-11-24", 0, 2026, 11, 24 },
		{ "1900-01-01", 0, 1900, 1, 1 },
		{ "2024-02-29", 0, 2024, 2, 29 },  /* leap year */
		{ "2000-02-29", 0, 2000, 2, 29 },  /* divisible by 400 */
		{ "1900-02-29", -ERANGE, 0, 0, 0 },	    /* divisible by 100 only */
		{ "2023-02-29", -ERANGE, 0, 0, 0 },
		{ "2023-04-31", -ERANGE, 0, 0, 0 },
		{ "2023-12-31", 0, 2023, 12, 31 },
		{ "2023-13-01", -ERANGE, 0, 0, 0 },
		{ "2023-00-10", -ERANGE, 0, 0, 0 },
		{ "2023-01-00", -ERANGE, 0, 0, 0 },
		{ "2023-1-01", -EINVAL, 0, 0, 0 },
		{ " 2023-01-01", -EINVAL, 0, 0, 0 },
		{ "+023-01-01", -EINVAL, 0, 0, 0 },
		{ "2023/01/01", -EINVAL, 0, 0, 0 },
		{ "2023-01-0a", -EINVAL, 0, 0, 0 },
		{ "", -EINVAL, 0, 0, 0 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct date d = { 0, 0, 0 };
		int r = date_parse(cases[i].s, strlen(cases[i].s), &d);

		if (r != cases[i].r)
			fail_msg("\"%s\": %d, want %d", cases[i].s, r, cases[i].r);
		if (r == 0 && (d.year != cases[i].y || d.month != cases[i].m || d.day != cases[i].d))
			fail_msg("\"%s\": %d-%d-%d", cases[i].s, d.year, d.month, d.day);
	}
}

static void test_days_and_order(void **state)
{
	static const struct {
		int y, m, days;
	} months[] = {
		{ 2023, 1, 31 }, { 2023, 2, 28 }, { 2024, 2, 29 }, { 2100, 2, 28 }, { 2000, 2, 29 },
		{ 2023, 4, 30 }, { 2023, 12, 31 }, { 2023, 0, 0 },  { 2023, 13, 0 },
	};
	static const struct {
		struct date a, b;
		int sign;
	} order[] = {
		{ { 2023, 1, 1 }, { 2023, 1, 1 }, 0 },	{ { 2023, 1, 1 }, { 2023, 1, 2 }, -1 },
		{ { 2023, 2, 1 }, { 2023, 1, 31 }, 1 }, { { 2022, 12, 31 }, { 2023, 1, 1 }, -1 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(months) / sizeof(months[0]); i++)
		assert_int_equal(date_days_in_month(months[i].y, months[i].m), months[i].days);
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		int c = date_cmp(order[i].a, order[i].b);

		if ((c > 0) - (c < 0) != order[i].sign)
			fail_msg("order case %zu: %d", i, c);
	}
}

static void test_rfc3339(void **state)
{
	static const struct {
		const char *s;
		int r;
		int64_t ms;
	} cases[] = {
		{ "1970-01-01T00:00:00Z", 0, 0 },
		{ "2026-11-24T00:00:00Z", 0, 1795478400000LL },
		{ "2026-11-24T10:00:00.123Z", 0, 1795514400123LL },
		{ "2026-11-24T10:00:00.5+01:00", 0, 1795510800500LL },
		{ "2026-11-24T10:00:00-02:30", 0, 1795523400000LL },
		{ "2026-11-24t10:00:00z", 0, 1795514400000LL },
		{ "2024-02-29T12:00:00Z", 0, 1709208000000LL },
		{ "1969-12-31T23:59:59Z", 0, -1000 },
		{ "2023-02-29T00:00:00Z", -EINVAL, 0 }, /* no such day */
		{ "2026-11-24T24:00:00Z", -EINVAL, 0 },
		{ "2026-11-24T10:60:00Z", -EINVAL, 0 },
		{ "2026-11-24T10:00:00", -EINVAL, 0 },  /* no offset */
		{ "2026-11-24T10:00:00.Z", -EINVAL, 0 },
		{ "2026-11-24T10:00:00+0100", -EINVAL, 0 },
		{ "2026-11-24T10:00:00Zjunk", -EINVAL, 0 },
		{ "2026-11-24 10:00:00Z", -EINVAL, 0 },
		{ "2026-11-24", -EINVAL, 0 },
		{ "", -EINVAL, 0 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t ms = 42;
		int r = date_parse_rfc3339_ms(cases[i].s, &ms);

		if (r != cases[i].r)
			fail_msg("\"%s\": %d, want %d", cases[i].s, r, cases[i].r);
		if (r == 0 && ms != cases[i].ms)
			fail_msg("\"%s\": %lld ms, want %lld", cases[i].s, (long long)ms,
				 (long long)cases[i].ms);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_days_and_order),
		cmocka_unit_test(test_rfc3339),
	};
	return cmocka_run_group_tests_name("date", tests, NULL, NULL);
}
