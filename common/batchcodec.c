#include "config.h"

#include "batchcodec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int batchcodec_body(const char *body, size_t len, struct date today, struct patient_batch *out)
{
	char *copy = len ? malloc(len + 1) : NULL;
	int r = 1;

	/* In place on a copy: the reader writes NULs into what it reads. */
	if (copy) {
		memcpy(copy, body, len);
		copy[len] = '\0';
		r = patient_batch_parse_inplace(copy, len, today, out);
		if (r == 0) {
			size_t n = out->count;

			patient_batch_free(out); /* it points into copy */
			out->count = n;
		}
		free(copy);
	}
	if (r != 0)
		r = patient_batch_parse(body ? body : "", len, today, out);
	return r;
}

/* "Today" for a batch: the day it was received (validated with the
 * envelope, so of its own form either way). */
static struct date batchcodec_received_date(const char *received_at)
{
	struct date d;

	if (!received_at || date_parse(received_at, 10, &d) < 0)
		return date_today_utc();
	return d;
}

static int batchcodec_read_body(struct jsonscan *sc, void *arg)
{
	return patient_batch_scan(sc, arg);
}

/* The in-place path, one pass over the envelope and its body, judged once
 * received_at (which may follow the body) is known: 0 (valid, out
 * filled), -ENOMEM, or 1: json-c decides. */
static int batchcodec_message_inplace(const void *value, size_t len,
				      struct batchcodec_message *out)
{
	struct patient_scan ps = { 0 };
	int r;

	r = envelope_decode_inplace_read((const char *)value, len, &out->env,
					 batchcodec_read_body, &ps);
	if (r == 0)
		r = patient_batch_judge(&ps, batchcodec_received_date(out->env.meta.received_at),
					&out->batch);
	patient_scan_free(&ps);
	if (r != 0)
		envelope_free(&out->env);
	return r;
}

int batchcodec_message(const void *value, size_t len, struct batchcodec_message *out)
{
	const struct patient_error *e;
	int r;

	memset(out, 0, sizeof(*out));
	r = batchcodec_message_inplace(value, len, out);
	if (r <= 0)
		return r;
	r = envelope_decode((const char *)value, len, &out->env, out->why, sizeof(out->why));
	if (r < 0)
		return r == -ENOMEM ? -ENOMEM : -EBADMSG;
	r = patient_batch_validate(out->env.body,
				   batchcodec_received_date(out->env.meta.received_at), &out->batch);
	if (r == 0 || r == -ENOMEM)
		return r;
	e = out->batch.error_count ? &out->batch.errors[0] : NULL;
	snprintf(out->why, sizeof(out->why), "%zu%s validation errors; first: patients[%d].%s: %s",
		 out->batch.error_count, out->batch.errors_truncated ? "+" : "", e ? e->index : -1,
		 e ? e->field : "-", e ? e->message : "-");
	return -EINVAL;
}

void batchcodec_message_free(struct batchcodec_message *out)
{
	patient_batch_free(&out->batch);
	envelope_free(&out->env);
}
