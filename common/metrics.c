#include "config.h"

#include "metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum metrics_type {
	METRICS_COUNTER,
	METRICS_GAUGE,
	METRICS_HISTOGRAM,
};

struct metrics_series {
	char *value;	   /* label value; NULL in an unlabelled family */
	uint64_t count;	   /* counter value, or histogram observation count */
	double number;	   /* gauge value, or histogram sum */
	uint64_t *buckets; /* histogram: per-bucket (not cumulative) counts */
};

struct metrics_family {
	struct metrics_family *next;
	enum metrics_type type;
	char *name, *help, *label;
	double *bounds;
	size_t nbounds;
	/* One lock per family: updates of different families never contend,
	 * and a family's few series are cheap to scan under it. */
	pthread_mutex_t mu;
	struct metrics_series *series;
	size_t nseries, cap;
};

struct metrics {
	pthread_mutex_t mu; /* guards the family list */
	struct metrics_family *head, *tail;
};

struct metrics *metrics_new(void)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	pthread_mutex_init(&m->mu, NULL);
	return m;
}

static void metrics_family_free(struct metrics_family *f)
{
	for (size_t i = 0; i < f->nseries; i++) {
		free(f->series[i].value);
		free(f->series[i].buckets);
	}
	free(f->series);
	free(f->bounds);
	free(f->name);
	free(f->help);
	free(f->label);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

void metrics_free(struct metrics *m)
{
	struct metrics_family *f, *next;

	if (!m)
		return;
	for (f = m->head; f; f = next) {
		next = f->next;
		metrics_family_free(f);
	}
	pthread_mutex_destroy(&m->mu);
	free(m);
}

static bool metrics_name_valid(const char *s, bool colon)
{
	if (!s || !*s)
		return false;
	for (size_t i = 0; s[i]; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
			  (colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
		if (!ok)
			return false;
	}
	return true;
}

/* Finds the series of value, creating it when there is room. Called with
 * f->mu held. NULL when the family is full or memory is short. */
static struct metrics_series *metrics_series_get(struct metrics_family *f, const char *value)
{
	struct metrics_series *s;

	if (!f->label)
		value = NULL;
	else if (!value)
		value = "";
	for (size_t i = 0; i < f->nseries; i++)
		if (!value || strcmp(f->series[i].value, value) == 0)
			return &f->series[i];
	if (f->nseries == METRICS_SERIES_MAX)
		return NULL;
	if (f->nseries == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 4;
		struct metrics_series *grown = realloc(f->series, cap * sizeof(*grown));

		if (!grown)
			return NULL;
		f->series = grown;
		f->cap = cap;
	}
	s = &f->series[f->nseries];
	memset(s, 0, sizeof(*s));
	if (value && !(s->value = strdup(value)))
		return NULL;
	if (f->type == METRICS_HISTOGRAM && f->nbounds &&
	    !(s->buckets = calloc(f->nbounds, sizeof(*s->buckets)))) {
		free(s->value);
		return NULL;
	}
	f->nseries++;
	return s;
}

static struct metrics_family *metrics_register(struct metrics *m, enum metrics_type type,
					       const char *name, const char *help,
					       const char *label, const char *const *values,
					       const double *bounds, size_t nbounds)
{
	struct metrics_family *f = NULL, *it;
	int err = ENOMEM;

	if (!m || !metrics_name_valid(name, true) || !help ||
	    (label && (!metrics_name_valid(label, false) || strncmp(label, "__", 2) == 0)) ||
	    (type == METRICS_HISTOGRAM && label && strcmp(label, "le") == 0)) {
		errno = EINVAL;
		return NULL;
	}
	for (size_t i = 1; i < nbounds; i++) {
		if (!(bounds[i] > bounds[i - 1])) {
			errno = EINVAL;
			return NULL;
		}
	}
	for (size_t i = 0; i < nbounds; i++) {
		if (isnan(bounds[i]) || isinf(bounds[i])) {
			errno = EINVAL;
			return NULL;
		}
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		goto fail;
	pthread_mutex_init(&f->mu, NULL);
	f->type = type;
	f->name = strdup(name);
	f->help = strdup(help);
	if (!f->name || !f->help || (label && !(f->label = strdup(label))))
		goto fail;
	if (nbounds) {
		f->bounds = malloc(nbounds * sizeof(*f->bounds));
		if (!f->bounds)
			goto fail;
		memcpy(f->bounds, bounds, nbounds * sizeof(*f->bounds));
		f->nbounds = nbounds;
	}
	if (!label) {
		if (!metrics_series_get(f, NULL))
			goto fail;
	} else {
		for (size_t i = 0; values && values[i]; i++)
			if (!metrics_series_get(f, values[i]))
				goto fail;
	}

	pthread_mutex_lock(&m->mu);
	for (it = m->head; it; it = it->next) {
		if (strcmp(it->name, name) == 0) {
			pthread_mutex_unlock(&m->mu);
			err = EEXIST;
			goto fail;
		}
	}
	if (m->tail)
		m->tail->next = f;
	else
		m->head = f;
	m->tail = f;
	pthread_mutex_unlock(&m->mu);
	return f;
fail:
	if (f)
		metrics_family_free(f);
	errno = err;
	return NULL;
}

struct metrics_family *metrics_counter(struct metrics *m, const char *name, const char *help,
				       const char *label, const char *const *values)
{
	return metrics_register(m, METRICS_COUNTER, name, help, label, values, NULL, 0);
}

struct metrics_family *metrics_gauge(struct metrics *m, const char *name, const char *help,
				     const char *label, const char *const *values)
{
	return metrics_register(m, METRICS_GAUGE, name, help, label, values, NULL, 0);
}

struct metrics_family *metrics_histogram(struct metrics *m, const char *name, const char *help,
					 const char *label, const char *const *values,
					 const double *bounds, size_t nbounds)
{
	if (nbounds && !bounds) {
		errno = EINVAL;
		return NULL;
	}
	return metrics_register(m, METRICS_HISTOGRAM, name, help, label, values, bounds, nbounds);
}

void metrics_counter_add(struct metrics_family *f, const char *value, uint64_t n)
{
	struct metrics_series *s;

	if (!f || f->type != METRICS_COUNTER)
		return;
	pthread_mutex_lock(&f->mu);
	s = metrics_series_get(f, value);
	if (s)
		s->count += n;
	pthread_mutex_unlock(&f->mu);
}

static void metrics_gauge_update(struct metrics_family *f, const char *value, double v, bool add)
{
	struct metrics_series *s;

	if (!f || f->type != METRICS_GAUGE)
		return;
	pthread_mutex_lock(&f->mu);
	s = metrics_series_get(f, value);
	if (s)
		s->number = add ? s->number + v : v;
	pthread_mutex_unlock(&f->mu);
}

void metrics_gauge_set(struct metrics_family *f, const char *value, double v)
{
	metrics_gauge_update(f, value, v, false);
}

void metrics_gauge_add(struct metrics_family *f, const char *value, double delta)
{
	metrics_gauge_update(f, value, delta, true);
}

void metrics_histogram_observe(struct metrics_family *f, const char *value, double x)
{
	struct metrics_series *s;

	if (!f || f->type != METRICS_HISTOGRAM || isnan(x))
		return;
	pthread_mutex_lock(&f->mu);
	s = metrics_series_get(f, value);
	if (s) {
		for (size_t i = 0; i < f->nbounds; i++) {
			if (x <= f->bounds[i]) {
				s->buckets[i]++;
				break;
			}
		}
		s->count++;
		s->number += x;
	}
	pthread_mutex_unlock(&f->mu);
}

/* --- rendering ---------------------------------------------------------- */

struct metrics_buf {
	char *data;
	size_t len, cap;
	bool failed;
};

static void metrics_buf_printf(struct metrics_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void metrics_buf_printf(struct metrics_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->failed)
		return;
	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->data ? b->data + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = true;
			return;
		}
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap ? b->cap : 4096;
		while (cap - b->len <= (size_t)n)
			cap *= 2;
		char *grown = realloc(b->data, cap);
		if (!grown) {
			b->failed = true;
			return;
		}
		b->data = grown;
		b->cap = cap;
	}
}

/* The shortest text that reads back as the same double, so 0.1 renders as
 * "0.1" and not "0.10000000000000001"; Prometheus spells infinities +Inf. */
static const char *metrics_format_double(char *buf, size_t size, double v)
{
	if (isnan(v))
		return "NaN";
	if (isinf(v))
		return v > 0 ? "+Inf" : "-Inf";
	/* Whole numbers as whole numbers: %g alone would say 8e+04. */
	if (v == floor(v) && fabs(v) < 1e15) {
		snprintf(buf, size, "%.0f", v);
		return buf;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, size, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	return buf;
}

/* HELP text escapes backslash and newline; label values also the quote. */
static void metrics_buf_escaped(struct metrics_buf *b, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			metrics_buf_printf(b, "\\\\");
		else if (*s == '\n')
			metrics_buf_printf(b, "\\n");
		else if (quote && *s == '"')
			metrics_buf_printf(b, "\\\"");
		else
			metrics_buf_printf(b, "%c", *s);
	}
}

/* name{label="value"[,le="bound"]} or name{le="bound"} or name. */
static void metrics_buf_sample_name(struct metrics_buf *b, const struct metrics_family *f,
				    const struct metrics_series *s, const char *suffix,
				    const char *le)
{
	bool labelled = f->label != NULL;

	metrics_buf_printf(b, "%s%s", f->name, suffix);
	if (!labelled && !le)
		return;
	metrics_buf_printf(b, "{");
	if (labelled) {
		metrics_buf_printf(b, "%s=\"", f->label);
		metrics_buf_escaped(b, s->value, true);
		metrics_buf_printf(b, "\"%s", le ? "," : "");
	}
	if (le)
		metrics_buf_printf(b, "le=\"%s\"", le);
	metrics_buf_printf(b, "}");
}

static void metrics_render_family(struct metrics_buf *b, struct metrics_family *f)
{
	static const char *const types[] = { "counter", "gauge", "histogram" };
	char num[40], le[40];

	metrics_buf_printf(b, "# HELP %s ", f->name);
	metrics_buf_escaped(b, f->help, false);
	metrics_buf_printf(b, "\n# TYPE %s %s\n", f->name, types[f->type]);
	pthread_mutex_lock(&f->mu);
	for (size_t i = 0; i < f->nseries; i++) {
		const struct metrics_series *s = &f->series[i];
		uint64_t cumulative = 0;

		switch (f->type) {
		case METRICS_COUNTER:
			metrics_buf_sample_name(b, f, s, "", NULL);
			metrics_buf_printf(b, " %" PRIu64 "\n", s->count);
			break;
		case METRICS_GAUGE:
			metrics_buf_sample_name(b, f, s, "", NULL);
			metrics_buf_printf(b, " %s\n", metrics_format_double(num, sizeof(num), s->number));
			break;
		case METRICS_HISTOGRAM:
			for (size_t j = 0; j < f->nbounds; j++) {
				cumulative += s->buckets[j];
				metrics_buf_sample_name(b, f, s, "_bucket",
							metrics_format_double(le, sizeof(le), f->bounds[j]));
				metrics_buf_printf(b, " %" PRIu64 "\n", cumulative);
			}
			metrics_buf_sample_name(b, f, s, "_bucket", "+Inf");
			metrics_buf_printf(b, " %" PRIu64 "\n", s->count);
			metrics_buf_sample_name(b, f, s, "_sum", NULL);
			metrics_buf_printf(b, " %s\n", metrics_format_double(num, sizeof(num), s->number));
			metrics_buf_sample_name(b, f, s, "_count", NULL);
			metrics_buf_printf(b, " %" PRIu64 "\n", s->count);
			break;
		}
	}
	pthread_mutex_unlock(&f->mu);
}

int metrics_render(struct metrics *m, char **out, size_t *len)
{
	struct metrics_buf b = { 0 };

	*out = NULL;
	*len = 0;
	metrics_buf_printf(&b, "%s", ""); /* an empty registry is "", not NULL */
	pthread_mutex_lock(&m->mu);
	for (struct metrics_family *f = m->head; f; f = f->next)
		metrics_render_family(&b, f);
	pthread_mutex_unlock(&m->mu);
	if (b.failed) {
		free(b.data);
		return -ENOMEM;
	}
	*out = b.data;
	*len = b.len;
	return 0;
}
