#include "config.h"

#include "grants.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* What applying needs (store.c's statements), the same list migration 002
 * grants to patients_worker. The schema is found through the catalogs, which
 * any role may read: without USAGE on it, the worker's search path would
 * skip it and the tables would look absent, which the schema check would
 * take for an unmigrated database. Nothing here carries data: no
 * parameters. */
static const char grants_sql[] =
	"WITH ns AS ("
	"  SELECT c.relnamespace AS oid FROM pg_catalog.pg_class c"
	"  WHERE c.relname = 'schema_migrations' AND c.relkind IN ('r', 'p')"
	"  ORDER BY pg_catalog.has_schema_privilege(c.relnamespace, 'USAGE') DESC LIMIT 1"
	"), need(tbl, col, priv, ord) AS (VALUES"
	"  ('patients', NULL, 'SELECT', 1), ('patients', NULL, 'INSERT', 2),"
	"  ('patients', NULL, 'UPDATE', 3),"
	"  ('patient_batches', NULL, 'INSERT', 4),"
	/* ON CONFLICT (request_id) DO NOTHING reads the conflict target */
	"  ('patient_batches', 'request_id', 'SELECT', 5),"
	"  ('consumer_offsets', NULL, 'SELECT', 6), ('consumer_offsets', NULL, 'INSERT', 7),"
	"  ('consumer_offsets', NULL, 'UPDATE', 8),"
	"  ('schema_migrations', NULL, 'SELECT', 9)"
	") "
	"SELECT 'schema', n.nspname::text, 'USAGE', 0 FROM ns"
	"  JOIN pg_catalog.pg_namespace n ON n.oid = ns.oid"
	"  WHERE NOT pg_catalog.has_schema_privilege(ns.oid, 'USAGE') "
	"UNION ALL "
	"SELECT CASE WHEN need.col IS NULL THEN 'table' ELSE 'column' END,"
	"       need.tbl || coalesce('.' || need.col, ''), need.priv, need.ord"
	"  FROM ns CROSS JOIN need"
	"  LEFT JOIN pg_catalog.pg_class c ON c.relnamespace = ns.oid AND c.relname = need.tbl"
	"  WHERE c.oid IS NULL OR NOT CASE WHEN need.col IS NULL"
	"    THEN pg_catalog.has_table_privilege(c.oid, need.priv)"
	"    ELSE pg_catalog.has_column_privilege(c.oid, need.col, need.priv) END "
	"ORDER BY 4";

int grants_check(struct store *s, struct grants_missing *missing, size_t cap,
		 struct store_error *err)
{
	PGresult *res = NULL;
	int r, rows;

	r = store_connect(s, err);
	if (r < 0)
		return r;
	res = PQexec(s->conn, grants_sql);
	r = store_result_check(s, res, PGRES_TUPLES_OK, err);
	if (r < 0)
		goto out;
	rows = PQntuples(res);
	for (r = 0; r < rows && (size_t)r < cap; r++) {
		snprintf(missing[r].kind, sizeof(missing[r].kind), "%s", PQgetvalue(res, r, 0));
		snprintf(missing[r].name, sizeof(missing[r].name), "%s", PQgetvalue(res, r, 1));
		snprintf(missing[r].privilege, sizeof(missing[r].privilege), "%s",
			 PQgetvalue(res, r, 2));
	}
out:
	PQclear(res);
	return r;
}

const char *grants_describe(const struct grants_missing *missing, size_t n, char *buf,
			    size_t size)
{
	size_t o = 0;

	if (size == 0)
		return buf;
	buf[0] = '\0';
	for (size_t i = 0; i < n && o < size; i++) {
		int w = snprintf(buf + o, size - o, "%s%s %s %s", i ? ", " : "", missing[i].kind,
				 missing[i].name, missing[i].privilege);

		if (w < 0)
			break;
		o += (size_t)w; /* past size: truncated, and the loop ends */
	}
	return buf;
}
