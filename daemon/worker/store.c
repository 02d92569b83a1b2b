#include "config.h"

#include "store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "log.h"
#include "migrations.h"
#include "patient.h"

/* Any constant shared by every worker of every group: --migrate runs queue
 * behind it instead of racing each other's DDL. */
#define STORE_MIGRATE_LOCK 0x70617469656e7473LL /* "patients" */

#define STORE_APPLY_STMT "patients_apply_batch"
#define STORE_SKIP_STMT "patients_skip_offset"

/* One statement, so one transaction, one round trip: the batch record, the
 * consumer offset and the upsert commit together or not at all. A replayed
 * or older batch updates no row (the WHERE on received_at, request_id), and
 * an offset never moves backwards. */
static const char store_apply_sql[] =
	"WITH batch AS ("
	"  INSERT INTO patient_batches"
	"    (request_id, tenant, received_at, patients, topic, partition, kafka_offset)"
	"  VALUES ($3::uuid, $1, $2::timestamptz, $10::int, $11, $12::int, $13::bigint)"
	"  ON CONFLICT (request_id) DO NOTHING"
	"), off AS ("
	"  INSERT INTO consumer_offsets AS o (group_id, topic, partition, next_offset)"
	"  VALUES ($14, $11, $12::int, $13::bigint + 1)"
	"  ON CONFLICT (group_id, topic, partition) DO UPDATE"
	"    SET next_offset = EXCLUDED.next_offset, updated_at = now()"
	"    WHERE o.next_offset < EXCLUDED.next_offset"
	"), up AS ("
	"  INSERT INTO patients AS p"
	"    (tenant, code, first_name, last_name, gender, birthdate, email, received_at, request_id)"
	"  SELECT $1, u.code, u.first_name, u.last_name, u.gender, u.birthdate, u.email,"
	"         $2::timestamptz, $3::uuid"
	"  FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::date[], $9::text[])"
	"       AS u(code, first_name, last_name, gender, birthdate, email)"
	"  ON CONFLICT (tenant, code) DO UPDATE SET"
	"    first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name,"
	"    gender = EXCLUDED.gender, birthdate = EXCLUDED.birthdate, email = EXCLUDED.email,"
	"    received_at = EXCLUDED.received_at, request_id = EXCLUDED.request_id,"
	"    updated_at = now()"
	"  WHERE (p.received_at, p.request_id) < (EXCLUDED.received_at, EXCLUDED.request_id)"
	"  RETURNING 1"
	") SELECT count(*) FROM up";

static const char store_skip_sql[] =
	"INSERT INTO consumer_offsets AS o (group_id, topic, partition, next_offset)"
	" VALUES ($1, $2, $3::int, $4::bigint + 1)"
	" ON CONFLICT (group_id, topic, partition) DO UPDATE"
	"   SET next_offset = EXCLUDED.next_offset, updated_at = now()"
	"   WHERE o.next_offset < EXCLUDED.next_offset";

enum store_failure store_classify(const char *sqlstate)
{
	if (!sqlstate || strlen(sqlstate) != 5)
		return STORE_TRANSIENT; /* no answer: the connection is gone */
	if (strncmp(sqlstate, "22", 2) == 0 || strncmp(sqlstate, "23", 2) == 0)
		return STORE_PERMANENT;
	/* 08, 40001, 40P01, 53, 57P0x are the documented transient ones; anything
	 * else (a missing table, a revoked grant) is an operator's problem, and
	 * retrying is the only choice that never loses a batch. */
	return STORE_TRANSIENT;
}

static void store_set_error(struct store_error *err, const PGresult *res, PGconn *conn)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	size_t n;

	if (!msg)
		msg = conn ? PQerrorMessage(conn) : "no connection";
	err->failure = store_classify(state);
	snprintf(err->sqlstate, sizeof(err->sqlstate), "%s", state ? state : "");
	snprintf(err->message, sizeof(err->message), "%s", msg);
	/* Data exceptions quote the offending value after a colon ("invalid
	 * input syntax for type date: ..."): a patient field never leaves here. */
	if (state && strncmp(state, "22", 2) == 0) {
		char *colon = strchr(err->message, ':');
		if (colon)
			*colon = '\0';
	}
	n = strlen(err->message);
	while (n > 0 && (err->message[n - 1] == '\n' || err->message[n - 1] == ' '))
		err->message[--n] = '\0';
}

void store_error_set(struct store_error *err, const PGresult *res, PGconn *conn)
{
	store_set_error(err, res, conn);
}

int store_init(struct store *s, const char *conninfo)
{
	memset(s, 0, sizeof(*s));
	s->conninfo = strdup(conninfo ? conninfo : "");
	return s->conninfo ? 0 : -ENOMEM;
}

void store_close(struct store *s)
{
	if (s->conn)
		PQfinish(s->conn);
	s->conn = NULL;
	for (size_t i = 0; i < 6; i++)
		free(s->arrays[i]);
	free(s->conninfo);
	memset(s, 0, sizeof(*s));
}

int store_connect(struct store *s, struct store_error *err)
{
	/* The operator's conninfo comes last so it overrides our defaults. */
	static const char *const keys[] = { "application_name", "connect_timeout",
					    "keepalives_idle", "keepalives_interval",
					    "keepalives_count", "dbname", NULL };
	const char *values[] = { "patients-worker", "5", "10", "5", "3", s->conninfo, NULL };

	if (s->conn && PQstatus(s->conn) == CONNECTION_OK)
		return 0;
	if (s->conn)
		PQfinish(s->conn);
	s->prepared = false;
	s->conn = PQconnectdbParams(keys, values, 1);
	if (!s->conn || PQstatus(s->conn) != CONNECTION_OK) {
		store_set_error(err, NULL, s->conn);
		err->failure = STORE_TRANSIENT;
		if (s->conn)
			PQfinish(s->conn);
		s->conn = NULL;
		return -EIO;
	}
	return 0;
}

/* Runs sql (no parameters); 0 when its status is the expected one. */
static int store_exec(struct store *s, const char *sql, ExecStatusType want,
		      struct store_error *err)
{
	PGresult *res = PQexec(s->conn, sql);
	int r = 0;

	if (PQresultStatus(res) != want) {
		store_set_error(err, res, s->conn);
		r = -EIO;
	}
	PQclear(res);
	return r;
}

static int store_schema_version(struct store *s, int *version, struct store_error *err)
{
	PGresult *res = PQexec(s->conn, "SELECT to_regclass('schema_migrations') IS NOT NULL");
	int r = 0;

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		store_set_error(err, res, s->conn);
		PQclear(res);
		return -EIO;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
		PQclear(res);
		*version = 0;
		return 0;
	}
	PQclear(res);
	res = PQexec(s->conn, "SELECT coalesce(max(version), 0) FROM schema_migrations");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		store_set_error(err, res, s->conn);
		r = -EIO;
	} else {
		*version = atoi(PQgetvalue(res, 0, 0));
	}
	PQclear(res);
	return r;
}

static int store_migrate_one(struct store *s, const struct migration *m, struct store_error *err)
{
	char version[16];
	const char *params[2] = { version, m->name };
	PGresult *res;
	int r;

	snprintf(version, sizeof(version), "%d", m->version);
	r = store_exec(s, "BEGIN", PGRES_COMMAND_OK, err);
	if (r < 0)
		return r;
	r = store_exec(s, m->sql, PGRES_COMMAND_OK, err);
	if (r < 0)
		goto rollback;
	res = PQexecParams(s->conn,
			   "INSERT INTO schema_migrations (version, name) VALUES ($1::int, $2)", 2,
			   NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		store_set_error(err, res, s->conn);
		PQclear(res);
		r = -EIO;
		goto rollback;
	}
	PQclear(res);
	return store_exec(s, "COMMIT", PGRES_COMMAND_OK, err);
rollback:
	PQclear(PQexec(s->conn, "ROLLBACK"));
	return r;
}

int store_migrate(struct store *s, int *applied, struct store_error *err)
{
	char lock[96];
	int version = 0, r;

	*applied = 0;
	r = store_connect(s, err);
	if (r < 0)
		return r;
	snprintf(lock, sizeof(lock), "SELECT pg_advisory_lock(%lld)", STORE_MIGRATE_LOCK);
	r = store_exec(s, lock, PGRES_TUPLES_OK, err);
	if (r < 0)
		return r;
	r = store_exec(s,
		       "CREATE TABLE IF NOT EXISTS schema_migrations ("
		       " version integer PRIMARY KEY, name text NOT NULL,"
		       " applied_at timestamptz NOT NULL DEFAULT now())",
		       PGRES_COMMAND_OK, err);
	if (r == 0)
		r = store_schema_version(s, &version, err);
	for (size_t i = 0; r == 0 && i < migrations_count; i++) {
		if (migrations[i].version <= version)
			continue;
		r = store_migrate_one(s, &migrations[i], err);
		if (r == 0) {
			(*applied)++;
			log_notice("migration_applied", "version=%d name=%s", migrations[i].version,
				   migrations[i].name);
		}
	}
	snprintf(lock, sizeof(lock), "SELECT pg_advisory_unlock(%lld)", STORE_MIGRATE_LOCK);
	PQclear(PQexec(s->conn, lock));
	return r;
}

int store_check_schema(struct store *s, struct store_error *err)
{
	int latest = migrations_count ? migrations[migrations_count - 1].version : 0;
	int version = 0, r;

	r = store_connect(s, err);
	if (r == 0)
		r = store_schema_version(s, &version, err);
	if (r < 0)
		return r;
	if (version < latest) {
		snprintf(err->message, sizeof(err->message),
			 "the database schema is at version %d, this worker needs %d: "
			 "run `patients-worker --migrate` first",
			 version, latest);
		return -ENOENT;
	}
	if (version > latest) {
		snprintf(err->message, sizeof(err->message),
			 "the database schema is at version %d, newer than this worker's %d: "
			 "upgrade the worker",
			 version, latest);
		return -EPROTO;
	}
	return 0;
}

static int store_prepare(struct store *s, struct store_error *err)
{
	PGresult *res;

	if (s->prepared)
		return 0;
	res = PQprepare(s->conn, STORE_APPLY_STMT, store_apply_sql, 14, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		goto fail;
	PQclear(res);
	res = PQprepare(s->conn, STORE_SKIP_STMT, store_skip_sql, 4, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		goto fail;
	PQclear(res);
	s->prepared = true;
	return 0;
fail:
	store_set_error(err, res, s->conn);
	PQclear(res);
	return -EIO;
}

int store_load_offset(struct store *s, const char *group, const char *topic, int32_t partition,
		      int64_t *next_offset, struct store_error *err)
{
	char part[16];
	const char *params[3] = { group, topic, part };
	PGresult *res;
	int r;

	r = store_connect(s, err);
	if (r < 0)
		return r;
	snprintf(part, sizeof(part), "%" PRId32, partition);
	res = PQexecParams(s->conn,
			   "SELECT next_offset FROM consumer_offsets"
			   " WHERE group_id = $1 AND topic = $2 AND partition = $3::int",
			   3, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		store_set_error(err, res, s->conn);
		PQclear(res);
		return -EIO;
	}
	r = PQntuples(res) == 1;
	if (r)
		*next_offset = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return r;
}

/* Grows array buffer i to hold at least need bytes. */
static int store_reserve(struct store *s, size_t i, size_t need)
{
	char *p;
	size_t cap = s->array_cap[i] ? s->array_cap[i] : 4096;

	if (need <= s->array_cap[i])
		return 0;
	while (cap < need)
		cap *= 2;
	p = realloc(s->arrays[i], cap);
	if (!p)
		return -ENOMEM;
	s->arrays[i] = p;
	s->array_cap[i] = cap;
	return 0;
}

/* Appends one element to a PostgreSQL array literal: NULL, or a
 * double-quoted string with '"' and '\' escaped. Worst case doubles the
 * length; reserve for it so the loop has no bounds checks to get wrong. */
static int store_array_add(struct store *s, size_t i, size_t *len, const char *v, size_t vlen)
{
	char *o;
	int r = store_reserve(s, i, *len + 2 * vlen + 8);

	if (r < 0)
		return r;
	o = s->arrays[i] + *len;
	if (*len > 1)
		*o++ = ',';
	if (!v) {
		memcpy(o, "NULL", 4);
		o += 4;
	} else {
		*o++ = '"';
		for (size_t k = 0; k < vlen; k++) {
			if (v[k] == '"' || v[k] == '\\')
				*o++ = '\\';
			*o++ = v[k];
		}
		*o++ = '"';
	}
	*len = (size_t)(o - s->arrays[i]);
	return 0;
}

static int store_build_arrays(struct store *s, const struct patient_batch *b)
{
	size_t len[6];
	int r = 0;

	for (size_t i = 0; i < 6; i++) {
		r = store_reserve(s, i, 3);
		if (r < 0)
			return r;
		s->arrays[i][0] = '{';
		len[i] = 1;
	}
	for (size_t k = 0; k < b->count && r == 0; k++) {
		const struct patient *p = &b->patients[k];
		const char *gender = patient_gender_name(p->gender);

		r = store_array_add(s, 0, &len[0], p->code, p->code_len);
		if (r == 0)
			r = store_array_add(s, 1, &len[1], p->first_name, p->first_name_len);
		if (r == 0)
			r = store_array_add(s, 2, &len[2], p->last_name, p->last_name_len);
		if (r == 0)
			r = store_array_add(s, 3, &len[3], gender, strlen(gender));
		if (r == 0)
			r = store_array_add(s, 4, &len[4], p->birthdate, strlen(p->birthdate));
		if (r == 0)
			r = store_array_add(s, 5, &len[5], p->email, p->email_len);
	}
	for (size_t i = 0; i < 6 && r == 0; i++) {
		r = store_reserve(s, i, len[i] + 2);
		if (r == 0) {
			s->arrays[i][len[i]] = '}';
			s->arrays[i][len[i] + 1] = '\0';
		}
	}
	return r;
}

int store_apply_send(struct store *s, const struct patient_batch *batch,
		     const struct envelope_meta *meta, const char *group, const char *topic,
		     int32_t partition, int64_t offset, struct store_error *err)
{
	char count[16], part[16], off[24];
	const char *params[14];
	int r;

	r = store_connect(s, err);
	if (r == 0)
		r = store_prepare(s, err);
	if (r < 0)
		return r;
	if (store_build_arrays(s, batch) < 0) {
		err->failure = STORE_TRANSIENT;
		snprintf(err->sqlstate, sizeof(err->sqlstate), "%s", "");
		snprintf(err->message, sizeof(err->message), "out of memory");
		return -EIO;
	}
	snprintf(count, sizeof(count), "%zu", batch->count);
	snprintf(part, sizeof(part), "%" PRId32, partition);
	snprintf(off, sizeof(off), "%" PRId64, offset);
	params[0] = meta->tenant;
	params[1] = meta->received_at;
	params[2] = meta->request_id;
	for (size_t i = 0; i < 6; i++)
		params[3 + i] = s->arrays[i];
	params[9] = count;
	params[10] = topic;
	params[11] = part;
	params[12] = off;
	params[13] = group;
	/* A blocking connection: the whole statement is on its way (the
	 * arrays may be rebuilt) when this returns. */
	if (!PQsendQueryPrepared(s->conn, STORE_APPLY_STMT, 14, params, NULL, NULL, 0)) {
		store_set_error(err, NULL, s->conn);
		err->failure = STORE_TRANSIENT;
		return -EIO;
	}
	return 0;
}

int store_apply_finish(struct store *s, long *written, struct store_error *err)
{
	PGresult *res = PQgetResult(s->conn), *more;
	int r = 0;

	*written = 0;
	/* The connection is free for the next statement only once drained. */
	while ((more = PQgetResult(s->conn)))
		PQclear(more);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		store_set_error(err, res, s->conn);
		r = -EIO;
	} else {
		*written = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	}
	PQclear(res);
	return r;
}

int store_apply_batch(struct store *s, const struct patient_batch *batch,
		      const struct envelope_meta *meta, const char *group, const char *topic,
		      int32_t partition, int64_t offset, long *written, struct store_error *err)
{
	int r = store_apply_send(s, batch, meta, group, topic, partition, offset, err);

	*written = 0;
	return r < 0 ? r : store_apply_finish(s, written, err);
}

int store_skip_offset(struct store *s, const char *group, const char *topic, int32_t partition,
		      int64_t offset, struct store_error *err)
{
	char part[16], off[24];
	const char *params[4] = { group, topic, part, off };
	PGresult *res;
	int r;

	r = store_connect(s, err);
	if (r == 0)
		r = store_prepare(s, err);
	if (r < 0)
		return r;
	snprintf(part, sizeof(part), "%" PRId32, partition);
	snprintf(off, sizeof(off), "%" PRId64, offset);
	res = PQexecPrepared(s->conn, STORE_SKIP_STMT, 4, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		store_set_error(err, res, s->conn);
		PQclear(res);
		return -EIO;
	}
	PQclear(res);
	return 0;
}
