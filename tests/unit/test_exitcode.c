/* Table test for common/exitcode: which start-up failures systemd may
 * restart. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "exitcode.h"

static void test_for(void **state)
{
	static const struct {
		int r, want;
	} cases[] = {
		{ 0, EXITCODE_OK },
		{ -ENOMEM, EXITCODE_FAILURE },	/* not 78: a restart may well help */
		{ -EAGAIN, EXITCODE_FAILURE },
		{ -EMFILE, EXITCODE_FAILURE },
		{ -EIO, EXITCODE_FAILURE },
		{ -EINVAL, EXITCODE_CONFIG },
		{ -ENOENT, EXITCODE_CONFIG },	/* an unmigrated database */
		{ -EPROTO, EXITCODE_CONFIG },	/* a newer schema */
		{ -EADDRINUSE, EXITCODE_CONFIG },
		{ -EACCES, EXITCODE_CONFIG },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (exitcode_for(cases[i].r) != cases[i].want)
			fail_msg("%d: %d, want %d", cases[i].r, exitcode_for(cases[i].r),
				 cases[i].want);
	assert_int_equal(EXITCODE_CONFIG, 78); /* the units' RestartPreventExitStatus */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_for),
	};
	return cmocka_run_group_tests_name("exitcode", tests, NULL, NULL);
}
