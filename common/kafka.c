#include "config.h"

#include "kafka.h"

#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "settings.h"

static int kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, char *err,
			  size_t errsize)
{
	char errstr[512];

	if (rd_kafka_conf_set(conf, key, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
		snprintf(err, errsize, "kafka property %s: %s", key, errstr);
		return -1;
	}
	return 0;
}

void kafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	char q[600];

	(void)rk;
	/* librdkafka's levels are syslog's. */
	log_event(level <= 3 ? LOG_LEVEL_ERR : level == 4 ? LOG_LEVEL_WARNING
		  : level <= 6 ? LOG_LEVEL_INFO : LOG_LEVEL_DEBUG,
		  "kafka", "facility=%s message=%s", fac, log_quote(q, sizeof(q), buf));
}

rd_kafka_conf_t *kafka_conf_new(const char *brokers, const char *const *defaults,
				const struct settings_list *props, char *err, size_t errsize)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();

	if (!conf) {
		snprintf(err, errsize, "out of memory");
		return NULL;
	}
	/* Every client's own lines in our format, on our log. */
	rd_kafka_conf_set_log_cb(conf, kafka_log);
	if (brokers && kafka_conf_set(conf, "bootstrap.servers", brokers, err, errsize) < 0)
		goto fail;
	for (size_t i = 0; defaults && defaults[i]; i += 2)
		if (kafka_conf_set(conf, defaults[i], defaults[i + 1], err, errsize) < 0)
			goto fail;
	for (size_t i = 0; props && i < props->count; i++) {
		char *buf = NULL;
		const char *key, *value;
		int r;

		if (settings_split_kv(props->items[i], &buf, &key, &value) < 0) {
			snprintf(err, errsize, "--kafka-prop %s: expected key=value", props->items[i]);
			free(buf);
			goto fail;
		}
		r = kafka_conf_set(conf, key, value, err, errsize);
		free(buf);
		if (r < 0)
			goto fail;
	}
	return conf;
fail:
	rd_kafka_conf_destroy(conf);
	return NULL;
}
