/* patients-worker: applies the batches of the patients topic to PostgreSQL,
 * one transaction per batch, as a member of a consumer group (DESIGN.md s.4).
 * This file: the one-shot commands (--migrate, --prune-*), the wait for a
 * usable PostgreSQL, and the order of start and stop around the consumer's
 * loop; the options are in options.c, start-up and signals in
 * common/daemon.c. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "clock.h"
#include "consumer.h"
#include "daemon.h"
#include "date.h"
#include "dlq.h"
#include "exitcode.h"
#include "grants.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "options.h"
#include "prune.h"
#include "store.h"

/* What the admin thread's /readyz reads: the running consumer, once there
 * is one. */
struct readiness {
	_Atomic(struct consumer *) consumer;
};

/* Everything the worker runs, from start to stop. */
struct worker {
	struct worker_config cfg;
	struct consumer_options copt;
	struct readiness readiness;
	struct store store;
	struct dlq dlq;
	struct consumer *consumer;
	struct metrics *metrics;
	struct admin *admin;
};

static bool ready_cb(void *arg)
{
	struct readiness *r = arg;
	struct consumer *c = atomic_load(&r->consumer);

	return c && consumer_ready(c);
}

/* A failed PostgreSQL step, on stderr, SQLSTATE first when there is one. */
static void worker_fail_store(const char *what, const struct store_error *err)
{
	daemon_fail(&worker_daemon, "%s%s%s%s", what, err->sqlstate[0] ? err->sqlstate : "",
		    err->sqlstate[0] ? " " : "", err->message);
}

/* Logs why PostgreSQL cannot be used yet: when the reason changes, and
 * again every WAIT_REMIND_MS while it stays (one line, not one a second,
 * for a wrong password or CA that only an operator fixes). */
#define WAIT_REMIND_MS (5 * 60 * 1000)

struct wait_log {
	char last[512];
	uint64_t at;
};

static bool wait_log_due(struct wait_log *w, const char *reason)
{
	uint64_t now = clock_mono_ms();

	if (w->at && strcmp(w->last, reason) == 0 && now - w->at < WAIT_REMIND_MS)
		return false;
	snprintf(w->last, sizeof(w->last), "%s", reason);
	w->at = now;
	return true;
}

/* Missing grants: logged one line per privilege when the set changes.
 * Returns whether any is missing (to wait), or -EIO. */
static int wait_grants(struct store *store, bool schema_only, struct wait_log *w,
		       struct store_error *err)
{
	struct grants_missing missing[16];
	char desc[512];
	int n = grants_check(store, missing, sizeof(missing) / sizeof(missing[0]), err);
	size_t k = 0;

	if (n < 0)
		return n;
	/* An unmigrated database has no tables to lack grants on: only
	 * USAGE on the schema matters then. */
	for (int i = 0; i < n; i++)
		if (!schema_only || strcmp(missing[i].kind, "schema") == 0)
			missing[k++] = missing[i];
	if (k == 0)
		return 0;
	grants_describe(missing, k, desc, sizeof(desc));
	if (wait_log_due(w, desc))
		for (size_t i = 0; i < k; i++)
			log_error("privilege_missing", "%s=%s privilege=%s", missing[i].kind,
				  missing[i].name, missing[i].privilege);
	notify_status("waiting for PostgreSQL grants: %s", desc);
	return 1;
}

/* Waits for PostgreSQL, a current schema and the grants the worker needs.
 * Returns 0; EXITCODE_CONFIG when the schema is not this worker's (no retry can
 * fix that); 1 when stopped. A missing grant is waited for instead: it is
 * fixed in the database, by a DBA, and the worker then starts by itself, as
 * it does once an unreachable PostgreSQL answers. */
static int wait_for_schema(struct store *store)
{
	struct wait_log w = { 0 };

	for (;;) {
		struct store_error err = { 0 };
		int r = store_check_schema(store, &err), g = 0;

		if (r == 0 || r == -ENOENT) {
			struct store_error gerr = { 0 };

			g = wait_grants(store, r == -ENOENT, &w, &gerr);
			if (g < 0) { /* the connection failed: wait for it below */
				r = g;
				err = gerr;
				g = 0;
			} else if (g == 0 && r == 0) {
				if (w.at) /* after waiting: say the wait is over */
					log_notice("postgresql_ready", "schema=current grants=ok");
				return 0;
			}
		}
		if (g == 0 && (r == -ENOENT || r == -EPROTO)) {
			char q[300];
			log_error("schema_not_current", "message=%s",
				  log_quote(q, sizeof(q), err.message));
			daemon_fail(&worker_daemon, "%s", err.message);
			return EXITCODE_CONFIG;
		}
		if (daemon_stopping())
			return 1;
		if (g == 0) {
			if (wait_log_due(&w, err.message)) {
				char q[300];
				log_warning("postgresql_unavailable", "message=%s",
					    log_quote(q, sizeof(q), err.message));
			}
			notify_status("waiting for PostgreSQL");
		}
		notify_watchdog();
		sleep(1);
	}
}

/* --prune-batches-older-than, --prune-group: run once (a timer), as the
 * migrator, and exit. Returns the exit status. */
static int run_prune(struct store *store, const struct worker_config *cfg)
{
	struct store_error err = { 0 };
	long long seconds = 0, n = 0;
	char cutoff[64];
	int r;

	if (cfg->prune_batches && prune_parse_duration(cfg->prune_batches, &seconds) < 0) {
		daemon_fail(&worker_daemon, "--prune-batches-older-than: \"%s\" is not a duration "
					    "such as 45s, 90m, 12h, 30d or 2w", cfg->prune_batches);
		return EXITCODE_USAGE;
	}
	r = store_check_schema(store, &err);
	if (r < 0) {
		worker_fail_store("", &err);
		return r == -EIO ? EXITCODE_FAILURE : EXITCODE_CONFIG;
	}
	for (size_t i = 0; i < cfg->prune_groups.count; i++) {
		const char *g = cfg->prune_groups.items[i];

		r = prune_group(store, g, cfg->group, &n, &err);
		if (r == -EPERM) {
			daemon_fail(&worker_daemon, "refusing to prune group %s: it is this worker's "
						    "--group, the live group, which resumes from those "
						    "offsets", g);
			return EXITCODE_FAILURE;
		}
		if (r == -EBUSY) {
			daemon_fail(&worker_daemon, "refusing to prune group %s: its offsets were "
						    "written in the last hour (a backfill still running?)",
				    g);
			return EXITCODE_FAILURE;
		}
		if (r < 0)
			goto fail;
		printf("pruned %lld consumer_offsets rows of group %s\n", n, g);
	}
	if (cfg->prune_batches) {
		r = prune_batches(store, seconds, daemon_stop_flag(), &n, cutoff, sizeof(cutoff), &err);
		if (r < 0)
			goto fail;
		printf("pruned %lld patient_batches rows applied before %s%s\n", n, cutoff,
		       daemon_stopping() ? " (stopped early)" : "");
	}
	return EXITCODE_OK;
fail:
	worker_fail_store("prune failed: ", &err);
	return EXITCODE_FAILURE;
}

static int run_migrate(struct store *store)
{
	struct store_error err = { 0 };
	int applied = 0;

	if (store_migrate(store, &applied, &err) < 0) {
		worker_fail_store("migration failed: ", &err);
		return EXITCODE_FAILURE;
	}
	printf("schema is current (%d migration%s applied)\n", applied, applied == 1 ? "" : "s");
	return EXITCODE_OK;
}

/* The settings no single table row can check, into the consumer's
 * options. Returns 0 or EXITCODE_USAGE, having said why. */
static int worker_check(struct worker *w)
{
	const struct worker_config *cfg = &w->cfg;

	w->copt = (struct consumer_options){
		.brokers = cfg->brokers,
		.topic = cfg->topic,
		.group = cfg->group,
		.conninfo = cfg->db,
		.db_connections = cfg->db_connections,
		.kafka_props = &cfg->common.kafka_props,
		.from_beginning = cfg->from_beginning,
		.exit_at_end = cfg->exit_at_end,
		.retry_max_ms = cfg->retry_max_ms,
	};
	if (cfg->from_time && (date_parse_rfc3339_ms(cfg->from_time, &w->copt.from_time_ms) < 0 ||
			       w->copt.from_time_ms <= 0)) {
		daemon_fail(&worker_daemon, "--from-time: \"%s\" is not an RFC 3339 time such as "
					    "2026-11-24T10:00:00Z", cfg->from_time);
		return EXITCODE_USAGE;
	}
	return 0;
}

/* /metrics and /readyz, up before PostgreSQL and Kafka are: /healthz
 * answers, /readyz says why not yet. */
static int worker_start_admin(struct worker *w)
{
	struct admin_options aopt = {
		.listen = w->cfg.admin_listen,
		.ready = ready_cb,
		.ready_arg = &w->readiness,
	};
	char err[600];
	int r;

	w->metrics = metrics_new();
	if (!w->metrics) {
		daemon_fail(&worker_daemon, "out of memory");
		return EXITCODE_FAILURE;
	}
	w->copt.metrics = w->metrics;
	aopt.metrics = w->metrics;
	if (!w->cfg.admin_listen || !*w->cfg.admin_listen)
		return 0;
	r = admin_start(&w->admin, &aopt, err, sizeof(err));
	if (r < 0) {
		daemon_fail(&worker_daemon, "%s", err);
		return exitcode_for(r);
	}
	return 0;
}

/* The admin listener, a usable PostgreSQL, the DLQ producer and the
 * consumer, in that order. Returns 0, or the exit status to stop with
 * (EXITCODE_OK when stopped while waiting), having said why. */
static int worker_start(struct worker *w)
{
	char err[600];
	int r = worker_start_admin(w);

	if (r != 0)
		return r;
	r = wait_for_schema(&w->store);
	if (r != 0)
		return r == 1 ? EXITCODE_OK : r;
	r = dlq_open(&w->dlq, w->cfg.brokers, &w->cfg.common.kafka_props, w->cfg.dlq_topic, err,
		     sizeof(err));
	if (r == 0)
		r = consumer_new(&w->consumer, &w->copt, &w->store, &w->dlq, err, sizeof(err));
	if (r < 0) {
		daemon_fail(&worker_daemon, "%s", err);
		return exitcode_for(r);
	}
	atomic_store(&w->readiness.consumer, w->consumer);
	log_notice("worker_started", "group=%s topic=%s dlq_topic=%s admin=%s", w->cfg.group,
		   w->cfg.topic, w->cfg.dlq_topic, w->admin ? w->cfg.admin_listen : "-");
	return 0;
}

/* The consumer's loop until TERM/INT (or the end, with --exit-at-end), then
 * its close and the totals. Returns the exit status. */
static int worker_run(struct worker *w)
{
	const struct consumer_totals *t;
	int status = consumer_run(w->consumer, daemon_stop_flag()) == 0 ? EXITCODE_OK
									 : EXITCODE_FAILURE;

	notify_stopping();
	consumer_close(w->consumer);
	if (!w->cfg.exit_at_end && !daemon_stopping())
		return status;
	t = consumer_totals(w->consumer);
	log_notice("worker_stopping", "batches=%" PRIu64 " patients=%" PRIu64 " rows_written=%" PRIu64
		   " dead_lettered=%" PRIu64 " retries=%" PRIu64, t->batches, t->patients,
		   t->rows_written, t->dead_lettered, t->retries);
	if (w->cfg.exit_at_end)
		printf("applied %" PRIu64 " batches, %" PRIu64 " patients (%" PRIu64
		       " rows written), %" PRIu64 " sent to the DLQ\n", t->batches, t->patients,
		       t->rows_written, t->dead_lettered);
	return status;
}

/* Frees what worker_start made; any part may be missing. */
static void worker_stop(struct worker *w)
{
	/* The admin thread may be reading the consumer: it goes first. */
	admin_stop(w->admin);
	atomic_store(&w->readiness.consumer, NULL);
	consumer_free(w->consumer);
	dlq_close(&w->dlq);
	store_close(&w->store);
	metrics_free(w->metrics);
}

int main(int argc, char **argv)
{
	static struct worker w;
	int status, r;

	if (!daemon_start(&worker_daemon, &w.cfg, &w.cfg.common, argc, argv, &status))
		goto out;
	status = worker_check(&w);
	if (status != 0)
		goto out;
	r = store_init(&w.store, w.cfg.db);
	if (r < 0) {
		daemon_fail(&worker_daemon, "cannot set up the PostgreSQL connection: %s",
			    strerror(-r));
		status = exitcode_for(r);
		goto out;
	}
	if (w.cfg.migrate)
		status = run_migrate(&w.store);
	else if (w.cfg.prune_batches || w.cfg.prune_groups.count)
		status = run_prune(&w.store, &w.cfg);
	else if ((status = worker_start(&w)) == 0 && w.consumer)
		status = worker_run(&w);
out:
	worker_stop(&w);
	daemon_end(&worker_daemon, &w.cfg);
	return status;
}
