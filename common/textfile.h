/* textfile: reads a small configuration file (keys, a PEM) whole. */
#ifndef PATIENTS_TEXTFILE_H
#define PATIENTS_TEXTFILE_H

#include <stddef.h>

/* Reads the regular file at path, of at most max bytes, into a malloc'd
 * NUL-terminated string (*text, *len bytes before the NUL; caller frees).
 * Returns 0, or -errno (-EINVAL: not a regular file or over max) with a
 * message naming the path in err. */
int textfile_read(const char *path, size_t max, char **text, size_t *len, char *err,
		  size_t errsize);

#endif
