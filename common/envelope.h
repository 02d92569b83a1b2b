/* envelope: the Kafka message value of DESIGN.md s.3,
 * {"v":1,"tenant":...,"request_id":...,"client_request_id":...,
 *  "received_at":...,"body":{...}}, with the validated body bytes copied in
 * verbatim (never re-encoded). */
#ifndef PATIENTS_ENVELOPE_H
#define PATIENTS_ENVELOPE_H

#include <stddef.h>

struct json_object;

#define ENVELOPE_VERSION 1

struct envelope_meta {
	const char *tenant;	       /* required, 1..64 bytes */
	const char *request_id;	       /* required, canonical UUID text */
	const char *client_request_id; /* optional, NULL when absent */
	const char *received_at;       /* required, YYYY-MM-DDTHH:MM:SS.mmmZ */
};

/* Builds the envelope around body (a JSON object's bytes, already validated).
 * On success returns 0 and a malloc'd buffer in *out (caller frees) of
 * *out_len bytes; -EINVAL for bad metadata, -ENOMEM. */
int envelope_encode(const struct envelope_meta *meta, const char *body, size_t body_len,
		    char **out, size_t *out_len);

/* A decoded envelope. Strings point into root (valid until
 * envelope_free). */
struct envelope {
	struct json_object *root; /* owned */
	struct envelope_meta meta;
	struct json_object *body; /* borrowed from root: the "body" object */
};

/* Decodes a message value. Returns 0, or -EBADMSG with a one-line reason in
 * err (not JSON, too deep, wrong "v", missing or malformed tenant,
 * request_id or received_at, body not an object...), or -ENOMEM. Always call
 * envelope_free(). */
int envelope_decode(const char *value, size_t len, struct envelope *out, char *err,
		    size_t errsize);

void envelope_free(struct envelope *env);

#endif
