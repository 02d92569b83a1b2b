/* Table-driven tests for common/kafka's properties file: what a line means,
 * where it lands among the other properties (after our defaults, before -X),
 * and that an error names path:line but never echoes a line (it may be the
 * password). */
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

#include "kafka.h"
#include "settings.h"

#define SECRET "hunter2-s3cret"

struct case_ {
	const char *text;	/* file content; NULL: no such file */
	const char *x_props[3]; /* -X items already in the list */
	int want_rc;
	size_t want_count;
	const char *want_items[5]; /* the list after loading, in order */
	const char *want_err;	   /* substring */
};

static void test_load(void **state)
{
	static const struct case_ cases[] = {
		{ .text = "", .want_count = 0 },
		{ .text = "# a comment\n\n   \n", .want_count = 0 },
		{ .text = "sasl.username=gw\nsasl.password=" SECRET "\n", .want_count = 2,
		  .want_items = { "sasl.username=gw", "sasl.password=" SECRET } },
		/* No newline at the end; CRLF; blanks around key and value. */
		{ .text = "a=1\r\n  b = 2 \n\tc=3", .want_count = 3,
		  .want_items = { "a=1", "b=2", "c=3" } },
		/* '=' inside the value stays (passwords may hold any character). */
		{ .text = "sasl.password=a=b#c\n", .want_count = 1,
		  .want_items = { "sasl.password=a=b#c" } },
		/* The file comes before -X, which keeps the last word. */
		{ .text = "security.protocol=SASL_SSL\n", .x_props = { "security.protocol=PLAINTEXT" },
		  .want_count = 2,
		  .want_items = { "security.protocol=SASL_SSL", "security.protocol=PLAINTEXT" } },
		/* Errors: path:line, never the line. */
		{ .text = "ok=1\n" SECRET "\n", .want_rc = -EINVAL, .want_err = ":2: expected key=value" },
		{ .text = "=" SECRET "\n", .want_rc = -EINVAL, .want_err = ":1: expected key=value" },
		{ .text = NULL, .want_rc = -ENOENT, .want_err = "kafka-props-file" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct case_ *c = &cases[i];
		struct settings_list props = { 0 };
		char path[] = "/tmp/test_kafka.XXXXXX", err[600] = "";
		int fd = mkstemp(path), rc;

		assert_true(fd >= 0);
		if (c->text)
			assert_int_equal(write(fd, c->text, strlen(c->text)), (ssize_t)strlen(c->text));
		close(fd);
		if (!c->text)
			unlink(path);
		for (size_t j = 0; j < 3 && c->x_props[j]; j++) {
			props.items = realloc(props.items, (props.count + 1) * sizeof(char *));
			props.items[props.count++] = strdup(c->x_props[j]);
		}
		rc = kafka_props_file_load(path, &props, err, sizeof(err));
		print_message("case %zu: rc %d err '%s'\n", i, rc, err);
		assert_int_equal(rc, c->want_rc);
		if (c->want_err) {
			assert_non_null(strstr(err, c->want_err));
			assert_null(strstr(err, SECRET));
		} else {
			assert_int_equal(props.count, c->want_count);
			for (size_t j = 0; j < c->want_count; j++)
				assert_string_equal(props.items[j], c->want_items[j]);
		}
		for (size_t j = 0; j < props.count; j++)
			free(props.items[j]);
		free(props.items);
		unlink(path);
	}
}

/* The loaded list goes through kafka_conf_new like -X: file values land in
 * librdkafka's configuration, and a -X after them wins. */
static void test_conf(void **state)
{
	struct settings_list props = { 0 };
	char path[] = "/tmp/test_kafka.XXXXXX", err[600] = "", val[128];
	const char *text = "sasl.username=gw\nclient.id=from-file\n";
	const char *const defaults[] = { "client.id", "default", NULL };
	size_t vlen = sizeof(val);
	rd_kafka_conf_t *conf;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	props.items = calloc(1, sizeof(char *));
	props.items[0] = strdup("sasl.username=from-x");
	props.count = 1;
	assert_int_equal(kafka_props_file_load(path, &props, err, sizeof(err)), 0);
	conf = kafka_conf_new("127.0.0.1:1", defaults, &props, err, sizeof(err));
	assert_non_null(conf);
	assert_int_equal(rd_kafka_conf_get(conf, "client.id", val, &vlen), RD_KAFKA_CONF_OK);
	assert_string_equal(val, "from-file");
	vlen = sizeof(val);
	assert_int_equal(rd_kafka_conf_get(conf, "sasl.username", val, &vlen), RD_KAFKA_CONF_OK);
	assert_string_equal(val, "from-x");
	rd_kafka_conf_destroy(conf);
	for (size_t j = 0; j < props.count; j++)
		free(props.items[j]);
	free(props.items);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_conf),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
