/* Table-driven tests for common/settings: precedence flag > env > default,
 * bounds, lists, and errors that name where a bad value came from. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "settings.h"

struct cfg {
	char *name;
	long long count;
	bool verbose;
	struct settings_list props;
};

#define OPT(f) offsetof(struct cfg, f)
static const struct setting table[] = {
	{ "name", 'n', SETTING_STRING, "T_NAME", "dflt", 0, 0, OPT(name), "S", "a string" },
	{ "count", 'c', SETTING_INT, "T_COUNT", "2", 1, 64, OPT(count), "N", "a number" },
	{ "verbose", 'v', SETTING_FLAG, "T_VERBOSE", NULL, 0, 0, OPT(verbose), NULL, "a flag" },
	{ "prop", 'X', SETTING_LIST, "T_PROPS", NULL, 0, 0, OPT(props), "K=V", "a list" },
};
#define N (sizeof(table) / sizeof(table[0]))

struct case_ {
	const char *env_name, *env_count, *env_verbose, *env_props;
	const char *argv[6];
	int want_rc;
	const char *want_name;
	long long want_count;
	bool want_verbose;
	size_t want_props;
	const char *want_last_prop;
	const char *want_err; /* substring */
};

static void setenv_or_unset(const char *k, const char *v)
{
	if (v)
		setenv(k, v, 1);
	else
		unsetenv(k);
}

static void test_load(void **state)
{
	static const struct case_ cases[] = {
		{ .argv = { "p" }, .want_name = "dflt", .want_count = 2 },
		{ .env_name = "env", .env_count = "5", .argv = { "p" }, .want_name = "env",
		  .want_count = 5 },
		{ .env_name = "env", .env_count = "5", .argv = { "p", "--name", "flag", "-c", "7" },
		  .want_name = "flag", .want_count = 7 },
		{ .argv = { "p", "--count=64" }, .want_name = "dflt", .want_count = 64 },
		{ .argv = { "p", "--count", "65" }, .want_rc = -EINVAL,
		  .want_err = "--count: 65 is outside 1..64" },
		{ .env_count = "0", .argv = { "p" }, .want_rc = -EINVAL,
		  .want_err = "T_COUNT: 0 is outside 1..64" },
		{ .env_count = "3x", .argv = { "p" }, .want_rc = -EINVAL,
		  .want_err = "T_COUNT: \"3x\" is not a whole number" },
		{ .env_verbose = "yes", .argv = { "p" }, .want_name = "dflt", .want_count = 2,
		  .want_verbose = true },
		{ .env_verbose = "maybe", .argv = { "p" }, .want_rc = -EINVAL,
		  .want_err = "T_VERBOSE" },
		{ .argv = { "p", "-v" }, .want_name = "dflt", .want_count = 2, .want_verbose = true },
		{ .env_props = "a=1;b=2;;", .argv = { "p" }, .want_name = "dflt", .want_count = 2,
		  .want_props = 2, .want_last_prop = "b=2" },
		{ .env_props = "a=1", .argv = { "p", "-X", "c=3", "--prop", "d=4" },
		  .want_name = "dflt", .want_count = 2, .want_props = 3, .want_last_prop = "d=4" },
		{ .argv = { "p", "--bogus" }, .want_rc = -EINVAL, .want_err = "--bogus: unknown option" },
		{ .argv = { "p", "--name" }, .want_rc = -EINVAL, .want_err = "needs a value" },
		{ .argv = { "p", "stray" }, .want_rc = -EINVAL, .want_err = "stray: unexpected argument" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct case_ *t = &cases[i];
		struct cfg cfg = { 0 };
		char err[256] = "";
		char *argv[6] = { 0 };
		int argc = 0, rc;

		for (; argc < 6 && t->argv[argc]; argc++)
			argv[argc] = (char *)t->argv[argc];
		setenv_or_unset("T_NAME", t->env_name);
		setenv_or_unset("T_COUNT", t->env_count);
		setenv_or_unset("T_VERBOSE", t->env_verbose);
		setenv_or_unset("T_PROPS", t->env_props);
		rc = settings_load(table, N, &cfg, argc, argv, err, sizeof(err));
		print_message("# case %zu: rc=%d err=%s\n", i, rc, err);
		assert_int_equal(rc, t->want_rc);
		if (rc == 0) {
			assert_string_equal(cfg.name, t->want_name);
			assert_int_equal(cfg.count, t->want_count);
			assert_int_equal(cfg.verbose, t->want_verbose);
			assert_int_equal(cfg.props.count, t->want_props);
			if (t->want_last_prop)
				assert_string_equal(cfg.props.items[cfg.props.count - 1],
						    t->want_last_prop);
		} else {
			assert_non_null(strstr(err, t->want_err));
		}
		settings_free(table, N, &cfg);
	}
}

static void test_split_kv(void **state)
{
	static const struct {
		const char *in;
		int rc;
		const char *key, *value;
	} cases[] = {
		{ "a=b", 0, "a", "b" },
		{ "fetch.min.bytes=1=2", 0, "fetch.min.bytes", "1=2" },
		{ "k=", 0, "k", "" },
		{ "=v", -EINVAL, NULL, NULL },
		{ "novalue", -EINVAL, NULL, NULL },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *buf = NULL;
		const char *k = NULL, *v = NULL;

		assert_int_equal(settings_split_kv(cases[i].in, &buf, &k, &v), cases[i].rc);
		if (cases[i].rc == 0) {
			assert_string_equal(k, cases[i].key);
			assert_string_equal(v, cases[i].value);
		}
		free(buf);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_split_kv),
	};
	return cmocka_run_group_tests_name("settings", tests, NULL, NULL);
}
