/* jsonscan: a strict, allocation-free reader for JSON in the simple form
 * our own producers write (no escapes, no numbers but the ones asked for),
 * working in place: each string it reads is NUL-terminated where its
 * closing quote was. It never decides what is invalid JSON; on anything
 * outside that form it fails, and the caller falls back to jsondoc and
 * json-c, which give the verdict. */
#ifndef PATIENTS_JSONSCAN_H
#define PATIENTS_JSONSCAN_H

#include <stdbool.h>
#include <stddef.h>

struct jsonscan {
	char *p, *end;
	int depth, max_depth;
};

/* Over text[0..len), which must be valid UTF-8 without NUL bytes (the
 * caller checks: utf8_validate), nesting at most max_depth. */
void jsonscan_init(struct jsonscan *s, char *text, size_t len, int max_depth);

/* Skips whitespace; true when the next byte is c (then consumed). */
bool jsonscan_take(struct jsonscan *s, char c);

/* Skips whitespace; the next byte, not consumed, or '\0' at the end (the
 * text holds no NUL). */
char jsonscan_peek(struct jsonscan *s);

/* True when the next token is the word (true, false, null), consumed. */
bool jsonscan_word(struct jsonscan *s, const char *word);

/* Reads a string without escapes or control characters, NUL-terminating it
 * in place. Returns 0 with *str and *len, or -1 (also for a string with an
 * escape: the caller falls back). */
int jsonscan_string(struct jsonscan *s, char **str, size_t *len);

/* Skips one value: a string as above, true, false, null, or an object or
 * array of those, leaving its text as it was (nothing NUL-terminated). -1
 * on anything else, numbers included. */
int jsonscan_skip(struct jsonscan *s);

/* Opens an object or array ('{' or '['), counting the depth; -1 when the
 * next token is not that or the nesting would be too deep. */
int jsonscan_open(struct jsonscan *s, char bracket);

/* Inside an object or array just opened or after a member: true when the
 * next token is the closing bracket (consumed, depth given back); false
 * when a member follows (a ',' between members is consumed); *bad set on
 * anything else. */
bool jsonscan_close(struct jsonscan *s, char bracket, bool first, bool *bad);

/* Only whitespace is left. */
bool jsonscan_at_end(struct jsonscan *s);

#endif
