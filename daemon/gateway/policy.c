#include "config.h"

#include "policy.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "patient.h"

enum policy_route policy_route(const char *path, const char *method, struct policy_answer *a)
{
	*a = (struct policy_answer){ 0 };
	if (strcmp(path, POLICY_PATH_HEALTHZ) == 0) {
		if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
			return POLICY_ROUTE_HEALTHZ;
		*a = (struct policy_answer){ 405, "method not allowed", "GET, HEAD", false };
		return POLICY_ROUTE_ANSWER;
	}
	if (strcmp(path, POLICY_PATH_PATIENTS) != 0) {
		*a = (struct policy_answer){ 404, "not found", NULL, false };
		return POLICY_ROUTE_ANSWER;
	}
	if (strcmp(method, "PUT") != 0) {
		*a = (struct policy_answer){ 405, "method not allowed", "PUT", false };
		return POLICY_ROUTE_ANSWER;
	}
	return POLICY_ROUTE_PATIENTS;
}

bool policy_is_json(const char *type)
{
	size_t n = strlen(POLICY_JSON);

	if (!type)
		return false;
	while (*type == ' ' || *type == '\t')
		type++;
	if (strncasecmp(type, POLICY_JSON, n) != 0)
		return false;
	type += n;
	while (*type == ' ' || *type == '\t')
		type++;
	return *type == '\0' || *type == ';';
}

bool policy_expects_continue(const char *expect)
{
	return expect && strcasecmp(expect, "100-continue") == 0;
}

enum policy_length policy_length(bool has_length, uint64_t length, size_t max_body,
				 bool expect_continue, size_t *declared)
{
	if (!has_length) {
		*declared = 0;
		return POLICY_LENGTH_READ;
	}
	if (length > max_body) {
		/* Answering now is right for a client that waits for "100
		 * Continue". One already sending would have the connection
		 * reset under it, the answer unread: drop what it sends,
		 * within reason, and answer at the end. */
		if (policy_refuse_before_body(false, length, expect_continue, max_body))
			return POLICY_LENGTH_REFUSE;
		return POLICY_LENGTH_DROP;
	}
	*declared = (size_t)length;
	return POLICY_LENGTH_READ;
}

bool policy_refuse_before_body(bool chunked, uint64_t content_length, bool expect_continue,
			       size_t max_body)
{
	/* A client waiting for "100 Continue" need not send its body, and one
	 * too large to drop is not read. */
	return ((chunked || content_length > 0) && expect_continue) ||
	       content_length > (uint64_t)POLICY_DISCARD_FACTOR * max_body;
}

bool policy_unavailable_at_once(size_t length, bool expect_continue)
{
	return length == 0 || expect_continue;
}

bool policy_drop_over(size_t discarded, size_t max_body)
{
	return discarded > POLICY_DISCARD_FACTOR * max_body;
}

size_t policy_body_cap(size_t cap, size_t need, size_t max_body)
{
	if (!cap)
		cap = POLICY_BODY_FIRST_CAP;
	while (cap < need)
		cap *= 2;
	return cap > max_body ? max_body : cap;
}

const char *policy_unavailable_message(enum policy_unavailable why)
{
	switch (why) {
	case POLICY_UNAVAILABLE_BUDGET:
		return "the gateway is at its limit of bytes in flight; nothing was stored, "
		       "retry later";
	case POLICY_UNAVAILABLE_KAFKA_DOWN:
		return "Kafka is unreachable; nothing was stored, retry later";
	case POLICY_AVAILABLE:
		break;
	}
	return NULL;
}

unsigned policy_retry_after_s(enum policy_unavailable why)
{
	switch (why) {
	case POLICY_UNAVAILABLE_BUDGET:
		return POLICY_RETRY_AFTER_BUDGET_S;
	case POLICY_UNAVAILABLE_KAFKA_DOWN:
		return POLICY_RETRY_AFTER_KAFKA_DOWN_S;
	case POLICY_AVAILABLE:
		break;
	}
	return 0;
}

const char *policy_rate_message(char *buf, size_t size, unsigned per_minute)
{
	snprintf(buf, size, "over %u requests per minute for this API key", per_minute);
	return buf;
}

const char *policy_too_large_message(char *buf, size_t size, size_t max_body)
{
	snprintf(buf, size, "the body is over the limit of %zu bytes", max_body);
	return buf;
}

struct policy_answer policy_batch(int r, const struct patient_batch *batch, char *buf,
				  size_t size)
{
	if (r == 0)
		return (struct policy_answer){ 0 };
	if (r == -EBADMSG)
		return (struct policy_answer){ 400,
					       batch->error_count ? batch->errors[0].message
								  : "the body is not a JSON object",
					       NULL, true };
	if (r == -EINVAL) {
		snprintf(buf, size, "validation failed: %zu error%s%s", batch->error_count,
			 batch->error_count == 1 ? "" : "s",
			 batch->errors_truncated ? " (only the first ones are listed)" : "");
		return (struct policy_answer){ POLICY_UNPROCESSABLE, buf, NULL, true };
	}
	return (struct policy_answer){ 503, "out of memory", NULL, false };
}

enum policy_outcome policy_outcome_of(int err)
{
	return err == 0		    ? POLICY_OUTCOME_DELIVERED
	       : err == -ETIMEDOUT ? POLICY_OUTCOME_TIMEOUT
				    : POLICY_OUTCOME_FAILED;
}

struct policy_answer policy_delivery(enum policy_outcome outcome)
{
	if (outcome == POLICY_OUTCOME_DELIVERED)
		return (struct policy_answer){ 200, NULL, NULL, false };
	return (struct policy_answer){
		503,
		outcome == POLICY_OUTCOME_TIMEOUT
			? "Kafka did not confirm the batch in time; nothing was promised, "
			  "retrying is safe"
			: "Kafka refused the batch; nothing was promised, retrying is safe",
		NULL, false
	};
}

enum policy_tally policy_tally(unsigned status, size_t patients)
{
	if (status == 200 && patients)
		return POLICY_TALLY_PUBLISHED;
	if (status >= 400 && status < 500)
		return POLICY_TALLY_REJECTED;
	if (status >= 500 || status == 0)
		return POLICY_TALLY_FAILED;
	return POLICY_TALLY_NONE;
}
