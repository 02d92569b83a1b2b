/* Table test for the worker's SQLSTATE rules (store_classify,
 * store_needs_reconnect): what is poison, what is retried, and which
 * failures need a new connection, as a switchover produces them. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store.h"

static const struct {
	const char *sqlstate; /* NULL: no answer, the connection is gone */
	enum store_failure failure;
	bool reconnect;
} cases[] = {
	{ NULL, STORE_TRANSIENT, true },
	{ "", STORE_TRANSIENT, true },
	{ "2200", STORE_TRANSIENT, true },     /* not a SQLSTATE: as no answer */
	{ "22007", STORE_PERMANENT, false },   /* invalid_datetime_format */
	{ "22001", STORE_PERMANENT, false },   /* string_data_right_truncation */
	{ "23505", STORE_PERMANENT, false },   /* unique_violation */
	{ "23514", STORE_PERMANENT, false },   /* check_violation */
	{ "08006", STORE_TRANSIENT, true },    /* connection_failure */
	{ "08001", STORE_TRANSIENT, true },    /* cannot connect */
	{ "25006", STORE_TRANSIENT, true },    /* read_only_sql_transaction: a standby */
	{ "25P02", STORE_TRANSIENT, false },   /* in_failed_sql_transaction: not 25006 */
	{ "57P01", STORE_TRANSIENT, true },    /* admin_shutdown */
	{ "57P02", STORE_TRANSIENT, true },    /* crash_shutdown */
	{ "57P03", STORE_TRANSIENT, true },    /* cannot_connect_now */
	{ "57014", STORE_TRANSIENT, false },   /* query_canceled: same connection */
	{ "40001", STORE_TRANSIENT, false },   /* serialization_failure */
	{ "40P01", STORE_TRANSIENT, false },   /* deadlock_detected */
	{ "53300", STORE_TRANSIENT, false },   /* too_many_connections */
	{ "42P01", STORE_TRANSIENT, false },   /* undefined_table: an operator's problem */
	{ "42501", STORE_TRANSIENT, false },   /* insufficient_privilege */
	{ "XX000", STORE_TRANSIENT, true },    /* internal_error */
};

static void test_rules(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *s = cases[i].sqlstate;

		if (store_classify(s) != cases[i].failure)
			fail_msg("%s: failure %d, want %d", s ? s : "(null)", store_classify(s),
				 cases[i].failure);
		if (store_needs_reconnect(s) != cases[i].reconnect)
			fail_msg("%s: reconnect %d, want %d", s ? s : "(null)",
				 store_needs_reconnect(s), cases[i].reconnect);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
