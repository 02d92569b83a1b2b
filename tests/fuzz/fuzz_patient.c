/* libFuzzer target: patient_batch_parse on arbitrary bytes, as the gateway
 * sees request bodies. Beyond "no crash, no leak, no UB" it checks what a
 * result promises, that a body the gateway accepts reaches the worker
 * (through an envelope) as exactly the same batch, and that the worker's
 * in-place fast path never accepts what the full path refuses nor reads a
 * field differently. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "patient.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct date today = { 2026, 11, 25 };

#define CHECK(cond)                                                                            \
	do {                                                                                   \
		if (!(cond))                                                                   \
			abort();                                                               \
	} while (0)

static void check_text(const char *s, size_t len, size_t min, size_t max)
{
	CHECK(s && strlen(s) == len && len >= min && len <= max);
	CHECK(utf8_validate(s, len) == 0);
}

static void check_valid(const struct patient_batch *b)
{
	CHECK(b->count >= 1 && b->count <= PATIENT_BATCH_MAX);
	CHECK(b->error_count == 0 && !b->errors_truncated && b->root);
	for (size_t i = 0; i < b->count; i++) {
		const struct patient *p = &b->patients[i];
		struct date d;

		check_text(p->code, p->code_len, 1, 255);
		CHECK(!utf8_has_control(p->code, p->code_len));
		check_text(p->first_name, p->first_name_len, 1, 255);
		CHECK(!utf8_is_blank(p->first_name, p->first_name_len));
		CHECK(!utf8_has_control(p->first_name, p->first_name_len));
		if (p->last_name) {
			check_text(p->last_name, p->last_name_len, 0, 255);
			CHECK(!utf8_has_control(p->last_name, p->last_name_len));
		}
		CHECK(patient_gender_name(p->gender));
		CHECK(date_parse(p->birthdate, strlen(p->birthdate), &d) == 0);
		CHECK(date_cmp(d, today) <= 0 && d.year >= 1900);
		if (p->email) {
			check_text(p->email, p->email_len, 3, 254);
			CHECK(!utf8_has_control(p->email, p->email_len));
			CHECK(memchr(p->email, '@', p->email_len));
		}
		/* duplicates were refused: no later patient has this code */
		for (size_t j = i + 1; j < b->count && j < i + 8; j++)
			CHECK(b->patients[j].code_len != p->code_len ||
			      memcmp(b->patients[j].code, p->code, p->code_len) != 0);
	}
}

static void check_invalid(const struct patient_batch *b)
{
	CHECK(b->count == 0 && !b->patients);
	CHECK(b->error_count >= 1 && b->error_count <= PATIENT_ERRORS_MAX);
	CHECK(!b->errors_truncated || b->error_count == PATIENT_ERRORS_MAX);
	for (size_t i = 0; i < b->error_count; i++) {
		const struct patient_error *e = &b->errors[i];

		CHECK(e->index >= -1 && e->index < PATIENT_BATCH_MAX);
		CHECK(memchr(e->field, '\0', sizeof(e->field)) && e->field[0]);
		CHECK(memchr(e->message, '\0', sizeof(e->message)) && e->message[0]);
	}
}

/* The gateway wraps the body; the worker unwraps and validates it again. */
static void check_pipeline(const char *body, size_t len, const struct patient_batch *in)
{
	static const struct envelope_meta meta = { "fuzz", "01936f5e-8a2b-7c3d-9e4f-0123456789ab",
						   "client \"x\"", "2026-11-25T23:59:59.999Z" };
	struct patient_batch out;
	struct envelope env;
	char err[256], *value;
	size_t vlen;
	int r;

	r = envelope_encode(&meta, body, len, &value, &vlen);
	if (r == -ENOMEM)
		return;
	CHECK(r == 0);
	r = envelope_decode(value, vlen, &env, err, sizeof(err));
	CHECK(r == 0 || r == -ENOMEM);
	if (r == 0) {
		r = patient_batch_validate(env.body, today, &out);
		CHECK(r == 0 || r == -ENOMEM);
		if (r == 0) {
			CHECK(out.count == in->count);
			for (size_t i = 0; i < in->count; i++) {
				const struct patient *a = &in->patients[i], *b = &out.patients[i];

				CHECK(a->code_len == b->code_len &&
				      memcmp(a->code, b->code, a->code_len) == 0);
				CHECK(a->first_name_len == b->first_name_len &&
				      memcmp(a->first_name, b->first_name, a->first_name_len) == 0);
				CHECK(a->gender == b->gender &&
				      strcmp(a->birthdate, b->birthdate) == 0);
				CHECK(!a->email == !b->email && !a->last_name == !b->last_name);
			}
		}
		patient_batch_free(&out);
	}
	envelope_free(&env);
	free(value);
}

static bool same_text(const char *a, size_t alen, const char *b, size_t blen)
{
	return !a == !b && alen == blen && (!a || memcmp(a, b, alen) == 0);
}

/* The fast path on a copy: when it accepts, the full path accepted the same
 * patients, field for field. */
static void check_inplace(const uint8_t *data, size_t size, int full, const struct patient_batch *b)
{
	struct patient_batch f;
	char *copy = malloc(size + 1);
	int r;

	if (!copy)
		return;
	memcpy(copy, data, size);
	r = patient_batch_parse_inplace(copy, size, today, &f);
	CHECK(r == 0 || r == 1 || r == -ENOMEM);
	if (r == 0) {
		CHECK(full == 0 && f.count == b->count && f.error_count == 0 && !f.root);
		for (size_t i = 0; i < b->count; i++) {
			const struct patient *x = &b->patients[i], *y = &f.patients[i];

			CHECK(same_text(x->code, x->code_len, y->code, y->code_len));
			CHECK(same_text(x->first_name, x->first_name_len, y->first_name,
					y->first_name_len));
			CHECK(same_text(x->last_name, x->last_name_len, y->last_name, y->last_name_len));
			CHECK(same_text(x->email, x->email_len, y->email, y->email_len));
			CHECK(x->gender == y->gender && strcmp(x->birthdate, y->birthdate) == 0);
			CHECK(strlen(y->code) == y->code_len && strlen(y->first_name) == y->first_name_len);
		}
	} else {
		CHECK(f.count == 0 && !f.patients && !f.errors);
	}
	patient_batch_free(&f);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct patient_batch b;
	int r = patient_batch_parse((const char *)data, size, today, &b);

	check_inplace(data, size, r, &b);

	if (r == 0) {
		check_valid(&b);
		check_pipeline((const char *)data, size, &b);
	} else if (r == -EINVAL || r == -EBADMSG) {
		check_invalid(&b);
		if (r == -EBADMSG)
			CHECK(b.error_count == 1 && b.errors[0].index == -1);
	} else {
		CHECK(r == -ENOMEM);
	}
	patient_batch_free(&b);
	return 0;
}
