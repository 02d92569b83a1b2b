#include "config.h"

#include "answer.h"

#include <stdio.h>

#include <json-c/json.h>
#include <microhttpd.h>

#include "patient.h"

static void answer_header_uint(struct MHD_Response *resp, const char *name, unsigned v)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%u", v);
	MHD_add_response_header(resp, name, buf);
}

struct MHD_Response *answer_new(const struct answer_meta *m, unsigned status, const char *type,
				const char *body, size_t len, const char *allow)
{
	struct MHD_Response *resp;

	resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return NULL;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(resp, "X-Request-Id", m->request_id);
	answer_header_uint(resp, "X-RateLimit-Limit", m->rl->limit);
	answer_header_uint(resp, "X-RateLimit-Remaining", m->rl->remaining);
	answer_header_uint(resp, "X-RateLimit-Reset", m->rl->reset_s);
	if (status == MHD_HTTP_TOO_MANY_REQUESTS)
		answer_header_uint(resp, MHD_HTTP_HEADER_RETRY_AFTER, m->rl->retry_after_s);
	if (m->unavailable)
		answer_header_uint(resp, MHD_HTTP_HEADER_RETRY_AFTER,
				   policy_retry_after_s(m->unavailable));
	if (allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	/* Draining for a stop: send keep-alive clients elsewhere. A request
	 * framed so that its end is unknown: the connection cannot go on. */
	if (m->close)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	return resp;
}

struct json_object *answer_error_json(unsigned status, const char *message,
				      const struct patient_batch *batch)
{
	struct json_object *root = json_object_new_object(), *err = json_object_new_object();
	struct json_object *details = json_object_new_array();

	if (!root || !err || !details) {
		json_object_put(root);
		json_object_put(err);
		json_object_put(details);
		return NULL;
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
	return root;
}

struct MHD_Response *answer_error(const struct answer_meta *m, unsigned status,
				  const char *message, const struct patient_batch *batch,
				  const char *allow)
{
	struct json_object *root = answer_error_json(status, message, batch);
	struct MHD_Response *resp = NULL;
	const char *text;
	size_t len = 0;

	if (!root)
		return NULL;
	text = json_object_to_json_string_length(
		root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (text)
		resp = answer_new(m, status, POLICY_JSON, text, len, allow);
	json_object_put(root);
	return resp;
}
