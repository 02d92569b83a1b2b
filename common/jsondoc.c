#include "config.h"

#include "jsondoc.h"

#include "hex.h"
#include "utf8.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>


static int jsondoc_hex4(const unsigned char *p, size_t left, unsigned *out)
{
	unsigned v = 0;

	if (left < 4)
		return -1;
	for (int k = 0; k < 4; k++) {
		int d = hex_digit(p[k]);

		if (d < 0)
			return -1;
		v = v << 4 | (unsigned)d;
	}
	*out = v;
	return 0;
}

static size_t jsondoc_digits(const unsigned char *p, size_t len, size_t i)
{
	size_t n = 0;

	while (i + n < len && p[i + n] >= '0' && p[i + n] <= '9')
		n++;
	return n;
}

/* Steps over one number of RFC 8259's grammar,
 * -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, which json-c is looser
 * about ("1.", "-01", "1.e5"). False when the number is malformed. */
static bool jsondoc_number(const unsigned char *p, size_t len, size_t *pos)
{
	size_t i = *pos, n;

	if (p[i] == '-')
		i++;
	n = jsondoc_digits(p, len, i);
	if (n == 0 || (n > 1 && p[i] == '0'))
		return false;
	i += n;
	if (i < len && p[i] == '.') {
		n = jsondoc_digits(p, len, ++i);
		if (n == 0)
			return false;
		i += n;
	}
	if (i < len && (p[i] == 'e' || p[i] == 'E')) {
		if (++i < len && (p[i] == '+' || p[i] == '-'))
			i++;
		n = jsondoc_digits(p, len, i);
		if (n == 0)
			return false;
		i += n;
	}
	/* "1.5.2" or "1e5e5" would otherwise pass as two numbers. */
	if (i < len && (p[i] == '.' || p[i] == 'e' || p[i] == 'E' || p[i] == '+' || p[i] == '-'))
		return false;
	*pos = i;
	return true;
}

/* Steps over true, false or null; json-c would also take NaN, Infinity and
 * other spellings. */
static bool jsondoc_word(const unsigned char *p, size_t len, size_t *pos)
{
	size_t i = *pos, n;

	while (i < len && ((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z')))
		i++;
	n = i - *pos;
	if (!((n == 4 && memcmp(p + *pos, "true", 4) == 0) ||
	      (n == 5 && memcmp(p + *pos, "false", 5) == 0) ||
	      (n == 4 && memcmp(p + *pos, "null", 4) == 0)))
		return false;
	*pos = i;
	return true;
}

/* Steps over the string whose opening quote is at *pos. Returns NULL, or
 * why the string is refused; an unterminated string is json-c's to report. */
static const char *jsondoc_string(const unsigned char *p, size_t len, size_t *pos, bool key)
{
	size_t i;

	for (i = *pos + 1; i < len && p[i] != '"'; i++) {
		unsigned u, lo;

		if (p[i] < 0x20)
			return "has a raw control character in a string";
		if (p[i] != '\\')
			continue;
		if (++i >= len)
			break;
		if (p[i] != 'u')
			continue;
		if (jsondoc_hex4(p + i + 1, len - i - 1, &u) < 0)
			return "is not valid JSON";
		i += 4;
		/* json-c keeps keys as C strings: "a\u0000b" would silently
		 * become "a", another key than other readers see. */
		if (u == 0 && key)
			return "has a \\u0000 escape in an object key";
		if (u >= 0xdc00 && u <= 0xdfff)
			return "has an unpaired UTF-16 surrogate escape";
		if (u >= 0xd800 && u <= 0xdbff) {
			if (len - i - 1 < 2 || p[i + 1] != '\\' || p[i + 2] != 'u' ||
			    jsondoc_hex4(p + i + 3, len - i - 3, &lo) < 0 || lo < 0xdc00 ||
			    lo > 0xdfff)
				return "has an unpaired UTF-16 surrogate escape";
			i += 6;
		}
	}
	*pos = i + 1; /* past the closing quote, or past the end */
	return NULL;
}

/* Walks the text once, tracking strings and nesting, to refuse what json-c
 * would accept or silently alter. It is not a parser: grammar errors it does
 * not look for are left to json-c. Returns NULL or why the text is refused. */
static const char *jsondoc_scan(const unsigned char *p, size_t len, int max_depth)
{
	/* Deep enough for any depth a caller may ask for: deeper documents
	 * stop the scan before they need a slot. */
	char stack[JSONDOC_DEPTH_MAX];
	const char *why;
	int depth = 0;
	bool want_key = false;
	size_t i = 0;

	while (i < len) {
		switch (p[i]) {
		case ' ': case '\t': case '\n': case '\r':
			i++;
			break;
		case '{': case '[':
			if (depth >= max_depth || depth >= JSONDOC_DEPTH_MAX)
				return JSONDOC_TOO_DEEP;
			stack[depth++] = (char)p[i];
			want_key = p[i++] == '{';
			break;
		case '}': case ']':
			if (depth > 0)
				depth--;
			want_key = false;
			i++;
			break;
		case ',':
			want_key = depth > 0 && stack[depth - 1] == '{';
			i++;
			break;
		case ':':
			want_key = false;
			i++;
			break;
		case '"':
			why = jsondoc_string(p, len, &i, want_key);
			if (why)
				return why;
			want_key = false;
			break;
		case '-': case '0': case '1': case '2': case '3': case '4':
		case '5': case '6': case '7': case '8': case '9':
			if (!jsondoc_number(p, len, &i))
				return "is not valid JSON";
			break;
		default:
			if (!jsondoc_word(p, len, &i))
				return "is not valid JSON";
			break;
		}
	}
	return NULL;
}

int jsondoc_parse(const char *text, size_t len, int max_depth, struct json_object **out,
		  const char **why)
{
	struct json_tokener *tok = NULL;
	struct json_object *obj = NULL;
	enum json_tokener_error err;
	size_t end;
	int r;

	*out = NULL;
	*why = NULL;
	if (len == 0) {
		*why = "is empty";
		r = -EBADMSG;
		goto out;
	}
	if (len > INT_MAX) {
		*why = "is too large";
		r = -EBADMSG;
		goto out;
	}
	if (memchr(text, '\0', len)) {
		*why = "contains a NUL byte";
		r = -EBADMSG;
		goto out;
	}
	if (utf8_validate(text, len) < 0) {
		*why = "is not valid UTF-8";
		r = -EBADMSG;
		goto out;
	}
	*why = jsondoc_scan((const unsigned char *)text, len, max_depth);
	if (*why) {
		r = -EBADMSG;
		goto out;
	}
	/* The scan already bounded the nesting; json-c also counts a scalar
	 * inside an array as a level, hence the margin. */
	tok = json_tokener_new_ex((max_depth < JSONDOC_DEPTH_MAX ? max_depth : JSONDOC_DEPTH_MAX) + 2);
	if (!tok) {
		r = -ENOMEM;
		goto out;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, text, (int)len);
	err = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (!obj && err == json_tokener_continue) {
		/* A bare number may still be waiting for more digits: a NUL
		 * tells json-c the text ended. */
		obj = json_tokener_parse_ex(tok, "", 1);
		err = json_tokener_get_error(tok);
	}
	/* json-c stops after the value; only whitespace may follow it. */
	while (end < len && (text[end] == ' ' || text[end] == '\t' || text[end] == '\n' ||
			     text[end] == '\r'))
		end++;
	/* A document that is just "null" is a success with no object. */
	if (err != json_tokener_success || end != len) {
		*why = err == json_tokener_error_depth ? JSONDOC_TOO_DEEP : "is not valid JSON";
		r = -EBADMSG;
		goto out;
	}
	*out = obj;
	obj = NULL;
	r = 0;
out:
	json_object_put(obj);
	if (tok)
		json_tokener_free(tok);
	return r;
}
