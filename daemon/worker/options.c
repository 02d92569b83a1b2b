#include "config.h"

#include "options.h"

#include <stddef.h>
#include <stdio.h>

#include "settings.h"

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
	{ "admin-listen", 'A', SETTING_STRING, "PATIENTS_ADMIN_LISTEN", "127.0.0.1:9102", 0, 0,
	  OPT(admin_listen), "HOST:PORT", "/healthz, /readyz, /metrics; empty: none" },
	DAEMON_SETTINGS(struct worker_config),
};
#define NSETTINGS (sizeof(worker_settings) / sizeof(worker_settings[0]))

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

const struct daemon_spec worker_daemon = DAEMON_SPEC("patients-worker", worker_settings, usage);
