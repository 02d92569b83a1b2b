/* batchcodec: how both daemons read a batch, in one place. The in-place
 * reader (jsonscan, no JSON document built: most of the CPU it saves) goes
 * first and only ever accepts; a body or envelope in any other form, and
 * every error, goes to json-c, so that verdicts and messages are always
 * json-c's. Two entry points: a body from a partner (the gateway) and a
 * message from Kafka (the worker). */
#ifndef PATIENTS_BATCHCODEC_H
#define PATIENTS_BATCHCODEC_H

#include <stddef.h>

#include "date.h"
#include "envelope.h"
#include "patient.h"

/* Validates a partner's body[0..len) (not modified; NULL with len 0 is an
 * empty body) against today. Returns as patient_batch_parse: 0, -EBADMSG
 * (400), -EINVAL (422, out->errors) or -ENOMEM. On 0 only out->count is
 * meaningful (the body's strings are not kept). Always release out with
 * patient_batch_free(). */
int batchcodec_body(const char *body, size_t len, struct date today, struct patient_batch *out);

/* A message from Kafka, decoded and re-validated. */
struct batchcodec_message {
	struct envelope env;	    /* its meta is the batch's tenant, ids, received_at */
	struct patient_batch batch; /* valid when batchcodec_message returned 0 */
	char why[512];		    /* on -EBADMSG / -EINVAL: one line, never patient data */
};

/* Decodes value[0..len) (not modified) into out and validates its body by
 * the rules, judging dates against the day the gateway received it, so a
 * replay months later judges a batch exactly as it was judged then.
 * Returns 0; -EBADMSG when it is not an envelope this worker understands;
 * -EINVAL when the batch breaks a rule (why names the count and the first);
 * -ENOMEM. Always release out with batchcodec_message_free(). */
int batchcodec_message(const void *value, size_t len, struct batchcodec_message *out);

/* Releases what out holds; safe on a zeroed or already released one. */
void batchcodec_message_free(struct batchcodec_message *out);

#endif
