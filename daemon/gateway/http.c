#include "config.h"

#include "http.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <microhttpd.h>

#include "budget.h"
#include "batchcodec.h"
#include "clock.h"
#include "conntrack.h"
#include "envelope.h"
#include "framing.h"
#include "keys.h"
#include "log.h"
#include "metrics.h"
#include "netaddr.h"
#include "patient.h"
#include "publisher.h"
#include "ratelimit.h"
#include "sharedlimit.h"
#include "uuid7.h"

#define HTTP_PATH_PATIENTS "/v1/patients"
#define HTTP_JSON "application/json"
/* Spelled out: their MHD_ names changed between libmicrohttpd releases. */
#define HTTP_CONTENT_TOO_LARGE 413u
#define HTTP_UNPROCESSABLE 422u
/* A body over the limit that is already on its way (chunked, or sent
 * without waiting for "100 Continue") is read and dropped so that the
 * client can read its 413, but not forever. */
#define HTTP_DISCARD_FACTOR 4
/* libmicrohttpd's memory per connection, above --max-header-bytes so that
 * a head over the limit (a long request line included) still reaches our
 * handler and gets our 431 or 414, with our envelope and headers; only a
 * head over this reaches libmicrohttpd's own bare answer. */
#define HTTP_POOL_BYTES(max_header) (2 * (max_header) + 64 * 1024)
/* Retry-After of the 503s that come before any work: the budget frees up
 * as fast as Kafka answers; a broker known down is re-checked every
 * second. */
#define HTTP_RETRY_AFTER_BUDGET_S 1u
#define HTTP_RETRY_AFTER_KAFKA_DOWN_S 5u
/* libmicrohttpd may hold this many connections per --max-connections
 * (shedding keeps ours at the limit; the rest are being shed, or requests
 * in progress that are never shed). */
#define HTTP_MHD_LIMIT_FACTOR 2u
/* How often the reaper looks for overdue connections. */
#define HTTP_REAP_INTERVAL_MS 200u

static const char http_success[] = "{\"data\":[{\"message\":\"Success\"}]}";

/* Where a request is; the handler is called again at each step. */
enum http_stage {
	HTTP_STAGE_HEAD = 0,   /* the handler's first call: headers only */
	HTTP_STAGE_DRAIN,      /* refused; the body is read and dropped first */
	HTTP_STAGE_BODY,       /* head accepted, body arriving */
	HTTP_STAGE_PUBLISHING, /* suspended until its delivery report */
	HTTP_STAGE_ANSWERED,
};

/* Why a request is answered 503 before it is published. */
enum http_unavailable {
	HTTP_AVAILABLE = 0,
	HTTP_UNAVAILABLE_BUDGET,     /* --max-inflight-bytes reached */
	HTTP_UNAVAILABLE_KAFKA_DOWN, /* publisher_known_down */
};

/* Delivery outcome, written by the poller thread. */
enum http_outcome {
	HTTP_OUTCOME_PENDING = 0,
	HTTP_OUTCOME_DELIVERED,
	HTTP_OUTCOME_TIMEOUT,
	HTTP_OUTCOME_FAILED,
};

struct http {
	struct MHD_Daemon *daemon;
	struct publisher *publisher;
	struct ratelimit *rl;
	struct sharedlimit *shared; /* borrowed; NULL: the local limit only */
	struct budget *budget; /* borrowed */
	struct conntrack *ct;
	size_t max_body;
	size_t max_head;

	/* Readers authenticate under it; http_set_keys swaps under it. */
	pthread_rwlock_t keys_lock;
	struct keys *keys;

	/* Request ids must be monotonic across the whole pool: one generator. */
	pthread_mutex_t id_lock;
	struct uuid7_state ids;

	atomic_uint inflight, active;
	atomic_bool closing, refuse;
	atomic_uint_fast64_t requests, published, rejected, failed;

	struct metrics_family *m_requests, *m_duration, *m_publish, *m_patients, *m_inflight,
		*m_connections, *m_ended;
};

struct http_request {
	struct http *h;
	struct MHD_Connection *conn;
	enum http_stage stage;
	atomic_int outcome;
	unsigned status; /* answered with; 0 while none */
	char id[UUID7_STRLEN + 1];
	char received_at[ENVELOPE_TIME_LEN + 1];
	char client_id[ENVELOPE_CLIENT_REQUEST_ID_MAX + 1];
	char tenant[ENVELOPE_TENANT_MAX + 1]; /* "" until authenticated */
	struct ratelimit_verdict rl;
	struct conntrack_conn *track; /* its connection's entry; NULL: untracked */
	size_t reserved;	      /* bytes of the budget it holds */
	enum http_unavailable unavailable;
	char *body;
	size_t len, cap, discarded;
	bool too_large;
	bool close;	 /* framing not to be trusted: answer, then close */
	bool answer_now; /* a refusal is sent before the body, which is not read */
	struct MHD_Response *deferred; /* the refusal, until the body is read */
	size_t patients;
	uint64_t start_us, publish_us;
};

static void http_mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* libmicrohttpd's own complaints (bad requests it answers itself, TLS
 * handshake failures), as logfmt lines like everything else. */
static void http_mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	log_library(LOG_LEVEL_INFO, "http_library", fmt, ap);
}

/* --- answers ------------------------------------------------------------ */

static void http_add_header_uint(struct MHD_Response *resp, const char *name, unsigned v)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%u", v);
	MHD_add_response_header(resp, name, buf);
}

/* Every answer goes through here: the headers DESIGN.md s.2 promises on
 * every one of them. */
static enum MHD_Result http_answer(struct http_request *req, unsigned status, const char *type,
				   const char *body, size_t len, const char *allow)
{
	struct http *h = req->h;
	struct MHD_Response *resp;
	enum MHD_Result r;

	resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(resp, "X-Request-Id", req->id);
	http_add_header_uint(resp, "X-RateLimit-Limit", req->rl.limit);
	http_add_header_uint(resp, "X-RateLimit-Remaining", req->rl.remaining);
	http_add_header_uint(resp, "X-RateLimit-Reset", req->rl.reset_s);
	if (status == MHD_HTTP_TOO_MANY_REQUESTS)
		http_add_header_uint(resp, MHD_HTTP_HEADER_RETRY_AFTER, req->rl.retry_after_s);
	if (req->unavailable)
		http_add_header_uint(resp, MHD_HTTP_HEADER_RETRY_AFTER,
				     req->unavailable == HTTP_UNAVAILABLE_BUDGET
					     ? HTTP_RETRY_AFTER_BUDGET_S
					     : HTTP_RETRY_AFTER_KAFKA_DOWN_S);
	if (allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	/* Draining for a stop: send keep-alive clients elsewhere. A request
	 * framed so that its end is unknown: the connection cannot go on. */
	if (atomic_load(&h->closing) || req->close)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	if (req->stage == HTTP_STAGE_HEAD && !req->answer_now) {
		/* libmicrohttpd 0.9.75 closes the connection of any answer queued
		 * on the first call, body or not: keep it until the final call,
		 * the body read and dropped, so that the connection stays open
		 * for the next request (a new TLS handshake otherwise). */
		req->deferred = resp;
		req->status = status;
		req->stage = HTTP_STAGE_DRAIN;
		return MHD_YES;
	}
	r = MHD_queue_response(req->conn, status, resp);
	MHD_destroy_response(resp);
	/* Sending the answer is libmicrohttpd's idle timer's business. */
	conntrack_exempt(h->ct, req->track);
	req->status = status;
	req->stage = HTTP_STAGE_ANSWERED;
	return r;
}

/* {"error":{"status":N,"message":"...","details":[{"index":..,"field":..,"message":..}]}}
 * with the batch's problems as details (index null for the batch itself). */
static enum MHD_Result http_error(struct http_request *req, unsigned status, const char *message,
				  const struct patient_batch *batch, const char *allow)
{
	struct json_object *root = json_object_new_object(), *err = json_object_new_object();
	struct json_object *details = json_object_new_array();
	const char *text;
	size_t len = 0;
	enum MHD_Result r;

	if (!root || !err || !details) {
		json_object_put(root);
		json_object_put(err);
		json_object_put(details);
		return MHD_NO;
	}
	for (size_t i = 0; batch && i < batch->error_count; i++) {
		const struct patient_error *e = &batch->errors[i];
		struct json_object *d = json_object_new_object();

		if (!d)
			continue;
		json_object_object_add(d, "index", e->index < 0 ? NULL : json_object_new_int(e->index));
		json_object_object_add(d, "field", json_object_new_string(e->field));
		json_object_object_add(d, "message", json_object_new_string(e->message));
		json_object_array_add(details, d);
	}
	json_object_object_add(err, "status", json_object_new_int((int)status));
	json_object_object_add(err, "message", json_object_new_string(message));
	json_object_object_add(err, "details", details);
	json_object_object_add(root, "error", err);
	text = json_object_to_json_string_length(
		root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	r = text ? http_answer(req, status, HTTP_JSON, text, len, allow) : MHD_NO;
	json_object_put(root);
	return r;
}

/* --- the request's steps ------------------------------------------------ */

static bool http_is_json(const char *type)
{
	size_t n = strlen(HTTP_JSON);

	if (!type)
		return false;
	while (*type == ' ' || *type == '\t')
		type++;
	if (strncasecmp(type, HTTP_JSON, n) != 0)
		return false;
	type += n;
	while (*type == ' ' || *type == '\t')
		type++;
	return *type == '\0' || *type == ';';
}

static bool http_authenticate(struct http *h, struct http_request *req)
{
	const char *api_key = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "X-API-Key");
	const char *secret = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "X-Secret-Key");
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

static const char *http_unavailable_message(enum http_unavailable why)
{
	return why == HTTP_UNAVAILABLE_BUDGET
		       ? "the gateway is at its limit of bytes in flight; nothing was stored, "
			 "retry later"
		       : "Kafka is unreachable; nothing was stored, retry later";
}

/* A 503 before any work: at once when no body is coming (length 0) or the
 * client waits for "100 Continue"; otherwise once the body is in, read and
 * dropped (not held), so that the client can read the answer. */
static enum MHD_Result http_unavailable(struct http_request *req, enum http_unavailable why,
					size_t length)
{
	const char *expect = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
							 MHD_HTTP_HEADER_EXPECT);

	req->unavailable = why;
	if (length == 0 || (expect && strcasecmp(expect, "100-continue") == 0))
		return http_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, http_unavailable_message(why),
				  NULL, NULL);
	req->stage = HTTP_STAGE_BODY;
	return MHD_YES;
}

/* The first call: headers only. Everything that can be refused without the
 * body is refused here (answered once the body is read and dropped, or at
 * once when the client waits for "100 Continue" or the body is too large to
 * drop). */
static enum MHD_Result http_head(struct http *h, struct http_request *req, const char *url,
				 const char *method)
{
	const char *client_id, *length;
	size_t declared = 0; /* Content-Length; 0 when absent */
	char msg[128];

	if (strcmp(url, "/healthz") == 0) {
		if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
			return http_error(req, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed", NULL,
					  "GET, HEAD");
		return http_answer(req, MHD_HTTP_OK, "text/plain; charset=utf-8", "ok\n", 3, NULL);
	}
	if (strcmp(url, HTTP_PATH_PATIENTS) != 0)
		return http_error(req, MHD_HTTP_NOT_FOUND, "not found", NULL, NULL);
	if (strcmp(method, MHD_HTTP_METHOD_PUT) != 0)
		return http_error(req, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed", NULL, "PUT");

	client_id = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "X-Request-Id");
	if (client_id && *client_id && envelope_client_request_id_valid(client_id))
		snprintf(req->client_id, sizeof(req->client_id), "%s", client_id);

	if (!http_authenticate(h, req))
		return http_error(req, MHD_HTTP_UNAUTHORIZED,
				  "missing or invalid credentials (X-API-Key, X-Secret-Key)", NULL,
				  NULL);
	if (!req->rl.allowed) {
		snprintf(msg, sizeof(msg), "over %u requests per minute for this API key",
			 req->rl.limit);
		return http_error(req, MHD_HTTP_TOO_MANY_REQUESTS, msg, NULL, NULL);
	}
	if (!http_is_json(MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
						      MHD_HTTP_HEADER_CONTENT_TYPE)))
		return http_error(req, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
				  "Content-Type must be application/json", NULL, NULL);
	length = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
					     MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (length) {
		char *end;
		unsigned long long n;

		errno = 0;
		n = strtoull(length, &end, 10);
		/* libmicrohttpd already refused a malformed length. */
		if (errno == 0 && *end == '\0' && n > h->max_body) {
			const char *expect = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
									 MHD_HTTP_HEADER_EXPECT);

			/* Answering now is right for a client that waits for "100
			 * Continue". One already sending would have the connection
			 * reset under it, the answer unread: drop what it sends,
			 * within reason, and answer at the end. */
			if ((expect && strcasecmp(expect, "100-continue") == 0) ||
			    n > (unsigned long long)HTTP_DISCARD_FACTOR * h->max_body) {
				snprintf(msg, sizeof(msg), "the body is over the limit of %zu bytes",
					 h->max_body);
				return http_error(req, HTTP_CONTENT_TOO_LARGE, msg, NULL, NULL);
			}
			req->too_large = true;
			req->stage = HTTP_STAGE_BODY;
			return MHD_YES;
		}
		if (errno == 0 && *end == '\0')
			declared = (size_t)n;
	}
	/* Kafka known down, or no room in the budget: answered without
	 * holding the body. */
	if (publisher_known_down(h->publisher))
		return http_unavailable(req, HTTP_UNAVAILABLE_KAFKA_DOWN, length ? declared : 1);
	if (declared > 0) {
		if (budget_reserve(h->budget, declared) < 0)
			return http_unavailable(req, HTTP_UNAVAILABLE_BUDGET, declared);
		req->reserved = declared;
		req->body = malloc(declared);
		if (!req->body)
			return http_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory", NULL,
					  NULL);
		req->cap = declared;
	}
	req->stage = HTTP_STAGE_BODY;
	return MHD_YES;
}

static enum MHD_Result http_body_chunk(struct http *h, struct http_request *req,
				       const char *data, size_t *size)
{
	size_t n = *size;

	*size = 0;
	conntrack_body_bytes(h->ct, req->track, n);
	if (req->too_large || req->unavailable) {
		req->discarded += n;
		return req->discarded > HTTP_DISCARD_FACTOR * h->max_body ? MHD_NO : MHD_YES;
	}
	if (n > h->max_body - req->len) {
		/* A chunked body over the limit: libmicrohttpd cannot answer in the
		 * middle of an upload, so drop the rest and answer 413 at the end. */
		req->too_large = true;
		req->discarded = req->len + n;
		free(req->body);
		req->body = NULL;
		req->len = req->cap = 0;
		budget_release(h->budget, req->reserved);
		req->reserved = 0;
		return MHD_YES;
	}
	if (req->len + n > req->cap) {
		size_t cap = req->cap ? req->cap : 64 * 1024;
		char *grown;

		while (cap < req->len + n)
			cap *= 2;
		if (cap > h->max_body)
			cap = h->max_body;
		/* A chunked body is charged to the budget as it grows. */
		if (cap > req->reserved) {
			if (budget_reserve(h->budget, cap - req->reserved) < 0) {
				free(req->body);
				req->body = NULL;
				req->discarded = req->len + n;
				req->len = req->cap = 0;
				budget_release(h->budget, req->reserved);
				req->reserved = 0;
				req->unavailable = HTTP_UNAVAILABLE_BUDGET;
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

/* The whole body is in: validate, wrap, publish, suspend. */
static enum MHD_Result http_process(struct http *h, struct http_request *req)
{
	struct patient_batch batch;
	struct envelope_meta meta;
	char msg[128], *value = NULL;
	size_t value_len = 0;
	int r;

	if (req->too_large) {
		snprintf(msg, sizeof(msg), "the body is over the limit of %zu bytes", h->max_body);
		return http_error(req, HTTP_CONTENT_TOO_LARGE, msg, NULL, NULL);
	}
	if (req->unavailable)
		return http_error(req, MHD_HTTP_SERVICE_UNAVAILABLE,
				  http_unavailable_message(req->unavailable), NULL, NULL);
	r = batchcodec_body(req->body, req->len, date_today_utc(), &batch);
	if (r == -EBADMSG) {
		enum MHD_Result a = http_error(req, MHD_HTTP_BAD_REQUEST,
					       batch.error_count ? batch.errors[0].message
								 : "the body is not a JSON object",
					       &batch, NULL);
		patient_batch_free(&batch);
		return a;
	}
	if (r == -EINVAL) {
		enum MHD_Result a;

		snprintf(msg, sizeof(msg), "validation failed: %zu error%s%s", batch.error_count,
			 batch.error_count == 1 ? "" : "s",
			 batch.errors_truncated ? " (only the first ones are listed)" : "");
		a = http_error(req, HTTP_UNPROCESSABLE, msg, &batch, NULL);
		patient_batch_free(&batch);
		return a;
	}
	req->patients = batch.count;
	patient_batch_free(&batch);
	if (r < 0)
		return http_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory", NULL, NULL);

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
		return http_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "could not build the message",
				  NULL, NULL);

	/* Counted before the check, so that once the main thread has set
	 * refuse and seen inflight at 0, no publish can still start. */
	atomic_fetch_add(&h->inflight, 1);
	if (atomic_load(&h->refuse)) {
		atomic_fetch_sub(&h->inflight, 1);
		free(value);
		return http_error(req, MHD_HTTP_SERVICE_UNAVAILABLE,
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
	req->stage = HTTP_STAGE_PUBLISHING;
	req->publish_us = clock_mono_us();
	r = publisher_send(h->publisher, req->tenant, value, value_len, req);
	if (r == 0)
		req->reserved = 0; /* the publisher's to give back */
	if (r < 0) {
		free(value);
		log_warning("publish_refused", "request_id=%s error=%s", req->id, strerror(-r));
		http_delivered(req, r);
	}
	return MHD_YES;
}

void http_delivered(void *opaque, int err)
{
	struct http_request *req = opaque;
	/* req may be answered and freed as soon as it is resumed: keep h. */
	struct http *h = req->h;

	atomic_store(&req->outcome, err == 0		 ? HTTP_OUTCOME_DELIVERED
				    : err == -ETIMEDOUT ? HTTP_OUTCOME_TIMEOUT
							 : HTTP_OUTCOME_FAILED);
	metrics_gauge_add(h->m_inflight, NULL, -1);
	MHD_resume_connection(req->conn);
	atomic_fetch_sub(&h->inflight, 1);
}

/* Resumed by the delivery report. */
static enum MHD_Result http_published(struct http *h, struct http_request *req)
{
	int outcome = atomic_load(&req->outcome);

	if (outcome == HTTP_OUTCOME_PENDING) {
		/* Not ours to answer yet: wait for the report. */
		MHD_suspend_connection(req->conn);
		return MHD_YES;
	}
	metrics_histogram_observe(h->m_publish, NULL,
				  (double)(clock_mono_us() - req->publish_us) / 1e6);
	if (outcome == HTTP_OUTCOME_DELIVERED) {
		metrics_counter_add(h->m_patients, NULL, req->patients);
		return http_answer(req, MHD_HTTP_OK, HTTP_JSON, http_success,
				   sizeof(http_success) - 1, NULL);
	}
	return http_error(req, MHD_HTTP_SERVICE_UNAVAILABLE,
			  outcome == HTTP_OUTCOME_TIMEOUT
				  ? "Kafka did not confirm the batch in time; nothing was promised, "
				    "retrying is safe"
				  : "Kafka refused the batch; nothing was promised, retrying is safe",
			  NULL, NULL);
}

static struct http_request *http_request_new(struct http *h, struct MHD_Connection *conn)
{
	struct http_request *req = calloc(1, sizeof(*req));
	uint64_t now_ms;

	if (!req)
		return NULL;
	req->h = h;
	req->conn = conn;
	req->start_us = clock_mono_us();
	{
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

		req->track = ci ? ci->socket_context : NULL;
	}
	/* Called once the head is whole: its deadline no longer applies. */
	conntrack_head_done(h->ct, req->track, req->start_us / 1000u);
	atomic_init(&req->outcome, HTTP_OUTCOME_PENDING);
	ratelimit_unspent(h->rl, &req->rl);
	pthread_mutex_lock(&h->id_lock);
	now_ms = uuid7_now_ms();
	uuid7_next(&h->ids, now_ms, req->id);
	pthread_mutex_unlock(&h->id_lock);
	envelope_format_time(now_ms, req->received_at);
	atomic_fetch_add(&h->active, 1);
	return req;
}

struct http_fields {
	struct framing_header *v;
	size_t n, cap;
};

static enum MHD_Result http_field(void *cls, enum MHD_ValueKind kind, const char *key,
				  size_t key_size, const char *value, size_t value_size)
{
	struct http_fields *f = cls;

	(void)kind;
	if (f->v && f->n < f->cap)
		f->v[f->n] = (struct framing_header){ key, key_size, value, value_size };
	f->n++;
	return MHD_YES;
}

/* The framing checks on the head as libmicrohttpd parsed it (see
 * framing.h), then the routing on the normalized path. */
static enum MHD_Result http_begin(struct http *h, struct http_request *req, const char *url,
				  const char *method, const char *version)
{
	const union MHD_ConnectionInfo *ci;
	struct http_fields fields = { 0 };
	struct framing_request fr;
	struct framing_verdict v;
	const char *expect;
	char *path = NULL;
	enum MHD_Result a;

	ci = MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
	/* Counted, then collected: a head holds as many fields as it likes. */
	MHD_get_connection_values_n(req->conn, MHD_HEADER_KIND, http_field, &fields);
	fields.cap = fields.n;
	fields.n = 0;
	fields.v = fields.cap ? calloc(fields.cap, sizeof(*fields.v)) : NULL;
	path = malloc(FRAMING_TARGET_MAX + 1);
	if ((fields.cap && !fields.v) || !path || !ci) {
		req->close = req->answer_now = true;
		a = http_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory", NULL, NULL);
		goto out;
	}
	MHD_get_connection_values_n(req->conn, MHD_HEADER_KIND, http_field, &fields);
	fr = (struct framing_request){
		.method = method,
		.target = url,
		.http10 = strcmp(version, MHD_HTTP_VERSION_1_0) == 0,
		.headers = fields.v,
		.header_count = fields.n,
		.head_bytes = ci->header_size,
		.max_head_bytes = h->max_head,
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
		a = http_error(req, v.status, v.message, NULL, NULL);
		goto out;
	}
	expect = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
	/* A refusal before the body: a client waiting for "100 Continue" need
	 * not send it, and one too large to drop is not read. */
	req->answer_now = ((v.chunked || v.content_length > 0) && expect &&
			   strcasecmp(expect, "100-continue") == 0) ||
			  v.content_length > (uint64_t)HTTP_DISCARD_FACTOR * h->max_body;
	a = http_head(h, req, path, method);
out:
	free(fields.v);
	free(path);
	return a;
}

static enum MHD_Result http_handle(void *cls, struct MHD_Connection *conn, const char *url,
				   const char *method, const char *version,
				   const char *upload_data, size_t *upload_data_size,
				   void **con_cls)
{
	struct http *h = cls;
	struct http_request *req = *con_cls;

	if (!req) {
		req = http_request_new(h, conn);
		if (!req)
			return MHD_NO;
		*con_cls = req;
		return http_begin(h, req, url, method, version);
	}
	switch (req->stage) {
	case HTTP_STAGE_HEAD:
		break;
	case HTTP_STAGE_DRAIN:
		if (*upload_data_size) {
			/* A refused body still arrives at the minimum rate. */
			conntrack_body_bytes(h->ct, req->track, *upload_data_size);
			req->discarded += *upload_data_size;
			*upload_data_size = 0;
			return req->discarded > HTTP_DISCARD_FACTOR * h->max_body ? MHD_NO : MHD_YES;
		} else {
			enum MHD_Result r = MHD_queue_response(req->conn, req->status, req->deferred);

			MHD_destroy_response(req->deferred);
			req->deferred = NULL;
			req->stage = HTTP_STAGE_ANSWERED;
			return r;
		}
	case HTTP_STAGE_BODY:
		if (*upload_data_size)
			return http_body_chunk(h, req, upload_data, upload_data_size);
		return http_process(h, req);
	case HTTP_STAGE_PUBLISHING:
		return http_published(h, req);
	case HTTP_STAGE_ANSWERED:
		break;
	}
	return MHD_NO;
}

static void http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			   enum MHD_RequestTerminationCode toe)
{
	static const char *const ends[] = {
		[MHD_REQUEST_TERMINATED_COMPLETED_OK] = "ok",
		[MHD_REQUEST_TERMINATED_WITH_ERROR] = "error",
		[MHD_REQUEST_TERMINATED_TIMEOUT_REACHED] = "timeout",
		[MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN] = "shutdown",
		[MHD_REQUEST_TERMINATED_READ_ERROR] = "read_error",
		[MHD_REQUEST_TERMINATED_CLIENT_ABORT] = "client_abort",
	};
	struct http *h = cls;
	struct http_request *req = *con_cls;
	char status[16], client[ENVELOPE_CLIENT_REQUEST_ID_MAX + 8];
	const char *end = (unsigned)toe < sizeof(ends) / sizeof(ends[0]) && ends[toe] ? ends[toe]
										       : "other";
	double seconds;

	(void)conn;
	if (!req)
		return;
	if (conntrack_why_ended(h->ct, req->track) != CONNTRACK_NONE)
		end = conntrack_reason_name(conntrack_why_ended(h->ct, req->track));
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
	if (req->status == MHD_HTTP_OK && req->patients)
		atomic_fetch_add(&h->published, 1);
	else if (req->status >= 400 && req->status < 500)
		atomic_fetch_add(&h->rejected, 1);
	else if (req->status >= 500 || req->status == 0)
		atomic_fetch_add(&h->failed, 1);
	log_event(req->status >= 500 || req->status == 0 ? LOG_LEVEL_WARNING : LOG_LEVEL_INFO,
		  "request", "request_id=%s status=%s tenant=%s patients=%zu duration_ms=%.1f end=%s%s%s",
		  req->id, status, req->tenant[0] ? req->tenant : "-", req->patients, seconds * 1e3,
		  end, req->client_id[0] ? " client_request_id=" : "",
		  req->client_id[0] ? log_quote(client, sizeof(client), req->client_id) : "");
	if (req->deferred)
		MHD_destroy_response(req->deferred);
	free(req->body);
	free(req);
	*con_cls = NULL;
	atomic_fetch_sub(&h->active, 1);
}

/* Every connection is in h->ct from its start to its end: deadlines and
 * shedding (conntrack.h). */
static void http_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			    enum MHD_ConnectionNotificationCode toe)
{
	struct http *h = cls;

	metrics_gauge_add(h->m_connections, NULL, toe == MHD_CONNECTION_NOTIFY_STARTED ? 1 : -1);
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);

		*socket_context = ci ? conntrack_opened(h->ct, ci->connect_fd, clock_mono_ms()) : NULL;
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		conntrack_closed(h->ct, *socket_context);
		*socket_context = NULL;
	}
}

/* --- lifecycle ---------------------------------------------------------- */

static int http_register_metrics(struct http *h, struct metrics *m)
{
	static const char *const statuses[] = { "200", "400", "401", "404", "405", "413", "414",
						"415", "422", "429", "431", "501", "503", NULL };
	static const double seconds[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
					  0.5,	 1,    2.5,   5,    10,	 30 };
	static const char *const ended[] = { "head_timeout", "body_too_slow", "shed", NULL };
	size_t nb = sizeof(seconds) / sizeof(seconds[0]);

	if (!m)
		return 0;
	h->m_requests = metrics_counter(m, "patients_gateway_requests_total",
					"Requests answered, by HTTP status (aborted: no answer sent).",
					"status", statuses);
	h->m_duration = metrics_histogram(m, "patients_gateway_request_duration_seconds",
					  "From the request's head to its end.", NULL, NULL, seconds,
					  nb);
	h->m_publish = metrics_histogram(m, "patients_gateway_publish_duration_seconds",
					 "From handing a batch to Kafka to its delivery report.",
					 NULL, NULL, seconds, nb);
	h->m_patients = metrics_counter(m, "patients_gateway_patients_published_total",
					"Patients in batches Kafka confirmed.", NULL, NULL);
	h->m_inflight = metrics_gauge(m, "patients_gateway_batches_inflight",
				      "Batches waiting for Kafka's delivery report.", NULL, NULL);
	h->m_connections = metrics_gauge(m, "patients_gateway_connections",
					 "Open client connections.", NULL, NULL);
	h->m_ended = metrics_counter(m, "patients_gateway_connections_ended_total",
				     "Connections the gateway ended itself, by reason: no whole "
				     "head in time, body too slow, shed for room.",
				     "reason", ended);
	if (!h->m_requests || !h->m_duration || !h->m_publish || !h->m_patients ||
	    !h->m_inflight || !h->m_connections || !h->m_ended)
		return -errno;
	return 0;
}

/* libmicrohttpd's unescaper, replaced by one that leaves the target alone. */
static size_t http_unescape_none(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	return strlen(s);
}

int http_start(struct http **out, const struct http_options *opt, struct keys *keys, char *err,
	       size_t errsize)
{
	struct sockaddr_storage addr;
	socklen_t addrlen;
	struct http *h = NULL;
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	struct MHD_OptionItem tls[4] = { { MHD_OPTION_END, 0, NULL } };
	char why[200];
	int r;

	*out = NULL;
	r = netaddr_parse(opt->listen, &addr, &addrlen, why, sizeof(why));
	if (r < 0) {
		snprintf(err, errsize, "--listen: %s", why);
		return r;
	}
	if (opt->tls_cert && opt->tls_key) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			snprintf(err, errsize, "this libmicrohttpd was built without TLS");
			return -ENOTSUP;
		}
		flags |= MHD_USE_TLS;
		/* TLS 1.2 and 1.3 only. */
		tls[0] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)opt->tls_cert };
		tls[1] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)opt->tls_key };
		tls[2] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_PRIORITIES, 0,
						  (void *)"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2" };
		tls[3] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	} else if (!netaddr_is_loopback((struct sockaddr *)&addr) && !opt->allow_plain_http) {
		snprintf(err, errsize,
			 "refusing plain HTTP on %s, which is not a loopback address: give "
			 "--tls-cert and --tls-key, or --allow-plain-http behind a TLS proxy",
			 opt->listen);
		return -EINVAL;
	}

	h = calloc(1, sizeof(*h));
	if (!h) {
		snprintf(err, errsize, "out of memory");
		return -ENOMEM;
	}
	pthread_rwlock_init(&h->keys_lock, NULL);
	pthread_mutex_init(&h->id_lock, NULL);
	h->publisher = opt->publisher;
	h->budget = opt->budget;
	h->shared = opt->shared;
	h->max_body = opt->max_body_bytes;
	h->max_head = opt->max_header_bytes;
	atomic_init(&h->inflight, 0);
	atomic_init(&h->active, 0);
	atomic_init(&h->closing, false);
	atomic_init(&h->refuse, false);
	r = uuid7_init(&h->ids);
	if (r < 0) {
		snprintf(err, errsize, "cannot seed request ids: %s", strerror(-r));
		goto fail;
	}
	r = ratelimit_new(&h->rl, opt->rate_limit);
	if (r < 0) {
		snprintf(err, errsize, "rate limiter: %s", strerror(-r));
		goto fail;
	}
	r = http_register_metrics(h, opt->metrics);
	if (r < 0) {
		snprintf(err, errsize, "metrics: %s", strerror(-r));
		goto fail;
	}
	{
		struct conntrack_limits cl = {
			.max_connections = opt->max_connections,
			.head_timeout_ms = (uint64_t)opt->head_timeout_s * 1000u,
			.body_grace_ms = (uint64_t)opt->body_grace_s * 1000u,
			.body_min_rate = opt->body_min_rate,
			.reap_interval_ms = HTTP_REAP_INTERVAL_MS,
			.ended = h->m_ended,
		};

		r = conntrack_new(&h->ct, &cl);
		if (r < 0) {
			snprintf(err, errsize, "connection table: %s", strerror(-r));
			goto fail;
		}
	}
	errno = 0;
	h->daemon = MHD_start_daemon(
		flags, 0, NULL, NULL, http_handle, h,
		/* First: options before it would log to stderr. */
		MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log, NULL,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
		MHD_OPTION_THREAD_POOL_SIZE, opt->threads,
		/* Room past ours, so that a flood is accepted and shed instead
		 * of waiting in the listen backlog with everyone else. */
		MHD_OPTION_CONNECTION_LIMIT, opt->max_connections * HTTP_MHD_LIMIT_FACTOR,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, opt->max_connections_per_ip,
		MHD_OPTION_CONNECTION_TIMEOUT, opt->read_timeout_s,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_POOL_BYTES(opt->max_header_bytes),
		/* The target as sent, not decoded: framing_normalize_path decodes
		 * what is safe to, so that %2F and %00 never route. */
		MHD_OPTION_UNESCAPE_CALLBACK, http_unescape_none, NULL,
		/* Its default, said out loud: at 1 libmicrohttpd would refuse a
		 * missing Host and spaces in the target itself, with its own bare
		 * 400; framing_check refuses them with ours. */
		MHD_OPTION_STRICT_FOR_CLIENT, (int)0,
		MHD_OPTION_NOTIFY_COMPLETED, http_completed, h,
		MHD_OPTION_NOTIFY_CONNECTION, http_connection, h,
		MHD_OPTION_ARRAY, tls,
		MHD_OPTION_END);
	if (!h->daemon) {
		r = errno ? -errno : -EINVAL;
		snprintf(err, errsize, "cannot listen on %s: %s (see the log for details)",
			 opt->listen, strerror(-r));
		goto fail;
	}
	h->keys = keys;
	*out = h;
	return 0;
fail:
	conntrack_free(h->ct);
	ratelimit_free(h->rl);
	pthread_rwlock_destroy(&h->keys_lock);
	pthread_mutex_destroy(&h->id_lock);
	free(h);
	return r;
}

void http_set_keys(struct http *h, struct keys *keys)
{
	struct keys *old;

	pthread_rwlock_wrlock(&h->keys_lock);
	old = h->keys;
	h->keys = keys;
	pthread_rwlock_unlock(&h->keys_lock);
	keys_free(old);
}

void http_quiesce(struct http *h)
{
	MHD_socket fd;

	atomic_store(&h->closing, true);
	fd = MHD_quiesce_daemon(h->daemon);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
}

void http_refuse_publishing(struct http *h)
{
	atomic_store(&h->refuse, true);
}

void http_stats(struct http *h, struct http_stats *out)
{
	out->requests = atomic_load(&h->requests);
	out->published = atomic_load(&h->published);
	out->rejected = atomic_load(&h->rejected);
	out->failed = atomic_load(&h->failed);
	out->inflight = atomic_load(&h->inflight);
	out->active = atomic_load(&h->active);
}

void http_stop(struct http *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->daemon);
	conntrack_free(h->ct);
	keys_free(h->keys);
	ratelimit_free(h->rl);
	pthread_rwlock_destroy(&h->keys_lock);
	pthread_mutex_destroy(&h->id_lock);
	free(h);
}
