/* Micro-benchmark of both daemons' hot paths on a realistic 1000-patient
 * body. The gateway: the in-place reader on a copy of the body, then
 * envelope_encode (what it runs for bodies in the simple form), and the
 * json-c path (UTF-8 check, pre-scan, json-c, rules) it falls back to. The
 * worker: envelope_decode + patient_batch_validate, and batchcodec_message
 * (its in-place path, which it tries first).
 * Not a test: `make bench-common`, in a build without sanitizers.
 * Usage: bench_common [seconds per measure, default 2]; BENCH_ONLY=TEXT
 * runs only the measures whose name holds TEXT. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batchcodec.h"
#include "envelope.h"
#include "patient.h"
#include "uuid7.h"

#define PATIENTS 1000

static const char *const first_names[] = { "Mar\u00eda Jos\u00e9", "Jos\u00e9 Luis", "Ana",
					   "Fran\u00e7ois", "\u5c71\u7530", "Zo\u00eb",
					   "Mohammed", "Olga" };
static const char *const last_names[] = { "Garc\u00eda-N\u00fa\u00f1ez Fern\u00e1ndez",
					  "M\u00fcller", "O'Connor", "\u592a\u90ce", "Smith" };

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* About 150 bytes per patient, like a clinic's export. */
static char *make_body(size_t *len)
{
	size_t cap = PATIENTS * 300 + 64, o = 0;
	char *b = malloc(cap);

	if (!b)
		return NULL;
	o += (size_t)snprintf(b + o, cap - o, "{\"patients\":[");
	for (unsigned i = 0; i < PATIENTS; i++) {
		const char *fn = first_names[i % (sizeof(first_names) / sizeof(first_names[0]))];
		const char *ln = last_names[i % (sizeof(last_names) / sizeof(last_names[0]))];

		o += (size_t)snprintf(b + o, cap - o,
				      "%s{\"code\":\"ACME-%07u\",\"first_name\":\"%s\","
				      "\"last_name\":%s%s%s,\"gender\":\"%s\","
				      "\"birthdate\":\"%04u-%02u-%02u\"",
				      i ? "," : "", i, fn, i % 7 ? "\"" : "", i % 7 ? ln : "null",
				      i % 7 ? "\"" : "", i % 2 ? "male" : "female", 1930 + i % 90,
				      1 + i % 12, 1 + i % 28);
		if (i % 5)
			o += (size_t)snprintf(b + o, cap - o,
					      ",\"email\":\"patient.%07u@example-clinic.es\"", i);
		o += (size_t)snprintf(b + o, cap - o, "}");
	}
	o += (size_t)snprintf(b + o, cap - o, "]}");
	*len = o;
	return b;
}

/* What one iteration works on. */
struct bench {
	struct date today;
	struct envelope_meta meta;
	const char *body;
	size_t body_len;
	char *value; /* the last envelope made */
	size_t value_len;
};

static int run_parse(struct bench *x)
{
	struct patient_batch b;
	int r = patient_batch_parse(x->body, x->body_len, x->today, &b);

	patient_batch_free(&b);
	return r;
}

static int run_encode(struct bench *x)
{
	free(x->value);
	x->value = NULL;
	return envelope_encode(&x->meta, x->body, x->body_len, &x->value, &x->value_len);
}

/* The gateway: validate the request body, wrap it for Kafka. */
static int run_gateway(struct bench *x)
{
	int r = run_parse(x);

	return r < 0 ? r : run_encode(x);
}

/* The gateway as it runs: the rules read in place on a copy of the body
 * (as http_validate does), then the envelope. A body the reader does not
 * take would measure the fallback: that is a failure here. */
static int run_gateway_inplace(struct bench *x)
{
	struct patient_batch b;
	char *copy = malloc(x->body_len + 1);
	int r;

	if (!copy)
		return -ENOMEM;
	memcpy(copy, x->body, x->body_len);
	copy[x->body_len] = '\0';
	r = patient_batch_parse_inplace(copy, x->body_len, x->today, &b);
	patient_batch_free(&b);
	free(copy);
	if (r != 0)
		return r == 1 ? -EPROTO : r;
	return run_encode(x);
}

/* The worker: unwrap, validate again. */
static int run_worker(struct bench *x)
{
	struct envelope env;
	struct patient_batch b = { 0 };
	char err[256];
	int r = envelope_decode(x->value, x->value_len, &env, err, sizeof(err));

	if (r == 0)
		r = patient_batch_validate(env.body, x->today, &b);
	patient_batch_free(&b);
	envelope_free(&env);
	return r;
}

/* The worker as it runs: batchcodec_message, whose in-place path reads the
 * envelope and its body in one pass. A body that path does not take would
 * measure the fallback: that is a failure here (json-c's document, root,
 * is only there after a fallback). */
static int run_worker_inplace(struct bench *x)
{
	struct batchcodec_message m;
	int r = batchcodec_message(x->value, x->value_len, &m);

	if (r == 0 && m.env.root)
		r = -EPROTO;
	batchcodec_message_free(&m);
	return r;
}

static int measure(const char *name, int (*fn)(struct bench *), struct bench *x,
		   size_t bytes, double seconds)
{
	double t0 = now_s(), t = t0;
	unsigned long n;
	const char *only = getenv("BENCH_ONLY");

	/* BENCH_ONLY=TEXT: only the measures whose name holds TEXT (a
	 * profiler's run on one path). */
	if (only && !strstr(name, only))
		return 0;

	for (n = 0; t - t0 < seconds; n++) {
		int r = fn(x);

		if (r < 0) {
			fprintf(stderr, "bench_common: %s failed: %d\n", name, r);
			return r;
		}
		if (n % 16 == 15)
			t = now_s();
	}
	t = now_s() - t0;
	printf("%-50s %8.1f MB/s %10.0f patients/s %9.1f us/batch\n", name,
	       (double)bytes * (double)n / t / 1e6, (double)PATIENTS * (double)n / t,
	       t / (double)n * 1e6);
	return 0;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 2.0;
	struct uuid7_state ids;
	char rid[UUID7_STRLEN + 1], at[ENVELOPE_TIME_LEN + 1];
	struct bench x = { .today = date_today_utc(),
			   .meta = { "acme", rid, "bench-1", at } };
	char *body = make_body(&x.body_len);
	int r;

	if (!body || uuid7_init(&ids) < 0) {
		fprintf(stderr, "bench_common: setup failed\n");
		return 1;
	}
	x.body = body;
	uuid7_next(&ids, uuid7_now_ms(), rid);
	envelope_format_time(uuid7_now_ms(), at);
	r = run_encode(&x);
	if (r == 0)
		printf("body: %d patients, %zu bytes; envelope %zu bytes; %.1f s per measure\n",
		       PATIENTS, x.body_len, x.value_len, seconds);
	if (r == 0)
		r = measure("gateway: in place on a copy + envelope_encode", run_gateway_inplace,
			    &x, x.body_len, seconds);
	if (r == 0)
		r = measure("gateway, json-c path: patient_batch_parse + encode", run_gateway, &x,
			    x.body_len, seconds);
	if (r == 0)
		r = measure("  patient_batch_parse alone", run_parse, &x, x.body_len, seconds);
	if (r == 0)
		r = measure("  envelope_encode alone", run_encode, &x, x.body_len, seconds);
	if (r == 0)
		r = measure("worker: envelope_decode + patient_batch_validate", run_worker, &x,
			    x.value_len, seconds);
	if (r == 0)
		r = measure("worker: batchcodec_message, in place (no json-c)", run_worker_inplace, &x,
			    x.value_len, seconds);
	free(x.value);
	free(body);
	return r == 0 ? 0 : 1;
}
