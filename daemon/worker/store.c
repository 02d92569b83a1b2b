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

/* What PostgreSQL held before the statement (its snapshot), for a failed
 * fence's log line and the caller's seek. */
#define STORE_STORED_SQL(G, T, P)                                                             \
	"(SELECT next_offset FROM consumer_offsets"                                           \
	"  WHERE group_id = $" G " AND topic = $" T " AND partition = $" P "::int)"

/* The apply statement's parameters, by name. */
enum store_apply_param {
	SA_TENANT,
	SA_RECEIVED_AT,
	SA_REQUEST_ID,
	SA_CODES, /* the six unnest arrays follow, in store_build_arrays' order */
	SA_FIRST_NAMES,
	SA_LAST_NAMES,
	SA_GENDERS,
	SA_BIRTHDATES,
	SA_EMAILS,
	SA_COUNT,
	SA_TOPIC,
	SA_PARTITION,
	SA_OFFSET,
	SA_GROUP,
	SA_EXPECTED,
	SA_NPARAMS
};

/* One statement, so one transaction, one round trip: the fence, the batch
 * record, the consumer offset and the upsert commit together or not at
 * all. A replayed or older batch updates no row (the WHERE on received_at,
 * request_id). Answers (fence passed 0/1, rows written, stored offset). */
static const char store_apply_sql[] =
	"WITH " STORE_FENCE_CTE("14", "11", "12", "13", "15") ", batch AS ("
	"  INSERT INTO patient_batches"
	"    (request_id, tenant, received_at, patients, topic, partition, kafka_offset)"
	"  SELECT $3::uuid, $1, $2::timestamptz, $10::int, $11, $12::int, $13::bigint"
	"  WHERE EXISTS (SELECT 1 FROM fence)"
	"  ON CONFLICT (request_id) DO NOTHING"
	"), up AS ("
	"  INSERT INTO patients AS p"
	"    (tenant, code, first_name, last_name, gender, birthdate, email, received_at, request_id)"
	"  SELECT $1, u.code, u.first_name, u.last_name, u.gender, u.birthdate, u.email,"
	"         $2::timestamptz, $3::uuid"
	"  FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::date[], $9::text[])"
	"       AS u(code, first_name, last_name, gender, birthdate, email)"
	"  WHERE EXISTS (SELECT 1 FROM fence)"
	"  ON CONFLICT (tenant, code) DO UPDATE SET"
	"    first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name,"
	"    gender = EXCLUDED.gender, birthdate = EXCLUDED.birthdate, email = EXCLUDED.email,"
	"    received_at = EXCLUDED.received_at, request_id = EXCLUDED.request_id,"
	"    updated_at = now()"
	"  WHERE (p.received_at, p.request_id) < (EXCLUDED.received_at, EXCLUDED.request_id)"
	"  RETURNING 1"
	") SELECT (SELECT count(*) FROM fence), (SELECT count(*) FROM up), "
	STORE_STORED_SQL("14", "11", "12");

/* $1 group, $2 topic, $3 partition, $4 offset, $5 expected. */
static const char store_skip_sql[] =
	"WITH " STORE_FENCE_CTE("1", "2", "3", "4", "5")
	" SELECT (SELECT count(*) FROM fence), 0, " STORE_STORED_SQL("1", "2", "3");

/* SQLSTATEs, most specific first: how a failure is handled and whether the
 * connection is kept for the retry. Everything not listed is transient on
 * the same connection: a missing table or a revoked grant is an operator's
 * problem, and retrying is the only choice that never loses a batch. */
static const struct store_rule {
	const char *prefix;
	enum store_failure failure;
	bool reconnect;
} store_rules[] = {
	{ "22", STORE_PERMANENT, false }, /* data exception: the batch is poison */
	{ "23", STORE_PERMANENT, false }, /* integrity constraint: poison too */
	{ "08", STORE_TRANSIENT, true },  /* connection exception */
	/* read_only_sql_transaction: a standby, or a primary demoted by a
	 * switchover; target_session_attrs=read-write finds the new one. */
	{ "25006", STORE_TRANSIENT, true },
	{ "57P01", STORE_TRANSIENT, true }, /* admin_shutdown (fast stop, failover) */
	{ "57P02", STORE_TRANSIENT, true }, /* crash_shutdown */
	{ "57P03", STORE_TRANSIENT, true }, /* cannot_connect_now (starting, promoting) */
	{ "57P04", STORE_TRANSIENT, true }, /* database_dropped */
	{ "40001", STORE_TRANSIENT, false }, /* serialization_failure */
	{ "40P01", STORE_TRANSIENT, false }, /* deadlock_detected */
	{ "53", STORE_TRANSIENT, false },    /* insufficient resources */
	{ "XX000", STORE_TRANSIENT, true },  /* internal error: a fresh backend may not have it */
};

static const struct store_rule *store_rule(const char *sqlstate)
{
	if (!sqlstate || strlen(sqlstate) != 5)
		return NULL;
	for (size_t i = 0; i < sizeof(store_rules) / sizeof(store_rules[0]); i++)
		if (strncmp(sqlstate, store_rules[i].prefix, strlen(store_rules[i].prefix)) == 0)
			return &store_rules[i];
	return NULL;
}

enum store_failure store_classify(const char *sqlstate)
{
	const struct store_rule *r = store_rule(sqlstate);

	return r ? r->failure : STORE_TRANSIENT; /* no answer: the connection is gone */
}

bool store_needs_reconnect(const char *sqlstate)
{
	const struct store_rule *r = store_rule(sqlstate);

	if (!sqlstate || strlen(sqlstate) != 5)
		return true; /* no answer at all */
	return r && r->reconnect;
}

void store_error_set(struct store *s, struct store_error *err, const PGresult *res)
{
	PGconn *conn = s->conn;
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	size_t n;

	if (!msg)
		msg = conn ? PQerrorMessage(conn) : "no connection";
	err->failure = store_classify(state);
	err->reconnect = store_needs_reconnect(state) || !conn || PQstatus(conn) != CONNECTION_OK;
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
	if (err->reconnect)
		s->broken = true;
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
	for (size_t i = 0; i < STORE_NARRAYS; i++)
		pgarray_free(&s->arrays[i]);
	free(s->conninfo);
	memset(s, 0, sizeof(*s));
}

int store_connect(struct store *s, struct store_error *err)
{
	/* The operator's conninfo comes last so it overrides our defaults.
	 * Offsets are only ever read from and written to a primary: with a
	 * multi-host conninfo, a standby (or a demoted primary) is skipped,
	 * unless PGTARGETSESSIONATTRS or the conninfo say otherwise. */
	const char *keys[] = { "application_name", "connect_timeout", "keepalives_idle",
			       "keepalives_interval", "keepalives_count", "target_session_attrs",
			       "dbname", NULL };
	const char *values[] = { "patients-worker", "5", "10", "5", "3", "read-write",
				 s->conninfo, NULL };

	if (getenv("PGTARGETSESSIONATTRS")) {
		keys[5] = "dbname"; /* the variable decides: drop our default */
		values[5] = s->conninfo;
		keys[6] = NULL;
		values[6] = NULL;
	}
	if (s->conn && !s->broken && PQstatus(s->conn) == CONNECTION_OK)
		return 0;
	if (s->conn)
		PQfinish(s->conn);
	s->conn = NULL;
	s->broken = false;
	s->prepared = false;
	s->conn = PQconnectdbParams(keys, values, 1);
	if (!s->conn || PQstatus(s->conn) != CONNECTION_OK) {
		store_error_set(s, err, NULL);
		err->failure = STORE_TRANSIENT;
		if (s->conn)
			PQfinish(s->conn);
		s->conn = NULL;
		return -EIO;
	}
	return 0;
}

int store_result_check(struct store *s, const PGresult *res, ExecStatusType want,
		       struct store_error *err)
{
	if (PQresultStatus(res) == want)
		return 0;
	store_error_set(s, err, res);
	return -EIO;
}

int store_exec_rows(struct store *s, const char *sql, int nparams, const char *const *params,
		    long long *rows, struct store_error *err)
{
	PGresult *res = PQexecParams(s->conn, sql, nparams, NULL, params, NULL, NULL, 0);
	int r = store_result_check(s, res, PGRES_COMMAND_OK, err);

	*rows = r == 0 ? strtoll(PQcmdTuples(res), NULL, 10) : 0;
	PQclear(res);
	return r;
}

/* Runs sql (no parameters); 0 when its status is the expected one. */
static int store_exec(struct store *s, const char *sql, ExecStatusType want,
		      struct store_error *err)
{
	PGresult *res = PQexec(s->conn, sql);
	int r = store_result_check(s, res, want, err);

	PQclear(res);
	return r;
}

static int store_schema_version(struct store *s, int *version, struct store_error *err)
{
	PGresult *res = PQexec(s->conn, "SELECT to_regclass('schema_migrations') IS NOT NULL");
	int r = store_result_check(s, res, PGRES_TUPLES_OK, err);

	if (r < 0) {
		PQclear(res);
		return r;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
		PQclear(res);
		*version = 0;
		return 0;
	}
	PQclear(res);
	res = PQexec(s->conn, "SELECT coalesce(max(version), 0) FROM schema_migrations");
	r = store_result_check(s, res, PGRES_TUPLES_OK, err);
	if (r == 0)
		*version = atoi(PQgetvalue(res, 0, 0));
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
	r = store_result_check(s, res, PGRES_COMMAND_OK, err);
	PQclear(res);
	if (r < 0)
		goto rollback;
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

/* Connects unless connected, and prepares the apply and skip statements
 * unless this connection has them. Returns 0 or -EIO with err set. */
int store_prepare(struct store *s, struct store_error *err)
{
	PGresult *res;
	int r = store_connect(s, err);

	if (r < 0 || s->prepared)
		return r;
	res = PQprepare(s->conn, STORE_APPLY_STMT, store_apply_sql, SA_NPARAMS, NULL);
	r = store_result_check(s, res, PGRES_COMMAND_OK, err);
	PQclear(res);
	if (r < 0)
		return r;
	res = PQprepare(s->conn, STORE_SKIP_STMT, store_skip_sql, 5, NULL);
	r = store_result_check(s, res, PGRES_COMMAND_OK, err);
	PQclear(res);
	s->prepared = r == 0;
	return r;
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
	if (store_result_check(s, res, PGRES_TUPLES_OK, err) < 0) {
		PQclear(res);
		return -EIO;
	}
	r = PQntuples(res) == 1;
	if (r)
		*next_offset = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return r;
}

/* The batch's columns as six array literals, in SA_CODES' order. */
static int store_build_arrays(struct store *s, const struct patient_batch *b)
{
	struct pgarray *a = s->arrays;
	int r = 0;

	for (size_t i = 0; i < STORE_NARRAYS && r == 0; i++)
		r = pgarray_begin(&a[i]);
	for (size_t k = 0; k < b->count && r == 0; k++) {
		const struct patient *p = &b->patients[k];
		const char *gender = patient_gender_name(p->gender);

		r = pgarray_add(&a[0], p->code, p->code_len);
		if (r == 0)
			r = pgarray_add(&a[1], p->first_name, p->first_name_len);
		if (r == 0)
			r = pgarray_add(&a[2], p->last_name, p->last_name_len);
		if (r == 0)
			r = pgarray_add(&a[3], gender, strlen(gender));
		if (r == 0)
			r = pgarray_add(&a[4], p->birthdate, strlen(p->birthdate));
		if (r == 0)
			r = pgarray_add(&a[5], p->email, p->email_len);
	}
	for (size_t i = 0; i < STORE_NARRAYS && r == 0; i++)
		r = pgarray_end(&a[i]);
	return r;
}

/* The position's numbers as text parameters. */
struct store_position_text {
	char partition[16], offset[24], expected[24];
};

static void store_position_format(const struct store_position *pos, struct store_position_text *t)
{
	snprintf(t->partition, sizeof(t->partition), "%" PRId32, pos->partition);
	snprintf(t->offset, sizeof(t->offset), "%" PRId64, pos->offset);
	snprintf(t->expected, sizeof(t->expected), "%" PRId64, pos->expected);
}

/* The expectation as a parameter: NULL when no row is expected. */
static const char *store_expected_param(const struct store_position *pos,
					const struct store_position_text *t)
{
	return pos->expected == STORE_NO_OFFSET ? NULL : t->expected;
}

int store_apply_send(struct store *s, const struct patient_batch *batch,
		     const struct envelope_meta *meta, const struct store_position *pos,
		     struct store_error *err)
{
	struct store_position_text t;
	char count[16];
	const char *params[SA_NPARAMS];
	int r;

	r = store_prepare(s, err);
	if (r < 0)
		return r;
	if (store_build_arrays(s, batch) < 0) {
		err->failure = STORE_TRANSIENT;
		err->reconnect = false;
		snprintf(err->sqlstate, sizeof(err->sqlstate), "%s", "");
		snprintf(err->message, sizeof(err->message), "out of memory");
		return -EIO;
	}
	snprintf(count, sizeof(count), "%zu", batch->count);
	store_position_format(pos, &t);
	params[SA_TENANT] = meta->tenant;
	params[SA_RECEIVED_AT] = meta->received_at;
	params[SA_REQUEST_ID] = meta->request_id;
	for (size_t i = 0; i < STORE_NARRAYS; i++)
		params[SA_CODES + i] = s->arrays[i].buf;
	params[SA_COUNT] = count;
	params[SA_TOPIC] = pos->topic;
	params[SA_PARTITION] = t.partition;
	params[SA_OFFSET] = t.offset;
	params[SA_GROUP] = pos->group;
	params[SA_EXPECTED] = store_expected_param(pos, &t);
	/* A blocking connection: the whole statement is on its way (the
	 * arrays may be rebuilt) when this returns. */
	if (!PQsendQueryPrepared(s->conn, STORE_APPLY_STMT, SA_NPARAMS, params, NULL, NULL, 0)) {
		store_error_set(s, err, NULL);
		err->failure = STORE_TRANSIENT;
		return -EIO;
	}
	return 0;
}

/* Reads a fenced statement's answer (fence passed, rows written, stored
 * offset): 0, -ESTALE or -EIO as store_apply_batch says. Clears res. */
static int store_fenced_result(struct store *s, PGresult *res, long *written, int64_t *stored,
			       struct store_error *err)
{
	int r = 0;

	*written = 0;
	*stored = STORE_NO_OFFSET;
	r = store_result_check(s, res, PGRES_TUPLES_OK, err);
	if (r < 0)
		goto out;
	if (PQntuples(res) != 1 || PQnfields(res) != 3) {
		store_error_set(s, err, res); /* not the statement we prepared */
		r = -EIO;
		goto out;
	}
	if (!PQgetisnull(res, 0, 2))
		*stored = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
	if (strcmp(PQgetvalue(res, 0, 0), "1") != 0) {
		r = -ESTALE;
		goto out;
	}
	*written = strtol(PQgetvalue(res, 0, 1), NULL, 10);
out:
	PQclear(res);
	return r;
}

int store_apply_finish(struct store *s, long *written, int64_t *stored, struct store_error *err)
{
	PGresult *res = PQgetResult(s->conn), *more;

	/* The connection is free for the next statement only once drained. */
	while ((more = PQgetResult(s->conn)))
		PQclear(more);
	return store_fenced_result(s, res, written, stored, err);
}

int store_apply_batch(struct store *s, const struct patient_batch *batch,
		      const struct envelope_meta *meta, const struct store_position *pos,
		      long *written, int64_t *stored, struct store_error *err)
{
	int r = store_apply_send(s, batch, meta, pos, err);

	*written = 0;
	*stored = STORE_NO_OFFSET;
	return r < 0 ? r : store_apply_finish(s, written, stored, err);
}

int store_skip_offset(struct store *s, const struct store_position *pos, int64_t *stored,
		      struct store_error *err)
{
	struct store_position_text t;
	const char *params[5];
	long written;
	int r;

	r = store_prepare(s, err);
	if (r < 0)
		return r;
	store_position_format(pos, &t);
	params[0] = pos->group;
	params[1] = pos->topic;
	params[2] = t.partition;
	params[3] = t.offset;
	params[4] = store_expected_param(pos, &t);
	return store_fenced_result(s, PQexecPrepared(s->conn, STORE_SKIP_STMT, 5, params, NULL,
						     NULL, 0),
				   &written, stored, err);
}
