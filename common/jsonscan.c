#include "config.h"

#include "jsonscan.h"

#include <stdint.h>
#include <string.h>

#include "swar.h"

void jsonscan_init(struct jsonscan *s, char *text, size_t len, int max_depth)
{
	s->p = text;
	s->end = text + len;
	s->depth = 0;
	s->max_depth = max_depth;
}

static void jsonscan_ws(struct jsonscan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

bool jsonscan_take(struct jsonscan *s, char c)
{
	jsonscan_ws(s);
	if (s->p < s->end && *s->p == c) {
		s->p++;
		return true;
	}
	return false;
}

char jsonscan_peek(struct jsonscan *s)
{
	jsonscan_ws(s);
	return s->p < s->end ? *s->p : '\0';
}

bool jsonscan_word(struct jsonscan *s, const char *word)
{
	size_t n = strlen(word);

	jsonscan_ws(s);
	if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
		return false;
	/* "nullx" is not null followed by something: the next byte must end
	 * the token. */
	if ((size_t)(s->end - s->p) > n) {
		char c = s->p[n];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
			return false;
	}
	s->p += n;
	return true;
}

/* Whether any of the 8 bytes in w may be '"', '\\' or a control byte. */
static uint64_t jsonscan_special(uint64_t w)
{
	return swar_eq(w, '"') | swar_eq(w, '\\') | swar_below(w, 0x20);
}

/* The closing quote of the string s->p is in (past its opening quote), or
 * NULL for an escape, a control byte or no closing quote. */
static char *jsonscan_string_end(const struct jsonscan *s)
{
	char *q;

	for (q = s->p; q < s->end;) {
		unsigned char c;

		/* Names and e-mails are tens of bytes: eight at a time. */
		if (s->end - q >= 8) {
			uint64_t m = jsonscan_special(swar_load(q));

			if (m == 0) {
				q += 8;
				continue;
			}
			q += swar_first(m);
		}
		c = (unsigned char)*q;
		if (c == '"')
			return q;
		if (c == '\\' || c < 0x20)
			return NULL;
		q++;
	}
	return NULL;
}

int jsonscan_string(struct jsonscan *s, char **str, size_t *len)
{
	char *q;

	if (!jsonscan_take(s, '"') || !(q = jsonscan_string_end(s)))
		return -1;
	*q = '\0';
	*str = s->p;
	*len = (size_t)(q - s->p);
	s->p = q + 1;
	return 0;
}

/* A string read past and left as it was. */
static int jsonscan_skip_string(struct jsonscan *s)
{
	char *q;

	if (!jsonscan_take(s, '"') || !(q = jsonscan_string_end(s)))
		return -1;
	s->p = q + 1;
	return 0;
}

int jsonscan_open(struct jsonscan *s, char bracket)
{
	if (s->depth >= s->max_depth || !jsonscan_take(s, bracket))
		return -1;
	s->depth++;
	return 0;
}

bool jsonscan_close(struct jsonscan *s, char bracket, bool first, bool *bad)
{
	char close = bracket == '{' ? '}' : ']';

	*bad = false;
	if (jsonscan_take(s, close)) {
		s->depth--;
		return true;
	}
	if (!first && !jsonscan_take(s, ','))
		*bad = true;
	return false;
}

int jsonscan_skip(struct jsonscan *s)
{
	bool bad, first;

	jsonscan_ws(s);
	if (s->p >= s->end)
		return -1;
	switch (*s->p) {
	case '"':
		return jsonscan_skip_string(s);
	case '{':
		if (jsonscan_open(s, '{') < 0)
			return -1;
		for (first = true; !jsonscan_close(s, '{', first, &bad); first = false) {
			if (bad || jsonscan_skip_string(s) < 0 || !jsonscan_take(s, ':') ||
			    jsonscan_skip(s) < 0)
				return -1;
		}
		return 0;
	case '[':
		if (jsonscan_open(s, '[') < 0)
			return -1;
		for (first = true; !jsonscan_close(s, '[', first, &bad); first = false) {
			if (bad || jsonscan_skip(s) < 0)
				return -1;
		}
		return 0;
	default:
		return jsonscan_word(s, "true") || jsonscan_word(s, "false") ||
				       jsonscan_word(s, "null")
			       ? 0
			       : -1;
	}
}

bool jsonscan_at_end(struct jsonscan *s)
{
	jsonscan_ws(s);
	return s->p == s->end;
}
