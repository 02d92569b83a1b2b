/* options: the worker's settings table (flags, PATIENTS_* variables,
 * defaults, bounds) and its --help text. The table is the one place an
 * option is declared; main.c reads the struct it fills. */
#ifndef PATIENTS_WORKER_OPTIONS_H
#define PATIENTS_WORKER_OPTIONS_H

#include <stdbool.h>

#include "daemon.h"

struct worker_config {
	char *brokers;
	char *topic;
	char *dlq_topic;
	char *group;
	char *db;
	bool from_beginning;
	char *from_time;
	bool exit_at_end;
	long long retry_max_ms;
	long long db_connections;
	bool migrate;
	char *prune_batches;
	struct settings_list prune_groups;
	char *admin_listen;
	struct daemon_common common;
};

/* The worker's table, DAEMON_SETTINGS included, and its --help. Static:
 * nothing to free but what daemon_end() frees in the config. */
extern const struct daemon_spec worker_daemon;

#endif
