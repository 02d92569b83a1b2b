/* jsondoc: the one way untrusted JSON text (a request body, a Kafka message
 * value) becomes a json-c document. json-c alone is lenient: even in strict
 * mode it takes single quotes, NaN, "1." and "-01", raw control characters
 * in strings; it turns lone surrogate escapes into U+FFFD and cuts keys at
 * "\u0000". Bodies travel on verbatim to other readers, so whatever is not
 * RFC 8259 JSON that every parser reads the same way is refused here. */
#ifndef PATIENTS_JSONDOC_H
#define PATIENTS_JSONDOC_H

#include <stddef.h>

struct json_object;

/* The deepest max_depth jsondoc_parse honours: a larger one is taken as
 * this. */
#define JSONDOC_DEPTH_MAX 128

/* The *why of a document nesting deeper than max_depth. */
#define JSONDOC_TOO_DEEP "nests too deep"

/* Parses text[0..len) as one JSON value, allowing surrounding whitespace.
 * max_depth bounds the nesting of arrays and objects ({"a":[1]} is 2).
 * Returns 0 and a new reference in *out, which the caller puts (NULL when
 * the document is just "null"); -EBADMSG with *why set to a static phrase
 * that completes "<noun> ...", e.g. "is not valid UTF-8"; -ENOMEM.
 * The checks, in order: no NUL byte, valid UTF-8, the pre-scan described
 * above, then json-c in strict mode consuming all of text. */
int jsondoc_parse(const char *text, size_t len, int max_depth, struct json_object **out,
		  const char **why);

#endif
