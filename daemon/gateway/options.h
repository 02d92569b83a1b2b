/* options: the gateway's settings table (flags, PATIENTS_* variables,
 * defaults, bounds) and its --help text. The table is the one place an
 * option is declared; main.c reads the struct it fills. */
#ifndef PATIENTS_GATEWAY_OPTIONS_H
#define PATIENTS_GATEWAY_OPTIONS_H

#include <stdbool.h>

#include "daemon.h"

struct gateway_config {
	char *listen;
	char *admin_listen;
	char *tls_cert;
	char *tls_key;
	bool allow_plain_http;
	char *keys_file;
	char *brokers;
	char *topic;
	long long publish_timeout_ms;
	long long rate_limit;
	char *rate_limit_redis;
	long long rate_limit_redis_timeout_ms;
	long long rate_limit_redis_retry_ms;
	long long max_body_bytes;
	long long max_connections;
	long long max_connections_per_ip;
	long long read_timeout_s;
	long long head_timeout_s;
	long long body_min_rate;
	long long body_grace_s;
	long long max_inflight_bytes;
	long long kafka_down_grace_ms;
	long long max_header_bytes;
	long long threads;
	bool hash_secret;
	struct daemon_common common;
};


/* The gateway's table, DAEMON_SETTINGS included, and its --help. Static:
 * nothing to free but what daemon_end() frees in the config. */
extern const struct daemon_spec gateway_daemon;

#endif
