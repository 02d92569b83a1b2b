#include "config.h"

#include "framing.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "hex.h"

/* RFC 9110 s.5.6.2: tchar. */
static bool framing_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* RFC 3986 s.2.3. */
static bool framing_unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

/* RFC 3986 s.2.2 sub-delims. */
static bool framing_subdelim(unsigned char c)
{
	return c && strchr("!$&'()*+,;=", c) != NULL;
}

static bool framing_name_is(const struct framing_header *f, const char *name)
{
	return f->name_len == strlen(name) && strncasecmp(f->name, name, f->name_len) == 0;
}

/* The value without the optional white space around it (RFC 9110 s.5.5). */
static void framing_trim(const char *s, size_t n, const char **out, size_t *out_len)
{
	while (n && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	*out = s;
	*out_len = n;
}

/* 1*DIGIT into *n; false on anything else or an overflow. */
static bool framing_digits(const char *s, size_t len, uint64_t *n)
{
	uint64_t v = 0;

	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*n = v;
	return true;
}

/* RFC 3986 s.3.2.2 host [":" port], or empty (allowed by RFC 9112 s.3.2). */
static bool framing_host_valid(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!framing_unreserved(c) && !framing_subdelim(c) && c != ':' && c != '[' &&
		    c != ']' && c != '%')
			return false;
	}
	return true;
}

static int framing_verdict(struct framing_verdict *v, unsigned status, bool close,
			   const char *message)
{
	v->status = status;
	v->close = close;
	v->message = message;
	return -EPROTO;
}

int framing_normalize_path(const char *target, char *path, size_t path_size)
{
	const char *p = target;
	size_t n = 0, len = strlen(target);

	if (len > FRAMING_TARGET_MAX)
		return -ENAMETOOLONG;
	if (strncasecmp(p, "http://", 7) == 0 || strncasecmp(p, "https://", 8) == 0) {
		/* Absolute form (RFC 9112 s.3.2.2): its authority replaces Host,
		 * which a single listener has no use for; route on the path. */
		const char *auth = strchr(p, ':') + 3;

		p = auth;
		while (*p && *p != '/') {
			/* No userinfo: "http://user@host" is deprecated (RFC 9110
			 * s.4.2.4) and a classic way to confuse what a URL names. */
			if (!framing_unreserved((unsigned char)*p) &&
			    !framing_subdelim((unsigned char)*p) && *p != ':' && *p != '[' &&
			    *p != ']' && *p != '%')
				return -EINVAL;
			p++;
		}
		if (p == auth)
			return -EINVAL;
		if (!*p)
			p = "/";
	} else if (*p != '/') {
		/* Not origin form: asterisk (OPTIONS *) or authority form
		 * (CONNECT) name nothing served here. */
		return -EINVAL;
	}
	for (; *p; p++) {
		unsigned char c = (unsigned char)*p;

		/* Room for what this byte may become (3 bytes) and the NUL. */
		if (n + (c == '%' ? 3 : 1) >= path_size)
			return -ENAMETOOLONG;
		if (c == '%') {
			int hi = hex_digit((unsigned char)p[1]);
			int lo = hi < 0 ? -1 : hex_digit((unsigned char)p[2]);
			unsigned char d;

			if (hi < 0 || lo < 0)
				return -EINVAL;
			d = (unsigned char)(hi * 16 + lo);
			if (d == 0)
				return -EINVAL;
			if (framing_unreserved(d)) {
				path[n++] = (char)d;
			} else {
				/* Kept escaped: %2F is data, never a separator. */
				static const char hex[] = "0123456789ABCDEF";

				path[n++] = '%';
				path[n++] = hex[d >> 4];
				path[n++] = hex[d & 15];
			}
			p += 2;
			continue;
		}
		if (!framing_unreserved(c) && !framing_subdelim(c) && c != ':' && c != '@' &&
		    c != '/')
			return -EINVAL;
		path[n++] = (char)c;
	}
	path[n] = '\0';
	/* Dot segments: a proxy that resolves them and one that does not see
	 * two different resources; refuse instead of guessing. */
	for (const char *s = path; s; s = strchr(s + 1, '/')) {
		const char *seg = s + 1, *next = strchr(seg, '/');
		size_t sl = next ? (size_t)(next - seg) : strlen(seg);

		if ((sl == 1 && seg[0] == '.') || (sl == 2 && seg[0] == '.' && seg[1] == '.'))
			return -EINVAL;
	}
	return 0;
}

/* RFC 9112 s.6.1 and 6.3: only "chunked" is understood, and only alone,
 * exactly as libmicrohttpd recognises it (one field, the bare word): any
 * other spelling would leave it reading the body until the peer closes. */
static int framing_transfer_encoding(const struct framing_request *r,
				     const struct framing_header *te, size_t te_count,
				     struct framing_verdict *v)
{
	for (size_t i = 0; i < r->header_count; i++) {
		const struct framing_header *f = &r->headers[i];
		const char *s = f->value, *e = f->value + f->value_len;

		if (!framing_name_is(f, "Transfer-Encoding"))
			continue;
		for (;;) {
			const char *comma = memchr(s, ',', (size_t)(e - s)), *elem;
			size_t elen, tlen = 0;

			framing_trim(s, (size_t)((comma ? comma : e) - s), &elem, &elen);
			while (tlen < elen && framing_tchar((unsigned char)elem[tlen]))
				tlen++;
			if (tlen && !(tlen == 7 && strncasecmp(elem, "chunked", 7) == 0))
				return framing_verdict(v, 501, true,
						       "Transfer-Encoding: only chunked is supported");
			if (!comma)
				break;
			s = comma + 1;
		}
	}
	if (te_count != 1)
		return framing_verdict(v, 400, true, "more than one Transfer-Encoding");
	{
		const char *val;
		size_t len;

		framing_trim(te->value, te->value_len, &val, &len);
		if (len != te->value_len || len != 7 || strncasecmp(val, "chunked", 7) != 0)
			return framing_verdict(v, 400, true, "malformed Transfer-Encoding");
	}
	v->chunked = true;
	return 0;
}

/* What framing_check counts over the fields. */
struct framing_counts {
	size_t hosts, tes, lengths;
	const struct framing_header *te; /* the last Transfer-Encoding */
};

/* One field: its name and value well-formed, Host, Transfer-Encoding and
 * Content-Length counted (the length into v). Returns 0 or -EPROTO with v
 * filled. */
static int framing_field(const struct framing_header *f, struct framing_counts *c,
			 struct framing_verdict *v)
{
	const char *val;
	size_t len;

	if (f->name_len == 0)
		return framing_verdict(v, 400, true, "malformed header field name");
	for (size_t k = 0; k < f->name_len; k++)
		if (!framing_tchar((unsigned char)f->name[k]))
			return framing_verdict(v, 400, true, "malformed header field name");
	/* RFC 9110 s.5.5: CR, LF and NUL are invalid and dangerous; other
	 * controls have no business in any field we read either. */
	for (size_t k = 0; k < f->value_len; k++) {
		unsigned char ch = (unsigned char)f->value[k];

		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return framing_verdict(v, 400, true, "control character in a header field");
	}
	if (framing_name_is(f, "Host")) {
		c->hosts++;
		framing_trim(f->value, f->value_len, &val, &len);
		if (!framing_host_valid(val, len))
			return framing_verdict(v, 400, true, "malformed Host");
	} else if (framing_name_is(f, "Transfer-Encoding")) {
		c->tes++;
		c->te = f;
	} else if (framing_name_is(f, "Content-Length")) {
		uint64_t n;

		framing_trim(f->value, f->value_len, &val, &len);
		if (!framing_digits(val, len, &n))
			return framing_verdict(v, 400, true, "malformed Content-Length");
		/* RFC 9112 s.6.3: differing lengths are unrecoverable. */
		if (c->lengths++ && n != v->content_length)
			return framing_verdict(v, 400, true, "more than one Content-Length");
		v->content_length = n;
		v->has_length = true;
	}
	return 0;
}

int framing_check(const struct framing_request *r, char *path, size_t path_size,
		  struct framing_verdict *v)
{
	struct framing_counts c = { 0 };
	int rc;

	*v = (struct framing_verdict){ 0 };
	/* The target first: a head too large because of it is a 414. */
	if (strlen(r->target) > FRAMING_TARGET_MAX)
		return framing_verdict(v, 414, true, "the request target is too long");
	if (r->head_bytes > r->max_head_bytes)
		return framing_verdict(v, 431, true, "the request head is too large");
	if (!*r->method)
		return framing_verdict(v, 400, true, "malformed request line");
	for (const char *m = r->method; *m; m++)
		if (!framing_tchar((unsigned char)*m))
			return framing_verdict(v, 400, true, "malformed request line");
	for (size_t i = 0; i < r->header_count; i++) {
		rc = framing_field(&r->headers[i], &c, v);
		if (rc < 0)
			return rc;
	}
	/* RFC 9112 s.3.2: exactly one Host in HTTP/1.1, at most one before. */
	if (c.hosts > 1)
		return framing_verdict(v, 400, true, "more than one Host");
	if (c.hosts == 0 && !r->http10)
		return framing_verdict(v, 400, true, "missing Host");
	if (c.tes) {
		/* RFC 9112 s.6.1: HTTP/1.0 has no Transfer-Encoding; s.6.3: with
		 * Content-Length as well it is smuggling, whichever one wins. */
		if (r->http10)
			return framing_verdict(v, 400, true, "Transfer-Encoding in HTTP/1.0");
		if (c.lengths)
			return framing_verdict(v, 400, true,
					       "Content-Length with Transfer-Encoding");
		rc = framing_transfer_encoding(r, c.te, c.tes, v);
		if (rc < 0)
			return rc;
	}
	rc = framing_normalize_path(r->target, path, path_size);
	if (rc == -ENAMETOOLONG)
		return framing_verdict(v, 414, true, "the request target is too long");
	if (rc < 0)
		/* Framed soundly: the body can be read and the connection kept. */
		return framing_verdict(v, 400, false, "malformed request target");
	return 0;
}

bool framing_lines_crlf(const char *head, size_t head_bytes, const char *version,
			const struct framing_header *headers, size_t header_count)
{
	const char *end = head + head_bytes, *p, *nul;

	if (!version || version < head || version >= end)
		return false;
	nul = memchr(version, '\0', (size_t)(end - version));
	if (!nul)
		return false;
	/* Each line ends where the next begins, two NULs (CR, LF) later. */
	p = nul;
	for (size_t i = 0; i <= header_count; i++) {
		const struct framing_header *f;
		const char *q;

		if (end - p < 2 || p[0] != '\0' || p[1] != '\0')
			return false;
		p += 2;
		if (i == header_count)
			break;
		f = &headers[i];
		if (f->name != p || f->name_len >= (size_t)(end - p) || p[f->name_len] != '\0')
			return false;
		q = p + f->name_len + 1;
		if (f->value < q || f->value > end || f->value_len > (size_t)(end - f->value))
			return false;
		for (; q < f->value; q++)
			if (*q != ' ' && *q != '\t')
				return false;
		p = f->value + f->value_len;
	}
	/* The blank line, the last two bytes of the head. */
	return end - p == 2 && p[0] == '\0' && p[1] == '\0';
}
