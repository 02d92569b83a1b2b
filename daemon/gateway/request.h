/* request: one public HTTP request through the gateway's pipeline, a state
 * machine that libmicrohttpd's handler (http.c) steps once per call: framing
 * checks on the head, routing, authentication, rate limit, Content-Type and
 * length, the budget and Kafka known down (all decided by policy.h), then
 * the body, its validation (common/batchcodec), the envelope, the publish
 * and the suspended wait for the delivery report. Every answer is built by
 * answer.h and queued here. Private to the gateway's HTTP files. */
#ifndef PATIENTS_GATEWAY_REQUEST_H
#define PATIENTS_GATEWAY_REQUEST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

#include "envelope.h"
#include "policy.h"
#include "ratelimit.h"
#include "uuid7.h"

struct conntrack_conn;
struct http;

/* Where a request is; the handler is called again at each step. */
enum request_stage {
	REQUEST_STAGE_HEAD = 0,	  /* the handler's first call: headers only */
	REQUEST_STAGE_DRAIN,	  /* refused; the body is read and dropped first */
	REQUEST_STAGE_BODY,	  /* head accepted, body arriving */
	REQUEST_STAGE_PUBLISHING, /* suspended until its delivery report */
	REQUEST_STAGE_ANSWERED,
};

struct request {
	struct http *h; /* borrowed: the listener */
	struct MHD_Connection *conn;
	enum request_stage stage;
	atomic_int outcome; /* enum policy_outcome, written by the poller thread */
	unsigned status;    /* answered with; 0 while none */
	char id[UUID7_STRLEN + 1];
	char received_at[ENVELOPE_TIME_LEN + 1];
	char client_id[ENVELOPE_CLIENT_REQUEST_ID_MAX + 1];
	char tenant[ENVELOPE_TENANT_MAX + 1]; /* "" until authenticated */
	struct ratelimit_verdict rl;
	struct conntrack_conn *track; /* its connection's entry; NULL: untracked */
	size_t reserved;	      /* bytes of the budget it holds */
	enum policy_unavailable unavailable;
	char *body;
	size_t len, cap, discarded;
	bool too_large;
	bool close;	 /* framing not to be trusted: answer, then close */
	bool answer_now; /* a refusal is sent before the body, which is not read */
	struct MHD_Response *deferred; /* the refusal, until the body is read */
	size_t patients;
	uint64_t start_us, publish_us;
};

/* A new request on conn, at the handler's first call (its head is whole):
 * its id, receive time and unspent rate-limit headers set, counted active.
 * Returns it (freed by request_end) or NULL when out of memory. */
struct request *request_new(struct http *h, struct MHD_Connection *conn);

/* The first call: framing checks on the head as libmicrohttpd parsed it
 * (framing.h), then routing and everything decided without the body. */
enum MHD_Result request_begin(struct request *req, const char *url, const char *method,
			      const char *version);

/* REQUEST_STAGE_DRAIN: drops *size bytes of a refused body (setting *size
 * to 0), or queues the refusal once the body is all in (*size 0). */
enum MHD_Result request_drain(struct request *req, size_t *size);

/* REQUEST_STAGE_BODY: takes data[0..*size) (setting *size to 0), or, once
 * the body is all in (*size 0), validates and publishes it. */
enum MHD_Result request_body(struct request *req, const char *data, size_t *size);

/* REQUEST_STAGE_PUBLISHING, resumed: answers the delivery outcome, or
 * suspends again while it is still pending. */
enum MHD_Result request_published(struct request *req);

/* The delivery report err for req (any thread): records the outcome and
 * resumes its connection. req may be freed as soon as this returns. */
void request_delivered(struct request *req, int err);

/* libmicrohttpd is done with req, which ended as end says ("ok", "timeout"
 * ..., overridden by the gateway's own reason): counted, logged, freed. */
void request_end(struct request *req, const char *end);

#endif
