#include "config.h"

#include "options.h"

#include <stddef.h>
#include <stdio.h>

#include "settings.h"

#define OPT(f) offsetof(struct gateway_config, f)
static const struct setting gateway_settings[] = {
	{ "listen", 'L', SETTING_STRING, "PATIENTS_LISTEN", "127.0.0.1:8080", 0, 0, OPT(listen),
	  "HOST:PORT", "public listener; plain HTTP only on loopback unless --allow-plain-http" },
	{ "tls-cert", 0, SETTING_STRING, "PATIENTS_TLS_CERT", NULL, 0, 0, OPT(tls_cert), "PATH",
	  "PEM certificate (chain): serve HTTPS" },
	{ "tls-key", 0, SETTING_STRING, "PATIENTS_TLS_KEY", NULL, 0, 0, OPT(tls_key), "PATH",
	  "PEM private key of --tls-cert" },
	{ "allow-plain-http", 0, SETTING_FLAG, "PATIENTS_ALLOW_PLAIN_HTTP", NULL, 0, 0,
	  OPT(allow_plain_http), NULL, "allow plain HTTP on a non-loopback address (TLS proxy)" },
	{ "admin-listen", 'A', SETTING_STRING, "PATIENTS_ADMIN_LISTEN", "127.0.0.1:9101", 0, 0,
	  OPT(admin_listen), "HOST:PORT", "/healthz, /readyz, /metrics; empty: none" },
	{ "keys-file", 'k', SETTING_STRING, "PATIENTS_KEYS_FILE", "/etc/patients/gateway.keys", 0,
	  0, OPT(keys_file), "PATH", "tenant_id:api_key:sha256hex(secret) per line; SIGHUP reloads" },
	{ "brokers", 'b', SETTING_STRING, "PATIENTS_KAFKA_BROKERS", "127.0.0.1:9092", 0, 0,
	  OPT(brokers), "HOST:PORT,...", "Kafka bootstrap servers" },
	{ "topic", 't', SETTING_STRING, "PATIENTS_TOPIC", "patients.v1", 0, 0, OPT(topic), "NAME",
	  "topic the batches are published to" },
	{ "publish-timeout-ms", 0, SETTING_INT, "PATIENTS_PUBLISH_TIMEOUT_MS", "10000", 100,
	  600000, OPT(publish_timeout_ms), "MS",
	  "answer 503 when Kafka has not confirmed a batch by then (message.timeout.ms)" },
	{ "rate-limit", 0, SETTING_INT, "PATIENTS_RATE_LIMIT", "600", 1, 1000000, OPT(rate_limit),
	  "N", "requests per minute per API key, per gateway instance (GCRA, bursts up to N)" },
	{ "rate-limit-redis", 0, SETTING_STRING, "PATIENTS_RATE_LIMIT_REDIS", NULL, 0, 0,
	  OPT(rate_limit_redis), "redis://HOST[:PORT]",
	  "share --rate-limit across every gateway using this Redis; when it does not answer "
	  "in time, each gateway limits on its own (fail open)" },
	{ "rate-limit-redis-timeout-ms", 0, SETTING_INT, "PATIENTS_RATE_LIMIT_REDIS_TIMEOUT_MS",
	  "5", 1, 10000, OPT(rate_limit_redis_timeout_ms), "MS",
	  "longest wait for Redis (connect, or one request's script) before the local limit" },
	{ "rate-limit-redis-retry-ms", 0, SETTING_INT, "PATIENTS_RATE_LIMIT_REDIS_RETRY_MS", "1000",
	  0, 600000, OPT(rate_limit_redis_retry_ms), "MS",
	  "after a Redis failure, each connection is tried again at most this often" },
	/* 4 MiB: the largest valid batch (1000 patients, every field at its
	 * limit) is 1,116,014 bytes written compactly, and 3,156,014 as
	 * Python's json.dumps writes it by default (every non-ASCII character a
	 * \uXXXX escape, as PHP and .NET also do, and spaces after ',' and
	 * ':'); the rest is room for a partner's ignored keys. */
	{ "max-body-bytes", 0, SETTING_INT, "PATIENTS_MAX_BODY_BYTES", "4194304", 1024, 67108864,
	  OPT(max_body_bytes), "BYTES",
	  "larger bodies are answered 413 (the default fits the largest valid batch)" },
	{ "max-connections", 0, SETTING_INT, "PATIENTS_MAX_CONNECTIONS", "512", 1, 100000,
	  OPT(max_connections), "N",
	  "open client connections; past it, those without a whole request head are shed, "
	  "oldest first" },
	{ "max-connections-per-ip", 0, SETTING_INT, "PATIENTS_MAX_CONNECTIONS_PER_IP", "64", 0,
	  100000, OPT(max_connections_per_ip), "N",
	  "open connections per client address; 0: no cap (behind a proxy)" },
	{ "read-timeout-s", 0, SETTING_INT, "PATIENTS_READ_TIMEOUT_S", "30", 1, 3600,
	  OPT(read_timeout_s), "S", "a connection that sends nothing for this long is closed" },
	{ "head-timeout-s", 0, SETTING_INT, "PATIENTS_HEAD_TIMEOUT_S", "10", 1, 3600,
	  OPT(head_timeout_s), "S",
	  "the whole request head must arrive within S of the connection's start (or of the "
	  "previous request's end), however busy the client keeps it" },
	{ "body-min-rate", 0, SETTING_INT, "PATIENTS_BODY_MIN_RATE", "4096", 0, 1073741824,
	  OPT(body_min_rate), "BYTES/S",
	  "after --body-grace-s, a body slower than this on average is cut off; 0: never" },
	{ "body-grace-s", 0, SETTING_INT, "PATIENTS_BODY_GRACE_S", "10", 0, 3600,
	  OPT(body_grace_s), "S", "time a body has before --body-min-rate applies" },
	{ "max-inflight-bytes", 0, SETTING_INT, "PATIENTS_MAX_INFLIGHT_BYTES", "67108864",
	  1048576, 68719476736LL, OPT(max_inflight_bytes), "BYTES",
	  "bodies being received plus batches waiting for Kafka, at most; past it: 503" },
	{ "kafka-down-grace-ms", 0, SETTING_INT, "PATIENTS_KAFKA_DOWN_GRACE_MS", "5000", 0, 600000,
	  OPT(kafka_down_grace_ms), "MS",
	  "once no broker was reachable for this long, PUTs get 503 at once (until one is)" },
	{ "max-header-bytes", 0, SETTING_INT, "PATIENTS_MAX_HEADER_BYTES", "32768", 8192, 1048576,
	  OPT(max_header_bytes), "BYTES",
	  "largest request head (larger: 431; a target over 8000 bytes: 414)" },
	{ "threads", 0, SETTING_INT, "PATIENTS_THREADS", "0", 0, 256, OPT(threads), "N",
	  "HTTP threads; 0: one per CPU" },
	{ "hash-secret", 0, SETTING_FLAG, NULL, NULL, 0, 0, OPT(hash_secret), NULL,
	  "read a secret on stdin, print the hash the keys file wants, exit" },
	DAEMON_SETTINGS(struct gateway_config),
};
#define NSETTINGS (sizeof(gateway_settings) / sizeof(gateway_settings[0]))

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: patients-gateway [OPTIONS]\n"
		"       patients-gateway --hash-secret < secret\n"
		"\n"
		"Accepts PUT /v1/patients batches over HTTPS, authenticates them (X-API-Key,\n"
		"X-Secret-Key), rate-limits and validates them, publishes each one to Kafka\n"
		"and answers 200 once Kafka has confirmed it (503 if it does not in time).\n"
		"Flags override PATIENTS_* variables, which override defaults.\n"
		"\n");
	settings_usage(out, gateway_settings, NSETTINGS);
	fprintf(out,
		"\n"
		"Without --rate-limit-redis, each gateway instance keeps the rate limit on its\n"
		"own: N instances behind one load balancer let a key make up to N times\n"
		"--rate-limit requests a minute.\n"
		"Signals: HUP reloads the keys file (connections stay open) and reopens\n"
		"--log-file; TERM/INT stop accepting, answer what is in flight, flush to\n"
		"Kafka and exit 0 (a second one exits at once).\n");
}

const struct daemon_spec gateway_daemon = DAEMON_SPEC("patients-gateway", gateway_settings, usage);
