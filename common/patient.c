#include "config.h"

#include "patient.h"

#include "jsondoc.h"
#include "jsonscan.h"
#include "utf8.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#define PATIENT_TEXT_MAX 255  /* bytes in code, first_name, last_name */
#define PATIENT_EMAIL_MAX 254 /* bytes in email (RFC 5321's path limit) */

static const struct date patient_birth_min = { 1900, 1, 1 };

/* A valid code and where it sits, for finding duplicates by sorting. */
struct patient_code {
	const char *s;
	size_t len;
	int index;
};

static int patient_add_error(struct patient_batch *b, int index, const char *field,
			     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Records one problem. Past PATIENT_ERRORS_MAX it only notes that there was
 * more, so a hostile batch costs a bounded amount of memory. */
static int patient_add_error(struct patient_batch *b, int index, const char *field,
			     const char *fmt, ...)
{
	struct patient_error *e;
	va_list ap;

	if (b->error_count >= PATIENT_ERRORS_MAX) {
		b->errors_truncated = true;
		return 0;
	}
	if (!b->errors) {
		b->errors = calloc(PATIENT_ERRORS_MAX, sizeof(*b->errors));
		if (!b->errors)
			return -ENOMEM;
	}
	e = &b->errors[b->error_count++];
	e->index = index;
	snprintf(e->field, sizeof(e->field), "%s", field);
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return 0;
}

/* One field of one patient as the rules see it, whichever reader found it. */
enum patient_value_kind {
	PATIENT_VALUE_ABSENT = 0,
	PATIENT_VALUE_NULL,
	PATIENT_VALUE_STRING,
	PATIENT_VALUE_OTHER, /* a number, boolean, object or array */
};

struct patient_value {
	enum patient_value_kind kind;
	const char *s; /* NUL-terminated; may hold an earlier NUL from "\u0000" */
	size_t n;
	bool checked; /* a slice of text already checked: no NUL, valid UTF-8 */
};

/* The fields the rules read, in the order their errors are reported. */
enum {
	PATIENT_F_CODE,
	PATIENT_F_FIRST_NAME,
	PATIENT_F_LAST_NAME,
	PATIENT_F_GENDER,
	PATIENT_F_BIRTHDATE,
	PATIENT_F_EMAIL,
	PATIENT_F_COUNT,
};

static const char *const patient_field_names[PATIENT_F_COUNT] = {
	"code", "first_name", "last_name", "gender", "birthdate", "email",
};

/* One element of "patients": an object's fields, or not an object. */
struct patient_fields {
	bool is_object;
	struct patient_value v[PATIENT_F_COUNT];
};

/* A value as a string. Returns NULL with *s (NULL when an optional field
 * is absent or null) and *len set, or why the value cannot be used. */
static const char *patient_get_string(const struct patient_value *v, bool required,
				      const char **s, size_t *len)
{
	*s = NULL;
	*len = 0;
	if (v->kind == PATIENT_VALUE_ABSENT)
		return required ? "is required" : NULL;
	if (v->kind == PATIENT_VALUE_NULL)
		return required ? "must not be null" : NULL;
	/* Strict types: 123 is not "123"; converting would hide client bugs. */
	if (v->kind != PATIENT_VALUE_STRING)
		return "must be a string";
	/* json-c keeps the NUL a "\u0000" escape decodes to; C strings and
	 * PostgreSQL text would silently cut the value there. */
	if (!v->checked && memchr(v->s, '\0', v->n))
		return "must not contain NUL characters";
	/* The raw body was checked, but an escape can still decode to what the
	 * bytes did not contain; and the worker's documents come from Kafka. */
	if (!v->checked && utf8_validate(v->s, v->n) < 0)
		return "must be valid UTF-8";
	*s = v->s;
	*len = v->n;
	return NULL;
}

/* What the text fields ask of their value, in the order a partner reads
 * the first broken one. */
struct patient_text_rule {
	bool required;	/* absent, null or "" is an error */
	bool not_blank; /* only white space is an error */
	size_t max;	/* bytes */
	const char *too_long;
};

static const struct patient_text_rule patient_code_rule = {
	.required = true, .max = PATIENT_TEXT_MAX, .too_long = "must be at most 255 bytes",
};
static const struct patient_text_rule patient_first_name_rule = {
	.required = true, .not_blank = true, .max = PATIENT_TEXT_MAX,
	.too_long = "must be at most 255 bytes",
};
static const struct patient_text_rule patient_last_name_rule = {
	.max = PATIENT_TEXT_MAX, .too_long = "must be at most 255 bytes",
};
static const struct patient_text_rule patient_email_rule = {
	.max = PATIENT_EMAIL_MAX, .too_long = "must be at most 254 bytes",
};

/* A text field's value by its rule, into *out and *out_len (NULL and 0 for
 * an optional field left out, and on any error). No control characters in any of them: a tab,
 * a line break or an escape sequence breaks the screens, letters, CSV
 * exports and mail headers a value ends up in. */
static const char *patient_check_text(const struct patient_value *v,
				      const struct patient_text_rule *rule, const char **out,
				      size_t *out_len)
{
	const char *s, *why = patient_get_string(v, rule->required, &s, out_len);
	size_t n = *out_len;

	*out = NULL;
	*out_len = 0;
	if (why)
		return why;
	if (rule->required && n == 0)
		return "must not be empty";
	if (n > rule->max)
		return rule->too_long;
	if (rule->not_blank && utf8_is_blank(s, n))
		return "must not be only whitespace";
	if (utf8_has_control(s, n))
		return "must not contain control characters";
	*out = s;
	*out_len = n;
	return NULL;
}

static const char *patient_check_code(const struct patient_value *v, struct patient *p)
{
	return patient_check_text(v, &patient_code_rule, &p->code, &p->code_len);
}

static const char *patient_check_gender(const struct patient_value *v, struct patient *p)
{
	const char *s, *why;
	size_t n;

	why = patient_get_string(v, true, &s, &n);
	if (why)
		return why;
	/* Exactly these: "Male" or "m" would be guesses about the client. */
	if (n == 4 && memcmp(s, "male", 4) == 0)
		p->gender = PATIENT_GENDER_MALE;
	else if (n == 6 && memcmp(s, "female", 6) == 0)
		p->gender = PATIENT_GENDER_FEMALE;
	else
		return "must be \"male\" or \"female\"";
	return NULL;
}

/* The one message with a variable part (today's date, never the value), so
 * it is written into buf. */
static const char *patient_check_birthdate(const struct patient_value *v, struct patient *p,
					   struct date today, char *buf, size_t size)
{
	struct date d;
	const char *s, *why;
	size_t n;
	int r;

	why = patient_get_string(v, true, &s, &n);
	if (why)
		return why;
	r = date_parse(s, n, &d);
	if (r == -EINVAL)
		return "must be a date of the form YYYY-MM-DD";
	if (r < 0)
		return "is not a calendar date";
	if (date_cmp(d, patient_birth_min) < 0)
		return "must be on or after 1900-01-01";
	if (date_cmp(d, today) > 0) {
		snprintf(buf, size, "must not be after today (%04d-%02d-%02d)", today.year,
			 today.month, today.day);
		return buf;
	}
	memcpy(p->birthdate, s, n);
	p->birthdate[n] = '\0';
	return NULL;
}

/* Deliberately simple, not RFC 5322: one '@', something before it, and a
 * domain with a dot that neither starts nor ends it. No control characters,
 * so a stored address can never smuggle a line break into a mail header.
 * Whether the mailbox exists is the partner's business. */
static const char *patient_check_email(const struct patient_value *v, struct patient *p)
{
	const char *s, *why, *at, *domain;
	size_t n, local, dlen;

	why = patient_check_text(v, &patient_email_rule, &s, &n);
	if (why || !s)
		return why;
	at = memchr(s, '@', n);
	if (!at || memchr(at + 1, '@', n - (size_t)(at - s) - 1))
		return "must contain exactly one '@'";
	local = (size_t)(at - s);
	if (local == 0)
		return "must have a non-empty part before the '@'";
	domain = at + 1;
	dlen = n - local - 1;
	if (!memchr(domain, '.', dlen))
		return "must have a domain containing a dot after the '@'";
	if (domain[0] == '.' || domain[dlen - 1] == '.')
		return "must not have a domain that starts or ends with a dot";
	p->email = s;
	p->email_len = n;
	return NULL;
}

static int patient_code_cmp(const void *a, const void *b)
{
	const struct patient_code *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->s, y->s, n);

	if (c)
		return c;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	/* Equal codes keep array order, so each run starts at its first. */
	return (x->index > y->index) - (x->index < y->index);
}

/* Marks in dup_of[i] the first index with the same code as patients[i], or
 * -1. Sorting keeps this O(n log n) for a batch of 1000 identical codes. */
static int patient_find_duplicates(const struct patient_fields *f, size_t n, int *dup_of)
{
	struct patient_code *codes;
	size_t ncodes = 0;

	codes = malloc(n * sizeof(*codes));
	if (!codes)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct patient p = { 0 };

		dup_of[i] = -1;
		if (f[i].is_object && !patient_check_code(&f[i].v[PATIENT_F_CODE], &p))
			codes[ncodes++] = (struct patient_code){ p.code, p.code_len, (int)i };
	}
	qsort(codes, ncodes, sizeof(*codes), patient_code_cmp);
	for (size_t i = 1, first = 0; i < ncodes; i++) {
		if (codes[i].len == codes[first].len &&
		    memcmp(codes[i].s, codes[first].s, codes[i].len) == 0)
			dup_of[codes[i].index] = codes[first].index;
		else
			first = i;
	}
	free(codes);
	return 0;
}

/* Checks one patient, recording each broken rule; dup is the index of an
 * earlier patient with the same code, or -1. */
static int patient_check_one(struct patient_batch *b, const struct patient_fields *f, int index,
			     int dup, struct date today, struct patient *p)
{
	char buf[sizeof(b->errors[0].message)];
	const char *why;
	int r;

	if (!f->is_object)
		return patient_add_error(b, index, "patients",
					 "each patient must be a JSON object");
	why = patient_check_code(&f->v[PATIENT_F_CODE], p);
	if (!why && dup >= 0) {
		/* Which one wins would be a guess: say where both are. */
		r = patient_add_error(b, index, "code", "duplicate of patients[%d]", dup);
		if (r < 0)
			return r;
	}
	if (why && (r = patient_add_error(b, index, "code", "%s", why)) < 0)
		return r;
	why = patient_check_text(&f->v[PATIENT_F_FIRST_NAME], &patient_first_name_rule,
				 &p->first_name, &p->first_name_len);
	if (why && (r = patient_add_error(b, index, "first_name", "%s", why)) < 0)
		return r;
	why = patient_check_text(&f->v[PATIENT_F_LAST_NAME], &patient_last_name_rule,
				 &p->last_name, &p->last_name_len);
	if (why && (r = patient_add_error(b, index, "last_name", "%s", why)) < 0)
		return r;
	why = patient_check_gender(&f->v[PATIENT_F_GENDER], p);
	if (why && (r = patient_add_error(b, index, "gender", "%s", why)) < 0)
		return r;
	why = patient_check_birthdate(&f->v[PATIENT_F_BIRTHDATE], p, today, buf, sizeof(buf));
	if (why && (r = patient_add_error(b, index, "birthdate", "%s", why)) < 0)
		return r;
	why = patient_check_email(&f->v[PATIENT_F_EMAIL], p);
	if (why && (r = patient_add_error(b, index, "email", "%s", why)) < 0)
		return r;
	return 0;
}

/* The count rules; 0 or the error recorded (then the patients are not
 * looked at). */
static int patient_check_count(struct patient_batch *b, size_t n, bool *ok)
{
	*ok = false;
	if (n == 0)
		return patient_add_error(b, -1, "patients", "must contain at least one patient");
	if (n > PATIENT_BATCH_MAX)
		return patient_add_error(b, -1, "patients",
					 "has %zu patients; at most %d are allowed", n,
					 PATIENT_BATCH_MAX);
	*ok = true;
	return 0;
}

/* The per-patient rules over n elements read by either reader; fills
 * b->patients. */
static int patient_check_all(struct patient_batch *b, const struct patient_fields *f, size_t n,
			     struct date today)
{
	int *dup_of = malloc(n * sizeof(*dup_of));
	int r;

	b->patients = calloc(n, sizeof(*b->patients));
	if (!b->patients || !dup_of) {
		r = -ENOMEM;
		goto out;
	}
	r = patient_find_duplicates(f, n, dup_of);
	for (size_t i = 0; r == 0 && i < n && !b->errors_truncated; i++)
		r = patient_check_one(b, &f[i], (int)i, dup_of[i], today, &b->patients[i]);
	if (r == 0)
		b->count = n;
out:
	free(dup_of);
	return r;
}

/* Whatever went wrong, half-validated patients never reach a caller. */
static int patient_verdict(struct patient_batch *b, int r)
{
	if (r == 0 && b->error_count > 0)
		r = -EINVAL;
	if (r < 0) {
		free(b->patients);
		b->patients = NULL;
		b->count = 0;
	}
	return r;
}

static void patient_fields_from_json(struct json_object *obj, struct patient_fields *f)
{
	memset(f, 0, sizeof(*f));
	f->is_object = json_object_is_type(obj, json_type_object);
	for (size_t k = 0; f->is_object && k < PATIENT_F_COUNT; k++) {
		struct patient_value *v = &f->v[k];
		struct json_object *o;

		if (!json_object_object_get_ex(obj, patient_field_names[k], &o))
			continue;
		if (!o) {
			v->kind = PATIENT_VALUE_NULL;
		} else if (json_object_is_type(o, json_type_string)) {
			v->kind = PATIENT_VALUE_STRING;
			v->s = json_object_get_string(o);
			v->n = (size_t)json_object_get_string_len(o);
		} else {
			v->kind = PATIENT_VALUE_OTHER;
		}
	}
}

/* The rules, on b->root. */
static int patient_batch_check(struct patient_batch *b, struct date today)
{
	struct json_object *list = NULL;
	struct patient_fields *f = NULL;
	bool ok;
	size_t n;
	int r;

	if (!json_object_is_type(b->root, json_type_object)) {
		r = patient_add_error(b, -1, "body", "body must be a JSON object");
		return r < 0 ? r : -EBADMSG;
	}
	if (!json_object_object_get_ex(b->root, "patients", &list)) {
		r = patient_add_error(b, -1, "patients", "is required");
		goto out;
	}
	if (!json_object_is_type(list, json_type_array)) {
		r = patient_add_error(b, -1, "patients", "must be an array");
		goto out;
	}
	n = json_object_array_length(list);
	r = patient_check_count(b, n, &ok);
	if (r < 0 || !ok)
		goto out;
	f = malloc(n * sizeof(*f));
	if (!f) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		patient_fields_from_json(json_object_array_get_idx(list, i), &f[i]);
	r = patient_check_all(b, f, n, today);
out:
	free(f);
	return patient_verdict(b, r);
}

/* Whether the key read (klen bytes, no NUL among them) is name. A few
 * bytes compared in line: strcmp, called once a field, was 5% of the
 * worker's CPU samples. */
static bool patient_key_is(const char *key, size_t klen, const char *name)
{
	size_t i;

	for (i = 0; i < klen && key[i] == name[i]; i++)
		;
	return i == klen && name[i] == '\0';
}

/* One patient object in the simple form; -1 to fall back (a field named
 * twice: json-c would keep the last, the rules must see the same). */
static int patient_scan_one(struct jsonscan *sc, struct patient_fields *f)
{
	bool bad, first;

	memset(f, 0, sizeof(*f));
	if (jsonscan_open(sc, '{') < 0)
		return -1;
	f->is_object = true;
	for (first = true; !jsonscan_close(sc, '{', first, &bad); first = false) {
		struct patient_value *v = NULL;
		char *key, *str;
		size_t klen, slen;

		if (bad || jsonscan_string(sc, &key, &klen) < 0 || !jsonscan_take(sc, ':'))
			return -1;
		/* The names start with distinct letters: one comparison at most. */
		for (size_t k = 0; k < PATIENT_F_COUNT; k++) {
			if (key[0] == patient_field_names[k][0] &&
			    patient_key_is(key, klen, patient_field_names[k])) {
				v = &f->v[k];
				break;
			}
		}
		if (!v) {
			if (jsonscan_skip(sc) < 0)
				return -1;
			continue;
		}
		if (v->kind != PATIENT_VALUE_ABSENT)
			return -1;
		/* Nearly every value is a string: looked at first, without
		 * a comparison with "null" (strlen and memcmp) for each. */
		if (jsonscan_peek(sc) == '"') {
			if (jsonscan_string(sc, &str, &slen) < 0)
				return -1; /* an escape: the slow path reads it */
			v->kind = PATIENT_VALUE_STRING;
			v->s = str;
			v->n = slen;
			/* Unescaped bytes between quotes of the body checked
			 * below: the same bytes, already known good. */
			v->checked = true;
		} else if (jsonscan_word(sc, "null")) {
			v->kind = PATIENT_VALUE_NULL;
		} else {
			return -1; /* a wrong type: the slow path names it */
		}
	}
	return 0;
}

int patient_batch_scan(struct jsonscan *sc, struct patient_scan *ps)
{
	bool bad, first, seen = false;
	int r = 1;

	memset(ps, 0, sizeof(*ps));
	if (jsonscan_open(sc, '{') < 0)
		return 1;
	for (first = true; !jsonscan_close(sc, '{', first, &bad); first = false) {
		char *key;
		size_t klen;

		if (bad || jsonscan_string(sc, &key, &klen) < 0 || !jsonscan_take(sc, ':'))
			goto out;
		if (strcmp(key, "patients") != 0) {
			if (jsonscan_skip(sc) < 0)
				goto out;
			continue;
		}
		if (seen || jsonscan_open(sc, '[') < 0)
			goto out;
		seen = true;
		ps->f = malloc(PATIENT_BATCH_MAX * sizeof(*ps->f));
		if (!ps->f) {
			r = -ENOMEM;
			goto out;
		}
		for (bool efirst = true; !jsonscan_close(sc, '[', efirst, &bad); efirst = false) {
			if (bad || ps->n == PATIENT_BATCH_MAX || patient_scan_one(sc, &ps->f[ps->n]) < 0)
				goto out;
			ps->n++;
		}
	}
	if (seen)
		return 0;
out:
	patient_scan_free(ps);
	return r;
}

void patient_scan_free(struct patient_scan *ps)
{
	free(ps->f);
	memset(ps, 0, sizeof(*ps));
}

int patient_batch_judge(struct patient_scan *ps, struct date today, struct patient_batch *out)
{
	bool ok;
	int r;

	memset(out, 0, sizeof(*out));
	r = patient_check_count(out, ps->n, &ok);
	if (r == 0 && ok)
		r = patient_check_all(out, ps->f, ps->n, today);
	r = patient_verdict(out, r);
	if (r == -EINVAL)
		r = 1; /* the slow path says which rules, in its words */
	if (r != 0)
		patient_batch_free(out);
	patient_scan_free(ps);
	return r;
}

int patient_batch_parse_inplace(char *body, size_t len, struct date today,
				struct patient_batch *out)
{
	struct patient_scan ps;
	struct jsonscan sc;
	int r;

	memset(out, 0, sizeof(*out));
	if (!body || len == 0 || memchr(body, '\0', len) || utf8_validate(body, len) < 0)
		return 1;
	jsonscan_init(&sc, body, len, PATIENT_JSON_DEPTH_MAX);
	r = patient_batch_scan(&sc, &ps);
	if (r != 0)
		return r;
	if (!jsonscan_at_end(&sc)) {
		patient_scan_free(&ps);
		return 1;
	}
	return patient_batch_judge(&ps, today, out);
}

int patient_batch_parse(const char *body, size_t len, struct date today,
			struct patient_batch *out)
{
	const char *why;
	int r;

	memset(out, 0, sizeof(*out));
	r = jsondoc_parse(body, len, PATIENT_JSON_DEPTH_MAX, &out->root, &why);
	if (r == -EBADMSG && strcmp(why, JSONDOC_TOO_DEEP) == 0) {
		/* Ignored keys still count: say how deep a partner may go. */
		r = patient_add_error(out, -1, "body",
				      "body %s: at most %d levels of arrays and objects, the "
				      "body's own 3 included", why, PATIENT_JSON_DEPTH_MAX);
		return r < 0 ? r : -EBADMSG;
	}
	if (r == -EBADMSG) {
		r = patient_add_error(out, -1, "body", "body %s", why);
		return r < 0 ? r : -EBADMSG;
	}
	if (r < 0)
		return r;
	return patient_batch_check(out, today);
}

int patient_batch_validate(struct json_object *body, struct date today,
			   struct patient_batch *out)
{
	memset(out, 0, sizeof(*out));
	out->root = json_object_get(body);
	return patient_batch_check(out, today);
}

void patient_batch_free(struct patient_batch *batch)
{
	if (!batch)
		return;
	json_object_put(batch->root);
	free(batch->patients);
	free(batch->errors);
	memset(batch, 0, sizeof(*batch));
}

const char *patient_gender_name(enum patient_gender gender)
{
	switch (gender) {
	case PATIENT_GENDER_MALE:
		return "male";
	case PATIENT_GENDER_FEMALE:
		return "female";
	}
	return NULL;
}

