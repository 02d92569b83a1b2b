#include "config.h"

#include "prune.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define PRUNE_MAX_SECONDS (100LL * 366 * 86400)

int prune_parse_duration(const char *text, long long *seconds)
{
	static const struct {
		char unit;
		long long seconds;
	} units[] = { { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }, { 'w', 7 * 86400 } };
	long long n = 0;
	const char *p = text;

	if (!p || *p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		n = n * 10 + (*p - '0');
		if (n > PRUNE_MAX_SECONDS)
			return -EINVAL;
	}
	/* A bare number is refused: "30" could mean seconds or days, and a
	 * wrong guess deletes a month of audit. */
	if (p[0] == '\0' || p[1] != '\0')
		return -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (units[i].unit != p[0])
			continue;
		if (n > PRUNE_MAX_SECONDS / units[i].seconds)
			return -EINVAL;
		*seconds = n * units[i].seconds;
		return 0;
	}
	return -EINVAL;
}

int prune_batches(struct store *s, long long older_than_s, volatile sig_atomic_t *stop,
		  long long *deleted, char *cutoff, size_t cutoff_size, struct store_error *err)
{
	char secs[24], chunk[16];
	const char *p1[1] = { secs };
	const char *p2[2] = { NULL, chunk };
	PGresult *res = NULL;
	long long n;
	int r;

	*deleted = 0;
	if (cutoff_size)
		cutoff[0] = '\0';
	r = store_connect(s, err);
	if (r < 0)
		return r;
	snprintf(secs, sizeof(secs), "%lld", older_than_s);
	snprintf(chunk, sizeof(chunk), "%d", PRUNE_CHUNK_ROWS);
	res = PQexecParams(s->conn, "SELECT (now() - $1::bigint * interval '1 second')::text", 1,
			   NULL, p1, NULL, NULL, 0);
	if (store_result_check(s, res, PGRES_TUPLES_OK, err) < 0)
		goto fail;
	snprintf(cutoff, cutoff_size, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	res = NULL;
	p2[0] = cutoff;
	/* One chunk per statement, so one transaction each (autocommit):
	 * the appliers' inserts never wait long, and an interrupted prune
	 * keeps what it did. The applied_at index (migration 002) makes each
	 * chunk cost its own rows, not a scan of the table. */
	do {
		if (store_exec_rows(s,
				    "DELETE FROM patient_batches WHERE request_id IN ("
				    " SELECT request_id FROM patient_batches"
				    " WHERE applied_at < $1::timestamptz LIMIT $2::int)",
				    2, p2, &n, err) < 0)
			goto fail;
		*deleted += n;
		log_debug("prune_chunk", "table=patient_batches deleted=%lld", n);
	} while (n == PRUNE_CHUNK_ROWS && !(stop && *stop));
	{
		char q[96];

		log_notice("pruned", "table=patient_batches deleted=%lld applied_before=%s", *deleted,
			   log_quote(q, sizeof(q), cutoff));
	}
	return 0;
fail:
	PQclear(res);
	return -EIO;
}

int prune_group(struct store *s, const char *group, const char *live_group, long long *deleted,
		struct store_error *err)
{
	char idle[24];
	const char *params[2] = { group, idle };
	PGresult *res = NULL;
	int r;

	*deleted = 0;
	/* The live group's offsets are where its partitions resume: without
	 * them a restart starts over from auto.offset.reset. */
	if (live_group && strcmp(group, live_group) == 0)
		return -EPERM;
	r = store_connect(s, err);
	if (r < 0)
		return r;
	snprintf(idle, sizeof(idle), "%d", PRUNE_GROUP_IDLE_S);
	/* The recent-write guard is in the DELETE itself, not a check
	 * before it: a backfill that wrote meanwhile keeps its rows. */
	if (store_exec_rows(s,
			    "DELETE FROM consumer_offsets WHERE group_id = $1 AND NOT EXISTS ("
			    " SELECT 1 FROM consumer_offsets WHERE group_id = $1"
			    " AND updated_at > now() - $2::bigint * interval '1 second')",
			    2, params, deleted, err) < 0)
		goto fail;
	if (*deleted == 0) {
		res = PQexecParams(s->conn,
				   "SELECT count(*) FROM consumer_offsets WHERE group_id = $1", 1,
				   NULL, params, NULL, NULL, 0);
		if (store_result_check(s, res, PGRES_TUPLES_OK, err) < 0)
			goto fail;
		r = strcmp(PQgetvalue(res, 0, 0), "0") == 0 ? 0 : -EBUSY;
		PQclear(res);
		return r;
	}
	{
		char q[300];

		log_notice("pruned", "table=consumer_offsets group=%s deleted=%lld",
			   log_quote(q, sizeof(q), group), *deleted);
	}
	return 0;
fail:
	PQclear(res);
	return -EIO;
}
