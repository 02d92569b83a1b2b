/* kafka: where every librdkafka client of both daemons is made (the
 * gateway's producer, the worker's consumer and DLQ producer): our defaults
 * first, then the operator's --kafka-prop key=value pairs passed straight
 * through (like kcat -X), so the operator always has the last word, and
 * between the two a properties file for what must not show in ps. */
#ifndef PATIENTS_KAFKA_H
#define PATIENTS_KAFKA_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>

struct settings_list;

/* librdkafka's log callback: one logfmt line (event=kafka facility=...
 * message=...) at the matching level. Installed by kafka_client_new on every
 * client. */
void kafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf);

/* What one client is: its type and the settings and callbacks that are its
 * own. Everything else (brokers, the operator's properties, the log
 * callback) is the same for every client. */
struct kafka_client_options {
	rd_kafka_type_t type;
	const char *what;    /* names the client in err: "consumer", "DLQ producer" */
	const char *brokers; /* bootstrap.servers; NULL: left to props */
	/* "key", "value" pairs, NULL-terminated (may be NULL): our defaults,
	 * applied before props, so the operator's props win. */
	const char *const *defaults;
	const struct settings_list *props; /* --kafka-prop / --kafka-props-file */
	void *opaque;			   /* every callback's opaque */
	/* Each NULL for none. */
	void (*dr_msg_cb)(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque);
	void (*error_cb)(rd_kafka_t *rk, int err, const char *reason, void *opaque);
	void (*rebalance_cb)(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			     rd_kafka_topic_partition_list_t *parts, void *opaque);
	int (*stats_cb)(rd_kafka_t *rk, char *json, size_t len, void *opaque);
};

/* Creates a client: bootstrap.servers = brokers, then each default, then
 * props, in that order (the last setting of a key wins), with kafka_log as
 * its log callback and opt's callbacks. Returns 0 with *out (the caller owns
 * it: rd_kafka_destroy); -EINVAL with a message in err naming the
 * offending property (never its value: it may be a password) or the
 * client's refusal; -ENOMEM. *out is NULL on failure. */
int kafka_client_new(rd_kafka_t **out, const struct kafka_client_options *opt, char *err,
		     size_t errsize);

/* Reads librdkafka properties from the file at path (what
 * --kafka-props-file names): one key=value per line, blanks around key and
 * value ignored, '#' lines and empty lines skipped; the value is the rest of
 * the line ('=' and '#' included). Inserts them at the front of props, so
 * kafka_client_new applies them after the defaults and before any -X item
 * already there. This is where secrets (sasl.password) belong: a file is
 * seen neither in ps nor in the environment of the process.
 * Returns 0; -errno from reading the file; -EINVAL for a line that is not
 * key=value; -ENOMEM. err names the path and line, never a line's text (it
 * may be a password). props keeps its items on failure. */
int kafka_props_file_load(const char *path, struct settings_list *props, char *err,
			  size_t errsize);

#endif
