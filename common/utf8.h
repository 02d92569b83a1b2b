/* utf8: strict UTF-8 checks (RFC 3629) for bytes that came from a client,
 * run before json-c sees a body and again on every decoded string, since a
 * JSON escape can produce what the raw bytes did not contain. */
#ifndef PATIENTS_UTF8_H
#define PATIENTS_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Returns 0 when s[0..len) is well-formed UTF-8, -EILSEQ otherwise: an
 * overlong form, a UTF-16 surrogate (U+D800..U+DFFF), a code point above
 * U+10FFFF, a truncated sequence or a stray continuation byte. NUL bytes are
 * well-formed UTF-8; callers that cannot hold them check separately. */
int utf8_validate(const char *s, size_t len);

/* True when s[0..len) holds a control character: C0 (U+0000..U+001F), DEL
 * (U+007F) or C1 (U+0080..U+009F). Meant for text utf8_validate accepted;
 * on other bytes it still never reads past len. */
bool utf8_has_control(const char *s, size_t len);

/* True when every code point of s[0..len) has the Unicode White_Space
 * property (ASCII blanks, NBSP, the U+2000 spaces, U+3000...), including
 * when len is 0. Text that is not valid UTF-8 is not blank. */
bool utf8_is_blank(const char *s, size_t len);

#endif
