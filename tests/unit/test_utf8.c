/* Table-driven tests for common/utf8: RFC 3629 validation, control
 * characters and blank detection. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "utf8.h"

/* Byte strings with explicit lengths, so NUL and truncation are testable. */
#define B(s) s, sizeof(s) - 1

static void test_validate(void **state)
{
	static const struct {
		const char *what;
		const char *s;
		size_t len;
		int want;
	} cases[] = {
		{ "empty", B(""), 0 },
		{ "ascii", B("hello, world"), 0 },
		{ "long ascii (word path)", B("abcdefghijklmnopqrstuvwxyz0123456789"), 0 },
		{ "NUL is UTF-8", B("a\0b"), 0 },
		{ "2-byte min U+0080", B("\xc2\x80"), 0 },
		{ "2-byte max U+07FF", B("\xdf\xbf"), 0 },
		{ "3-byte min U+0800", B("\xe0\xa0\x80"), 0 },
		{ "U+D7FF before surrogates", B("\xed\x9f\xbf"), 0 },
		{ "U+E000 after surrogates", B("\xee\x80\x80"), 0 },
		{ "U+FFFF", B("\xef\xbf\xbf"), 0 },
		{ "4-byte min U+10000", B("\xf0\x90\x80\x80"), 0 },
		{ "max U+10FFFF", B("\xf4\x8f\xbf\xbf"), 0 },
		{ "Spanish name", B("Jos\xc3\xa9 \xc3\x91\xc3\xba\xc3\xb1" "ez"), 0 },
		{ "yamada", B("\xe5\xb1\xb1\xe7\x94\xb0"), 0 },
		{ "emoji after 8 ascii", B("abcdefgh\xf0\x9f\x98\x80"), 0 },
		{ "overlong / C0 AF", B("\xc0\xaf"), -EILSEQ },
		{ "overlong C1 BF", B("\xc1\xbf"), -EILSEQ },
		{ "overlong / E0 80 AF", B("\xe0\x80\xaf"), -EILSEQ },
		{ "overlong E0 9F BF", B("\xe0\x9f\xbf"), -EILSEQ },
		{ "overlong F0 80 80 AF", B("\xf0\x80\x80\xaf"), -EILSEQ },
		{ "overlong F0 8F BF BF", B("\xf0\x8f\xbf\xbf"), -EILSEQ },
		{ "surrogate U+D800", B("\xed\xa0\x80"), -EILSEQ },
		{ "surrogate U+DFFF", B("\xed\xbf\xbf"), -EILSEQ },
		{ "CESU pair", B("\xed\xa0\xbd\xed\xb8\x80"), -EILSEQ },
		{ "above U+10FFFF", B("\xf4\x90\x80\x80"), -EILSEQ },
		{ "F5 lead", B("\xf5\x80\x80\x80"), -EILSEQ },
		{ "FF byte", B("\xff"), -EILSEQ },
		{ "FE byte", B("\xfe"), -EILSEQ },
		{ "stray continuation", B("a\x80" "b"), -EILSEQ },
		{ "stray continuation BF", B("\xbf"), -EILSEQ },
		{ "truncated 2-byte", B("\xc3"), -EILSEQ },
		{ "truncated 3-byte", B("\xe5\xb1"), -EILSEQ },
		{ "truncated 4-byte", B("\xf0\x9f\x98"), -EILSEQ },
		{ "truncated then ascii", B("\xe5\xb1" "a"), -EILSEQ },
		{ "bad 2nd continuation", B("\xe5\x41\xb1"), -EILSEQ },
		{ "bad 4th byte", B("\xf0\x9f\x98\x41"), -EILSEQ },
		{ "invalid after 8 ascii", B("abcdefgh\xc0\xaf"), -EILSEQ },
		{ "5-byte form", B("\xf8\x88\x80\x80\x80"), -EILSEQ },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = utf8_validate(cases[i].s, cases[i].len);

		if (got != cases[i].want)
			fail_msg("%s: got %d, want %d", cases[i].what, got, cases[i].want);
	}
}

/* A truncated sequence at the very end of a buffer must not be read past:
 * under ASan, a heap copy with no slack catches an overread. */
static void test_validate_no_overread(void **state)
{
	static const char *const tails[] = { "\xc3", "\xe5\xb1", "\xf0\x9f\x98", "\xf4" };
	(void)state;
	for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
		size_t n = strlen(tails[i]);
		char *p = malloc(n); /* not test_malloc: its guard bytes would hide it */

		assert_non_null(p);
		memcpy(p, tails[i], n);
		assert_int_equal(utf8_validate(p, n), -EILSEQ);
		assert_false(utf8_has_control(p, n));
		assert_false(utf8_is_blank(p, n));
		free(p);
	}
}

/* A second, deliberately different reading of RFC 3629: decode by the lead
 * byte's bit pattern first, then refuse what the decoded value rules out. */
static int ref_validate(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		size_t len;
		uint32_t cp, min;

		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0)
			len = 2, cp = c & 0x1fu, min = 0x80;
		else if ((c & 0xf0) == 0xe0)
			len = 3, cp = c & 0x0fu, min = 0x800;
		else if ((c & 0xf8) == 0xf0)
			len = 4, cp = c & 0x07u, min = 0x10000;
		else
			return -EILSEQ;
		if (n - i < len)
			return -EILSEQ;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return -EILSEQ;
			cp = (cp << 6) | (s[i + k] & 0x3fu);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return -EILSEQ;
		i += len;
	}
	return 0;
}

/* Every 1-, 2- and 3-byte string, and 4-byte strings whose last two bytes
 * sit on the edges of the continuation range, against the reference. */
static void test_validate_exhaustive(void **state)
{
	static const unsigned char edges[] = { 0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90,
					       0x9f, 0xa0, 0xbf, 0xc0, 0xff };
	const size_t ne = sizeof(edges);
	unsigned char b[4];
	(void)state;

	for (uint32_t v = 0; v < (1u << 24); v++) {
		b[0] = (unsigned char)(v >> 16);
		b[1] = (unsigned char)(v >> 8);
		b[2] = (unsigned char)v;
		for (size_t n = v < 256 ? 1 : v < 65536 ? 2 : 3; n <= 3; n++) {
			/* the last n bytes: v as an n-byte string */
			const unsigned char *p = b + 3 - n;

			if (utf8_validate((const char *)p, n) != ref_validate(p, n))
				fail_msg("%zu bytes %06x: got %d", n, (unsigned)v,
					 utf8_validate((const char *)p, n));
		}
	}
	for (uint32_t v = 0; v < 65536 * ne * ne; v++) {
		b[0] = (unsigned char)(v >> 8 & 0xff);
		b[1] = (unsigned char)(v & 0xff);
		b[2] = edges[(v >> 16) % ne];
		b[3] = edges[(v >> 16) / ne];
		if (utf8_validate((const char *)b, 4) != ref_validate(b, 4))
			fail_msg("4 bytes %02x %02x %02x %02x", b[0], b[1], b[2], b[3]);
	}
}

/* The word-at-a-time path: every 2-byte string, and every truncated or
 * complete sequence of the table, at each position of an ASCII run that
 * spans more than two 8-byte words, and after a 2-byte letter, against
 * the reference. A heap copy of the exact length lets ASan see an
 * overread at the end. */
static void test_validate_in_words(void **state)
{
	static const char *const seqs[] = { "\xc3", "\xc3\xa9", "\xe5\xb1", "\xe5\xb1\xb1",
					    "\xed\xa0\x80", "\xf0\x9f\x98", "\xf0\x9f\x98\x80",
					    "\xf4\x90\x80\x80", "\x80", "\xc0\xaf", "\xff" };
	unsigned char buf[32];
	(void)state;

	for (size_t at = 0; at <= 20; at++) {
		for (size_t lead = 0; lead < 2; lead++) {
			size_t off = lead ? 2 : 0;

			memset(buf, 'a', sizeof(buf));
			if (lead)
				memcpy(buf, "\xc3\xb1", 2);
			for (uint32_t v = 0; v < 65536; v++) {
				buf[off + at] = (unsigned char)(v >> 8);
				buf[off + at + 1] = (unsigned char)v;
				if (utf8_validate((const char *)buf, sizeof(buf)) !=
				    ref_validate(buf, sizeof(buf)))
					fail_msg("%02x %02x at %zu (lead %zu)", (unsigned)(v >> 8),
						 (unsigned)(v & 0xff), at, lead);
			}
		}
		for (size_t i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++) {
			size_t n = strlen(seqs[i]);
			unsigned char *p = malloc(at + n);

			assert_non_null(p);
			memset(p, 'a', at);
			memcpy(p + at, seqs[i], n);
			if (utf8_validate((const char *)p, at + n) != ref_validate(p, at + n))
				fail_msg("sequence %zu at the end after %zu bytes", i, at);
			free(p);
		}
	}
}

static void test_has_control(void **state)
{
	static const struct {
		const char *what;
		const char *s;
		size_t len;
		bool want;
	} cases[] = {
		{ "empty", B(""), false },
		{ "plain", B("ABC-123_x.y"), false },
		{ "space is not control", B("a b"), false },
		{ "non-ASCII letters", B("\xc3\xa9\xe5\xb1\xb1"), false },
		{ "U+00A0 is not control", B("\xc2\xa0"), false },
		{ "NUL", B("a\0b"), true },
		{ "tab", B("a\tb"), true },
		{ "newline", B("a\n"), true },
		{ "0x1F", B("\x1f"), true },
		{ "DEL", B("a\x7f"), true },
		{ "C1 U+0080", B("\xc2\x80"), true },
		{ "C1 U+009F", B("x\xc2\x9f"), true },
		{ "lone C2 at end", B("x\xc2"), false },
		/* Past eight bytes, where words are tested whole. */
		{ "long plain", B("patient.0000123@example-clinic.es"), false },
		{ "long, NBSP in every word", B("a\xc2\xa0" "bcdefg\xc2\xa0hijklm\xc2\xa0n"), false },
		{ "long, DEL in the third word", B("abcdefghijklmnopqrs\x7ftu"), true },
		{ "C1 across two words", B("abcdefg\xc2\x85hijklmno"), true },
		{ "NBSP across two words", B("abcdefg\xc2\xa0hijklmno"), false },
		{ "control after a C2 letter", B("abc\xc2\xa0" "def\x01ghijklm"), true },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (utf8_has_control(cases[i].s, cases[i].len) != cases[i].want)
			fail_msg("%s: want %d", cases[i].what, cases[i].want);
}

/* The rule byte by byte, to hold the word-at-a-time reader to. */
static bool ref_has_control(const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] < 0x20 || p[i] == 0x7f ||
		    (p[i] == 0xc2 && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f))
			return true;
	return false;
}

/* Every byte value at every position of strings up to 24 bytes, alone and
 * after a C2 (a C1 pair straddling a word boundary included), in a
 * buffer of its exact length (ASan sees a read past it). */
static void test_has_control_positions(void **state)
{
	(void)state;
	for (size_t len = 1; len <= 24; len++) {
		for (size_t at = 0; at < len; at++) {
			for (int b = 0; b < 256; b++) {
				unsigned char *p = malloc(len);

				assert_non_null(p);
				memset(p, 'a', len);
				p[at] = (unsigned char)b;
				if (utf8_has_control((char *)p, len) != ref_has_control(p, len))
					fail_msg("byte %02x at %zu of %zu", b, at, len);
				if (at > 0) {
					p[at - 1] = 0xc2;
					if (utf8_has_control((char *)p, len) != ref_has_control(p, len))
						fail_msg("C2 %02x at %zu of %zu", b, at, len);
				}
				free(p);
			}
		}
	}
}

static void test_is_blank(void **state)
{
	static const struct {
		const char *what;
		const char *s;
		size_t len;
		bool want;
	} cases[] = {
		{ "empty", B(""), true },
		{ "spaces", B("   "), true },
		{ "ascii blanks", B(" \t\r\n\v\f"), true },
		{ "NBSP", B("\xc2\xa0"), true },
		{ "NEL", B("\xc2\x85"), true },
		{ "em space", B("\xe2\x80\x83"), true },
		{ "ideographic space", B("\xe3\x80\x80 "), true },
		{ "line separator", B("\xe2\x80\xa8"), true },
		{ "letter", B(" a "), false },
		{ "zero width space is not White_Space", B("\xe2\x80\x8b"), false },
		{ "NUL", B("\0"), false },
		{ "invalid UTF-8", B(" \xc0\xa0"), false },
		{ "name", B("Jos\xc3\xa9"), false },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (utf8_is_blank(cases[i].s, cases[i].len) != cases[i].want)
			fail_msg("%s: want %d", cases[i].what, cases[i].want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_validate_no_overread),
		cmocka_unit_test(test_validate_exhaustive),
		cmocka_unit_test(test_validate_in_words),
		cmocka_unit_test(test_has_control),
		cmocka_unit_test(test_has_control_positions),
		cmocka_unit_test(test_is_blank),
	};
	return cmocka_run_group_tests_name("utf8", tests, NULL, NULL);
}
