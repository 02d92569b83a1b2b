/* envelope: the Kafka message value of DESIGN.md s.3,
 * {"v":1,"tenant":...,"request_id":...,"client_request_id":...,
 *  "received_at":...,"body":{...}}, with the validated body bytes copied in
 * verbatim (never re-encoded). */
#ifndef PATIENTS_ENVELOPE_H
#define PATIENTS_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;

#define ENVELOPE_VERSION 1
#define ENVELOPE_TENANT_MAX 64		 /* bytes of [A-Za-z0-9._-] */
#define ENVELOPE_CLIENT_REQUEST_ID_MAX 128 /* bytes of printable ASCII */
#define ENVELOPE_TIME_LEN 24		 /* "YYYY-MM-DDTHH:MM:SS.mmmZ" */

struct envelope_meta {
	const char *tenant;	       /* required, 1..64 bytes */
	const char *request_id;	       /* required, canonical UUID text */
	const char *client_request_id; /* optional, NULL when absent */
	const char *received_at;       /* required, YYYY-MM-DDTHH:MM:SS.mmmZ */
};

/* Builds the envelope around body (a JSON object's bytes, already validated).
 * On success returns 0 and a malloc'd buffer in *out (caller frees) of
 * *out_len bytes, followed by a NUL that *out_len does not count; -EINVAL
 * for bad metadata or a body that does not even look like an object
 * ({...}), -ENOMEM. On failure *out is NULL. */
int envelope_encode(const struct envelope_meta *meta, const char *body, size_t body_len,
		    char **out, size_t *out_len);

/* A decoded envelope. The meta strings point into root (envelope_decode) or
 * into buf (envelope_decode_inplace), NUL-terminated either way; valid until
 * envelope_free. */
struct envelope {
	struct json_object *root; /* owned; NULL from envelope_decode_inplace */
	struct envelope_meta meta;
	struct json_object *body; /* borrowed from root: the "body" object */
	char *buf;		  /* owned: envelope_decode_inplace's text */
};

/* Decodes a message value. Returns 0, or -EBADMSG with a one-line reason in
 * err (not JSON, too deep, wrong "v", missing or malformed tenant,
 * request_id or received_at, body not an object...), or -ENOMEM. Always call
 * envelope_free(). */
int envelope_decode(const char *value, size_t len, struct envelope *out, char *err,
		    size_t errsize);

/* The worker's fast path (batchcodec_message) for a value in the simple
 * form our gateway writes (no escapes in the envelope's own fields, "v"
 * written 1, each field once): reads a copy of value without building a
 * JSON document. Returns 0
 * with out->meta set and *body / *body_len a NUL-terminated, writable copy
 * of the body's text (owned by out, for patient_batch_parse_inplace); 1
 * when the value is not in that form or is not a valid envelope:
 * envelope_decode gives the verdict; -ENOMEM. Always call envelope_free(). */
int envelope_decode_inplace(const char *value, size_t len, struct envelope *out, char **body,
			    size_t *body_len);

/* Reads an envelope's body where it stands, in the pass that reads the
 * envelope: called with sc at the body's opening '{', it reads exactly
 * that value, leaving sc past it. Returns 0, 1 when it gives up (the value
 * is then envelope_decode's to judge), or -ENOMEM. */
struct jsonscan;
typedef int envelope_body_reader(struct jsonscan *sc, void *arg);

/* envelope_decode_inplace with the body read by read(sc, arg) instead of
 * skipped and handed back: the worker's one pass over a batch
 * (batchcodec.c), where skipping the body first was a third of the
 * decoding. The text around sc is the copy out owns, checked as
 * patient_batch_parse_inplace asks (valid UTF-8, no NUL byte), so what the
 * reader keeps pointing into it is valid until envelope_free. Returns 0
 * (out->meta set), 1 (also when read gave up), -ENOMEM; whatever read
 * kept is the caller's to release, whatever this returns. Always call
 * envelope_free(). */
int envelope_decode_inplace_read(const char *value, size_t len, struct envelope *out,
				 envelope_body_reader *read, void *arg);

/* Releases root and buf; safe on a zeroed or already freed envelope. */
void envelope_free(struct envelope *env);

/* The metadata checks, shared by encode and decode (request_id is
 * uuid7_is_canonical()). The gateway runs envelope_client_request_id_valid
 * on a client's X-Request-Id before using it: encode refuses a bad one. */
bool envelope_tenant_valid(const char *tenant);	 /* 1..64 of [A-Za-z0-9._-] */
bool envelope_received_at_valid(const char *s);	 /* a real UTC instant, ms */
bool envelope_client_request_id_valid(const char *s); /* 0..128 of 0x20..0x7e */

/* Formats unix_ms as received_at: "YYYY-MM-DDTHH:MM:SS.mmmZ" and a NUL. */
void envelope_format_time(uint64_t unix_ms, char out[ENVELOPE_TIME_LEN + 1]);

#endif
