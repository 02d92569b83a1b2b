/* Table-driven tests for common/kafka: the properties file (what a line
 * means, where it lands among the other properties: after our defaults,
 * before -X; an error names path:line but never echoes a line, it may be the
 * password) and the one client factory (the order of the settings, the
 * callbacks, and errors that name the property but never its value). */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
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
/* Longer than librdkafka's 512-byte errstr, with SECRET before it. */
#define LONG_TAIL "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" \
	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" \
	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"

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

/* The loaded list goes through kafka_client_new like -X: file values land in
 * librdkafka's configuration, and a -X after them wins. */
static void test_conf(void **state)
{
	struct settings_list props = { 0 };
	char path[] = "/tmp/test_kafka.XXXXXX", err[600] = "", val[128];
	const char *text = "sasl.username=gw\nclient.id=from-file\n";
	const char *const defaults[] = { "client.id", "default", NULL };
	const struct kafka_client_options ko = {
		.type = RD_KAFKA_PRODUCER,
		.brokers = "127.0.0.1:1",
		.defaults = defaults,
		.props = &props,
	};
	size_t vlen = sizeof(val);
	const rd_kafka_conf_t *conf;
	rd_kafka_t *rk;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	props.items = calloc(1, sizeof(char *));
	props.items[0] = strdup("sasl.username=from-x");
	props.count = 1;
	assert_int_equal(kafka_props_file_load(path, &props, err, sizeof(err)), 0);
	assert_int_equal(kafka_client_new(&rk, &ko, err, sizeof(err)), 0);
	conf = rd_kafka_conf(rk);
	assert_int_equal(rd_kafka_conf_get(conf, "client.id", val, &vlen), RD_KAFKA_CONF_OK);
	assert_string_equal(val, "from-file");
	vlen = sizeof(val);
	assert_int_equal(rd_kafka_conf_get(conf, "sasl.username", val, &vlen), RD_KAFKA_CONF_OK);
	assert_string_equal(val, "from-x");
	rd_kafka_destroy(rk);
	for (size_t j = 0; j < props.count; j++)
		free(props.items[j]);
	free(props.items);
	unlink(path);
}

static int stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
	(void)rk;
	(void)json;
	(void)len;
	(void)opaque;
	return 0;
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
	(void)rk;
	(void)msg;
	(void)opaque;
}

/* A pointer property as rd_kafka_conf_get prints it ("0x..."). */
static bool conf_ptr_is(const rd_kafka_conf_t *conf, const char *key, void *want)
{
	char val[64], w[64];
	size_t vlen = sizeof(val);

	snprintf(w, sizeof(w), "%p", want);
	return rd_kafka_conf_get(conf, key, val, &vlen) == RD_KAFKA_CONF_OK && strcmp(val, w) == 0;
}

/* kafka_client_new: what ends up set, in which order, and what an error
 * says. No case may show SECRET in err, whichever property holds it. */
static void test_client(void **state)
{
	static const struct {
		const char *what;
		rd_kafka_type_t type;
		const char *brokers;
		const char *defaults[7];
		const char *x_props[4];
		int want_rc;
		const char *want_err; /* substring; NULL: no error */
		const char *key, *want_val; /* on success: a property and its value */
	} cases[] = {
		{ "defaults, then -X: the last word", RD_KAFKA_PRODUCER, "127.0.0.1:1",
		  { "client.id", "ours", "linger.ms", "2", NULL }, { "client.id=theirs" }, 0, NULL,
		  "client.id", "theirs" },
		{ "a default kept", RD_KAFKA_CONSUMER, "127.0.0.1:1",
		  { "group.id", "g", "client.id", "ours", NULL }, { "linger.ms=5" }, 0, NULL,
		  "client.id", "ours" },
		{ "bootstrap.servers from brokers", RD_KAFKA_PRODUCER, "127.0.0.1:1", { NULL },
		  { NULL }, 0, NULL, "bootstrap.servers", "127.0.0.1:1" },
		{ "-X over brokers", RD_KAFKA_PRODUCER, "127.0.0.1:1", { NULL },
		  { "bootstrap.servers=127.0.0.1:2" }, 0, NULL, "bootstrap.servers",
		  "127.0.0.1:2" },
		{ "a secret accepted", RD_KAFKA_PRODUCER, "127.0.0.1:1", { NULL },
		  { "sasl.password=" SECRET }, 0, NULL, "security.protocol", "plaintext" },
		{ "an unknown default", RD_KAFKA_PRODUCER, "127.0.0.1:1",
		  { "no.such.property", "1", NULL }, { NULL }, -EINVAL,
		  "kafka property no.such.property: ", NULL, NULL },
		{ "an unknown -X key", RD_KAFKA_PRODUCER, "127.0.0.1:1", { NULL },
		  { "client.id=x", "sasl.passwrd=" SECRET }, -EINVAL,
		  "kafka property sasl.passwrd: ", NULL, NULL },
		/* librdkafka quotes a rejected value: never passed on. */
		{ "a rejected value", RD_KAFKA_PRODUCER, "127.0.0.1:1", { NULL },
		  { "security.protocol=" SECRET }, -EINVAL,
		  "kafka property security.protocol: invalid value (not shown)", NULL, NULL },
		/* ... even one too long for librdkafka to quote whole. */
		{ "a rejected value cut in librdkafka's quote", RD_KAFKA_PRODUCER, "127.0.0.1:1",
		  { NULL }, { "security.protocol=" SECRET LONG_TAIL }, -EINVAL,
		  "kafka property security.protocol: invalid value (not shown)", NULL, NULL },
		{ "a rejected value under an alias", RD_KAFKA_PRODUCER, "127.0.0.1:1", { NULL },
		  { "linger.ms=" SECRET }, -EINVAL, "kafka property linger.ms: ", NULL, NULL },
		{ "an item without =", RD_KAFKA_PRODUCER, "127.0.0.1:1", { NULL },
		  { "client.id" }, -EINVAL, "--kafka-prop client.id: expected key=value", NULL, NULL },
		/* Every property taken, the client refused: named by what. */
		{ "refused by rd_kafka_new", RD_KAFKA_CONSUMER, "127.0.0.1:1", { NULL },
		  { "security.protocol=SASL_PLAINTEXT", "sasl.mechanisms=SCRAM-SHA-256",
		    "sasl.password=" SECRET },
		  -EINVAL, "test client: ", NULL, NULL },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct settings_list props = { 0 };
		char err[600] = "", val[128];
		size_t vlen = sizeof(val);
		int marker = 0, rc;
		struct kafka_client_options ko = {
			.type = cases[i].type,
			.what = "test client",
			.brokers = cases[i].brokers,
			.defaults = cases[i].defaults,
			.props = &props,
			.opaque = &marker,
			.stats_cb = stats_cb,
			.dr_msg_cb = dr_cb,
		};
		rd_kafka_t *rk = (rd_kafka_t *)&marker; /* must be reset */

		for (size_t j = 0; j < 4 && cases[i].x_props[j]; j++) {
			props.items = realloc(props.items, (props.count + 1) * sizeof(char *));
			props.items[props.count++] = strdup(cases[i].x_props[j]);
		}
		rc = kafka_client_new(&rk, &ko, err, sizeof(err));
		print_message("%s: rc %d err '%s'\n", cases[i].what, rc, err);
		assert_int_equal(rc, cases[i].want_rc);
		assert_null(strstr(err, SECRET));
		if (cases[i].want_err) {
			assert_null(rk);
			assert_non_null(strstr(err, cases[i].want_err));
		} else {
			const rd_kafka_conf_t *conf;

			assert_non_null(rk);
			conf = rd_kafka_conf(rk);
			assert_int_equal(rd_kafka_type(rk), cases[i].type);
			assert_ptr_equal(rd_kafka_opaque(rk), &marker);
			assert_int_equal(rd_kafka_conf_get(conf, cases[i].key, val, &vlen),
					 RD_KAFKA_CONF_OK);
			assert_string_equal(val, cases[i].want_val);
			/* librdkafka's lines in logfmt, on our log; the callbacks. */
			assert_true(conf_ptr_is(conf, "log_cb", (void *)kafka_log));
			assert_true(conf_ptr_is(conf, "stats_cb", (void *)stats_cb));
			assert_true(conf_ptr_is(conf, "dr_msg_cb", (void *)dr_cb));
			rd_kafka_destroy(rk);
		}
		for (size_t j = 0; j < props.count; j++)
			free(props.items[j]);
		free(props.items);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_conf),
		cmocka_unit_test(test_client),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
