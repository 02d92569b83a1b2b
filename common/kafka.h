/* kafka: librdkafka configuration shared by both daemons: our defaults
 * first, then the operator's --kafka-prop key=value pairs passed straight
 * through (like kcat -X), so the operator always has the last word, and
 * between the two a properties file for what must not show in ps. */
#ifndef PATIENTS_KAFKA_H
#define PATIENTS_KAFKA_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>

struct settings_list;

/* librdkafka's log callback: one logfmt line (event=kafka facility=...
 * message=...) at the matching level. Set by kafka_conf_new on every
 * client. */
void kafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf);

/* Builds a configuration: bootstrap.servers = brokers, then each
 * "key", "value" pair of defaults (NULL-terminated, may be NULL), then
 * props, with kafka_log as its log callback. Returns the new conf (caller
 * owns it), or NULL with a message in err naming the offending property. */
rd_kafka_conf_t *kafka_conf_new(const char *brokers, const char *const *defaults,
				const struct settings_list *props, char *err, size_t errsize);

/* Reads librdkafka properties from the file at path (what
 * --kafka-props-file names): one key=value per line, blanks around key and
 * value ignored, '#' lines and empty lines skipped; the value is the rest of
 * the line ('=' and '#' included). Inserts them at the front of props, so
 * kafka_conf_new applies them after the defaults and before any -X item
 * already there. This is where secrets (sasl.password) belong: a file is
 * seen neither in ps nor in the environment of the process.
 * Returns 0; -errno from reading the file; -EINVAL for a line that is not
 * key=value; -ENOMEM. err names the path and line, never a line's text (it
 * may be a password). props keeps its items on failure. */
int kafka_props_file_load(const char *path, struct settings_list *props, char *err,
			  size_t errsize);

#endif
