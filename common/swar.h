/* swar: eight bytes of a string tested at once in a 64-bit word, for the
 * fast paths of the scanners over bodies that are mostly printable ASCII
 * (utf8.c, jsonscan.c). Each test returns a mask with the high bit set in
 * every flagged byte. A test may flag a byte above a real match, never one
 * below it (a borrow only runs upwards, out of a byte that matched): the
 * lowest flagged byte is always a real one, so a caller jumps there
 * (swar_first) and looks at that byte alone. Header only: these are a few
 * instructions each, in loops over every byte of a body. */
#ifndef PATIENTS_SWAR_H
#define PATIENTS_SWAR_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SWAR_ONES UINT64_C(0x0101010101010101)
#define SWAR_HIGH UINT64_C(0x8080808080808080)

/* The eight bytes at p, whatever p's alignment. */
static inline uint64_t swar_load(const void *p)
{
	uint64_t w;

	memcpy(&w, p, sizeof(w));
	return w;
}

/* Flags the bytes equal to c. */
static inline uint64_t swar_eq(uint64_t w, unsigned char c)
{
	uint64_t x = w ^ (SWAR_ONES * c);

	return (x - SWAR_ONES) & ~x & SWAR_HIGH;
}

/* Flags the bytes below c, for c at most 0x80. */
static inline uint64_t swar_below(uint64_t w, unsigned char c)
{
	return (w - SWAR_ONES * c) & ~w & SWAR_HIGH;
}

/* Flags the bytes that are not ASCII. */
static inline uint64_t swar_high(uint64_t w)
{
	return w & SWAR_HIGH;
}

/* How many bytes precede the lowest flagged one of a non-zero mask. Where
 * the byte order is not known to be little-endian, 0: the caller then looks
 * at every byte from the word's first, which is slower, never wrong. */
static inline size_t swar_first(uint64_t m)
{
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return (size_t)__builtin_ctzll(m) / 8;
#else
	(void)m;
	return 0;
#endif
}

#endif
