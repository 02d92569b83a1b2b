/* framing: the gateway's RFC 9112 checks of a request head, so that no proxy
 * in front of it can frame a request differently from us (request
 * smuggling). Pure functions over the method, target, version and header
 * fields: no libmicrohttpd, no I/O, no allocation; request.c feeds them what
 * libmicrohttpd parsed, on the handler's first call (head complete, body not
 * read yet), and answers the verdict with its own envelope and headers. */
#ifndef PATIENTS_GATEWAY_FRAMING_H
#define PATIENTS_GATEWAY_FRAMING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest request target accepted (RFC 9112 s.3 recommends at least 8000). */
#define FRAMING_TARGET_MAX 8000u

/* One header field line as received, in order. Borrowed. */
struct framing_header {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

struct framing_request {
	const char *method;	/* NUL-terminated */
	const char *target;	/* as received, not percent-decoded, query cut off */
	bool http10;		/* HTTP/1.0 (else 1.1) */
	const struct framing_header *headers;
	size_t header_count;
	size_t head_bytes;	/* request line, fields and the blank line */
	size_t max_head_bytes;	/* --max-header-bytes */
};

/* What to answer. status 0: the head is sound, route req->path. Otherwise
 * answer status with message (a static string) and, when close is set,
 * close the connection after it without reading the body: its framing
 * cannot be trusted. */
struct framing_verdict {
	unsigned status;
	bool close;
	const char *message;
	bool chunked;		 /* the body is chunked */
	bool has_length;	 /* a Content-Length was given ... */
	uint64_t content_length; /* ... this one */
};

/* Judges a request head: field names and values, Host, Content-Length and
 * Transfer-Encoding (RFC 9112 s.6.1-6.3), the target (see
 * framing_normalize_path). On a sound head fills path (NUL-terminated, the
 * normalized path of the target) and returns 0 with v->status 0; otherwise
 * fills v and returns -EPROTO. path must have room for FRAMING_TARGET_MAX + 1
 * bytes. */
int framing_check(const struct framing_request *r, char *path, size_t path_size,
		  struct framing_verdict *v);

/* The path that target names, for routing on exact equality: the
 * absolute form (http://host:port/p) reduced to its path, percent-encoded
 * unreserved characters decoded (RFC 3986 s.6.2.2.2), every other escape
 * kept as it is, with upper-case hex (so %2F is never a '/'). Returns 0;
 * -EINVAL on a target that is not origin or absolute form, has a byte
 * outside RFC 3986's set, a malformed escape, an escaped NUL, or a "." or
 * ".." segment (which proxies resolve differently); -ENAMETOOLONG over
 * FRAMING_TARGET_MAX or path_size. */
int framing_normalize_path(const char *target, char *path, size_t path_size);

/* Whether the head's bytes, as libmicrohttpd 0.9.75 leaves them after
 * parsing in place (it overwrites each CR and LF, the colons and the
 * separators with NULs and hands out pointers into that buffer), show
 * CRLF line ends only, no NUL inside a field and no folded line: head is
 * the start of the request line (the method), head_bytes its length up to
 * and with the blank line, version the version's place in it, headers the
 * fields in order. A bare LF, a NUL in a value, a line folded onto the one
 * before it (the pointers no longer follow each other) all break the
 * layout: false. Reads only inside [head, head + head_bytes). */
bool framing_lines_crlf(const char *head, size_t head_bytes, const char *version,
			const struct framing_header *headers, size_t header_count);

#endif
