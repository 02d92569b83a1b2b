/* Table test for daemon/worker/grants' description of missing privileges
 * (the systemd STATUS= line and the once-per-change log decision). */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "grants.h"

static void test_describe(void **state)
{
	static const struct grants_missing m[] = {
		{ "schema", "public", "USAGE" },
		{ "table", "patients", "UPDATE" },
		{ "table", "patient_batches", "INSERT" },
	};
	static const struct {
		size_t n, size;
		const char *want;
	} cases[] = {
		{ 0, 64, "" },
		{ 1, 64, "schema public USAGE" },
		{ 2, 64, "schema public USAGE, table patients UPDATE" },
		{ 3, 128, "schema public USAGE, table patients UPDATE, table patient_batches INSERT" },
		{ 2, 10, "schema pu" }, /* truncated, terminated */
		{ 2, 20, "schema public USAGE" },
		{ 2, 1, "" },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[128];

		memset(buf, 'x', sizeof(buf));
		grants_describe(m, cases[i].n, buf, cases[i].size);
		if (strcmp(buf, cases[i].want) != 0)
			fail_msg("case %zu: \"%s\", want \"%s\"", i, buf, cases[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_describe),
	};
	return cmocka_run_group_tests_name("grants", tests, NULL, NULL);
}
