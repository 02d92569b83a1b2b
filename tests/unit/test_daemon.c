/* Table test for common/daemon: what start-up does with each kind of
 * command line (go on, or exit with which status), the props file read
 * before -X, and the signals' flags. */
#include "config.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon.h"
#include "exitcode.h"

struct test_config {
	char *name;
	struct daemon_common common;
};

static const struct setting test_settings[] = {
	{ "name", 'n', SETTING_STRING, NULL, "x", 0, 0, offsetof(struct test_config, name), "S",
	  "a daemon's own option" },
	DAEMON_SETTINGS(struct test_config),
};

static int usage_calls;

static void test_usage(FILE *out)
{
	(void)out;
	usage_calls++;
}

static const struct daemon_spec spec = {
	.name = "test-daemon",
	.settings = test_settings,
	.nsettings = sizeof(test_settings) / sizeof(test_settings[0]),
	.usage = test_usage,
};

static char props_path[64] = "/tmp/test_daemon_props.XXXXXX";

static int setup(void **state)
{
	int fd = mkstemp(props_path);
	static const char text[] = "# a comment\nsasl.username=u\n";

	(void)state;
	if (fd < 0 || write(fd, text, sizeof(text) - 1) != (ssize_t)(sizeof(text) - 1))
		return -1;
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(props_path);
	return 0;
}

static void test_start(void **state)
{
	static const struct {
		const char *args[6];
		bool go_on;
		int status;
	} cases[] = {
		{ { NULL }, true, EXITCODE_OK },
		{ { "--help" }, false, EXITCODE_OK },
		{ { "-V" }, false, EXITCODE_OK },
		{ { "--bogus" }, false, EXITCODE_USAGE },
		{ { "stray" }, false, EXITCODE_USAGE },
		{ { "--log-level", "loud" }, false, EXITCODE_USAGE },
		{ { "--log-level", "debug" }, true, EXITCODE_OK },
		/* a file the operator named and we cannot read: restarting won't help */
		{ { "--kafka-props-file", "/nonexistent/props" }, false, EXITCODE_CONFIG },
		{ { "--log-file", "/nonexistent/dir/log" }, false, EXITCODE_CONFIG },
		/* --help wins over a file that would fail */
		{ { "--kafka-props-file", "/nonexistent/props", "--help" }, false, EXITCODE_OK },
		{ { "--kafka-props-file", props_path, "-X", "a=b" }, true, EXITCODE_OK },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *argv[8] = { "test-daemon" };
		struct test_config cfg = { 0 };
		int argc = 1, status = -1;
		bool go_on;

		for (size_t k = 0; cases[i].args[k]; k++)
			argv[argc++] = (char *)cases[i].args[k];
		optind = 0; /* getopt_long again from the start */
		usage_calls = 0;
		go_on = daemon_start(&spec, &cfg, &cfg.common, argc, argv, &status);
		if (go_on != cases[i].go_on || status != cases[i].status)
			fail_msg("case %zu (%s): go_on=%d status=%d, want %d %d", i,
				 argc > 1 ? argv[1] : "-", go_on, status, cases[i].go_on,
				 cases[i].status);
		assert_int_equal(usage_calls, cfg.common.help ? 1 : 0);
		if (i == sizeof(cases) / sizeof(cases[0]) - 1) {
			/* the file's lines come before -X's, so -X overrides them */
			assert_int_equal(cfg.common.kafka_props.count, 2);
			assert_string_equal(cfg.common.kafka_props.items[0], "sasl.username=u");
			assert_string_equal(cfg.common.kafka_props.items[1], "a=b");
		}
		daemon_end(&spec, &cfg);
	}
}

static void test_signals(void **state)
{
	char *argv[] = { "test-daemon" };
	struct test_config cfg = { 0 };
	int status;

	(void)state;
	optind = 0;
	assert_true(daemon_start(&spec, &cfg, &cfg.common, 1, argv, &status));
	assert_false(daemon_reload_requested());
	raise(SIGHUP);
	assert_true(daemon_reload_requested());
	assert_false(daemon_reload_requested()); /* once per HUP */
	raise(SIGPIPE); /* ignored: the test goes on */
	assert_false(daemon_stopping());
	raise(SIGTERM);
	assert_true(daemon_stopping());
	assert_int_equal(*daemon_stop_flag(), 1);
	daemon_end(&spec, &cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start),
		cmocka_unit_test(test_signals),
	};
	return cmocka_run_group_tests_name("daemon", tests, setup, teardown);
}
