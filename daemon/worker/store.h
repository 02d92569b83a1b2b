/* store: everything the worker asks of PostgreSQL: the schema, the offsets
 * it keeps there, and applying one batch as one transaction. */
#ifndef PATIENTS_STORE_H
#define PATIENTS_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "pgarray.h"

struct patient_batch;
struct envelope_meta;

/* How a failed statement should be handled (DESIGN.md s.4). */
enum store_failure {
	STORE_OK = 0,
	STORE_TRANSIENT, /* connection lost, 08, 25006, 40001, 40P01, 53, 57P0x, unknown: retry */
	STORE_PERMANENT, /* 22 (data exception), 23 (integrity): the batch is poison */
};

struct store_error {
	enum store_failure failure;
	bool reconnect; /* the connection is no use for a retry (gone, read-only, shut down) */
	char sqlstate[6];
	char message[256]; /* PostgreSQL's primary message, never row data */
};

/* A consumer_offsets.next_offset that is not there: the group never wrote
 * one for the partition (or the database lost it). */
#define STORE_NO_OFFSET (-1)

/* The batch's columns sent as text[] parameters: code, first_name,
 * last_name, gender, birthdate, email. */
#define STORE_NARRAYS 6

/* Where a batch sits, and the fence its write must pass: PostgreSQL's
 * next_offset for (group, topic, partition) must still be expected, the
 * value this worker last wrote or loaded (STORE_NO_OFFSET: no row). A
 * database that went back in time (failover to a standby that lost the
 * tail, a restore) or another member that took the partition fails it. */
struct store_position {
	const char *group;
	const char *topic;
	int32_t partition;
	int64_t offset;	  /* the message's; next_offset becomes offset + 1 */
	int64_t expected; /* next_offset PostgreSQL must hold, or STORE_NO_OFFSET */
};

struct store {
	PGconn *conn;
	char *conninfo;
	bool prepared; /* statements prepared on this connection */
	bool broken;   /* the last failure asked for a new connection */
	/* Reused buffers for the array parameters, so a batch costs no
	 * per-row allocation. */
	struct pgarray arrays[STORE_NARRAYS];
};

/* The fence (DESIGN.md s.4), the first part of every statement that moves
 * an offset: next_offset moves from what this worker expects ($E: what it
 * last wrote or loaded; NULL for no row) to $O + 1, or not at all. "fence"
 * has a row only when it moved; everything else the statement writes is
 * conditioned on it. The UPDATE's WHERE is re-checked on the row's newest
 * version when another transaction changed it meanwhile, so of two members
 * writing the same partition with the same expectation, one wins. An
 * offset never moves backwards: $O >= $E (the caller's check). G, T, P,
 * O, E are the statement's parameter numbers, as strings; the benchmark's
 * loader uses it too, so that each of its methods pays what the worker
 * pays. */
#define STORE_FENCE_CTE(G, T, P, O, E)                                                        \
	"off_new AS ("                                                                        \
	"  INSERT INTO consumer_offsets (group_id, topic, partition, next_offset)"            \
	"  SELECT $" G ", $" T ", $" P "::int, $" O "::bigint + 1 WHERE $" E "::bigint IS NULL" \
	"  ON CONFLICT (group_id, topic, partition) DO NOTHING RETURNING 1"                   \
	"), off_upd AS ("                                                                     \
	"  UPDATE consumer_offsets SET next_offset = $" O "::bigint + 1, updated_at = now()"  \
	"  WHERE group_id = $" G " AND topic = $" T " AND partition = $" P "::int"           \
	"    AND next_offset = $" E "::bigint RETURNING 1"                                    \
	"), fence AS (SELECT 1 FROM off_new UNION ALL SELECT 1 FROM off_upd)"

/* Initialises s for conninfo (libpq syntax; "" means PG* variables). Does not
 * connect. Returns 0 or -ENOMEM. */
int store_init(struct store *s, const char *conninfo);

/* Closes the connection and frees what s owns. */
void store_close(struct store *s);

/* Connects unless connected and healthy. Returns 0, or -EIO with err set. */
int store_connect(struct store *s, struct store_error *err);

/* store_connect, then prepares the apply and skip statements (once per
 * connection): an applier calls it at start, so that its first batch does
 * not wait for them. The apply calls it again anyway. Returns 0 or -EIO
 * with err set. */
int store_prepare(struct store *s, struct store_error *err);

/* Applies pending migrations under an advisory lock (so concurrent --migrate
 * runs serialise). *applied receives how many ran. Returns 0 or -EIO. */
int store_migrate(struct store *s, int *applied, struct store_error *err);

/* Returns 0 when the schema is at the newest version this binary knows,
 * -ENOENT (with a message saying to run --migrate) when it is older or
 * absent, -EPROTO when it is newer, -EIO on a database error. */
int store_check_schema(struct store *s, struct store_error *err);

/* Reads the next offset recorded for (group, topic, partition).
 * Returns 1 with *next_offset set, 0 when none is recorded, -EIO on error. */
int store_load_offset(struct store *s, const char *group, const char *topic, int32_t partition,
		      int64_t *next_offset, struct store_error *err);

/* In ONE transaction, fenced on pos->expected: upserts every patient of
 * batch for meta->tenant (older data never overwrites newer), records the
 * batch in patient_batches and sets next_offset = pos->offset + 1.
 * Returns 0 with *written = rows inserted or updated; -ESTALE when the
 * fence failed (nothing written; *stored = the next_offset PostgreSQL
 * holds, or STORE_NO_OFFSET); or -EIO with err saying whether the failure
 * is transient or permanent. */
int store_apply_batch(struct store *s, const struct patient_batch *batch,
		      const struct envelope_meta *meta, const struct store_position *pos,
		      long *written, int64_t *stored, struct store_error *err);

/* store_apply_batch in two halves, so that the caller can work while
 * PostgreSQL does: send returns once the statement is sent (0, or -EIO);
 * finish waits for its result, as store_apply_batch returns it. Call
 * finish exactly once after a successful send. */
int store_apply_send(struct store *s, const struct patient_batch *batch,
		     const struct envelope_meta *meta, const struct store_position *pos,
		     struct store_error *err);
int store_apply_finish(struct store *s, long *written, int64_t *stored, struct store_error *err);

/* Moves the partition past a poison message at pos->offset (after it went
 * to the DLQ), fenced like an apply. Returns 0, -ESTALE with *stored, or
 * -EIO. */
int store_skip_offset(struct store *s, const struct store_position *pos, int64_t *stored,
		      struct store_error *err);

/* Fills err from a failed result (or, with res NULL, from the connection's
 * last error), classified, with row data cut from data exceptions, and
 * marks s's connection for a new one when the failure asks for it: for
 * every statement run on a store's connection, here or in the modules
 * that run statements of their own (grants, prune). */
void store_error_set(struct store *s, struct store_error *err, const PGresult *res);

/* 0 when res (NULL: none) has the status wanted; otherwise -EIO with err
 * filled by store_error_set. res stays the caller's to clear. */
int store_result_check(struct store *s, const PGresult *res, ExecStatusType want,
		       struct store_error *err);

/* Runs one parameterised command on the connection (autocommit: its own
 * transaction) and reads how many rows it changed into *rows. Returns 0,
 * or -EIO with err set. */
int store_exec_rows(struct store *s, const char *sql, int nparams, const char *const *params,
		    long long *rows, struct store_error *err);

/* Classifies a SQLSTATE (NULL: the connection is gone). */
enum store_failure store_classify(const char *sqlstate);

/* Whether a failure with this SQLSTATE (NULL: no answer) leaves the
 * connection unfit for the retry: gone, shut down, or a read-only node
 * after a switchover (25006), where only reconnecting finds the primary. */
bool store_needs_reconnect(const char *sqlstate);

#endif
