#include "config.h"

#include "kafka.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "settings.h"
#include "textfile.h"

/* A properties file is a few lines; anything bigger is a wrong path. */
#define PROPS_FILE_MAX (64u * 1024)

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

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Trims blanks at both ends of [*s, *e). */
static void trim(const char **s, const char **e)
{
	while (*s < *e && is_blank(**s))
		(*s)++;
	while (*e > *s && is_blank((*e)[-1]))
		(*e)--;
}

int kafka_props_file_load(const char *path, struct settings_list *props, char *err,
			  size_t errsize)
{
	char *text = NULL, **items = NULL, **merged;
	size_t len, n = 0, cap = 0, lineno = 0;
	const char *p, *end;
	int r;

	r = textfile_read(path, PROPS_FILE_MAX, &text, &len, err, errsize);
	if (r < 0) {
		char why[400];

		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errsize, "--kafka-props-file: %s", why);
		goto out;
	}
	for (p = text, end = text + len; p < end;) {
		const char *eol = memchr(p, '\n', (size_t)(end - p)), *ks = p, *ke, *vs, *ve;
		char *item;

		if (!eol)
			eol = end;
		lineno++;
		ve = eol;
		trim(&ks, &ve);
		p = eol + 1;
		if (ks == ve || *ks == '#')
			continue;
		ke = memchr(ks, '=', (size_t)(ve - ks));
		if (!ke) {
			/* The line is not echoed: a password pasted alone on it
			 * would end up in the journal. */
			snprintf(err, errsize, "%s:%zu: expected key=value", path, lineno);
			r = -EINVAL;
			goto out;
		}
		vs = ke + 1;
		trim(&ks, &ke);
		trim(&vs, &ve);
		if (ks == ke) {
			snprintf(err, errsize, "%s:%zu: expected key=value", path, lineno);
			r = -EINVAL;
			goto out;
		}
		if (n == cap) {
			char **grown;

			cap = cap ? cap * 2 : 8;
			grown = realloc(items, cap * sizeof(*items));
			if (!grown)
				goto nomem;
			items = grown;
		}
		item = malloc((size_t)(ke - ks) + 1 + (size_t)(ve - vs) + 1);
		if (!item)
			goto nomem;
		memcpy(item, ks, (size_t)(ke - ks));
		item[ke - ks] = '=';
		memcpy(item + (ke - ks) + 1, vs, (size_t)(ve - vs));
		item[(ke - ks) + 1 + (ve - vs)] = '\0';
		items[n++] = item;
	}
	if (n) {
		merged = malloc((n + props->count) * sizeof(*merged));
		if (!merged)
			goto nomem;
		memcpy(merged, items, n * sizeof(*merged));
		if (props->count)
			memcpy(merged + n, props->items, props->count * sizeof(*merged));
		free(props->items);
		props->items = merged;
		props->count += n;
		n = 0; /* owned by props now */
	}
	r = 0;
	goto out;
nomem:
	snprintf(err, errsize, "out of memory");
	r = -ENOMEM;
out:
	for (size_t i = 0; i < n; i++)
		free(items[i]);
	free(items);
	if (text) {
		/* The file may hold a password: do not leave it in freed memory. */
		memset(text, 0, len);
		free(text);
	}
	return r;
}
