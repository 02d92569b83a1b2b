#include "config.h"

#include "pgarray.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "swar.h"

/* Grows the buffer to hold at least need bytes, doubling from 4 KiB. */
static int pgarray_reserve(struct pgarray *a, size_t need)
{
	size_t cap = a->cap ? a->cap : 4096;
	char *p;

	if (need <= a->cap)
		return 0;
	while (cap < need)
		cap *= 2;
	p = realloc(a->buf, cap);
	if (!p)
		return -ENOMEM;
	a->buf = p;
	a->cap = cap;
	return 0;
}

int pgarray_begin(struct pgarray *a)
{
	int r = pgarray_reserve(a, 3);

	if (r < 0)
		return r;
	a->buf[0] = '{';
	a->len = 1;
	return 0;
}

/* The worst case doubles the length: reserved up front, so the loop has
 * no bounds checks to get wrong. */
int pgarray_add(struct pgarray *a, const char *v, size_t vlen)
{
	char *o;
	int r = pgarray_reserve(a, a->len + 2 * vlen + 8);

	if (r < 0)
		return r;
	o = a->buf + a->len;
	if (a->len > 1)
		*o++ = ',';
	if (!v) {
		memcpy(o, "NULL", 4);
		o += 4;
	} else {
		*o++ = '"';
		for (size_t k = 0; k < vlen;) {
			/* Six values a patient, every byte of a batch: eight
			 * at a time up to the first that needs its backslash.
			 * The word is stored whole, its tail rewritten next:
			 * the reserve above leaves room for it. */
			if (vlen - k >= 8) {
				uint64_t w = swar_load(v + k);
				uint64_t m = swar_eq(w, '"') | swar_eq(w, '\\');
				size_t run = m ? swar_first(m) : 8;

				memcpy(o, &w, sizeof(w));
				o += run;
				k += run;
				if (!m)
					continue;
			}
			if (v[k] == '"' || v[k] == '\\')
				*o++ = '\\';
			*o++ = v[k++];
		}
		*o++ = '"';
	}
	a->len = (size_t)(o - a->buf);
	return 0;
}

int pgarray_end(struct pgarray *a)
{
	int r = pgarray_reserve(a, a->len + 2);

	if (r < 0)
		return r;
	a->buf[a->len] = '}';
	a->buf[a->len + 1] = '\0';
	return 0;
}

void pgarray_free(struct pgarray *a)
{
	free(a->buf);
	*a = (struct pgarray){ 0 };
}
