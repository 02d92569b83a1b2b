/* hex: hexadecimal digits, for the readers of SHA-256 digests, JSON \u
 * escapes and percent-encoded request targets. */
#ifndef PATIENTS_HEX_H
#define PATIENTS_HEX_H

/* The value 0..15 of one hexadecimal digit (either case), or -1. */
int hex_digit(unsigned char c);

#endif
