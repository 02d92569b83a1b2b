#include "config.h"

#include "envelope.h"

#include "jsondoc.h"
#include "jsonscan.h"
#include "patient.h"
#include "utf8.h"
#include "uuid7.h"

#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

/* The envelope adds one level around a body that may use them all. */
#define ENVELOPE_JSON_DEPTH_MAX (PATIENT_JSON_DEPTH_MAX + 1)
/* A body the gateway took must never be too deep inside its envelope. */
_Static_assert(ENVELOPE_JSON_DEPTH_MAX <= JSONDOC_DEPTH_MAX, "envelope deeper than jsondoc reads");

/* 9999-12-31T23:59:59.999Z: the last instant four year digits can hold. */
#define ENVELOPE_TIME_MAX_MS INT64_C(253402300799999)

bool envelope_tenant_valid(const char *tenant)
{
	size_t n = 0;

	if (!tenant)
		return false;
	/* The tenant is a Kafka key and a log field: keep it dull. */
	for (; tenant[n]; n++) {
		char c = tenant[n];

		if (n >= ENVELOPE_TENANT_MAX)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return n > 0;
}

static bool envelope_digits(const char *s, size_t n, int max, int *out)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return v <= max;
}

bool envelope_received_at_valid(const char *s)
{
	struct date d;
	int hh, mm, ss, ms;

	/* Exactly one shape, so received_at compares as text and as time. */
	if (!s || strnlen(s, ENVELOPE_TIME_LEN + 1) != ENVELOPE_TIME_LEN)
		return false;
	return date_parse(s, 10, &d) == 0 && s[10] == 'T' && s[13] == ':' &&
	       s[16] == ':' && s[19] == '.' && s[23] == 'Z' &&
	       envelope_digits(s + 11, 2, 23, &hh) && envelope_digits(s + 14, 2, 59, &mm) &&
	       envelope_digits(s + 17, 2, 59, &ss) && envelope_digits(s + 20, 3, 999, &ms);
}

bool envelope_client_request_id_valid(const char *s)
{
	size_t n = 0;

	if (!s)
		return false;
	for (; s[n]; n++)
		if (n >= ENVELOPE_CLIENT_REQUEST_ID_MAX || s[n] < 0x20 || s[n] > 0x7e)
			return false;
	return true;
}

/* The metadata's rules, in the order decode checks them: each field once,
 * whether it may be absent, what it must be, and what decode says when it
 * is not (a description of the rule, never the value: it may be anything). */
static const struct envelope_meta_rule {
	const char *key;
	size_t offset; /* of its const char * in struct envelope_meta */
	bool required;
	bool (*valid)(const char *s);
	const char *why;
} envelope_meta_rules[] = {
	{ "tenant", offsetof(struct envelope_meta, tenant), true, envelope_tenant_valid,
	  "envelope \"tenant\" missing or not 1..64 of [A-Za-z0-9._-]" },
	{ "request_id", offsetof(struct envelope_meta, request_id), true, uuid7_is_canonical,
	  "envelope \"request_id\" missing or not a canonical UUID" },
	{ "received_at", offsetof(struct envelope_meta, received_at), true,
	  envelope_received_at_valid,
	  "envelope \"received_at\" missing or not YYYY-MM-DDTHH:MM:SS.mmmZ" },
	{ "client_request_id", offsetof(struct envelope_meta, client_request_id), false,
	  envelope_client_request_id_valid,
	  "envelope \"client_request_id\" is not up to 128 printable ASCII characters" },
};
#define ENVELOPE_META_RULES (sizeof(envelope_meta_rules) / sizeof(envelope_meta_rules[0]))

/* Where the rule's field is in meta: decode writes it, the checks read it. */
static const char **envelope_meta_slot(struct envelope_meta *meta,
				       const struct envelope_meta_rule *rule)
{
	return (const char **)(void *)((char *)meta + rule->offset);
}

static const char *envelope_meta_value(const struct envelope_meta *meta,
				       const struct envelope_meta_rule *rule)
{
	return *(const char *const *)(const void *)((const char *)meta + rule->offset);
}

static bool envelope_meta_rule_ok(const struct envelope_meta_rule *rule, const char *s)
{
	return s ? rule->valid(s) : !rule->required;
}

/* The metadata check of encode and the in-place reader: NULL when meta is
 * valid, else the first broken rule's reason. Decode applies the same
 * rules (envelope_meta_rule_ok) as it reads each field, so that one that is
 * not a string is told in the same order. */
static const char *envelope_meta_invalid(const struct envelope_meta *meta)
{
	for (size_t i = 0; i < ENVELOPE_META_RULES; i++) {
		const struct envelope_meta_rule *rule = &envelope_meta_rules[i];

		if (!envelope_meta_rule_ok(rule, envelope_meta_value(meta, rule)))
			return rule->why;
	}
	return NULL;
}

void envelope_format_time(uint64_t unix_ms, char out[ENVELOPE_TIME_LEN + 1])
{
	char buf[64];
	time_t secs;
	struct tm tm;

	if (unix_ms > (uint64_t)ENVELOPE_TIME_MAX_MS)
		unix_ms = (uint64_t)ENVELOPE_TIME_MAX_MS;
	secs = (time_t)(unix_ms / 1000u);
	if (!gmtime_r(&secs, &tm))
		memset(&tm, 0, sizeof(tm));
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (unsigned)(unix_ms % 1000u));
	memcpy(out, buf, ENVELOPE_TIME_LEN);
	out[ENVELOPE_TIME_LEN] = '\0';
}

/* Length of s as a JSON string literal, quotes included. Validated fields
 * need no escaping, but the writer must not depend on that. */
static size_t envelope_quoted_len(const char *s)
{
	size_t n = 2;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		n += (c == '"' || c == '\\') ? 2 : c < 0x20 ? 6 : 1;
	}
	return n;
}

static char *envelope_put_quoted(char *o, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	*o++ = '"';
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			*o++ = '\\';
			*o++ = (char)c;
		} else if (c < 0x20) {
			memcpy(o, "\\u00", 4);
			o[4] = hex[c >> 4];
			o[5] = hex[c & 0x0f];
			o += 6;
		} else {
			*o++ = (char)c;
		}
	}
	*o++ = '"';
	return o;
}

static char *envelope_put(char *o, const char *s)
{
	size_t n = strlen(s);

	memcpy(o, s, n);
	return o + n;
}

/* Only a cheap guard that body looks like an object: the caller validated
 * it, and parsing it again would cost more than the rest of encode. */
static bool envelope_body_plausible(const char *body, size_t len)
{
	size_t a = 0, z = len;

	if (!body)
		return false;
	while (a < z && (body[a] == ' ' || body[a] == '\t' || body[a] == '\n' || body[a] == '\r'))
		a++;
	while (z > a && (body[z - 1] == ' ' || body[z - 1] == '\t' || body[z - 1] == '\n' ||
			 body[z - 1] == '\r'))
		z--;
	return z - a >= 2 && body[a] == '{' && body[z - 1] == '}';
}

int envelope_encode(const struct envelope_meta *meta, const char *body, size_t body_len,
		    char **out, size_t *out_len)
{
	static const char head[] = "{\"v\":1,\"tenant\":";
	static const char k_request[] = ",\"request_id\":";
	static const char k_client[] = ",\"client_request_id\":";
	static const char k_received[] = ",\"received_at\":";
	static const char k_body[] = ",\"body\":";
	char *buf = NULL, *o;
	size_t n;
	int r;

	*out = NULL;
	*out_len = 0;
	if (envelope_meta_invalid(meta) || !envelope_body_plausible(body, body_len)) {
		r = -EINVAL;
		goto out;
	}
	n = sizeof(head) - 1 + envelope_quoted_len(meta->tenant) + sizeof(k_request) - 1 +
	    envelope_quoted_len(meta->request_id) + sizeof(k_received) - 1 +
	    envelope_quoted_len(meta->received_at) + sizeof(k_body) - 1 + 1;
	if (meta->client_request_id)
		n += sizeof(k_client) - 1 + envelope_quoted_len(meta->client_request_id);
	if (body_len > SIZE_MAX - n - 1) {
		r = -EINVAL;
		goto out;
	}
	n += body_len;
	/* One more for a NUL nobody counts: handy for logs and debuggers. */
	buf = malloc(n + 1);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	o = envelope_put(buf, head);
	o = envelope_put_quoted(o, meta->tenant);
	o = envelope_put(o, k_request);
	o = envelope_put_quoted(o, meta->request_id);
	if (meta->client_request_id) {
		o = envelope_put(o, k_client);
		o = envelope_put_quoted(o, meta->client_request_id);
	}
	o = envelope_put(o, k_received);
	o = envelope_put_quoted(o, meta->received_at);
	o = envelope_put(o, k_body);
	/* Verbatim: what was validated is exactly what the worker reads. */
	memcpy(o, body, body_len);
	o += body_len;
	*o++ = '}';
	*o = '\0';
	*out = buf;
	*out_len = (size_t)(o - buf);
	buf = NULL;
	r = 0;
out:
	free(buf);
	return r;
}

static void envelope_why(char *err, size_t errsize, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void envelope_why(char *err, size_t errsize, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errsize)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errsize, fmt, ap);
	va_end(ap);
}

/* Fetches key as a C string. Returns 1 when found, 0 when absent or null,
 * -1 when it is not a string or holds a NUL (a C string would lie). */
static int envelope_get_string(struct json_object *root, const char *key, const char **out)
{
	struct json_object *v;
	const char *s;

	*out = NULL;
	if (!json_object_object_get_ex(root, key, &v) || !v)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return -1;
	s = json_object_get_string(v);
	if (strlen(s) != (size_t)json_object_get_string_len(v))
		return -1;
	*out = s;
	return 1;
}

int envelope_decode(const char *value, size_t len, struct envelope *out, char *err,
		    size_t errsize)
{
	struct json_object *root = NULL, *v, *body;
	const char *why;
	int64_t version;
	int r;

	memset(out, 0, sizeof(*out));
	envelope_why(err, errsize, "%s", "");
	r = jsondoc_parse(value, len, ENVELOPE_JSON_DEPTH_MAX, &root, &why);
	if (r == -EBADMSG)
		envelope_why(err, errsize, "envelope %s", why);
	else if (r < 0)
		envelope_why(err, errsize, "out of memory");
	if (r < 0)
		goto fail;
	r = -EBADMSG;
	if (!json_object_is_type(root, json_type_object)) {
		envelope_why(err, errsize, "envelope is not a JSON object");
		goto fail;
	}
	if (!json_object_object_get_ex(root, "v", &v) || !v) {
		envelope_why(err, errsize, "envelope has no \"v\"");
		goto fail;
	}
	if (!json_object_is_type(v, json_type_int)) {
		envelope_why(err, errsize, "envelope \"v\" must be an integer");
		goto fail;
	}
	version = json_object_get_int64(v);
	if (version != ENVELOPE_VERSION) {
		/* A version number is not patient data; it says which
		 * producer to look for. */
		envelope_why(err, errsize, "unsupported envelope version %lld", (long long)version);
		goto fail;
	}
	/* A field that is not a string is as wrong as one that breaks its
	 * rule, and told the same way. */
	for (size_t i = 0; i < ENVELOPE_META_RULES; i++) {
		const struct envelope_meta_rule *rule = &envelope_meta_rules[i];
		const char **field = envelope_meta_slot(&out->meta, rule);

		if (envelope_get_string(root, rule->key, field) < 0 ||
		    !envelope_meta_rule_ok(rule, *field)) {
			envelope_why(err, errsize, "%s", rule->why);
			goto fail;
		}
	}
	if (!json_object_object_get_ex(root, "body", &body) || !body) {
		envelope_why(err, errsize, "envelope has no \"body\"");
		goto fail;
	}
	if (!json_object_is_type(body, json_type_object)) {
		envelope_why(err, errsize, "envelope \"body\" is not a JSON object");
		goto fail;
	}
	out->root = root;
	out->body = body;
	return 0;
fail:
	json_object_put(root);
	memset(out, 0, sizeof(*out));
	return r;
}

/* The envelope's fields in the order of envelope_decode's checks. */
enum { ENV_F_V, ENV_F_TENANT, ENV_F_REQUEST_ID, ENV_F_RECEIVED_AT, ENV_F_CLIENT, ENV_F_BODY,
       ENV_F_COUNT };
static const char *const envelope_field_names[ENV_F_COUNT] = {
	"v", "tenant", "request_id", "received_at", "client_request_id", "body",
};

/* How envelope_scan treats the body: read where it stands by a reader, or
 * skipped and handed back as text. */
struct envelope_body {
	envelope_body_reader *read; /* NULL: skipped, start and end set */
	void *arg;
	char *start, *end;
};

/* One top-level member's value, read into the envelope: 0, -1 to fall
 * back, or the body reader's -ENOMEM. */
static int envelope_scan_field(struct jsonscan *sc, int k, struct envelope *out,
			       struct envelope_body *b)
{
	const char **dst[ENV_F_COUNT] = { NULL, &out->meta.tenant, &out->meta.request_id,
					  &out->meta.received_at, &out->meta.client_request_id,
					  NULL };
	char *str;
	size_t n;
	int r;

	switch (k) {
	case ENV_F_V:
		return jsonscan_word(sc, "1") ? 0 : -1;
	case ENV_F_BODY:
		if (!jsonscan_take(sc, '{'))
			return -1;
		sc->p--; /* let the reader or skip open it, counting the depth */
		if (b->read) {
			r = b->read(sc, b->arg);
			if (r == -ENOMEM)
				return r;
			return r == 0 ? 0 : -1;
		}
		b->start = sc->p;
		if (jsonscan_skip(sc) < 0)
			return -1;
		b->end = sc->p;
		return 0;
	default:
		/* client_request_id may be null: absent, as envelope_decode reads it */
		if (k == ENV_F_CLIENT && jsonscan_word(sc, "null"))
			return 0;
		if (jsonscan_string(sc, &str, &n) < 0)
			return -1;
		*dst[k] = str;
		return 0;
	}
}

/* Both in-place readers: 0, 1 to fall back, -ENOMEM. */
static int envelope_scan(const char *value, size_t len, struct envelope *out,
			 struct envelope_body *b)
{
	bool seen[ENV_F_COUNT] = { false }, bad, first;
	struct jsonscan sc;
	int r;

	memset(out, 0, sizeof(*out));
	if (!value || len == 0 || memchr(value, '\0', len) || utf8_validate(value, len) < 0)
		return 1; /* a tombstone (no value) too */
	/* Read in place in a copy: the envelope's own strings are
	 * NUL-terminated there, and a body only skipped is left intact. */
	out->buf = malloc(len + 1);
	if (!out->buf)
		return -ENOMEM;
	memcpy(out->buf, value, len);
	out->buf[len] = '\0';
	jsonscan_init(&sc, out->buf, len, ENVELOPE_JSON_DEPTH_MAX);
	if (jsonscan_open(&sc, '{') < 0)
		goto fallback;
	for (first = true; !jsonscan_close(&sc, '{', first, &bad); first = false) {
		char *key;
		size_t klen;
		int k;

		if (bad || jsonscan_string(&sc, &key, &klen) < 0 || !jsonscan_take(&sc, ':'))
			goto fallback;
		for (k = 0; k < ENV_F_COUNT && strcmp(key, envelope_field_names[k]) != 0; k++)
			;
		if (k == ENV_F_COUNT) {
			if (jsonscan_skip(&sc) < 0)
				goto fallback;
			continue;
		}
		if (seen[k])
			goto fallback;
		r = envelope_scan_field(&sc, k, out, b);
		if (r == -ENOMEM) {
			envelope_free(out);
			return r;
		}
		if (r < 0)
			goto fallback;
		seen[k] = true;
	}
	if (!jsonscan_at_end(&sc) || !seen[ENV_F_V] || !seen[ENV_F_BODY] ||
	    envelope_meta_invalid(&out->meta))
		goto fallback;
	return 0;
fallback:
	envelope_free(out);
	return 1;
}

int envelope_decode_inplace(const char *value, size_t len, struct envelope *out, char **body,
			    size_t *body_len)
{
	struct envelope_body b = { 0 };
	int r;

	*body = NULL;
	*body_len = 0;
	r = envelope_scan(value, len, out, &b);
	if (r != 0)
		return r;
	/* The byte after the body is the envelope's (',', '}' or a space),
	 * read already. */
	*b.end = '\0';
	*body = b.start;
	*body_len = (size_t)(b.end - b.start);
	return 0;
}

int envelope_decode_inplace_read(const char *value, size_t len, struct envelope *out,
				 envelope_body_reader *read, void *arg)
{
	struct envelope_body b = { .read = read, .arg = arg };

	return envelope_scan(value, len, out, &b);
}

void envelope_free(struct envelope *env)
{
	if (!env)
		return;
	json_object_put(env->root);
	free(env->buf);
	memset(env, 0, sizeof(*env));
}
