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

/* Sets one property, checking librdkafka's verdict. err names the key but
 * never echoes the value: librdkafka quotes a rejected value ('Invalid value
 * "..." for configuration property'), whole or cut to its errstr, and
 * which of its properties are secrets it does not say; the operator has the
 * value at hand. So a rejected value's text is never passed on, only an
 * unknown property's (which quotes the key alone). */
static int kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, char *err,
			  size_t errsize)
{
	char errstr[512] = "";
	rd_kafka_conf_res_t res = rd_kafka_conf_set(conf, key, value, errstr, sizeof(errstr));

	if (res == RD_KAFKA_CONF_OK)
		return 0;
	if (res == RD_KAFKA_CONF_UNKNOWN && !(value[0] && strstr(errstr, value)))
		snprintf(err, errsize, "kafka property %s: %s", key, errstr);
	else
		snprintf(err, errsize, "kafka property %s: invalid value (not shown)", key);
	return -EINVAL;
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

/* The operator's key=value items, after our defaults: the last word. */
static int kafka_conf_set_props(rd_kafka_conf_t *conf, const struct settings_list *props,
				char *err, size_t errsize)
{
	for (size_t i = 0; props && i < props->count; i++) {
		char *buf = NULL;
		const char *key, *value;
		int r;

		if (settings_split_kv(props->items[i], &buf, &key, &value) < 0) {
			snprintf(err, errsize, "--kafka-prop %s: expected key=value", props->items[i]);
			free(buf);
			return -EINVAL;
		}
		r = kafka_conf_set(conf, key, value, err, errsize);
		free(buf);
		if (r < 0)
			return r;
	}
	return 0;
}

int kafka_client_new(rd_kafka_t **out, const struct kafka_client_options *opt, char *err,
		     size_t errsize)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	const char *const *d = opt->defaults;
	char errstr[512];
	int r = -EINVAL;

	*out = NULL;
	if (!conf) {
		snprintf(err, errsize, "out of memory");
		return -ENOMEM;
	}
	/* Every client's own lines in our format, on our log. */
	rd_kafka_conf_set_log_cb(conf, kafka_log);
	if (opt->brokers && (r = kafka_conf_set(conf, "bootstrap.servers", opt->brokers, err,
						errsize)) < 0)
		goto out;
	for (; d && d[0]; d += 2)
		if ((r = kafka_conf_set(conf, d[0], d[1], err, errsize)) < 0)
			goto out;
	if ((r = kafka_conf_set_props(conf, opt->props, err, errsize)) < 0)
		goto out;
	rd_kafka_conf_set_opaque(conf, opt->opaque);
	if (opt->dr_msg_cb)
		rd_kafka_conf_set_dr_msg_cb(conf, opt->dr_msg_cb);
	if (opt->error_cb)
		rd_kafka_conf_set_error_cb(conf, opt->error_cb);
	if (opt->rebalance_cb)
		rd_kafka_conf_set_rebalance_cb(conf, opt->rebalance_cb);
	if (opt->stats_cb)
		rd_kafka_conf_set_stats_cb(conf, opt->stats_cb);
	*out = rd_kafka_new(opt->type, conf, errstr, sizeof(errstr));
	if (!*out) {
		snprintf(err, errsize, "%s: %s", opt->what ? opt->what : "kafka client", errstr);
		r = -EINVAL;
		goto out;
	}
	conf = NULL; /* now owned by *out */
	r = 0;
out:
	if (conf)
		rd_kafka_conf_destroy(conf);
	return r;
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

/* One line of a properties file, [s, e) without its newline: 0 with a
 * malloc'd "key=value" in *item, 1 for a blank or '#' line, -EINVAL for a
 * line that is not key=value, -ENOMEM. */
static int kafka_props_line(const char *ks, const char *ve, char **item)
{
	const char *ke, *vs;
	size_t klen, vlen;

	*item = NULL;
	trim(&ks, &ve);
	if (ks == ve || *ks == '#')
		return 1;
	ke = memchr(ks, '=', (size_t)(ve - ks));
	if (!ke)
		return -EINVAL;
	vs = ke + 1;
	trim(&ks, &ke);
	trim(&vs, &ve);
	if (ks == ke)
		return -EINVAL;
	klen = (size_t)(ke - ks);
	vlen = (size_t)(ve - vs);
	*item = malloc(klen + 1 + vlen + 1);
	if (!*item)
		return -ENOMEM;
	memcpy(*item, ks, klen);
	(*item)[klen] = '=';
	memcpy(*item + klen + 1, vs, vlen);
	(*item)[klen + 1 + vlen] = '\0';
	return 0;
}

/* Puts items[0..n) in front of props' own; props owns them on success. */
static int kafka_props_prepend(struct settings_list *props, char **items, size_t n)
{
	char **merged;

	if (!n)
		return 0;
	merged = malloc((n + props->count) * sizeof(*merged));
	if (!merged)
		return -ENOMEM;
	memcpy(merged, items, n * sizeof(*merged));
	if (props->count)
		memcpy(merged + n, props->items, props->count * sizeof(*merged));
	free(props->items);
	props->items = merged;
	props->count += n;
	return 0;
}

int kafka_props_file_load(const char *path, struct settings_list *props, char *err,
			  size_t errsize)
{
	char *text = NULL, **items = NULL;
	size_t len = 0, n = 0, cap = 0, lineno = 0;
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
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		char *item;

		if (!eol)
			eol = end;
		lineno++;
		r = kafka_props_line(p, eol, &item);
		p = eol + 1;
		if (r == -EINVAL) {
			/* The line is not echoed: a password pasted alone on it
			 * would end up in the journal. */
			snprintf(err, errsize, "%s:%zu: expected key=value", path, lineno);
			goto out;
		}
		if (r < 0)
			goto nomem;
		if (r == 1)
			continue;
		if (n == cap) {
			char **grown = realloc(items, (cap ? cap * 2 : 8) * sizeof(*items));

			if (!grown) {
				free(item);
				goto nomem;
			}
			items = grown;
			cap = cap ? cap * 2 : 8;
		}
		items[n++] = item;
	}
	r = kafka_props_prepend(props, items, n);
	if (r < 0)
		goto nomem;
	n = 0; /* owned by props now */
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
