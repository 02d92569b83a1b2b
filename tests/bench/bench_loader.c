/* The baseline of `./dev.sh bench`: what PostgreSQL itself absorbs on this
 * machine. Reads envelopes (one per line, as produced to Kafka), decodes and
 * validates them all up front, then applies them over N connections with the
 * worker's own statement (store_apply_batch: the same unnest upsert, one
 * transaction per batch). Only the apply phase is timed, so the baseline is
 * the database's limit and not our parsing.
 *
 *   bench_loader [-c CONNECTIONS] FILE        (libpq settings from PG*)
 *
 * Prints "loader: B batches, P patients (R rows written) in S s, from T"
 * where T is the wall-clock time (epoch seconds) the apply phase began, so
 * the harness can time it like the worker: up to the last applied_at. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "envelope.h"
#include "patient.h"
#include "store.h"

struct item {
	struct envelope env;
	struct patient_batch batch;
};

struct loader {
	struct item *items;
	size_t n;
	unsigned connections;
};

struct lane {
	struct loader *l;
	unsigned id;
	long written;
	int failed;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Lane k applies batches k, k+N, k+2N...: like partitions, one ordered
 * stream per connection. */
static void *lane_run(void *arg)
{
	struct lane *ln = arg;
	struct store s;
	struct store_error err;

	if (store_init(&s, "") < 0 || store_connect(&s, &err) < 0) {
		fprintf(stderr, "bench_loader: cannot connect to PostgreSQL\n");
		ln->failed = 1;
		goto out;
	}
	for (size_t i = ln->id; i < ln->l->n; i += ln->l->connections) {
		struct item *it = &ln->l->items[i];
		/* Fenced like the worker's: each lane expects what it wrote last. */
		struct store_position pos = {
			.group = "bench-loader",
			.topic = "bench",
			.partition = (int32_t)ln->id,
			.offset = (int64_t)i,
			.expected = i < ln->l->connections ? STORE_NO_OFFSET
							   : (int64_t)(i - ln->l->connections) + 1,
		};
		int64_t stored;
		long w = 0;

		if (store_apply_batch(&s, &it->batch, &it->env.meta, &pos, &w, &stored, &err) < 0) {
			fprintf(stderr, "bench_loader: batch %zu: SQLSTATE %s: %s\n", i, err.sqlstate,
				err.message);
			ln->failed = 1;
			break;
		}
		ln->written += w;
	}
out:
	store_close(&s);
	return NULL;
}

static int load_file(struct loader *l, const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, why[256];
	size_t cap = 0, alloc = 0;
	ssize_t len;
	int ret = -1;

	if (!f) {
		fprintf(stderr, "bench_loader: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((len = getline(&line, &cap, f)) > 0) {
		struct item *it;

		if (l->n == alloc) {
			size_t na = alloc ? alloc * 2 : 256;
			struct item *p = realloc(l->items, na * sizeof(*p));

			if (!p)
				goto out;
			l->items = p;
			alloc = na;
		}
		it = &l->items[l->n];
		memset(it, 0, sizeof(*it));
		if (envelope_decode(line, (size_t)len, &it->env, why, sizeof(why)) < 0 ||
		    patient_batch_validate(it->env.body, date_today_utc(), &it->batch) < 0) {
			fprintf(stderr, "bench_loader: line %zu is not a valid batch\n", l->n + 1);
			patient_batch_free(&it->batch);
			envelope_free(&it->env);
			goto out;
		}
		l->n++;
	}
	ret = 0;
out:
	free(line);
	fclose(f);
	return ret;
}

int main(int argc, char **argv)
{
	struct loader l = { .connections = 2 };
	struct lane *lanes = NULL;
	pthread_t *threads = NULL;
	size_t patients = 0;
	long written = 0;
	int c, ret = EXIT_FAILURE;
	double t0, t;
	struct timespec wall;

	while ((c = getopt(argc, argv, "c:")) != -1) {
		if (c != 'c')
			goto usage;
		l.connections = (unsigned)atoi(optarg);
	}
	if (optind != argc - 1 || l.connections < 1 || l.connections > 64)
		goto usage;
	if (load_file(&l, argv[optind]) < 0)
		goto out;
	for (size_t i = 0; i < l.n; i++)
		patients += l.items[i].batch.count;

	lanes = calloc(l.connections, sizeof(*lanes));
	threads = calloc(l.connections, sizeof(*threads));
	if (!lanes || !threads)
		goto out;
	clock_gettime(CLOCK_REALTIME, &wall);
	t0 = now_s();
	for (unsigned k = 0; k < l.connections; k++) {
		lanes[k] = (struct lane){ .l = &l, .id = k };
		if (pthread_create(&threads[k], NULL, lane_run, &lanes[k]) != 0) {
			lanes[k].failed = 1;
			l.connections = k;
			break;
		}
	}
	ret = EXIT_SUCCESS;
	for (unsigned k = 0; k < l.connections; k++) {
		pthread_join(threads[k], NULL);
		written += lanes[k].written;
		if (lanes[k].failed)
			ret = EXIT_FAILURE;
	}
	t = now_s() - t0;
	if (ret == EXIT_SUCCESS)
		printf("loader: %zu batches, %zu patients (%ld rows written) in %.3f s, from %lld.%09ld\n",
		       l.n, patients, written, t, (long long)wall.tv_sec, wall.tv_nsec);
out:
	for (size_t i = 0; i < l.n; i++) {
		patient_batch_free(&l.items[i].batch);
		envelope_free(&l.items[i].env);
	}
	free(l.items);
	free(lanes);
	free(threads);
	return ret;
usage:
	fprintf(stderr, "usage: bench_loader [-c CONNECTIONS] FILE\n");
	return 2;
}
