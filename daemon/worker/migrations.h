/* migrations: the schema migrations of sql/, embedded at build time. */
#ifndef PATIENTS_MIGRATIONS_H
#define PATIENTS_MIGRATIONS_H

#include <stddef.h>

struct migration {
	int version;	  /* NNN of sql/NNN_name.sql */
	const char *name; /* NNN_name */
	const char *sql;
};

/* In ascending version order. */
extern const struct migration migrations[];
extern const size_t migrations_count;

#endif
