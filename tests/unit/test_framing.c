/* Table-driven tests for the gateway's RFC 9112 framing checks: every rule
 * of framing_check (fields, Host, Content-Length, Transfer-Encoding, sizes,
 * target), framing_normalize_path's routing form, and framing_lines_crlf on
 * heads laid out as libmicrohttpd 0.9.75 leaves them after parsing. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "framing.h"

struct field {
	const char *name, *value;
};

struct check_case {
	const char *what;
	const char *method, *target;
	bool http10;
	struct field fields[6];
	unsigned status; /* 0: sound */
	bool close;
	const char *path; /* when sound */
	bool chunked;
	long long length; /* -1: none */
};

#define H "Host", "gw"
static const struct check_case checks[] = {
	{ "a plain PUT", "PUT", "/v1/patients", false, { { H }, { "Content-Length", "10" } }, 0, false, "/v1/patients", false, 10 },
	{ "a chunked PUT", "PUT", "/v1/patients", false, { { H }, { "Transfer-Encoding", "chunked" } }, 0, false, "/v1/patients", true, -1 },
	{ "chunked, any case", "PUT", "/v1/patients", false, { { H }, { "transfer-encoding", "Chunked" } }, 0, false, "/v1/patients", true, -1 },
	{ "no body at all", "GET", "/healthz", false, { { H } }, 0, false, "/healthz", false, -1 },
	{ "HTTP/1.0 without Host", "GET", "/healthz", true, { { NULL, NULL } }, 0, false, "/healthz", false, -1 },
	{ "empty Host (no authority)", "GET", "/healthz", false, { { "Host", "" } }, 0, false, "/healthz", false, -1 },
	{ "Host with a port, IPv6", "GET", "/healthz", false, { { "Host", "[::1]:8080" } }, 0, false, "/healthz", false, -1 },
	{ "the same Content-Length twice", "PUT", "/v1/patients", false, { { H }, { "Content-Length", "7" }, { "content-length", "7" } }, 0, false, "/v1/patients", false, 7 },
	{ "a tab in a value", "PUT", "/v1/patients", false, { { H }, { "X-A", "a\tb" } }, 0, false, "/v1/patients", false, -1 },
	{ "obs-text in a value", "PUT", "/v1/patients", false, { { H }, { "X-A", "caf\xc3\xa9" } }, 0, false, "/v1/patients", false, -1 },
	{ "absolute form", "PUT", "http://gw:8080/v1/patients", false, { { H } }, 0, false, "/v1/patients", false, -1 },
	{ "absolute form, https, no path", "GET", "HTTPS://gw", false, { { H } }, 0, false, "/", false, -1 },

	{ "Content-Length and chunked", "PUT", "/v1/patients", false, { { H }, { "Content-Length", "10" }, { "Transfer-Encoding", "chunked" } }, 400, true, NULL, false, 0 },
	{ "chunked and Content-Length", "PUT", "/v1/patients", false, { { H }, { "Transfer-Encoding", "chunked" }, { "Content-Length", "10" } }, 400, true, NULL, false, 0 },
	{ "two different Content-Lengths", "PUT", "/v1/patients", false, { { H }, { "Content-Length", "10" }, { "Content-Length", "100" } }, 400, true, NULL, false, 0 },
	{ "a Content-Length list", "PUT", "/v1/patients", false, { { H }, { "Content-Length", "10, 10" } }, 400, true, NULL, false, 0 },
	{ "a signed Content-Length", "PUT", "/v1/patients", false, { { H }, { "Content-Length", "+10" } }, 400, true, NULL, false, 0 },
	{ "an overflowing Content-Length", "PUT", "/v1/patients", false, { { H }, { "Content-Length", "99999999999999999999999" } }, 400, true, NULL, false, 0 },
	{ "gzip, chunked", "PUT", "/v1/patients", false, { { H }, { "Transfer-Encoding", "gzip, chunked" } }, 501, true, NULL, false, 0 },
	{ "identity", "PUT", "/v1/patients", false, { { H }, { "Transfer-Encoding", "identity" } }, 501, true, NULL, false, 0 },
	{ "xchunked", "PUT", "/v1/patients", false, { { H }, { "Transfer-Encoding", "xchunked" } }, 501, true, NULL, false, 0 },
	{ "chunked, gzip", "PUT", "/v1/patients", false, { { H }, { "Transfer-Encoding", "chunked, gzip" } }, 501, true, NULL, false, 0 },
	{ "chunked twice in one field", "PUT", "/v1/patients", false, { { H }, { "Transfer-Encoding", "chunked, chunked" } }, 400, true, NULL, false, 0 },
	{ "chunked in two fields", "PUT", "/v1/patients", false, { { H }, { "Transfer-Encoding", "chunked" }, { "Transfer-Encoding", "chunked" } }, 400, true, NULL, false, 0 },
	{ "chunked with a parameter", "PUT", "/v1/patients", false, { { H }, { "Transfer-Encoding", "chunked;x=1" } }, 400, true, NULL, false, 0 },
	{ "chunked with trailing space", "PUT", "/v1/patients", false, { { H }, { "Transfer-Encoding", "chunked " } }, 400, true, NULL, false, 0 },
	{ "chunked, an empty element", "PUT", "/v1/patients", false, { { H }, { "Transfer-Encoding", "chunked," } }, 400, true, NULL, false, 0 },
	{ "an empty Transfer-Encoding", "PUT", "/v1/patients", false, { { H }, { "Transfer-Encoding", "" } }, 400, true, NULL, false, 0 },
	{ "Transfer-Encoding in HTTP/1.0", "PUT", "/v1/patients", true, { { H }, { "Transfer-Encoding", "chunked" } }, 400, true, NULL, false, 0 },
	{ "no Host in HTTP/1.1", "PUT", "/v1/patients", false, { { "Content-Length", "1" } }, 400, true, NULL, false, 0 },
	{ "two Hosts", "PUT", "/v1/patients", false, { { H }, { "host", "other" } }, 400, true, NULL, false, 0 },
	{ "two Hosts in HTTP/1.0", "GET", "/healthz", true, { { H }, { H } }, 400, true, NULL, false, 0 },
	{ "a Host with a path", "GET", "/healthz", false, { { "Host", "gw/x" } }, 400, true, NULL, false, 0 },
	{ "a Host with userinfo", "GET", "/healthz", false, { { "Host", "a@gw" } }, 400, true, NULL, false, 0 },
	{ "a space in a field name", "PUT", "/v1/patients", false, { { H }, { "X A", "1" } }, 400, true, NULL, false, 0 },
	{ "a space before the colon", "PUT", "/v1/patients", false, { { H }, { "Content-Length ", "1" } }, 400, true, NULL, false, 0 },
	{ "an empty field name", "PUT", "/v1/patients", false, { { H }, { "", "1" } }, 400, true, NULL, false, 0 },
	{ "a CR in a value", "PUT", "/v1/patients", false, { { H }, { "X-A", "a\rb" } }, 400, true, NULL, false, 0 },
	{ "an LF in a value", "PUT", "/v1/patients", false, { { H }, { "X-A", "a\nb" } }, 400, true, NULL, false, 0 },
	{ "ESC in a value", "PUT", "/v1/patients", false, { { H }, { "X-A", "a\x1b" } }, 400, true, NULL, false, 0 },
	{ "DEL in a value", "PUT", "/v1/patients", false, { { H }, { "X-A", "a\x7f" } }, 400, true, NULL, false, 0 },
	{ "a method that is no token", "P(T", "/v1/patients", false, { { H } }, 400, true, NULL, false, 0 },
	{ "%00 in the target", "PUT", "/v1/patients%00", false, { { H } }, 400, false, NULL, false, 0 },
	{ "a half escape", "PUT", "/v1/patients%2", false, { { H } }, 400, false, NULL, false, 0 },
	{ "a space in the target", "PUT", "/v1/pa tients", false, { { H } }, 400, false, NULL, false, 0 },
	{ "a dot segment", "PUT", "/v1/./patients", false, { { H } }, 400, false, NULL, false, 0 },
	{ "asterisk form", "OPTIONS", "*", false, { { H } }, 400, false, NULL, false, 0 },
	{ "authority form", "CONNECT", "gw:443", false, { { H } }, 400, false, NULL, false, 0 },
};

static void test_check(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		const struct check_case *c = &checks[i];
		struct framing_header fields[6];
		struct framing_request r = { .method = c->method, .target = c->target,
					     .http10 = c->http10, .headers = fields,
					     .head_bytes = 100, .max_head_bytes = 1000 };
		struct framing_verdict v;
		char path[FRAMING_TARGET_MAX + 1];
		int rc;

		for (; r.header_count < 6 && c->fields[r.header_count].name; r.header_count++) {
			const struct field *f = &c->fields[r.header_count];

			fields[r.header_count] = (struct framing_header){ f->name, strlen(f->name),
									  f->value, strlen(f->value) };
		}
		rc = framing_check(&r, path, sizeof(path), &v);
		print_message("# %s\n", c->what);
		assert_int_equal(v.status, c->status);
		assert_int_equal(rc, c->status ? -EPROTO : 0);
		if (c->status) {
			assert_int_equal(v.close, c->close);
			assert_non_null(v.message);
			continue;
		}
		assert_string_equal(path, c->path);
		assert_int_equal(v.chunked, c->chunked);
		assert_int_equal(v.has_length, c->length >= 0);
		if (c->length >= 0)
			assert_int_equal(v.content_length, (uint64_t)c->length);
	}
}

static void test_sizes(void **state)
{
	struct framing_header host = { "Host", 4, "gw", 2 };
	struct framing_request r = { .method = "GET", .target = "/healthz", .headers = &host,
				     .header_count = 1, .head_bytes = 1001, .max_head_bytes = 1000 };
	struct framing_verdict v;
	char path[FRAMING_TARGET_MAX + 1], *target = malloc(FRAMING_TARGET_MAX + 2);

	(void)state;
	assert_non_null(target);
	assert_int_equal(framing_check(&r, path, sizeof(path), &v), -EPROTO);
	assert_int_equal(v.status, 431);
	r.head_bytes = 1000;
	assert_int_equal(framing_check(&r, path, sizeof(path), &v), 0);

	target[0] = '/';
	memset(target + 1, 'a', FRAMING_TARGET_MAX - 1);
	target[FRAMING_TARGET_MAX] = '\0';
	r.target = target;
	r.max_head_bytes = 100000;
	assert_int_equal(framing_check(&r, path, sizeof(path), &v), 0); /* at the limit */
	target[FRAMING_TARGET_MAX] = 'a';
	target[FRAMING_TARGET_MAX + 1] = '\0';
	assert_int_equal(framing_check(&r, path, sizeof(path), &v), -EPROTO);
	assert_int_equal(v.status, 414);
	assert_true(v.close);
	free(target);
}

struct path_case {
	const char *target;
	int rc;
	const char *path;
};

static const struct path_case paths[] = {
	{ "/v1/patients", 0, "/v1/patients" },
	{ "/v1/%70atients", 0, "/v1/patients" },    /* unreserved: decoded */
	{ "/v1/patients%7e", 0, "/v1/patients~" },
	{ "/v1%2Fpatients", 0, "/v1%2Fpatients" },  /* never a separator */
	{ "/v1%2fpatients", 0, "/v1%2Fpatients" },
	{ "/v1/patients%20", 0, "/v1/patients%20" },
	{ "//v1/patients", 0, "//v1/patients" },
	{ "/a:b@c!$&'()*+,;=", 0, "/a:b@c!$&'()*+,;=" },
	{ "http://gw:1/v1/patients", 0, "/v1/patients" },
	{ "http://[::1]:1/v1/patients", 0, "/v1/patients" },
	{ "http://gw", 0, "/" },
	{ "/v1/patients%00", -EINVAL, NULL },
	{ "/v1/patients%", -EINVAL, NULL },
	{ "/v1/patients%4", -EINVAL, NULL },
	{ "/v1/patients%zz", -EINVAL, NULL },
	{ "/v1/./patients", -EINVAL, NULL },
	{ "/v1/../v1/patients", -EINVAL, NULL },
	{ "/v1/%2e%2E/patients", -EINVAL, NULL }, /* escaped dots are dots */
	{ "/v1/patients/.", -EINVAL, NULL },
	{ "/v1/patients#x", -EINVAL, NULL },
	{ "/v1/pat\"ients", -EINVAL, NULL },
	{ "/v1/pat\\ients", -EINVAL, NULL },
	{ "/v1/pati\xc3\xa9nts", -EINVAL, NULL },
	{ "/v1/pa\ttients", -EINVAL, NULL },
	{ "v1/patients", -EINVAL, NULL },
	{ "http:///v1/patients", -EINVAL, NULL },
	{ "http://user@gw/v1/patients", -EINVAL, NULL },
	{ "ftp://gw/v1/patients", -EINVAL, NULL },
	{ "", -EINVAL, NULL },
};

static void test_paths(void **state)
{
	char path[64];

	(void)state;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		int rc = framing_normalize_path(paths[i].target, path, sizeof(path));

		print_message("# %s\n", paths[i].target);
		assert_int_equal(rc, paths[i].rc);
		if (rc == 0)
			assert_string_equal(path, paths[i].path);
	}
	assert_int_equal(framing_normalize_path("/v1/patients", path, 8), -ENAMETOOLONG);
}

/* Parses raw (len bytes) in place as libmicrohttpd 0.9.75 does: each line
 * ends at CRLF (both bytes set to NUL) or at a bare LF (one NUL); the
 * request line's separators become NULs; a field's colon becomes a NUL and
 * its value starts after the white space and runs to the first NUL; a line
 * starting with white space is appended to the field before in a fresh
 * buffer (libmicrohttpd reallocates it), which moves the field's name. */
struct parsed {
	char buf[512];
	char folded[512];
	const char *head, *version;
	size_t head_bytes;
	struct framing_header fields[8];
	size_t n;
};

static void mhd_parse(struct parsed *p, const char *raw, size_t len)
{
	char *s = p->buf, *end, *line, *space;
	bool first = true;

	memset(p, 0, sizeof(*p));
	memcpy(p->buf, raw, len);
	end = p->buf + len;
	p->head = p->buf;
	while (s < end) {
		char *lf = memchr(s, '\n', (size_t)(end - s));

		assert_non_null(lf);
		line = s;
		if (lf > s && lf[-1] == '\r')
			lf[-1] = '\0';
		lf[0] = '\0';
		s = lf + 1;
		if (first) {
			space = strchr(line, ' ');
			*space = '\0';
			space = strrchr(space + 1, ' ');
			*space = '\0';
			p->version = space + 1;
			first = false;
			continue;
		}
		if (!*line) {
			p->head_bytes = (size_t)(s - p->head);
			return;
		}
		if (*line == ' ' || *line == '\t') {
			struct framing_header *f = &p->fields[p->n - 1];

			snprintf(p->folded, sizeof(p->folded), "%.*s%s", (int)f->name_len, f->name,
				 line + strspn(line, " \t"));
			f->name = p->folded;
			f->name_len = strlen(p->folded);
			continue;
		}
		{
			char *colon = strchr(line, ':'), *v;

			*colon = '\0';
			v = colon + 1 + strspn(colon + 1, " \t");
			p->fields[p->n++] = (struct framing_header){ line, strlen(line), v, strlen(v) };
		}
	}
	fail_msg("no blank line");
}

struct lines_case {
	const char *what;
	const char *raw;
	size_t len;
	bool crlf;
};

#define RAW(s) s, sizeof(s) - 1

static const struct lines_case lines[] = {
	{ "CRLF everywhere", RAW("PUT /v1/patients HTTP/1.1\r\nHost: gw\r\nContent-Length: 2\r\n\r\n"), true },
	{ "no fields", RAW("GET / HTTP/1.0\r\n\r\n"), true },
	{ "empty value, spaces around", RAW("GET / HTTP/1.1\r\nHost:\r\nX-A:  a b \r\n\r\n"), true },
	{ "bare LF everywhere", RAW("PUT /v1/patients HTTP/1.1\nHost: gw\nContent-Length: 2\n\n"), false },
	{ "bare LF after the request line", RAW("PUT / HTTP/1.1\nHost: gw\r\n\r\n"), false },
	{ "bare LF after a field", RAW("PUT / HTTP/1.1\r\nHost: gw\nX-A: 1\r\n\r\n"), false },
	{ "bare LF after the last field", RAW("PUT / HTTP/1.1\r\nHost: gw\n\r\n"), false },
	{ "bare LF as the blank line", RAW("PUT / HTTP/1.1\r\nHost: gw\r\n\n"), false },
	{ "NUL in a value", RAW("PUT / HTTP/1.1\r\nX-A: a\0Transfer-Encoding: chunked\r\nHost: gw\r\n\r\n"), false },
	{ "NUL at the end of a value", RAW("PUT / HTTP/1.1\r\nX-A: a\0\r\nHost: gw\r\n\r\n"), false },
	{ "NUL in the last value", RAW("PUT / HTTP/1.1\r\nHost: gw\0x\r\n\r\n"), false },
	{ "a folded field", RAW("PUT / HTTP/1.1\r\nX-A: a\r\n b\r\nHost: gw\r\n\r\n"), false },
	{ "space after the version", RAW("PUT / HTTP/1.1 \r\nHost: gw\r\n\r\n"), false },
};

static void test_lines(void **state)
{
	static struct parsed p;

	(void)state;
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		const struct lines_case *c = &lines[i];
		size_t len = c->len;

		print_message("# %s\n", c->what);
		mhd_parse(&p, c->raw, len);
		if (strcmp(c->what, "space after the version") == 0)
			p.version = strstr(p.buf + 6, "HTTP/1.1"); /* MHD skips the space */
		assert_int_equal(framing_lines_crlf(p.head, p.head_bytes, p.version, p.fields, p.n),
				 c->crlf);
	}
	/* Pointers outside the head are never followed. */
	mhd_parse(&p, lines[0].raw, strlen(lines[0].raw));
	assert_false(framing_lines_crlf(p.head, p.head_bytes, "HTTP/1.1", p.fields, p.n));
	assert_false(framing_lines_crlf(p.head, p.head_bytes - 1, p.version, p.fields, p.n));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
