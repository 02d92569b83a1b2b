#include "config.h"

#include "request.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer.h"
#include "batchcodec.h"
#include "budget.h"
#include "clock.h"
#include "conntrack.h"
#include "framing.h"
#include "http_internal.h"
#include "keys.h"
#include "log.h"
#include "metrics.h"
#include "patient.h"
#include "publisher.h"
#include "sharedlimit.h"

#define REQUEST_OUT_OF_MEMORY "out of memory"

/* --- answers ------------------------------------------------------------ */

static const char *request_header(struct request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

/* Every answer decided on the first calls is queued here, once: the stage
 * moves on with it. A refusal held back until the body is dropped goes out
 * from request_drain instead, without conntrack_exempt (as before the
 * split): that connection stays under the body deadlines while
 * libmicrohttpd sends its small answer. */
static enum MHD_Result request_queue(struct request *req, unsigned status,
				     struct MHD_Response *resp)
{
	enum MHD_Result r;

	if (!resp)
		return MHD_NO;
	if (req->stage == REQUEST_STAGE_HEAD && !req->answer_now) {
		/* libmicrohttpd 0.9.75 closes the connection of any answer queued
		 * on the first call, body or not: keep it until the final call,
		 * the body read and dropped, so that the connection stays open
		 * for the next request (a new TLS handshake otherwise). */
		req->deferred = resp;
		req->status = status;
		req->stage = REQUEST_STAGE_DRAIN;
		return MHD_YES;
	}
	r = MHD_queue_response(req->conn, status, resp);
	MHD_destroy_response(resp);
	/* Sending the answer is libmicrohttpd's idle timer's business. */
	conntrack_exempt(req->h->ct, req->track);
	req->status = status;
	req->stage = REQUEST_STAGE_ANSWERED;
	return r;
}

static struct answer_meta request_meta(const struct request *req)
{
	return (struct answer_meta){
		.request_id = req->id,
		.rl = &req->rl,
		.unavailable = req->unavailable,
		.close = atomic_load(&req->h->closing) || req->close,
	};
}

static enum MHD_Result request_answer(struct request *req, unsigned status, const char *type,
				      const char *body, size_t len)
{
	struct answer_meta m = request_meta(req);

	return request_queue(req, status, answer_new(&m, status, type, body, len, NULL));
}

static enum MHD_Result request_error(struct request *req, unsigned status, const char *message,
				     const struct patient_batch *batch, const char *allow)
{
	struct answer_meta m = request_meta(req);

	return request_queue(req, status, answer_error(&m, status, message, batch, allow));
}

/* A policy's answer, with batch's problems when it says so. */
static enum MHD_Result request_refuse(struct request *req, const struct policy_answer *a,
				      const struct patient_batch *batch)
{
	return request_error(req, a->status, a->message, a->details ? batch : NULL, a->allow);
}

/* --- the head ----------------------------------------------------------- */

static bool request_authenticate(struct request *req)
{
	struct http *h = req->h;
	const char *api_key = request_header(req, "X-API-Key");
	const char *secret = request_header(req, "X-Secret-Key");
	int r;

	/* A missing header is an empty value: the same work, the same 401. */
	if (!api_key)
		api_key = "";
	if (!secret)
		secret = "";
	pthread_rwlock_rdlock(&h->keys_lock);
	r = keys_authenticate(h->keys, api_key, strlen(api_key), secret, strlen(secret),
			      req->tenant, sizeof(req->tenant));
	pthread_rwlock_unlock(&h->keys_lock);
	if (r < 0) {
		req->tenant[0] = '\0';
		return false;
	}
	/* Redis not answering in time: this gateway's own limit (fail open). */
	if (!h->shared || sharedlimit_check(h->shared, api_key, &req->rl) < 0)
		ratelimit_check(h->rl, api_key, clock_mono_us() / 1000u, &req->rl);
	return true;
}

/* A 503 before any work: at once, or once the body is in, read and dropped
 * (not held), so that the client can read the answer. */
static enum MHD_Result request_unavailable(struct request *req, enum policy_unavailable why,
					   size_t length, bool expect_continue)
{
	req->unavailable = why;
	if (policy_unavailable_at_once(length, expect_continue))
		return request_error(req, MHD_HTTP_SERVICE_UNAVAILABLE,
				     policy_unavailable_message(why), NULL, NULL);
	req->stage = REQUEST_STAGE_BODY;
	return MHD_YES;
}

/* Routed, framed soundly (v: framing_check's verdict, its Content-Length;
 * cont: the client waits for "100 Continue"): everything that can be
 * refused without the body is refused here (answered once the body is read
 * and dropped, or at once when the client waits or the body is too large
 * to drop). */
static enum MHD_Result request_head(struct request *req, const char *path, const char *method,
				    const struct framing_verdict *v, bool cont)
{
	struct http *h = req->h;
	const char *client_id;
	struct policy_answer a;
	size_t declared = 0; /* Content-Length; 0 when absent */
	char msg[128];

	switch (policy_route(path, method, &a)) {
	case POLICY_ROUTE_ANSWER:
		return request_refuse(req, &a, NULL);
	case POLICY_ROUTE_HEALTHZ:
		return request_answer(req, MHD_HTTP_OK, "text/plain; charset=utf-8", "ok\n", 3);
	case POLICY_ROUTE_PATIENTS:
		break;
	}
	client_id = request_header(req, "X-Request-Id");
	if (client_id && *client_id && envelope_client_request_id_valid(client_id))
		snprintf(req->client_id, sizeof(req->client_id), "%s", client_id);
	if (!request_authenticate(req))
		return request_error(req, MHD_HTTP_UNAUTHORIZED,
				     "missing or invalid credentials (X-API-Key, X-Secret-Key)",
				     NULL, NULL);
	if (!req->rl.allowed)
		return request_error(req, MHD_HTTP_TOO_MANY_REQUESTS,
				     policy_rate_message(msg, sizeof(msg), req->rl.limit), NULL,
				     NULL);
	if (!policy_is_json(request_header(req, MHD_HTTP_HEADER_CONTENT_TYPE)))
		return request_error(req, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
				     "Content-Type must be application/json", NULL, NULL);
	switch (policy_length(v->has_length, v->content_length, h->max_body, cont, &declared)) {
	case POLICY_LENGTH_REFUSE:
		return request_error(req, POLICY_CONTENT_TOO_LARGE,
				     policy_too_large_message(msg, sizeof(msg), h->max_body), NULL,
				     NULL);
	case POLICY_LENGTH_DROP:
		req->too_large = true;
		req->stage = REQUEST_STAGE_BODY;
		return MHD_YES;
	case POLICY_LENGTH_READ:
		break;
	}
	/* Kafka known down, or no room in the budget: answered without
	 * holding the body. */
	if (publisher_known_down(h->publisher))
		return request_unavailable(req, POLICY_UNAVAILABLE_KAFKA_DOWN,
					   v->has_length ? declared : 1, cont);
	if (declared > 0) {
		if (budget_reserve(h->budget, declared) < 0)
			return request_unavailable(req, POLICY_UNAVAILABLE_BUDGET, declared, cont);
		req->reserved = declared;
		req->body = malloc(declared);
		if (!req->body)
			return request_error(req, MHD_HTTP_SERVICE_UNAVAILABLE,
					     REQUEST_OUT_OF_MEMORY, NULL, NULL);
		req->cap = declared;
	}
	req->stage = REQUEST_STAGE_BODY;
	return MHD_YES;
}

struct request *request_new(struct http *h, struct MHD_Connection *conn)
{
	struct request *req = calloc(1, sizeof(*req));
	const union MHD_ConnectionInfo *ci;
	uint64_t now_ms;

	if (!req)
		return NULL;
	req->h = h;
	req->conn = conn;
	req->start_us = clock_mono_us();
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	req->track = ci ? ci->socket_context : NULL;
	/* Called once the head is whole: its deadline no longer applies. */
	conntrack_head_done(h->ct, req->track, req->start_us / 1000u);
	atomic_init(&req->outcome, POLICY_OUTCOME_PENDING);
	ratelimit_unspent(h->rl, &req->rl);
	pthread_mutex_lock(&h->id_lock);
	now_ms = uuid7_now_ms();
	uuid7_next(&h->ids, now_ms, req->id);
	pthread_mutex_unlock(&h->id_lock);
	envelope_format_time(now_ms, req->received_at);
	atomic_fetch_add(&h->active, 1);
	return req;
}

struct request_fields {
	struct framing_header *v;
	size_t n, cap;
};

static enum MHD_Result request_field(void *cls, enum MHD_ValueKind kind, const char *key,
				     size_t key_size, const char *value, size_t value_size)
{
	struct request_fields *f = cls;

	(void)kind;
	if (f->v && f->n < f->cap)
		f->v[f->n] = (struct framing_header){ key, key_size, value, value_size };
	f->n++;
	return MHD_YES;
}

enum MHD_Result request_begin(struct request *req, const char *url, const char *method,
			      const char *version)
{
	const union MHD_ConnectionInfo *ci;
	struct request_fields fields = { 0 };
	struct framing_request fr;
	struct framing_verdict v;
	bool cont;
	char *path = NULL;
	enum MHD_Result a;

	ci = MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
	/* Counted, then collected: a head holds as many fields as it likes. */
	MHD_get_connection_values_n(req->conn, MHD_HEADER_KIND, request_field, &fields);
	fields.cap = fields.n;
	fields.n = 0;
	fields.v = fields.cap ? calloc(fields.cap, sizeof(*fields.v)) : NULL;
	path = malloc(FRAMING_TARGET_MAX + 1);
	if ((fields.cap && !fields.v) || !path || !ci) {
		req->close = req->answer_now = true;
		a = request_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, REQUEST_OUT_OF_MEMORY, NULL,
				  NULL);
		goto out;
	}
	MHD_get_connection_values_n(req->conn, MHD_HEADER_KIND, request_field, &fields);
	fr = (struct framing_request){
		.method = method,
		.target = url,
		.http10 = strcmp(version, MHD_HTTP_VERSION_1_0) == 0,
		.headers = fields.v,
		.header_count = fields.n,
		.head_bytes = ci->header_size,
		.max_head_bytes = req->h->max_head,
	};
	/* The layout check knows how libmicrohttpd 0.9.x parses in place; 1.0
	 * parses differently (and refuses bare LF itself when told to). */
	if (framing_check(&fr, path, FRAMING_TARGET_MAX + 1, &v) == 0 &&
	    MHD_VERSION < 0x01000000 &&
	    !framing_lines_crlf(method, ci->header_size, version, fields.v, fields.n))
		v = (struct framing_verdict){
			.status = 400,
			.close = true,
			.message = "malformed line: bare LF, NUL or a folded field",
		};
	if (v.status) {
		req->close = v.close;
		req->answer_now = v.close;
		a = request_error(req, v.status, v.message, NULL, NULL);
		goto out;
	}
	cont = policy_expects_continue(request_header(req, MHD_HTTP_HEADER_EXPECT));
	req->answer_now = policy_refuse_before_body(v.chunked, v.content_length, cont,
						    req->h->max_body);
	a = request_head(req, path, method, &v, cont);
out:
	free(fields.v);
	free(path);
	return a;
}

enum MHD_Result request_drain(struct request *req, size_t *size)
{
	enum MHD_Result r;

	if (*size) {
		/* A refused body still arrives at the minimum rate. */
		conntrack_body_bytes(req->h->ct, req->track, *size);
		req->discarded += *size;
		*size = 0;
		return policy_drop_over(req->discarded, req->h->max_body) ? MHD_NO : MHD_YES;
	}
	r = MHD_queue_response(req->conn, req->status, req->deferred);
	MHD_destroy_response(req->deferred);
	req->deferred = NULL;
	req->stage = REQUEST_STAGE_ANSWERED;
	return r;
}

/* --- the body ----------------------------------------------------------- */

/* Gives back the body and the budget it held: what arrives from now on is
 * dropped, as discarded says. */
static void request_drop_body(struct request *req, size_t discarded)
{
	free(req->body);
	req->body = NULL;
	req->discarded = discarded;
	req->len = req->cap = 0;
	budget_release(req->h->budget, req->reserved);
	req->reserved = 0;
}

static enum MHD_Result request_take(struct request *req, const char *data, size_t *size)
{
	struct http *h = req->h;
	size_t n = *size;

	*size = 0;
	conntrack_body_bytes(h->ct, req->track, n);
	if (req->too_large || req->unavailable) {
		req->discarded += n;
		return policy_drop_over(req->discarded, h->max_body) ? MHD_NO : MHD_YES;
	}
	if (n > h->max_body - req->len) {
		/* A chunked body over the limit: libmicrohttpd cannot answer in the
		 * middle of an upload, so drop the rest and answer 413 at the end. */
		req->too_large = true;
		request_drop_body(req, req->len + n);
		return MHD_YES;
	}
	if (req->len + n > req->cap) {
		size_t cap = policy_body_cap(req->cap, req->len + n, h->max_body);
		char *grown;

		/* A chunked body is charged to the budget as it grows. */
		if (cap > req->reserved) {
			if (budget_reserve(h->budget, cap - req->reserved) < 0) {
				request_drop_body(req, req->len + n);
				req->unavailable = POLICY_UNAVAILABLE_BUDGET;
				return MHD_YES;
			}
			req->reserved = cap;
		}
		grown = realloc(req->body, cap);
		if (!grown)
			return MHD_NO;
		req->body = grown;
		req->cap = cap;
	}
	memcpy(req->body + req->len, data, n);
	req->len += n;
	return MHD_YES;
}

/* Validated and wrapped: counted in flight, the budget moved from the body
 * to the message, the connection suspended, the message handed to Kafka.
 * value is taken over. */
static enum MHD_Result request_publish(struct request *req, char *value, size_t value_len)
{
	struct http *h = req->h;
	int r;

	/* Counted before the check, so that once the main thread has set
	 * refuse and seen inflight at 0, no publish can still start. */
	atomic_fetch_add(&h->inflight, 1);
	if (atomic_load(&h->refuse)) {
		atomic_fetch_sub(&h->inflight, 1);
		free(value);
		return request_error(req, MHD_HTTP_SERVICE_UNAVAILABLE,
				     "the gateway is stopping; nothing was stored, retrying is safe",
				     NULL, NULL);
	}
	metrics_gauge_add(h->m_inflight, NULL, 1);
	/* The budget now holds the message, not the body: what librdkafka
	 * holds until its report. */
	if (value_len > req->reserved)
		budget_force(h->budget, value_len - req->reserved);
	else
		budget_release(h->budget, req->reserved - value_len);
	req->reserved = value_len;
	/* Waiting for Kafka: no deadline of ours. */
	conntrack_exempt(h->ct, req->track);
	/* Suspended before the send: the report may come at once, on the
	 * poller thread, and must find the connection already suspended. */
	MHD_suspend_connection(req->conn);
	req->stage = REQUEST_STAGE_PUBLISHING;
	req->publish_us = clock_mono_us();
	r = publisher_send(h->publisher, req->tenant, value, value_len, req);
	if (r == 0)
		req->reserved = 0; /* the publisher's to give back */
	if (r < 0) {
		free(value);
		log_warning("publish_refused", "request_id=%s error=%s", req->id, strerror(-r));
		request_delivered(req, r);
	}
	return MHD_YES;
}

/* The whole body is in: validate, wrap, publish. */
static enum MHD_Result request_process(struct request *req)
{
	struct http *h = req->h;
	struct patient_batch batch;
	struct policy_answer a;
	struct envelope_meta meta;
	char msg[128], *value = NULL;
	size_t value_len = 0;
	int r;

	if (req->too_large)
		return request_error(req, POLICY_CONTENT_TOO_LARGE,
				     policy_too_large_message(msg, sizeof(msg), h->max_body), NULL,
				     NULL);
	if (req->unavailable)
		return request_error(req, MHD_HTTP_SERVICE_UNAVAILABLE,
				     policy_unavailable_message(req->unavailable), NULL, NULL);
	r = batchcodec_body(req->body, req->len, date_today_utc(), &batch);
	a = policy_batch(r, &batch, msg, sizeof(msg));
	if (a.status && a.details) {
		enum MHD_Result ret = request_refuse(req, &a, &batch);

		patient_batch_free(&batch);
		return ret;
	}
	req->patients = batch.count;
	patient_batch_free(&batch);
	if (a.status)
		return request_refuse(req, &a, NULL);

	meta = (struct envelope_meta){
		.tenant = req->tenant,
		.request_id = req->id,
		.client_request_id = req->client_id[0] ? req->client_id : NULL,
		.received_at = req->received_at,
	};
	r = envelope_encode(&meta, req->body, req->len, &value, &value_len);
	free(req->body);
	req->body = NULL;
	if (r < 0)
		return request_error(req, MHD_HTTP_SERVICE_UNAVAILABLE,
				     "could not build the message", NULL, NULL);
	return request_publish(req, value, value_len);
}

enum MHD_Result request_body(struct request *req, const char *data, size_t *size)
{
	if (*size)
		return request_take(req, data, size);
	return request_process(req);
}

/* --- the delivery report ------------------------------------------------ */

void request_delivered(struct request *req, int err)
{
	/* req may be answered and freed as soon as it is resumed: keep h. */
	struct http *h = req->h;

	atomic_store(&req->outcome, (int)policy_outcome_of(err));
	metrics_gauge_add(h->m_inflight, NULL, -1);
	MHD_resume_connection(req->conn);
	atomic_fetch_sub(&h->inflight, 1);
}

enum MHD_Result request_published(struct request *req)
{
	struct http *h = req->h;
	enum policy_outcome outcome = (enum policy_outcome)atomic_load(&req->outcome);
	struct policy_answer a;

	if (outcome == POLICY_OUTCOME_PENDING) {
		/* Not ours to answer yet: wait for the report. */
		MHD_suspend_connection(req->conn);
		return MHD_YES;
	}
	metrics_histogram_observe(h->m_publish, NULL,
				  (double)(clock_mono_us() - req->publish_us) / 1e6);
	a = policy_delivery(outcome);
	if (a.status == MHD_HTTP_OK) {
		metrics_counter_add(h->m_patients, NULL, req->patients);
		return request_answer(req, MHD_HTTP_OK, POLICY_JSON, ANSWER_SUCCESS,
				      sizeof(ANSWER_SUCCESS) - 1);
	}
	return request_refuse(req, &a, NULL);
}

/* --- the end ------------------------------------------------------------ */

void request_end(struct request *req, const char *end)
{
	struct http *h = req->h;
	enum conntrack_reason why = conntrack_why_ended(h->ct, req->track);
	char status[16], client[ENVELOPE_CLIENT_REQUEST_ID_MAX + 8];
	enum policy_tally tally = policy_tally(req->status, req->patients);
	double seconds;

	if (why != CONNTRACK_NONE)
		end = conntrack_reason_name(why);
	/* A kept-alive connection's next head is due from now. */
	conntrack_request_end(h->ct, req->track, clock_mono_ms());
	budget_release(h->budget, req->reserved);
	seconds = (double)(clock_mono_us() - req->start_us) / 1e6;
	if (req->status)
		snprintf(status, sizeof(status), "%u", req->status);
	else
		snprintf(status, sizeof(status), "aborted");
	metrics_counter_add(h->m_requests, status, 1);
	metrics_histogram_observe(h->m_duration, NULL, seconds);
	atomic_fetch_add(&h->requests, 1);
	if (tally == POLICY_TALLY_PUBLISHED)
		atomic_fetch_add(&h->published, 1);
	else if (tally == POLICY_TALLY_REJECTED)
		atomic_fetch_add(&h->rejected, 1);
	else if (tally == POLICY_TALLY_FAILED)
		atomic_fetch_add(&h->failed, 1);
	log_event(tally == POLICY_TALLY_FAILED ? LOG_LEVEL_WARNING : LOG_LEVEL_INFO, "request",
		  "request_id=%s status=%s tenant=%s patients=%zu duration_ms=%.1f end=%s%s%s",
		  req->id, status, req->tenant[0] ? req->tenant : "-", req->patients, seconds * 1e3,
		  end, req->client_id[0] ? " client_request_id=" : "",
		  req->client_id[0] ? log_quote(client, sizeof(client), req->client_id) : "");
	if (req->deferred)
		MHD_destroy_response(req->deferred);
	free(req->body);
	free(req);
	atomic_fetch_sub(&h->active, 1);
}
