/* metrics: a small thread-safe Prometheus registry shared by both daemons.
 * Families are registered once at startup (counter, gauge, histogram with
 * fixed buckets), each with at most one label; updates may then come from
 * any thread. metrics_render() writes the text exposition format 0.0.4.
 *
 * Every update function takes a NULL family as a no-op, so a daemon whose
 * registration failed (ENOMEM) keeps running without that metric. */
#ifndef PATIENTS_METRICS_H
#define PATIENTS_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* Series one labelled family may hold; values beyond are dropped, so a
 * label fed from outside (a partition number) cannot grow memory forever. */
#define METRICS_SERIES_MAX 256

struct metrics;
struct metrics_family;

/* A new, empty registry. NULL on ENOMEM. */
struct metrics *metrics_new(void);

/* Frees the registry and every family in it; handles become invalid. */
void metrics_free(struct metrics *m);

/* Registers a family and returns its handle (owned by m), or NULL with errno
 * EINVAL (bad metric or label name, "le" as a histogram label, bounds not
 * strictly increasing), EEXIST (name taken) or ENOMEM.
 *   label:  the label's name, or NULL for a family of one unlabelled series;
 *   values: NULL-terminated label values whose series exist (and render, at
 *           0) from the start; others appear on first update. Ignored when
 *           label is NULL.
 * Families and their series render in the order they were created. */
struct metrics_family *metrics_counter(struct metrics *m, const char *name, const char *help,
				       const char *label, const char *const *values);
struct metrics_family *metrics_gauge(struct metrics *m, const char *name, const char *help,
				     const char *label, const char *const *values);
/* bounds: the nbounds upper bounds of the buckets, strictly increasing; the
 * +Inf bucket is implicit. */
struct metrics_family *metrics_histogram(struct metrics *m, const char *name, const char *help,
					 const char *label, const char *const *values,
					 const double *bounds, size_t nbounds);

/* Updates the series of label value `value` (NULL for an unlabelled
 * family). Thread-safe. A call of the wrong kind for the family is
 * ignored. */
void metrics_counter_add(struct metrics_family *f, const char *value, uint64_t n);
void metrics_gauge_set(struct metrics_family *f, const char *value, double v);
void metrics_gauge_add(struct metrics_family *f, const char *value, double delta);
void metrics_histogram_observe(struct metrics_family *f, const char *value, double x);

/* Renders every family: "# HELP", "# TYPE", then its samples
 * (name_bucket{le=...}, name_sum and name_count for histograms).
 * Returns 0 with a malloc'd NUL-terminated text in *out (caller frees) of
 * *len bytes, or -ENOMEM with *out NULL. */
int metrics_render(struct metrics *m, char **out, size_t *len);

#endif
