/* patient: the Patient model and the batch validation rules of DESIGN.md s.2,
 * implemented once and used by the gateway (before publishing) and the worker
 * (before writing). */
#ifndef PATIENTS_PATIENT_H
#define PATIENTS_PATIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "date.h"

struct json_object;

#define PATIENT_BATCH_MAX 1000	/* patients per batch */
#define PATIENT_ERRORS_MAX 100	/* errors reported per batch */
/* Nesting of arrays and objects a body may use, its own three levels
 * ({"patients":[{...) included. Unknown keys are ignored, and a partner's
 * own fields may nest: 64 is the deepest .NET's System.Text.Json writes by
 * default (MaxDepth), and stays cheap to refuse past (jsondoc scans without
 * recursion, json-c keeps a fixed stack of that many levels). */
#define PATIENT_JSON_DEPTH_MAX 64

enum patient_gender {
	PATIENT_GENDER_MALE = 1,
	PATIENT_GENDER_FEMALE = 2,
};

/* One validated patient. Strings are NUL-terminated and point into the
 * json-c document the batch owns (patient_batch_parse, _validate: valid
 * until patient_batch_free) or, from patient_batch_parse_inplace, into the
 * caller's body (valid while both it and the batch are); optional fields
 * are NULL when absent or null. */
struct patient {
	const char *code;
	size_t code_len;
	const char *first_name;
	size_t first_name_len;
	const char *last_name; /* NULL: absent or null */
	size_t last_name_len;
	enum patient_gender gender;
	char birthdate[11]; /* "YYYY-MM-DD", validated */
	const char *email; /* NULL: absent or null */
	size_t email_len;
};

/* One problem found; index is the patient's position in the array, or -1
 * for a problem with the batch itself (field "patients", or "body" when it
 * is not a JSON object). field is "patients" too when patients[index] is not
 * an object. Messages never quote a field's value: they end up in logs. */
struct patient_error {
	int index;
	char field[16];
	char message[192];
};

struct patient_batch {
	/* owned: the parsed body, or a reference; NULL from
	 * patient_batch_parse_inplace */
	struct json_object *root;
	struct patient *patients; /* owned array of count */
	size_t count;
	struct patient_error *errors; /* owned array of error_count */
	size_t error_count;
	bool errors_truncated; /* more than PATIENT_ERRORS_MAX were found */
};

/* Parses and validates a request body.
 * Returns 0 when the batch is valid (out->patients filled);
 * -EBADMSG when the body is not JSON, not a JSON object, nests deeper than
 *   PATIENT_JSON_DEPTH_MAX or is not valid UTF-8 (an HTTP 400): one entry in
 *   out->errors says why (for the depth, naming the limit);
 * -EINVAL when it is a JSON object that breaks the rules (an HTTP 422):
 *   out->errors lists every problem, up to PATIENT_ERRORS_MAX;
 * -ENOMEM on allocation failure.
 * In every case out must be released with patient_batch_free(). */
int patient_batch_parse(const char *body, size_t len, struct date today,
			struct patient_batch *out);

/* Same rules for a body json-c already parsed (an envelope's "body", when
 * the worker's in-place reader gave up: batchcodec.h).
 * Takes a new reference on body; returns 0, -EINVAL or -ENOMEM as above,
 * or -EBADMSG when body is not a JSON object. */
int patient_batch_validate(struct json_object *body, struct date today,
			   struct patient_batch *out);

/* The fast path of both daemons (batchcodec.h: a partner's body in the
 * gateway, an envelope's body in the worker) for a body in the simple form
 * partners usually send: no escapes, no numbers, each field once. Reads
 * body[0..len) in place, writing into it (strings are NUL-terminated where
 * they end), without building a JSON document. Returns 0 when the batch is
 * valid, out filled exactly as patient_batch_parse would fill it, its
 * strings pointing into body (which must outlive out); 1 when the body is
 * not in that form or breaks a rule: out is empty and patient_batch_parse,
 * on an unmodified copy, gives the verdict and the errors; -ENOMEM. */
int patient_batch_parse_inplace(char *body, size_t len, struct date today,
				struct patient_batch *out);

/* The same reader in two steps, for a body inside a larger text whose
 * rules depend on what may come after it (batchcodec.c: the day an
 * envelope's received_at names). The text around sc must be what
 * patient_batch_parse_inplace asks of a body (valid UTF-8, no NUL byte).
 *
 * patient_batch_scan reads the one object at sc's position, leaving sc
 * past it. Returns 0 with ps filled (its strings NUL-terminated in the
 * text, ps released by patient_batch_judge or patient_scan_free), 1 when
 * the object is not in the simple form (ps empty, sc anywhere), -ENOMEM. */
struct patient_fields;
struct patient_scan {
	struct patient_fields *f; /* owned: one per element read */
	size_t n;
};
struct jsonscan;
int patient_batch_scan(struct jsonscan *sc, struct patient_scan *ps);

/* Judges what patient_batch_scan read by the rules, today being today:
 * returns and fills out as patient_batch_parse_inplace. Releases ps
 * either way. */
int patient_batch_judge(struct patient_scan *ps, struct date today, struct patient_batch *out);

/* Releases what ps holds; safe on a zeroed or released one. */
void patient_scan_free(struct patient_scan *ps);

/* Releases what a batch owns; safe on a zeroed or already freed batch. */
void patient_batch_free(struct patient_batch *batch);

/* "male" / "female". */
const char *patient_gender_name(enum patient_gender gender);

#endif
