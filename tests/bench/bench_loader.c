/* The baseline of `./dev.sh bench`: what PostgreSQL itself absorbs on this
 * machine. Reads envelopes (one per line, as produced to Kafka), decodes and
 * validates them all up front, then applies them over N connections with the
 * worker's own statement (store_apply_batch: the same unnest upsert, one
 * transaction per batch). Only the apply phase is timed, so the baseline is
 * the database's limit and not our parsing.
 *
 * -m METHOD applies the same batches another way, with the same guarantees
 * (one transaction per batch, the version guard, the offset fence, the
 * batch's patient_batches row and its offset in that transaction), to see
 * whether the worker's statement is the fastest way in:
 *   unnest  the worker's own (store_apply_batch), text arrays;
 *   values  one multi-row VALUES statement, 6 text parameters a patient;
 *   copy    COPY into a temporary staging table (ON COMMIT DELETE ROWS, not
 *           WAL-logged), then INSERT ... SELECT FROM it ... ON CONFLICT;
 *   binary  the worker's unnest, its six arrays sent in PostgreSQL's binary
 *           array format (dates as days since 2000-01-01): no array text
 *           for the server to parse.
 *
 *   bench_loader [-c CONNECTIONS] [-m METHOD] FILE   (libpq settings from PG*)
 *
 * Prints "loader: B batches, P patients (R rows written) in S s, from T"
 * where T is the wall-clock time (epoch seconds) the apply phase began, so
 * the harness can time it like the worker: up to the last applied_at. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdarg.h>
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

enum method { M_UNNEST, M_VALUES, M_COPY, M_BINARY };

struct loader {
	struct item *items;
	size_t n;
	unsigned connections;
	enum method method;
};

/* The worker's offset fence (store.h), with this file's parameter
 * numbers: $8 group, $5 topic, $6 partition, $7 offset, $9 expected. */
#define LOADER_FENCE_CTE STORE_FENCE_CTE("8", "5", "6", "7", "9")

/* Everything of the worker's statement but where the rows come from:
 * %s is a FROM item yielding u(code, first_name, last_name, gender,
 * birthdate, email). Answers (fence passed 0/1, rows written). */
#define LOADER_APPLY_FMT                                                                   \
	"WITH " LOADER_FENCE_CTE ", batch AS ("                                            \
	"  INSERT INTO patient_batches"                                                    \
	"    (request_id, tenant, received_at, patients, topic, partition, kafka_offset)"  \
	"  SELECT $3::uuid, $1, $2::timestamptz, $4::int, $5, $6::int, $7::bigint"         \
	"  WHERE EXISTS (SELECT 1 FROM fence)"                                             \
	"  ON CONFLICT (request_id) DO NOTHING"                                            \
	"), up AS ("                                                                       \
	"  INSERT INTO patients AS p"                                                      \
	"    (tenant, code, first_name, last_name, gender, birthdate, email, received_at, request_id)" \
	"  SELECT $1, u.code, u.first_name, u.last_name, u.gender, u.birthdate, u.email,"  \
	"         $2::timestamptz, $3::uuid"                                               \
	"  FROM %s"                                                                        \
	"  WHERE EXISTS (SELECT 1 FROM fence)"                                             \
	"  ON CONFLICT (tenant, code) DO UPDATE SET"                                       \
	"    first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name,"            \
	"    gender = EXCLUDED.gender, birthdate = EXCLUDED.birthdate, email = EXCLUDED.email," \
	"    received_at = EXCLUDED.received_at, request_id = EXCLUDED.request_id,"        \
	"    updated_at = now()"                                                           \
	"  WHERE (p.received_at, p.request_id) < (EXCLUDED.received_at, EXCLUDED.request_id)" \
	"  RETURNING 1"                                                                    \
	") SELECT (SELECT count(*) FROM fence), (SELECT count(*) FROM up)"

#define LOADER_META_PARAMS 9

struct lane {
	struct loader *l;
	unsigned id;
	long written;
	int failed;
	bool ready;	/* statement prepared, staging table made */
	size_t rows;	/* the VALUES statement's row count, as prepared */
	char *sql;	/* owned: the statement text */
	char *buf;	/* owned: COPY data */
	size_t cap;
	char *arr[6];	/* owned: binary arrays (M_BINARY) */
	size_t arr_cap[6];
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Prints PostgreSQL's message for a failed step; returns -EIO. */
static int pg_fail(PGconn *c, PGresult *res, size_t batch, const char *what)
{
	const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	fprintf(stderr, "bench_loader: batch %zu: %s: SQLSTATE %s: %s", batch, what, st ? st : "-",
		res ? PQresultErrorMessage(res) : PQerrorMessage(c));
	PQclear(res);
	return -EIO;
}

/* Runs a statement that returns no rows. Returns 0 or -EIO. */
static int pg_exec(PGconn *c, const char *sql, size_t batch)
{
	PGresult *res = PQexec(c, sql);

	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
		return pg_fail(c, res, batch, sql);
	PQclear(res);
	return 0;
}

/* Appends to the lane's COPY buffer. Returns 0 or -ENOMEM. */
static int buf_add(struct lane *ln, size_t *len, const char *p, size_t n)
{
	if (*len + n + 1 > ln->cap) {
		size_t nc = ln->cap ? ln->cap : 65536;
		char *b;

		while (nc < *len + n + 1)
			nc *= 2;
		b = realloc(ln->buf, nc);
		if (!b)
			return -ENOMEM;
		ln->buf = b;
		ln->cap = nc;
	}
	memcpy(ln->buf + *len, p, n);
	*len += n;
	return 0;
}

/* One COPY text field: backslash escapes for what the format reserves
 * (validation already refuses control characters), \N for NULL. */
static int copy_field(struct lane *ln, size_t *len, const char *p, size_t n, char end)
{
	int r = 0;

	if (!p)
		r = buf_add(ln, len, "\\N", 2);
	for (size_t k = 0; p && k < n && r == 0; k++) {
		char e[2] = { '\\', p[k] };

		if (p[k] == '\\' || p[k] == '\t' || p[k] == '\n' || p[k] == '\r') {
			e[1] = p[k] == '\t' ? 't' : p[k] == '\n' ? 'n' : p[k] == '\r' ? 'r' : '\\';
			r = buf_add(ln, len, e, 2);
		} else {
			r = buf_add(ln, len, &p[k], 1);
		}
	}
	return r ? r : buf_add(ln, len, &end, 1);
}

/* Appends n bytes to binary array k. Returns 0 or -ENOMEM. */
static int arr_add(struct lane *ln, size_t k, size_t *len, const void *p, size_t n)
{
	if (*len + n > ln->arr_cap[k]) {
		size_t nc = ln->arr_cap[k] ? ln->arr_cap[k] : 65536;
		char *b;

		while (nc < *len + n)
			nc *= 2;
		b = realloc(ln->arr[k], nc);
		if (!b)
			return -ENOMEM;
		ln->arr[k] = b;
		ln->arr_cap[k] = nc;
	}
	memcpy(ln->arr[k] + *len, p, n);
	*len += n;
	return 0;
}

static int arr_add32(struct lane *ln, size_t k, size_t *len, int32_t v)
{
	uint32_t be = htonl((uint32_t)v);

	return arr_add(ln, k, len, &be, 4);
}

/* Days from 2000-01-01 (PostgreSQL's date epoch) to a validated
 * "YYYY-MM-DD". */
static int32_t pg_date(const char *d)
{
	int y = atoi(d), m = atoi(d + 5), day = atoi(d + 8), era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + day - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (int32_t)(era * 146097 + doe - 719468 - 10957);
}

/* The six one-dimensional arrays of a batch in binary array format:
 * ndim, has-nulls, element type, then size and lower bound, then each
 * element as a length (-1: NULL) and its bytes. Returns 0 or -ENOMEM. */
static int arr_build(struct lane *ln, const struct patient_batch *b, size_t len[6])
{
	static const int32_t oid[6] = { 25, 25, 25, 25, 1082, 25 }; /* text, date */
	int r = 0;

	for (size_t k = 0; k < 6 && r == 0; k++) {
		len[k] = 0;
		r = arr_add32(ln, k, &len[k], 1);
		r = r ? r : arr_add32(ln, k, &len[k], k == 2 || k == 5);
		r = r ? r : arr_add32(ln, k, &len[k], oid[k]);
		r = r ? r : arr_add32(ln, k, &len[k], (int32_t)b->count);
		r = r ? r : arr_add32(ln, k, &len[k], 1);
	}
	for (size_t i = 0; i < b->count && r == 0; i++) {
		const struct patient *p = &b->patients[i];
		const char *g = patient_gender_name(p->gender);
		const char *v[6] = { p->code, p->first_name, p->last_name, g, NULL, p->email };
		size_t n[6] = { p->code_len, p->first_name_len, p->last_name_len, strlen(g), 4,
				p->email_len };

		for (size_t k = 0; k < 6 && r == 0; k++) {
			if (k == 4) {
				r = arr_add32(ln, k, &len[k], 4);
				r = r ? r : arr_add32(ln, k, &len[k], pg_date(p->birthdate));
			} else if (!v[k]) {
				r = arr_add32(ln, k, &len[k], -1);
			} else {
				r = arr_add32(ln, k, &len[k], (int32_t)n[k]);
				r = r ? r : arr_add(ln, k, &len[k], v[k], n[k]);
			}
		}
	}
	return r;
}

/* The statement of a VALUES lane for ROWS patients, or of a COPY or a
 * binary lane.
 * Returns 0, -ENOMEM or -EIO. */
static int other_prepare(struct lane *ln, PGconn *c, size_t rows, size_t batch)
{
	size_t cap = 64 + (size_t)rows * 96, len = 0;
	char *from = malloc(cap);
	PGresult *res;
	int n;

	if (!from)
		return -ENOMEM;
	if (ln->l->method == M_COPY) {
		len = (size_t)snprintf(from, cap, "loader_stage AS u");
	} else if (ln->l->method == M_BINARY) {
		len = (size_t)snprintf(from, cap,
				       "unnest($10::text[], $11::text[], $12::text[], $13::text[], $14::date[],"
				       " $15::text[]) AS u(code, first_name, last_name, gender, birthdate, email)");
	} else {
		len = (size_t)snprintf(from, cap, "(VALUES ");
		for (size_t k = 0; k < rows; k++) {
			int p = LOADER_META_PARAMS + 1 + (int)k * 6;

			len += (size_t)snprintf(from + len, cap - len,
						"%s($%d::text, $%d::text, $%d::text, $%d::text, $%d::date, $%d::text)",
						k ? ", " : "", p, p + 1, p + 2, p + 3, p + 4, p + 5);
		}
		len += (size_t)snprintf(from + len, cap - len,
					") AS u(code, first_name, last_name, gender, birthdate, email)");
	}
	free(ln->sql);
	n = snprintf(NULL, 0, LOADER_APPLY_FMT, from);
	ln->sql = malloc((size_t)n + 1);
	if (!ln->sql) {
		free(from);
		return -ENOMEM;
	}
	snprintf(ln->sql, (size_t)n + 1, LOADER_APPLY_FMT, from);
	free(from);
	/* The statement names the staging table: it must exist first. */
	if (ln->l->method == M_COPY && !ln->ready &&
	    pg_exec(c, "CREATE TEMPORARY TABLE loader_stage (code text, first_name text, last_name text,"
		       " gender text, birthdate date, email text) ON COMMIT DELETE ROWS", batch) < 0)
		return -EIO;
	res = PQexec(c, "DEALLOCATE ALL");
	PQclear(res);
	res = PQprepare(c, "loader_apply", ln->sql, 0, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		return pg_fail(c, res, batch, "prepare");
	PQclear(res);
	ln->rows = rows;
	ln->ready = true;
	return 0;
}

/* Applies one batch by the VALUES, COPY or binary method: BEGIN, (COPY,)
 * the statement, COMMIT. Returns 0 with *written, or -EIO / -ENOMEM / -ESTALE
 * (the fence failed: the lanes' offsets were not what they expected). */
static int other_apply(struct lane *ln, PGconn *c, const struct item *it,
		       const struct store_position *pos, long *written)
{
	const struct patient_batch *b = &it->batch;
	const struct envelope_meta *m = &it->env.meta;
	size_t np = LOADER_META_PARAMS + (ln->l->method == M_VALUES ? b->count * 6
					  : ln->l->method == M_BINARY ? 6 : 0);
	const char **pv = calloc(np, sizeof(*pv));
	int *pl = calloc(np, sizeof(*pl)), *pf = calloc(np, sizeof(*pf));
	size_t alen[6];
	char count[24], part[16], off[24], exp[24];
	PGresult *res = NULL;
	int r = -ENOMEM;

	if (!pv || !pl || !pf)
		goto out;
	if ((!ln->ready || (ln->l->method == M_VALUES && ln->rows != b->count)) &&
	    (r = other_prepare(ln, c, b->count, (size_t)pos->offset)) < 0)
		goto out;
	snprintf(count, sizeof(count), "%zu", b->count);
	snprintf(part, sizeof(part), "%d", pos->partition);
	snprintf(off, sizeof(off), "%lld", (long long)pos->offset);
	snprintf(exp, sizeof(exp), "%lld", (long long)pos->expected);
	pv[0] = m->tenant;
	pv[1] = m->received_at;
	pv[2] = m->request_id;
	pv[3] = count;
	pv[4] = pos->topic;
	pv[5] = part;
	pv[6] = off;
	pv[7] = pos->group;
	pv[8] = pos->expected == STORE_NO_OFFSET ? NULL : exp;
	r = -EIO;
	if (pg_exec(c, "BEGIN", (size_t)pos->offset) < 0)
		goto out;
	if (ln->l->method == M_COPY) {
		size_t len = 0;

		for (size_t k = 0; k < b->count; k++) {
			const struct patient *p = &b->patients[k];
			const char *g = patient_gender_name(p->gender);

			if (copy_field(ln, &len, p->code, p->code_len, '\t') ||
			    copy_field(ln, &len, p->first_name, p->first_name_len, '\t') ||
			    copy_field(ln, &len, p->last_name, p->last_name_len, '\t') ||
			    copy_field(ln, &len, g, strlen(g), '\t') ||
			    copy_field(ln, &len, p->birthdate, strlen(p->birthdate), '\t') ||
			    copy_field(ln, &len, p->email, p->email_len, '\n')) {
				r = -ENOMEM;
				goto rollback;
			}
		}
		res = PQexec(c, "COPY loader_stage FROM STDIN");
		if (PQresultStatus(res) != PGRES_COPY_IN) {
			pg_fail(c, res, (size_t)pos->offset, "COPY");
			res = NULL;
			goto rollback;
		}
		PQclear(res);
		res = NULL;
		if (PQputCopyData(c, ln->buf, (int)len) != 1 || PQputCopyEnd(c, NULL) != 1)
			goto rollback;
		res = PQgetResult(c);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			pg_fail(c, res, (size_t)pos->offset, "COPY end");
			res = NULL;
			goto rollback;
		}
		PQclear(res);
		res = PQgetResult(c);
		PQclear(res);
		res = NULL;
	} else if (ln->l->method == M_BINARY) {
		if (arr_build(ln, b, alen) < 0) {
			r = -ENOMEM;
			goto rollback;
		}
		for (size_t k = 0; k < 6; k++) {
			pv[LOADER_META_PARAMS + k] = ln->arr[k];
			pl[LOADER_META_PARAMS + k] = (int)alen[k];
			pf[LOADER_META_PARAMS + k] = 1;
		}
	} else {
		for (size_t k = 0; k < b->count; k++) {
			const struct patient *p = &b->patients[k];
			const char **v = &pv[LOADER_META_PARAMS + k * 6];

			/* Text parameters are read up to their NUL: the
			 * validator's strings are NUL-terminated. */
			v[0] = p->code;
			v[1] = p->first_name;
			v[2] = p->last_name;
			v[3] = patient_gender_name(p->gender);
			v[4] = p->birthdate;
			v[5] = p->email;
		}
	}
	res = PQexecPrepared(c, "loader_apply", (int)np, pv, pl, pf, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		pg_fail(c, res, (size_t)pos->offset, "apply");
		res = NULL;
		goto rollback;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "1") != 0) {
		fprintf(stderr, "bench_loader: batch %lld: the offset fence failed\n",
			(long long)pos->offset);
		r = -ESTALE;
		goto rollback;
	}
	*written = atol(PQgetvalue(res, 0, 1));
	PQclear(res);
	res = NULL;
	r = pg_exec(c, "COMMIT", (size_t)pos->offset);
	goto out;
rollback:
	PQclear(res);
	res = NULL;
	pg_exec(c, "ROLLBACK", (size_t)pos->offset);
out:
	PQclear(res);
	free(pv);
	free(pl);
	free(pf);
	return r;
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
		int r;

		if (ln->l->method == M_UNNEST) {
			r = store_apply_batch(&s, &it->batch, &it->env.meta, &pos, &w, &stored, &err);
			if (r < 0)
				fprintf(stderr, "bench_loader: batch %zu: SQLSTATE %s: %s\n", i,
					err.sqlstate, err.message);
		} else {
			r = other_apply(ln, s.conn, it, &pos, &w);
		}
		if (r < 0) {
			ln->failed = 1;
			break;
		}
		ln->written += w;
	}
out:
	free(ln->sql);
	free(ln->buf);
	for (size_t k = 0; k < 6; k++)
		free(ln->arr[k]);
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

	while ((c = getopt(argc, argv, "c:m:")) != -1) {
		if (c == 'c')
			l.connections = (unsigned)atoi(optarg);
		else if (c == 'm' && strcmp(optarg, "unnest") == 0)
			l.method = M_UNNEST;
		else if (c == 'm' && strcmp(optarg, "values") == 0)
			l.method = M_VALUES;
		else if (c == 'm' && strcmp(optarg, "copy") == 0)
			l.method = M_COPY;
		else if (c == 'm' && strcmp(optarg, "binary") == 0)
			l.method = M_BINARY;
		else
			goto usage;
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
	fprintf(stderr, "usage: bench_loader [-c CONNECTIONS] [-m unnest|values|copy|binary] FILE\n");
	return 2;
}
