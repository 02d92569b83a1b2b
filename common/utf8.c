#include "config.h"

#include "utf8.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "swar.h"

/* Decodes the sequence at s[*i], advancing *i past it. Returns the code
 * point, or -1 for anything RFC 3629 forbids. The bounds on the second byte
 * are what rule out overlong forms (E0, F0), surrogates (ED) and values
 * above U+10FFFF (F4) without decoding first. */
static int32_t utf8_next(const unsigned char *s, size_t len, size_t *i)
{
	unsigned char c = s[*i];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need;
	int32_t cp;

	if (c < 0x80) {
		(*i)++;
		return c;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		need = 1;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 2;
		cp = c & 0x0f;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3;
		cp = c & 0x07;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		/* 80..BF: a continuation with no lead; C0, C1: always overlong;
		 * F5..FF: beyond U+10FFFF or not UTF-8 at all. */
		return -1;
	}
	if (len - *i - 1 < need)
		return -1;
	for (size_t k = 1; k <= need; k++) {
		unsigned char b = s[*i + k];

		if (b < lo || b > hi)
			return -1;
		lo = 0x80;
		hi = 0xbf;
		cp = (cp << 6) | (b & 0x3f);
	}
	*i += need + 1;
	return cp;
}

int utf8_validate(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		/* Bodies are mostly ASCII with a few accented letters per name:
		 * skip ASCII eight bytes at a time, straight to the first byte
		 * that is not, and take two-byte letters (U+0080..U+07FF, all
		 * of Latin) without the general decoder. */
		if (len - i >= 8) {
			uint64_t high = swar_high(swar_load(p + i));

			if (high == 0) {
				i += 8;
				continue;
			}
			i += swar_first(high);
		}
		if (p[i] >= 0xc2 && p[i] <= 0xdf && len - i >= 2 && (p[i + 1] & 0xc0) == 0x80) {
			i += 2;
			continue;
		}
		if (utf8_next(p, len, &i) < 0)
			return -EILSEQ;
	}
	return 0;
}

/* Whether a control character starts at p[i]. */
static bool utf8_control_at(const unsigned char *p, size_t len, size_t i)
{
	if (p[i] < 0x20 || p[i] == 0x7f)
		return true;
	/* C1 controls are U+0080..U+009F, encoded C2 80..C2 9F. */
	return p[i] == 0xc2 && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f;
}

bool utf8_has_control(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		/* Every name and e-mail of a batch comes here: eight bytes at
		 * a time to the first that may start one (a C0 byte, DEL, or
		 * C2, the lead of C1 and of Latin-1's first letters alike). */
		if (len - i >= 8) {
			uint64_t w = swar_load(p + i);
			uint64_t m = swar_below(w, 0x20) | swar_eq(w, 0x7f) | swar_eq(w, 0xc2);

			if (m == 0) {
				i += 8;
				continue;
			}
			i += swar_first(m);
		}
		if (utf8_control_at(p, len, i))
			return true;
		i++;
	}
	return false;
}

/* The White_Space property of Unicode 15 (PropList.txt). */
static bool utf8_is_space(int32_t cp)
{
	switch (cp) {
	case 0x09: case 0x0a: case 0x0b: case 0x0c: case 0x0d: case 0x20:
	case 0x85: case 0xa0: case 0x1680: case 0x2028: case 0x2029:
	case 0x202f: case 0x205f: case 0x3000:
		return true;
	default:
		return cp >= 0x2000 && cp <= 0x200a;
	}
}

bool utf8_is_blank(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		int32_t cp = utf8_next(p, len, &i);

		if (cp < 0 || !utf8_is_space(cp))
			return false;
	}
	return true;
}
