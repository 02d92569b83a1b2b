/* patients-gateway: the HTTP front of the patients pipeline (DESIGN.md s.2):
 * authenticates, rate-limits and validates PUT /v1/patients batches,
 * publishes each as one Kafka message and answers 200 only once Kafka has
 * it. This file: options, signals, the main loop and the order of start
 * and stop. */
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
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "budget.h"
#include "clock.h"
#include "exitcode.h"
#include "http.h"
#include "keys.h"
#include "kafka.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "publisher.h"
#include "settings.h"
#include "sharedlimit.h"
#include "textfile.h"

#define TLS_FILE_MAX (1u << 20)
#define SECRET_MAX 4096

struct gateway_config {
	char *listen;
	char *admin_listen;
	char *tls_cert;
	char *tls_key;
	bool allow_plain_http;
	char *keys_file;
	char *brokers;
	char *topic;
	struct settings_list kafka_props;
	char *kafka_props_file;
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
	char *log_level;
	char *log_file;
	bool hash_secret;
	bool help;
	bool version;
};

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
	{ "kafka-prop", 'X', SETTING_LIST, "PATIENTS_KAFKA_PROPS", NULL, 0, 0, OPT(kafka_props),
	  "KEY=VALUE", "any librdkafka property, repeatable (env: ';'-separated)" },
	{ "kafka-props-file", 0, SETTING_STRING, "PATIENTS_KAFKA_PROPS_FILE", NULL, 0, 0,
	  OPT(kafka_props_file), "PATH",
	  "librdkafka key=value lines (# comments), before -X: put sasl.password here" },
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
	{ "log-level", 'l', SETTING_STRING, "PATIENTS_LOG_LEVEL", "info", 0, 0, OPT(log_level),
	  "LEVEL", "error, warning, notice, info or debug" },
	{ "log-file", 0, SETTING_STRING, "PATIENTS_LOG_FILE", NULL, 0, 0, OPT(log_file), "PATH",
	  "append log lines to PATH instead of stderr; SIGHUP reopens it (logrotate)" },
	{ "hash-secret", 0, SETTING_FLAG, NULL, NULL, 0, 0, OPT(hash_secret), NULL,
	  "read a secret on stdin, print the hash the keys file wants, exit" },
	{ "help", 'h', SETTING_FLAG, NULL, NULL, 0, 0, OPT(help), NULL, "show this help and exit" },
	{ "version", 'V', SETTING_FLAG, NULL, NULL, 0, 0, OPT(version), NULL,
	  "show the version and exit" },
};
#define NSETTINGS (sizeof(gateway_settings) / sizeof(gateway_settings[0]))

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reload_requested;

static void on_stop(int sig)
{
	if (stop_requested)
		_exit(128 + sig); /* a second signal: the operator means it */
	stop_requested = 1;
}

static void on_hup(int sig)
{
	(void)sig;
	reload_requested = 1;
}

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
		"The rate limit is kept by each gateway instance on its own: N instances behind\n"
		"one load balancer let a key make up to N times --rate-limit requests a minute.\n"
		"Signals: HUP reloads the keys file (connections stay open) and reopens\n"
		"--log-file; TERM/INT stop accepting, answer what is in flight, flush to\n"
		"Kafka and exit 0 (a second one exits at once).\n");
}

/* What the admin listener's /readyz reads, written by the main loop. */
struct readiness {
	atomic_bool kafka;
	struct publisher *pub;
};

/* Not ready whenever PUTs would get the fast 503, whatever the last
 * metadata request said. */
static bool ready_cb(void *arg)
{
	struct readiness *r = arg;

	return atomic_load(&r->kafka) && !publisher_known_down(r->pub);
}

/* Every connection is a descriptor, and libmicrohttpd may hold twice
 * --max-connections: the soft limit goes up to the hard one (systemd's
 * default soft limit is 1024). */
static void raise_fd_limit(long long max_connections)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)max_connections * 2u + 256u;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want)
		log_warning("fd_limit_low", "nofile=%llu wanted=%llu max_connections=%lld",
			    (unsigned long long)rl.rlim_cur, (unsigned long long)want,
			    max_connections);
}

static int hash_secret(void)
{
	char secret[SECRET_MAX + 2], hex[KEYS_HASH_HEX_LEN + 1];
	size_t len = 0;

	while (len < sizeof(secret)) {
		ssize_t n = read(STDIN_FILENO, secret + len, sizeof(secret) - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "patients-gateway: reading stdin: %s\n", strerror(errno));
			return EXITCODE_FAILURE;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > SECRET_MAX) {
		fprintf(stderr, "patients-gateway: the secret is over %d bytes\n", SECRET_MAX);
		return EXITCODE_FAILURE;
	}
	/* `echo secret |` adds a newline that is not part of the secret. */
	if (len && secret[len - 1] == '\n')
		len--;
	if (len && secret[len - 1] == '\r')
		len--;
	if (len == 0) {
		fprintf(stderr, "patients-gateway: an empty secret on stdin\n");
		return EXITCODE_FAILURE;
	}
	if (keys_hash_hex(secret, len, hex) < 0) {
		fprintf(stderr, "patients-gateway: SHA-256 failed\n");
		return EXITCODE_FAILURE;
	}
	explicit_bzero(secret, sizeof(secret));
	printf("%s\n", hex);
	return EXITCODE_OK;
}

/* A PEM file, NUL-terminated as libmicrohttpd wants it. */
static int read_pem(const char *path, char **out, char *err, size_t errsize)
{
	size_t len;

	return textfile_read(path, TLS_FILE_MAX, out, &len, err, errsize);
}

struct gauges {
	struct metrics_family *kafka_up, *keys, *reloads, *inflight_bytes;
};

static void reload_keys(const struct gateway_config *cfg, struct http *http, struct gauges *g,
			bool ready)
{
	struct keys *keys = NULL;
	char err[512], q[600];

	notify_reloading();
	if (keys_load(cfg->keys_file, &keys, err, sizeof(err)) < 0) {
		/* The old keys stay: a typo must not lock every partner out. */
		log_error("keys_reload_failed", "message=%s", log_quote(q, sizeof(q), err));
		metrics_counter_add(g->reloads, "error", 1);
	} else {
		size_t n = keys_count(keys);

		http_set_keys(http, keys);
		log_notice("keys_reloaded", "keys=%zu", n);
		metrics_gauge_set(g->keys, NULL, (double)n);
		metrics_counter_add(g->reloads, "ok", 1);
	}
	if (ready)
		notify_ready("reloaded");
	else
		notify_status("reloaded; waiting for Kafka");
}

/* SIGTERM: stop accepting, let what is open finish (publishing included),
 * then refuse new publishes and wait for the last delivery reports, which
 * always come within the publish timeout. Returns false when a connection
 * is still waiting for Kafka and the server cannot be stopped. */
static bool drain(struct http *http, struct publisher *pub, long long publish_timeout_ms)
{
	uint64_t deadline = clock_mono_ms() + (uint64_t)publish_timeout_ms + 5000u;
	struct http_stats st;

	http_quiesce(http);
	for (;;) {
		http_stats(http, &st);
		if (st.active == 0 || clock_mono_ms() > deadline)
			break;
		notify_watchdog();
		clock_sleep_ms(50);
	}
	http_refuse_publishing(http);
	deadline = clock_mono_ms() + (uint64_t)publish_timeout_ms + 5000u;
	for (;;) {
		http_stats(http, &st);
		if (st.inflight == 0)
			break;
		if (clock_mono_ms() > deadline) {
			log_error("drain_stuck", "inflight=%u", st.inflight);
			return false;
		}
		notify_watchdog();
		clock_sleep_ms(50);
	}
	(void)pub;
	return true;
}

int main(int argc, char **argv)
{
	struct gateway_config cfg = { 0 };
	struct http_options hopt;
	struct publisher_options popt;
	struct admin_options aopt;
	struct readiness readiness;
	struct gauges g = { 0 };
	struct metrics *metrics = NULL;
	struct publisher *pub = NULL;
	struct http *http = NULL;
	struct admin *admin = NULL;
	struct keys *keys = NULL;
	struct budget *budget = NULL;
	struct sharedlimit *shared = NULL;
	char *tls_cert = NULL, *tls_key = NULL;
	struct sigaction sa;
	char err[600];
	uint64_t next_check = 0, next_status = 0;
	bool notified_ready = false, ready = false;
	size_t nkeys;
	long ncpu;
	unsigned threads;
	int level, r, ret = EXITCODE_FAILURE;

	atomic_init(&readiness.kafka, false);
	readiness.pub = NULL;
	if (settings_load(gateway_settings, NSETTINGS, &cfg, argc, argv, err, sizeof(err)) < 0) {
		fprintf(stderr, "patients-gateway: %s\n", err);
		ret = EXITCODE_USAGE;
		goto out;
	}
	if (cfg.help) {
		usage(stdout);
		ret = EXITCODE_OK;
		goto out;
	}
	if (cfg.version) {
		printf("patients-gateway %s\n", PACKAGE_VERSION);
		ret = EXITCODE_OK;
		goto out;
	}
	if (cfg.kafka_props_file &&
	    kafka_props_file_load(cfg.kafka_props_file, &cfg.kafka_props, err, sizeof(err)) < 0) {
		fprintf(stderr, "patients-gateway: %s\n", err);
		ret = EXITCODE_CONFIG;
		goto out;
	}
	if (cfg.hash_secret) {
		ret = hash_secret();
		goto out;
	}
	level = log_level_parse(cfg.log_level);
	if (level < 0) {
		fprintf(stderr, "patients-gateway: --log-level: \"%s\" is not one of error, warning, "
				"notice, info, debug\n", cfg.log_level);
		ret = EXITCODE_USAGE;
		goto out;
	}
	log_set_level((enum log_level)level);
	if (cfg.max_inflight_bytes < cfg.max_body_bytes + 65536) {
		fprintf(stderr, "patients-gateway: --max-inflight-bytes must hold at least one "
				"body at --max-body-bytes (%lld) and its envelope (64 KiB)\n",
			cfg.max_body_bytes);
		ret = EXITCODE_USAGE;
		goto out;
	}
	if (!cfg.tls_cert != !cfg.tls_key) {
		fprintf(stderr, "patients-gateway: --tls-cert and --tls-key go together\n");
		ret = EXITCODE_USAGE;
		goto out;
	}

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_hup;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	ret = EXITCODE_CONFIG;
	if (cfg.log_file && *cfg.log_file && (r = log_reopen(cfg.log_file)) < 0) {
		fprintf(stderr, "patients-gateway: --log-file %s: %s\n", cfg.log_file, strerror(-r));
		goto out;
	}
	if (keys_load(cfg.keys_file, &keys, err, sizeof(err)) < 0) {
		fprintf(stderr, "patients-gateway: keys file: %s\n", err);
		goto out;
	}
	if (cfg.tls_cert && (read_pem(cfg.tls_cert, &tls_cert, err, sizeof(err)) < 0 ||
			     read_pem(cfg.tls_key, &tls_key, err, sizeof(err)) < 0)) {
		fprintf(stderr, "patients-gateway: TLS: %s\n", err);
		goto out;
	}
	metrics = metrics_new();
	if (!metrics) {
		fprintf(stderr, "patients-gateway: out of memory\n");
		ret = EXITCODE_FAILURE;
		goto out;
	}
	{
		static const char *const outcomes[] = { "ok", "error", NULL };

		g.kafka_up = metrics_gauge(metrics, "patients_gateway_kafka_up",
					   "1 when the last metadata request for the topic succeeded.",
					   NULL, NULL);
		g.keys = metrics_gauge(metrics, "patients_gateway_keys", "Credentials loaded.", NULL,
				       NULL);
		g.reloads = metrics_counter(metrics, "patients_gateway_key_reloads_total",
					    "Reloads of the keys file (SIGHUP), by outcome.", "outcome",
					    outcomes);
		g.inflight_bytes = metrics_gauge(
			metrics, "patients_gateway_inflight_bytes",
			"Bytes of bodies being received and batches waiting for Kafka "
			"(--max-inflight-bytes).", NULL, NULL);
	}
	raise_fd_limit(cfg.max_connections);
	if (budget_new(&budget, (size_t)cfg.max_inflight_bytes) < 0) {
		fprintf(stderr, "patients-gateway: out of memory\n");
		ret = EXITCODE_FAILURE;
		goto out;
	}
	metrics_gauge_set(g.keys, NULL, (double)keys_count(keys));

	popt = (struct publisher_options){
		.brokers = cfg.brokers,
		.topic = cfg.topic,
		.kafka_props = &cfg.kafka_props,
		.timeout_ms = (int)cfg.publish_timeout_ms,
		/* The envelope around a body at the limit still fits. */
		.max_message_bytes = (size_t)cfg.max_body_bytes + 65536u,
		.down_grace_ms = (int)cfg.kafka_down_grace_ms,
		.budget = budget,
		.delivered = http_delivered,
	};
	if (publisher_new(&pub, &popt, err, sizeof(err)) < 0) {
		fprintf(stderr, "patients-gateway: %s\n", err);
		goto out;
	}
	readiness.pub = pub;
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	threads = cfg.threads ? (unsigned)cfg.threads : (unsigned)(ncpu > 0 ? ncpu : 1);
	if (cfg.rate_limit_redis && *cfg.rate_limit_redis) {
		struct sharedlimit_options sopt = {
			.url = cfg.rate_limit_redis,
			.per_minute = (unsigned)cfg.rate_limit,
			.timeout_ms = (unsigned)cfg.rate_limit_redis_timeout_ms,
			.retry_ms = (unsigned)cfg.rate_limit_redis_retry_ms,
			.connections = threads, /* one per HTTP thread: none waits */
			.metrics = metrics,
		};

		/* Connects on first use: a Redis down at start stops nothing. */
		if (sharedlimit_new(&shared, &sopt, err, sizeof(err)) < 0) {
			fprintf(stderr, "patients-gateway: %s\n", err);
			ret = EXITCODE_CONFIG;
			goto out;
		}
	}
	hopt = (struct http_options){
		.listen = cfg.listen,
		.allow_plain_http = cfg.allow_plain_http,
		.tls_cert = tls_cert,
		.tls_key = tls_key,
		.threads = threads,
		.max_connections = (unsigned)cfg.max_connections,
		.max_connections_per_ip = (unsigned)cfg.max_connections_per_ip,
		.read_timeout_s = (unsigned)cfg.read_timeout_s,
		.head_timeout_s = (unsigned)cfg.head_timeout_s,
		.body_grace_s = (unsigned)cfg.body_grace_s,
		.body_min_rate = (unsigned)cfg.body_min_rate,
		.budget = budget,
		.max_header_bytes = (size_t)cfg.max_header_bytes,
		.max_body_bytes = (size_t)cfg.max_body_bytes,
		.rate_limit = (unsigned)cfg.rate_limit,
		.shared = shared,
		.publisher = pub,
		.metrics = metrics,
	};
	nkeys = keys_count(keys);
	r = http_start(&http, &hopt, keys, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "patients-gateway: %s\n", err);
		ret = exitcode_for(r);
		goto out;
	}
	keys = NULL; /* now owned by http */
	if (cfg.admin_listen && *cfg.admin_listen) {
		aopt = (struct admin_options){
			.listen = cfg.admin_listen,
			.metrics = metrics,
			.ready = ready_cb,
			.ready_arg = &readiness,
		};
		if (admin_start(&admin, &aopt, err, sizeof(err)) < 0) {
			fprintf(stderr, "patients-gateway: %s\n", err);
			goto out;
		}
	}
	log_notice("gateway_started", "listen=%s tls=%s admin=%s topic=%s keys=%zu threads=%u "
		   "rate_limit=%lld rate_limit_shared=%s publish_timeout_ms=%lld", cfg.listen,
		   tls_cert ? "yes" : "no", admin ? cfg.admin_listen : "-", cfg.topic, nkeys,
		   hopt.threads, cfg.rate_limit, shared ? "redis" : "no", cfg.publish_timeout_ms);
	ret = EXITCODE_OK;

	while (!stop_requested) {
		uint64_t now = clock_mono_ms();

		if (reload_requested) {
			reload_requested = 0;
			/* logrotate moved the file away: lines go to a new one */
			if (cfg.log_file && *cfg.log_file && (r = log_reopen(cfg.log_file)) < 0)
				log_error("log_reopen_failed", "error=%s", strerror(-r));
			reload_keys(&cfg, http, &g, ready);
		}
		/* librdkafka says every broker is down: ask at once, and every
		 * second while it lasts, whether one answers, so that a blip
		 * ends before the grace of publisher_known_down runs out. */
		if (publisher_down_for_ms(pub) > 0 && next_check > now + 1000u)
			next_check = now;
		if (now >= next_check) {
			bool was = ready;

			/* Blocks this loop, never an HTTP thread nor the poller. */
			ready = publisher_reachable(pub, 2000);
			atomic_store(&readiness.kafka, ready);
			metrics_gauge_set(g.kafka_up, NULL, ready ? 1 : 0);
			if (ready != was)
				log_event(ready ? LOG_LEVEL_NOTICE : LOG_LEVEL_WARNING,
					  ready ? "kafka_reachable" : "kafka_unreachable", "topic=%s",
					  cfg.topic);
			if (ready && !notified_ready) {
				notify_ready("Kafka reachable; accepting batches");
				notified_ready = true;
			}
			next_check = clock_mono_ms() + (ready ? 5000u : 1000u);
		}
		if (now >= next_status) {
			struct http_stats st;

			http_stats(http, &st);
			notify_status("%s; %" PRIu64 " requests: %" PRIu64 " published, %" PRIu64
				      " rejected, %" PRIu64 " failed; %u in flight",
				      ready ? "ready" : "waiting for Kafka", st.requests, st.published,
				      st.rejected, st.failed, st.inflight);
			next_status = now + 5000u;
		}
		metrics_gauge_set(g.inflight_bytes, NULL, (double)budget_used(budget));
		notify_watchdog();
		clock_sleep_ms(200);
	}

	notify_stopping();
	{
		struct http_stats st;

		http_stats(http, &st);
		log_notice("gateway_stopping", "active=%u inflight=%u", st.active, st.inflight);
	}
	if (!drain(http, pub, cfg.publish_timeout_ms))
		_exit(EXITCODE_FAILURE); /* threads still hold what we would free */
out:
	if (http) {
		struct http_stats st;

		http_stats(http, &st);
		http_stop(http);
		log_notice("gateway_stopped", "requests=%" PRIu64 " published=%" PRIu64
			   " rejected=%" PRIu64 " failed=%" PRIu64, st.requests, st.published,
			   st.rejected, st.failed);
	}
	admin_stop(admin);
	sharedlimit_free(shared); /* after http: its threads used it */
	publisher_free(pub);
	budget_free(budget); /* after the publisher: its reports give bytes back */
	metrics_free(metrics);
	keys_free(keys);
	free(tls_cert);
	free(tls_key);
	settings_free(gateway_settings, NSETTINGS, &cfg);
	return ret;
}
