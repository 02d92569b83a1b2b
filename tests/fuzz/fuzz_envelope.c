/* libFuzzer target: envelope_decode on arbitrary bytes, as the worker sees
 * Kafka message values. A decoded envelope must hold well-formed metadata
 * that encodes and decodes back to itself, and a body that validates
 * without surprises; the in-place readers and batchcodec_message (the
 * worker's one pass) agree with it. */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "batchcodec.h"
#include "envelope.h"
#include "patient.h"
#include "uuid7.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                            \
	do {                                                                                   \
		if (!(cond))                                                                   \
			abort();                                                               \
	} while (0)

static int same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void check_meta_round_trip(const struct envelope_meta *meta)
{
	struct envelope again;
	char err[256], *value;
	size_t len;
	int r;

	r = envelope_encode(meta, "{}", 2, &value, &len);
	if (r == -ENOMEM)
		return;
	CHECK(r == 0);
	r = envelope_decode(value, len, &again, err, sizeof(err));
	CHECK(r == 0 || r == -ENOMEM);
	if (r == 0)
		CHECK(same(again.meta.tenant, meta->tenant) &&
		      same(again.meta.request_id, meta->request_id) &&
		      same(again.meta.client_request_id, meta->client_request_id) &&
		      same(again.meta.received_at, meta->received_at));
	envelope_free(&again);
	free(value);
}

static int same_patients(const struct patient_batch *a, const struct patient_batch *b)
{
	if (a->count != b->count)
		return 0;
	for (size_t i = 0; i < a->count; i++) {
		const struct patient *x = &a->patients[i], *y = &b->patients[i];

		if (x->code_len != y->code_len || memcmp(x->code, y->code, x->code_len) != 0 ||
		    x->first_name_len != y->first_name_len ||
		    memcmp(x->first_name, y->first_name, x->first_name_len) != 0 ||
		    !same(x->last_name, y->last_name) || !same(x->email, y->email) ||
		    x->gender != y->gender || strcmp(x->birthdate, y->birthdate) != 0)
			return 0;
	}
	return 1;
}

/* What the worker runs (batchcodec_message: the envelope and its body read
 * in one pass, json-c when that pass gives up): the full path's verdict
 * and, when valid, its patients, whichever reader decided. */
static void check_codec(const uint8_t *data, size_t size, int full_env, int full_batch,
			const struct patient_batch *b)
{
	struct batchcodec_message m;
	int r = batchcodec_message(data, size, &m);

	if (r != -ENOMEM) {
		if (full_env != 0 && full_env != -ENOMEM)
			CHECK(r == -EBADMSG);
		else if (full_batch != -ENOMEM)
			CHECK(r == full_batch);
		if (r == 0 && full_batch == 0)
			CHECK(same_patients(&m.batch, b));
	}
	batchcodec_message_free(&m);
}

/* The worker's in-place path (envelope, then body): whatever it accepts,
 * the full path accepted with the same meta and the same patients. */
static void check_inplace(const uint8_t *data, size_t size, int full_env, const struct envelope *env,
			  int full_batch, const struct patient_batch *b)
{
	struct envelope fe;
	struct patient_batch fb;
	struct date received;
	char *body;
	size_t blen;
	int r;

	r = envelope_decode_inplace((const char *)data, size, &fe, &body, &blen);
	CHECK(r == 0 || r == 1 || r == -ENOMEM);
	if (r != 0) {
		CHECK(!fe.buf && !fe.meta.tenant);
		envelope_free(&fe);
		return;
	}
	CHECK(full_env == 0);
	CHECK(same(fe.meta.tenant, env->meta.tenant) && same(fe.meta.request_id, env->meta.request_id) &&
	      same(fe.meta.client_request_id, env->meta.client_request_id) &&
	      same(fe.meta.received_at, env->meta.received_at));
	CHECK(strlen(body) == blen && body[0] == '{');
	CHECK(date_parse(fe.meta.received_at, 10, &received) == 0);
	r = patient_batch_parse_inplace(body, blen, received, &fb);
	CHECK(r == 0 || r == 1 || r == -ENOMEM);
	if (r == 0)
		CHECK(full_batch == 0 && same_patients(b, &fb));
	patient_batch_free(&fb);
	envelope_free(&fe);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct envelope env;
	struct patient_batch b;
	struct date received;
	char err[256];
	int r;

	r = envelope_decode((const char *)data, size, &env, err, sizeof(err));
	if (r != 0) {
		check_inplace(data, size, r, &env, -1, NULL);
		check_codec(data, size, r, -1, NULL);
		CHECK((r == -EBADMSG && err[0]) || r == -ENOMEM);
		CHECK(!env.root && !env.body);
		envelope_free(&env);
		return 0;
	}
	CHECK(envelope_tenant_valid(env.meta.tenant));
	CHECK(uuid7_is_canonical(env.meta.request_id));
	CHECK(envelope_received_at_valid(env.meta.received_at));
	CHECK(!env.meta.client_request_id ||
	      envelope_client_request_id_valid(env.meta.client_request_id));
	CHECK(json_object_is_type(env.body, json_type_object));
	check_meta_round_trip(&env.meta);

	/* As the worker does: the envelope's date is "today". */
	CHECK(date_parse(env.meta.received_at, 10, &received) == 0);
	r = patient_batch_validate(env.body, received, &b);
	CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
	check_inplace(data, size, 0, &env, r, &b);
	check_codec(data, size, 0, r, &b);
	if (r == 0)
		CHECK(b.count >= 1 && b.count <= PATIENT_BATCH_MAX && b.error_count == 0);
	if (r == -EINVAL)
		CHECK(b.count == 0 && b.error_count >= 1 && b.error_count <= PATIENT_ERRORS_MAX);
	patient_batch_free(&b);
	envelope_free(&env);
	return 0;
}
