/* answer: the one place that builds the gateway's public responses: the
 * headers DESIGN.md s.2 promises on every one (X-Request-Id, X-RateLimit-*,
 * Cache-Control, Retry-After of a 429 or of a 503 before any work, Allow of
 * a 405, Connection: close), the error envelope and the success body. It
 * builds libmicrohttpd responses without a connection: when one is queued
 * is request.c's business. */
#ifndef PATIENTS_GATEWAY_ANSWER_H
#define PATIENTS_GATEWAY_ANSWER_H

#include <stdbool.h>
#include <stddef.h>

#include "policy.h"
#include "ratelimit.h"

struct json_object;
struct MHD_Response;
struct patient_batch;

/* The 200 body of a published batch. */
#define ANSWER_SUCCESS "{\"data\":[{\"message\":\"Success\"}]}"

/* What every answer of a request carries besides its status and body.
 * Borrowed for the call. */
struct answer_meta {
	const char *request_id;		    /* X-Request-Id */
	const struct ratelimit_verdict *rl; /* X-RateLimit-*, a 429's Retry-After */
	enum policy_unavailable unavailable; /* set: a 503 before any work, Retry-After */
	bool close;			    /* Connection: close */
};

/* A response with body[0..len) (copied) of type and every header above;
 * allow: the Allow header, NULL for none. Returns it (the caller queues and
 * destroys it), or NULL when out of memory. */
struct MHD_Response *answer_new(const struct answer_meta *m, unsigned status, const char *type,
				const char *body, size_t len, const char *allow);

/* The error envelope {"error":{"status":N,"message":"...","details":[...]}}
 * with batch's problems as details ({"index":i,"field":..,"message":..},
 * index null for the batch itself; batch NULL: none). Returns a json-c
 * object the caller puts, or NULL when out of memory. */
struct json_object *answer_error_json(unsigned status, const char *message,
				      const struct patient_batch *batch);

/* answer_new with the error envelope as an application/json body. Returns
 * the response or NULL when out of memory. */
struct MHD_Response *answer_error(const struct answer_meta *m, unsigned status,
				  const char *message, const struct patient_batch *batch,
				  const char *allow);

#endif
