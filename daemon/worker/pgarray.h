/* pgarray: a PostgreSQL array literal ("{"a","b\"c",NULL}") built in a
 * buffer that is kept and reused from one batch to the next, so that
 * sending a batch's columns as text[] parameters costs no allocation per
 * row. */
#ifndef PATIENTS_PGARRAY_H
#define PATIENTS_PGARRAY_H

#include <stddef.h>

struct pgarray {
	char *buf;  /* malloc'd, owned; NUL-terminated after pgarray_end() */
	size_t len; /* bytes written so far */
	size_t cap;
};

/* Starts an empty literal, keeping the buffer. Returns 0 or -ENOMEM. */
int pgarray_begin(struct pgarray *a);

/* Appends one element: NULL for v == NULL, else v's vlen bytes
 * double-quoted with '"' and '\' escaped (any other byte stands as it is:
 * PostgreSQL reads a quoted element to its closing quote). Returns 0 or
 * -ENOMEM. */
int pgarray_add(struct pgarray *a, const char *v, size_t vlen);

/* Closes the literal; a->buf is then the parameter. Returns 0 or -ENOMEM. */
int pgarray_end(struct pgarray *a);

/* Frees the buffer; the struct may be begun again. */
void pgarray_free(struct pgarray *a);

#endif
