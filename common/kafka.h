/* kafka: librdkafka configuration shared by both daemons: our defaults
 * first, then the operator's --kafka-prop key=value pairs passed straight
 * through (like kcat -X), so the operator always has the last word. */
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

#endif
