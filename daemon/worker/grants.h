/* grants: whether the worker's PostgreSQL role may do what applying needs,
 * asked in one query, so that a missing grant is named at start-up
 * ("privilege_missing table=patients privilege=UPDATE") instead of failing
 * every batch with "permission denied". */
#ifndef PATIENTS_GRANTS_H
#define PATIENTS_GRANTS_H

#include <stddef.h>

#include "store.h"

/* One privilege the role lacks: on a table, a column, or the schema. */
struct grants_missing {
	char kind[8];	    /* "table", "column" or "schema" */
	char name[96];	    /* "patients", "patient_batches.request_id", "public" */
	char privilege[16]; /* SELECT, INSERT, UPDATE, USAGE */
};

/* Checks every privilege the worker needs on s's connection (connecting if
 * needed): USAGE on the schema holding schema_migrations; SELECT, INSERT,
 * UPDATE on patients; INSERT on patient_batches and SELECT on its
 * request_id; SELECT, INSERT, UPDATE on
 * consumer_offsets; SELECT on schema_migrations (a missing table counts as
 * missing its privileges). Fills missing[0..n-1] (at most cap) and returns
 * n, 0 when all are there or when no schema_migrations exists (the schema
 * check reports that), or -EIO with err set. */
int grants_check(struct store *s, struct grants_missing *missing, size_t cap,
		 struct store_error *err);

/* Writes "table patients UPDATE, schema public USAGE" (n entries) into buf
 * (always terminated, truncated to size). Returns buf. */
const char *grants_describe(const struct grants_missing *missing, size_t n, char *buf,
			    size_t size);

#endif
