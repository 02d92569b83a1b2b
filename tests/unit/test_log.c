/* Table-driven tests for common/log: level names and logfmt quoting. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

static void test_level_parse(void **state)
{
	static const struct {
		const char *name;
		int want;
	} cases[] = {
		{ "error", LOG_LEVEL_ERR },   { "warning", LOG_LEVEL_WARNING },
		{ "notice", LOG_LEVEL_NOTICE }, { "info", LOG_LEVEL_INFO },
		{ "DEBUG", LOG_LEVEL_DEBUG }, { "verbose", -EINVAL },
		{ "", -EINVAL },              { NULL, -EINVAL },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(log_level_parse(cases[i].name), cases[i].want);
}

static void test_quote(void **state)
{
	static const struct {
		const char *in;
		size_t size;
		const char *want;
	} cases[] = {
		{ "plain", 64, "\"plain\"" },
		{ "say \"hi\"", 64, "\"say \\\"hi\\\"\"" },
		{ "back\\slash", 64, "\"back\\\\slash\"" },
		{ "line\nbreak", 64, "\"line\\x0abreak\"" },
		{ "", 64, "\"\"" },
		{ "truncated value", 10, "\"truncat\"" }, /* 9 chars + NUL */
	};
	char buf[64];
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(log_quote(buf, cases[i].size, cases[i].in), cases[i].want);
}

/* --log-file: lines go to the file; a path that cannot be opened leaves
 * stderr as it was and says why. */
static void test_reopen(void **state)
{
	char path[] = "/tmp/test_log.XXXXXX", line[512];
	int saved = dup(STDERR_FILENO), fd = mkstemp(path);
	FILE *f;

	(void)state;
	assert_true(saved >= 0 && fd >= 0);
	close(fd);
	assert_int_equal(log_reopen("/nonexistent-dir/x.log"), -ENOENT);
	assert_int_equal(log_reopen(path), 0);
	log_notice("reopen_test", "n=%d", 7);
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	unlink(path);
	assert_non_null(strstr(line, "level=notice event=reopen_test n=7"));
	assert_int_equal(line[0], '<');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_level_parse),
		cmocka_unit_test(test_quote),
		cmocka_unit_test(test_reopen),
	};
	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
