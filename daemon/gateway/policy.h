/* policy: the gateway's request pipeline decisions, as pure functions: which
 * status and message each stage's outcome is answered with (DESIGN.md s.2),
 * when a refusal goes out before the body, how much of a refused body is
 * read and dropped, how an answer is counted. No libmicrohttpd, no I/O, no
 * allocation: request.c asks, then acts; tests/unit/test_policy.c holds the
 * table of every rule. Messages are static strings or the caller's buffer;
 * none quotes a header, a key or a field's value. */
#ifndef PATIENTS_GATEWAY_POLICY_H
#define PATIENTS_GATEWAY_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct patient_batch;

#define POLICY_PATH_PATIENTS "/v1/patients"
#define POLICY_PATH_HEALTHZ "/healthz"
#define POLICY_JSON "application/json"
/* Spelled out: their MHD_ names changed between libmicrohttpd releases. */
#define POLICY_CONTENT_TOO_LARGE 413u
#define POLICY_UNPROCESSABLE 422u
/* A body over the limit that is already on its way (chunked, or sent
 * without waiting for "100 Continue") is read and dropped so that the
 * client can read its 413, but not forever. */
#define POLICY_DISCARD_FACTOR 4u
/* Retry-After of the 503s that come before any work: the budget frees up
 * as fast as Kafka answers; a broker known down is re-checked every
 * second. */
#define POLICY_RETRY_AFTER_BUDGET_S 1u
#define POLICY_RETRY_AFTER_KAFKA_DOWN_S 5u
/* A chunked body's first allocation; it doubles from there. */
#define POLICY_BODY_FIRST_CAP (64u * 1024u)

/* An answer to give: status, message (static, or the caller's buffer),
 * the Allow header of a 405 (NULL otherwise), and whether the batch's
 * problems go with it as the envelope's details. status 0: none, go on. */
struct policy_answer {
	unsigned status;
	const char *message;
	const char *allow;
	bool details;
};

/* Why a request is answered 503 before it is published. */
enum policy_unavailable {
	POLICY_AVAILABLE = 0,
	POLICY_UNAVAILABLE_BUDGET,     /* --max-inflight-bytes reached */
	POLICY_UNAVAILABLE_KAFKA_DOWN, /* publisher_known_down */
};

/* Delivery outcome of a published batch. */
enum policy_outcome {
	POLICY_OUTCOME_PENDING = 0,
	POLICY_OUTCOME_DELIVERED,
	POLICY_OUTCOME_TIMEOUT,
	POLICY_OUTCOME_FAILED,
};

enum policy_route {
	POLICY_ROUTE_ANSWER,   /* answered from the head alone: see the answer */
	POLICY_ROUTE_HEALTHZ,  /* 200 "ok" */
	POLICY_ROUTE_PATIENTS, /* the batch pipeline */
};

/* What a Content-Length says to do with the body. */
enum policy_length {
	POLICY_LENGTH_READ,	/* read it (*declared: its length, 0 when none) */
	POLICY_LENGTH_REFUSE,	/* 413 at once: the client waits, or too large to drop */
	POLICY_LENGTH_DROP,	/* over the limit: read and drop it, then 413 */
};

/* How an answered (or unanswered: status 0) request is counted. */
enum policy_tally {
	POLICY_TALLY_NONE = 0, /* 200 without patients (/healthz, no batch) */
	POLICY_TALLY_PUBLISHED,
	POLICY_TALLY_REJECTED, /* 4xx */
	POLICY_TALLY_FAILED,   /* 5xx, or no answer at all: logged as a warning */
};

/* Routes the normalized path and the method; on POLICY_ROUTE_ANSWER fills
 * *a (404, or 405 with its Allow). */
enum policy_route policy_route(const char *path, const char *method, struct policy_answer *a);

/* Whether a Content-Type names JSON: "application/json", any case, with
 * optional white space and parameters. NULL: false. */
bool policy_is_json(const char *type);

/* Whether an Expect value asks for "100 Continue" (any case). NULL: false. */
bool policy_expects_continue(const char *expect);

/* What to do with the body given its Content-Length as framing_check read
 * it (has_length false: none, or chunked). A refusal goes out at once when
 * policy_refuse_before_body says so, else the body is dropped first.
 * *declared is set on POLICY_LENGTH_READ only. */
enum policy_length policy_length(bool has_length, uint64_t length, size_t max_body,
				 bool expect_continue, size_t *declared);

/* Whether a refusal decided from the head goes out before the body (which
 * is then not read, the connection closed): when the client waits for "100
 * Continue" before a body, or the body is too large to drop. Otherwise it
 * waits until the body is read and dropped. */
bool policy_refuse_before_body(bool chunked, uint64_t content_length, bool expect_continue,
			       size_t max_body);

/* Whether a 503 before any work goes out at once: no body coming (length 0)
 * or a client that waits for "100 Continue"; otherwise the body is read and
 * dropped first. */
bool policy_unavailable_at_once(size_t length, bool expect_continue);

/* Whether a dropped body has grown past what is read of it: then the
 * connection is closed. */
bool policy_drop_over(size_t discarded, size_t max_body);

/* The allocation for a chunked body that must hold need bytes, from cap
 * (0: none yet): doubling from POLICY_BODY_FIRST_CAP, never over max_body.
 * need must be <= max_body. */
size_t policy_body_cap(size_t cap, size_t need, size_t max_body);

/* The 503's message and its Retry-After (seconds); AVAILABLE: NULL and 0. */
const char *policy_unavailable_message(enum policy_unavailable why);
unsigned policy_retry_after_s(enum policy_unavailable why);

/* The 429's message, for a limit of per_minute, in buf. Returns buf. */
const char *policy_rate_message(char *buf, size_t size, unsigned per_minute);

/* The 413's message, for a limit of max_body bytes, in buf. Returns buf. */
const char *policy_too_large_message(char *buf, size_t size, size_t max_body);

/* The answer to batchcodec_body's result r for batch: status 0 (publish it)
 * on 0; 400 (the first problem, or "not a JSON object"), 422 (a count of
 * the problems, in buf), both with details; 503 on any other error. The
 * message may point into batch: answer before freeing it. */
struct policy_answer policy_batch(int r, const struct patient_batch *batch, char *buf,
				  size_t size);

/* The outcome of the publisher's delivery report err (0, -ETIMEDOUT, other). */
enum policy_outcome policy_outcome_of(int err);

/* The answer to a delivery outcome (not PENDING): 200, or 503 and why. */
struct policy_answer policy_delivery(enum policy_outcome outcome);

/* How a request that ended with status (0: none sent) and that many patients
 * is counted. */
enum policy_tally policy_tally(unsigned status, size_t patients);

#endif
