/* patients-worker: applies the batches of the patients topic to PostgreSQL,
 * one transaction per batch, as a member of a consumer group (DESIGN.md s.4). */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "clock.h"
#include "consumer.h"
#include "date.h"
#include "dlq.h"
#include "exitcode.h"
#include "grants.h"
#include "kafka.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "prune.h"
#include "settings.h"
#include "store.h"


struct worker_config {
	char *brokers;
	char *topic;
	char *dlq_topic;
	char *group;
	char *db;
	struct settings_list kafka_props;
	char *kafka_props_file;
	bool from_beginning;
	char *from_time;
	bool exit_at_end;
	long long retry_max_ms;
	long long db_connections;
	bool migrate;
	char *prune_batches;
	struct settings_list prune_groups;
	char *log_level;
	char *log_file;
	char *admin_listen;
	bool help;
	bool version;
};

#define OPT(f) offsetof(struct worker_config, f)
static const struct setting worker_settings[] = {
	{ "brokers", 'b', SETTING_STRING, "PATIENTS_KAFKA_BROKERS", "127.0.0.1:9092", 0, 0,
	  OPT(brokers), "HOST:PORT,...", "Kafka bootstrap servers" },
	{ "topic", 't', SETTING_STRING, "PATIENTS_TOPIC", "patients.v1", 0, 0, OPT(topic), "NAME",
	  "topic the batches are read from" },
	{ "dlq-topic", 0, SETTING_STRING, "PATIENTS_DLQ_TOPIC", "patients.v1.dlq", 0, 0,
	  OPT(dlq_topic), "NAME", "topic poison batches are sent to" },
	{ "group", 'g', SETTING_STRING, "PATIENTS_GROUP", "patients-worker", 0, 0, OPT(group), "NAME",
	  "consumer group; a new one with --from-beginning replays the topic" },
	{ "db", 'd', SETTING_STRING, "PATIENTS_DB", "", 0, 0, OPT(db), "CONNINFO",
	  "libpq connection string or URI; empty: libpq's PG* variables" },
	{ "kafka-prop", 'X', SETTING_LIST, "PATIENTS_KAFKA_PROPS", NULL, 0, 0, OPT(kafka_props),
	  "KEY=VALUE", "any librdkafka property, repeatable (env: ';'-separated)" },
	{ "kafka-props-file", 0, SETTING_STRING, "PATIENTS_KAFKA_PROPS_FILE", NULL, 0, 0,
	  OPT(kafka_props_file), "PATH",
	  "librdkafka key=value lines (# comments), before -X: put sasl.password here" },
	{ "from-beginning", 0, SETTING_FLAG, NULL, NULL, 0, 0, OPT(from_beginning), NULL,
	  "partitions with no offset in PostgreSQL start at the beginning" },
	{ "from-time", 0, SETTING_STRING, NULL, NULL, 0, 0, OPT(from_time), "RFC3339",
	  "partitions with no offset in PostgreSQL start at this time" },
	{ "exit-at-end", 0, SETTING_FLAG, NULL, NULL, 0, 0, OPT(exit_at_end), NULL,
	  "exit once caught up with the end offsets seen at start" },
	{ "retry-max-ms", 0, SETTING_INT, "PATIENTS_RETRY_MAX_MS", "30000", 100, 3600000,
	  OPT(retry_max_ms), "MS", "longest wait between retries of a transient failure" },
	{ "db-connections", 'c', SETTING_INT, "PATIENTS_DB_CONNECTIONS", "2", 1, 64,
	  OPT(db_connections), "N",
	  "PostgreSQL connections: batches of different partitions applied at once" },
	{ "migrate", 0, SETTING_FLAG, NULL, NULL, 0, 0, OPT(migrate), NULL,
	  "apply pending schema migrations and exit" },
	{ "prune-batches-older-than", 0, SETTING_STRING, NULL, NULL, 0, 0, OPT(prune_batches),
	  "DURATION", "delete patient_batches rows applied before now - DURATION (30d, 12h...), exit" },
	{ "prune-group", 0, SETTING_LIST, NULL, NULL, 0, 0, OPT(prune_groups), "GROUP",
	  "delete an idle group's consumer_offsets rows (never --group's), exit; repeatable" },
	{ "log-level", 'l', SETTING_STRING, "PATIENTS_LOG_LEVEL", "info", 0, 0, OPT(log_level),
	  "LEVEL", "error, warning, notice, info or debug" },
	{ "log-file", 0, SETTING_STRING, "PATIENTS_LOG_FILE", NULL, 0, 0, OPT(log_file), "PATH",
	  "append log lines to PATH instead of stderr; SIGHUP reopens it (logrotate)" },
	{ "admin-listen", 'A', SETTING_STRING, "PATIENTS_ADMIN_LISTEN", "127.0.0.1:9102", 0, 0,
	  OPT(admin_listen), "HOST:PORT", "/healthz, /readyz, /metrics; empty: none" },
	{ "help", 'h', SETTING_FLAG, NULL, NULL, 0, 0, OPT(help), NULL, "show this help and exit" },
	{ "version", 'V', SETTING_FLAG, NULL, NULL, 0, 0, OPT(version), NULL,
	  "show the version and exit" },
};
#define NSETTINGS (sizeof(worker_settings) / sizeof(worker_settings[0]))

static volatile sig_atomic_t stop_requested;

/* --log-file, for the SIGHUP handler; NULL: stderr as it was given. */
static const char *log_file;

static void on_hup(int sig)
{
	(void)sig;
	if (log_file)
		(void)log_reopen(log_file);
}

/* The running consumer, once there is one, for the admin thread's /readyz. */
static _Atomic(struct consumer *) ready_consumer;

static bool ready_cb(void *arg)
{
	struct consumer *c = atomic_load(&ready_consumer);

	(void)arg;
	return c && consumer_ready(c);
}

static void on_stop(int sig)
{
	if (stop_requested)
		_exit(128 + sig); /* a second signal: the operator means it */
	stop_requested = 1;
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: patients-worker [OPTIONS]\n"
		"\n"
		"Consumes patients batches from Kafka and applies each one to PostgreSQL as\n"
		"one transaction, committing offsets only after it. Flags override PATIENTS_*\n"
		"variables, which override defaults. PostgreSQL is reached with --db or\n"
		"libpq's PG* variables (PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD...).\n"
		"\n");
	settings_usage(out, worker_settings, NSETTINGS);
	fprintf(out, "\n"
		     "Backfill: patients-worker --group backfill-1 --from-beginning --exit-at-end\n"
		     "Prune (as the migrator): patients-worker --prune-batches-older-than 90d\n"
		     "  --prune-group backfill-1\n"
		     "Signals: TERM/INT finish the batch in hand, commit and leave the group\n"
		     "(a second one exits at once); HUP reopens --log-file.\n");
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
			fprintf(stderr, "patients-worker: %s\n", err.message);
			return EXITCODE_CONFIG;
		}
		if (stop_requested)
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
		fprintf(stderr, "patients-worker: --prune-batches-older-than: \"%s\" is not a "
				"duration such as 45s, 90m, 12h, 30d or 2w\n", cfg->prune_batches);
		return EXITCODE_USAGE;
	}
	r = store_check_schema(store, &err);
	if (r < 0) {
		fprintf(stderr, "patients-worker: %s%s%s\n", err.sqlstate[0] ? err.sqlstate : "",
			err.sqlstate[0] ? " " : "", err.message);
		return r == -EIO ? EXITCODE_FAILURE : EXITCODE_CONFIG;
	}
	for (size_t i = 0; i < cfg->prune_groups.count; i++) {
		const char *g = cfg->prune_groups.items[i];

		r = prune_group(store, g, cfg->group, &n, &err);
		if (r == -EPERM) {
			fprintf(stderr, "patients-worker: refusing to prune group %s: it is this "
					"worker's --group, the live group, which resumes from those "
					"offsets\n", g);
			return EXITCODE_FAILURE;
		}
		if (r == -EBUSY) {
			fprintf(stderr, "patients-worker: refusing to prune group %s: its offsets "
					"were written in the last hour (a backfill still running?)\n", g);
			return EXITCODE_FAILURE;
		}
		if (r < 0)
			goto fail;
		printf("pruned %lld consumer_offsets rows of group %s\n", n, g);
	}
	if (cfg->prune_batches) {
		r = prune_batches(store, seconds, &stop_requested, &n, cutoff, sizeof(cutoff), &err);
		if (r < 0)
			goto fail;
		printf("pruned %lld patient_batches rows applied before %s%s\n", n, cutoff,
		       stop_requested ? " (stopped early)" : "");
	}
	return EXITCODE_OK;
fail:
	fprintf(stderr, "patients-worker: prune failed: %s%s%s\n",
		err.sqlstate[0] ? err.sqlstate : "", err.sqlstate[0] ? " " : "", err.message);
	return EXITCODE_FAILURE;
}

static int run_migrate(struct store *store)
{
	struct store_error err = { 0 };
	int applied = 0;

	if (store_migrate(store, &applied, &err) < 0) {
		fprintf(stderr, "patients-worker: migration failed: %s%s%s\n",
			err.sqlstate[0] ? err.sqlstate : "", err.sqlstate[0] ? " " : "",
			err.message);
		return EXITCODE_FAILURE;
	}
	printf("schema is current (%d migration%s applied)\n", applied, applied == 1 ? "" : "s");
	return EXITCODE_OK;
}

int main(int argc, char **argv)
{
	struct worker_config cfg = { 0 };
	struct store store = { 0 };
	struct dlq dlq = { 0 };
	struct consumer *consumer = NULL;
	struct consumer_options opt;
	struct metrics *metrics = NULL;
	struct admin *admin = NULL;
	struct sigaction sa;
	char err[600];
	int level, ret = EXITCODE_FAILURE;

	if (settings_load(worker_settings, NSETTINGS, &cfg, argc, argv, err, sizeof(err)) < 0) {
		fprintf(stderr, "patients-worker: %s\n", err);
		ret = EXITCODE_USAGE;
		goto out;
	}
	if (cfg.help) {
		usage(stdout);
		ret = EXITCODE_OK;
		goto out;
	}
	if (cfg.version) {
		printf("patients-worker %s\n", PACKAGE_VERSION);
		ret = EXITCODE_OK;
		goto out;
	}
	if (cfg.kafka_props_file &&
	    kafka_props_file_load(cfg.kafka_props_file, &cfg.kafka_props, err, sizeof(err)) < 0) {
		fprintf(stderr, "patients-worker: %s\n", err);
		ret = EXITCODE_CONFIG;
		goto out;
	}
	level = log_level_parse(cfg.log_level);
	if (level < 0) {
		fprintf(stderr, "patients-worker: --log-level: \"%s\" is not one of error, warning, "
				"notice, info, debug\n", cfg.log_level);
		ret = EXITCODE_USAGE;
		goto out;
	}
	log_set_level((enum log_level)level);
	opt = (struct consumer_options){
		.brokers = cfg.brokers,
		.topic = cfg.topic,
		.group = cfg.group,
		.conninfo = cfg.db,
		.db_connections = cfg.db_connections,
		.kafka_props = &cfg.kafka_props,
		.from_beginning = cfg.from_beginning,
		.exit_at_end = cfg.exit_at_end,
		.retry_max_ms = cfg.retry_max_ms,
	};
	if (cfg.from_time) {
		if (date_parse_rfc3339_ms(cfg.from_time, &opt.from_time_ms) < 0 ||
		    opt.from_time_ms <= 0) {
			fprintf(stderr, "patients-worker: --from-time: \"%s\" is not an RFC 3339 "
					"time such as 2026-11-24T10:00:00Z\n", cfg.from_time);
			ret = EXITCODE_USAGE;
			goto out;
		}
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	/* With --log-file, HUP reopens it (logrotate); under journald there
	 * is nothing to reopen and HUP is harmless. */
	if (cfg.log_file && *cfg.log_file) {
		int r = log_reopen(cfg.log_file);

		if (r < 0) {
			fprintf(stderr, "patients-worker: --log-file %s: %s\n", cfg.log_file,
				strerror(-r));
			ret = EXITCODE_CONFIG;
			goto out;
		}
		log_file = cfg.log_file;
	}
	sa.sa_handler = on_hup;
	sa.sa_flags = SA_RESTART; /* nothing to stop for: no call should see EINTR */
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (store_init(&store, cfg.db) < 0) {
		fprintf(stderr, "patients-worker: out of memory\n");
		goto out; /* EXITCODE_FAILURE */
	}
	if (cfg.migrate) {
		ret = run_migrate(&store);
		goto out;
	}
	if (cfg.prune_batches || cfg.prune_groups.count) {
		ret = run_prune(&store, &cfg);
		goto out;
	}
	/* Up before PostgreSQL and Kafka are: /healthz answers, /readyz says
	 * why not yet. */
	metrics = metrics_new();
	if (!metrics) {
		fprintf(stderr, "patients-worker: out of memory\n");
		goto out;
	}
	opt.metrics = metrics;
	if (cfg.admin_listen && *cfg.admin_listen) {
		struct admin_options aopt = {
			.listen = cfg.admin_listen,
			.metrics = metrics,
			.ready = ready_cb,
		};

		if (admin_start(&admin, &aopt, err, sizeof(err)) < 0) {
			fprintf(stderr, "patients-worker: %s\n", err);
			ret = EXITCODE_CONFIG;
			goto out;
		}
	}
	ret = wait_for_schema(&store);
	if (ret != 0) {
		if (ret == 1)
			ret = EXITCODE_OK; /* stopped while waiting */
		goto out;
	}
	{
		int r = dlq_open(&dlq, cfg.brokers, &cfg.kafka_props, cfg.dlq_topic, err,
				 sizeof(err));

		if (r == 0)
			r = consumer_new(&consumer, &opt, &store, &dlq, err, sizeof(err));
		if (r < 0) {
			fprintf(stderr, "patients-worker: %s\n", err);
			ret = exitcode_for(r);
			goto out;
		}
	}
	atomic_store(&ready_consumer, consumer);
	log_notice("worker_started", "group=%s topic=%s dlq_topic=%s admin=%s", cfg.group,
		   cfg.topic, cfg.dlq_topic, admin ? cfg.admin_listen : "-");
	ret = consumer_run(consumer, &stop_requested) == 0 ? EXITCODE_OK : EXITCODE_FAILURE;
	notify_stopping();
	consumer_close(consumer);
	if (cfg.exit_at_end || stop_requested) {
		const struct consumer_totals *t = consumer_totals(consumer);
		log_notice("worker_stopping", "batches=%" PRIu64 " patients=%" PRIu64
			   " rows_written=%" PRIu64 " dead_lettered=%" PRIu64 " retries=%" PRIu64,
			   t->batches, t->patients, t->rows_written, t->dead_lettered, t->retries);
		if (cfg.exit_at_end)
			printf("applied %" PRIu64 " batches, %" PRIu64 " patients (%" PRIu64
			       " rows written), %" PRIu64 " sent to the DLQ\n", t->batches,
			       t->patients, t->rows_written, t->dead_lettered);
	}
out:
	/* The admin thread may be reading the consumer: it goes first. */
	admin_stop(admin);
	atomic_store(&ready_consumer, NULL);
	consumer_free(consumer);
	dlq_close(&dlq);
	store_close(&store);
	metrics_free(metrics);
	log_file = NULL;
	settings_free(worker_settings, NSETTINGS, &cfg);
	return ret;
}
