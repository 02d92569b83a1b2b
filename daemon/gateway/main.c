/* patients-gateway: the HTTP front of the patients pipeline (DESIGN.md s.2):
 * authenticates, rate-limits and validates PUT /v1/patients batches,
 * publishes each as one Kafka message and answers 200 only once Kafka has
 * it. This file: the order of start and stop, and the loop between them
 * (reloads, the Kafka check, systemd's status and watchdog); the options
 * are in options.c, start-up and signals in common/daemon.c. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "admin.h"
#include "budget.h"
#include "clock.h"
#include "daemon.h"
#include "exitcode.h"
#include "http.h"
#include "keys.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "options.h"
#include "publisher.h"
#include "sharedlimit.h"
#include "textfile.h"

#define TLS_FILE_MAX (1u << 20)
#define SECRET_MAX 4096

/* What the admin listener's /readyz reads, written by the main loop. */
struct readiness {
	atomic_bool kafka;
	struct publisher *pub;
};

struct gauges {
	struct metrics_family *kafka_up, *keys, *reloads, *inflight_bytes;
};

/* Everything the gateway runs, from start to stop. */
struct gateway {
	struct gateway_config cfg;
	struct readiness readiness;
	struct gauges g;
	struct metrics *metrics;
	struct budget *budget;
	struct sharedlimit *shared;
	struct publisher *pub;
	struct http *http;
	struct admin *admin;
	char *tls_cert, *tls_key;
	unsigned threads;
	size_t nkeys;	     /* loaded at start, for the start line */
	bool ready;	     /* the last Kafka check's answer */
	bool notified_ready; /* READY=1 sent */
	uint64_t next_check, next_status;
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
			daemon_fail(&gateway_daemon, "reading stdin: %s", strerror(errno));
			return EXITCODE_FAILURE;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > SECRET_MAX) {
		daemon_fail(&gateway_daemon, "the secret is over %d bytes", SECRET_MAX);
		return EXITCODE_FAILURE;
	}
	/* `echo secret |` adds a newline that is not part of the secret. */
	if (len && secret[len - 1] == '\n')
		len--;
	if (len && secret[len - 1] == '\r')
		len--;
	if (len == 0) {
		daemon_fail(&gateway_daemon, "an empty secret on stdin");
		return EXITCODE_FAILURE;
	}
	if (keys_hash_hex(secret, len, hex) < 0) {
		daemon_fail(&gateway_daemon, "SHA-256 failed");
		return EXITCODE_FAILURE;
	}
	explicit_bzero(secret, sizeof(secret));
	printf("%s\n", hex);
	return EXITCODE_OK;
}

/* The settings no single table row can check. Returns 0 or EXITCODE_USAGE,
 * having said why. */
static int gateway_check(const struct gateway_config *cfg)
{
	if (cfg->max_inflight_bytes < cfg->max_body_bytes + 65536) {
		daemon_fail(&gateway_daemon, "--max-inflight-bytes must hold at least one body at "
					     "--max-body-bytes (%lld) and its envelope (64 KiB)",
			    cfg->max_body_bytes);
		return EXITCODE_USAGE;
	}
	if (!cfg->tls_cert != !cfg->tls_key) {
		daemon_fail(&gateway_daemon, "--tls-cert and --tls-key go together");
		return EXITCODE_USAGE;
	}
	return 0;
}

/* The PEM files, NUL-terminated as libmicrohttpd wants them. */
static int gateway_read_tls(struct gateway *gw, char *err, size_t errsize)
{
	size_t len;
	int r;

	if (!gw->cfg.tls_cert)
		return 0;
	r = textfile_read(gw->cfg.tls_cert, TLS_FILE_MAX, &gw->tls_cert, &len, err, errsize);
	if (r == 0)
		r = textfile_read(gw->cfg.tls_key, TLS_FILE_MAX, &gw->tls_key, &len, err,
				  errsize);
	return r;
}

static int gateway_metrics(struct gateway *gw)
{
	static const char *const outcomes[] = { "ok", "error", NULL };
	struct metrics *m = metrics_new();

	if (!m)
		return -ENOMEM;
	gw->metrics = m;
	gw->g.kafka_up = metrics_gauge(m, "patients_gateway_kafka_up",
				       "1 when the last metadata request for the topic succeeded.",
				       NULL, NULL);
	gw->g.keys = metrics_gauge(m, "patients_gateway_keys", "Credentials loaded.", NULL, NULL);
	gw->g.reloads = metrics_counter(m, "patients_gateway_key_reloads_total",
					"Reloads of the keys file (SIGHUP), by outcome.", "outcome",
					outcomes);
	gw->g.inflight_bytes = metrics_gauge(m, "patients_gateway_inflight_bytes",
					     "Bytes of bodies being received and batches waiting "
					     "for Kafka (--max-inflight-bytes).", NULL, NULL);
	return 0;
}

static int gateway_start_publisher(struct gateway *gw, char *err, size_t errsize)
{
	const struct gateway_config *cfg = &gw->cfg;
	struct publisher_options popt = {
		.brokers = cfg->brokers,
		.topic = cfg->topic,
		.kafka_props = &cfg->common.kafka_props,
		.timeout_ms = (int)cfg->publish_timeout_ms,
		/* The envelope around a body at the limit still fits. */
		.max_message_bytes = (size_t)cfg->max_body_bytes + 65536u,
		.down_grace_ms = (int)cfg->kafka_down_grace_ms,
		.budget = gw->budget,
		.delivered = http_delivered,
	};
	int r = publisher_new(&gw->pub, &popt, err, errsize);

	gw->readiness.pub = gw->pub;
	return r;
}

static int gateway_start_shared(struct gateway *gw, char *err, size_t errsize)
{
	const struct gateway_config *cfg = &gw->cfg;
	struct sharedlimit_options sopt = {
		.url = cfg->rate_limit_redis,
		.per_minute = (unsigned)cfg->rate_limit,
		.timeout_ms = (unsigned)cfg->rate_limit_redis_timeout_ms,
		.retry_ms = (unsigned)cfg->rate_limit_redis_retry_ms,
		.connections = gw->threads, /* one per HTTP thread: none waits */
		.metrics = gw->metrics,
	};

	if (!cfg->rate_limit_redis || !*cfg->rate_limit_redis)
		return 0;
	/* Connects on first use: a Redis down at start stops nothing. */
	return sharedlimit_new(&gw->shared, &sopt, err, errsize);
}

/* Takes keys, whatever it returns. */
static int gateway_start_http(struct gateway *gw, struct keys *keys, char *err, size_t errsize)
{
	const struct gateway_config *cfg = &gw->cfg;
	struct http_options hopt = {
		.listen = cfg->listen,
		.allow_plain_http = cfg->allow_plain_http,
		.tls_cert = gw->tls_cert,
		.tls_key = gw->tls_key,
		.threads = gw->threads,
		.max_connections = (unsigned)cfg->max_connections,
		.max_connections_per_ip = (unsigned)cfg->max_connections_per_ip,
		.read_timeout_s = (unsigned)cfg->read_timeout_s,
		.head_timeout_s = (unsigned)cfg->head_timeout_s,
		.body_grace_s = (unsigned)cfg->body_grace_s,
		.body_min_rate = (unsigned)cfg->body_min_rate,
		.budget = gw->budget,
		.max_header_bytes = (size_t)cfg->max_header_bytes,
		.max_body_bytes = (size_t)cfg->max_body_bytes,
		.rate_limit = (unsigned)cfg->rate_limit,
		.shared = gw->shared,
		.publisher = gw->pub,
		.metrics = gw->metrics,
	};
	int r = http_start(&gw->http, &hopt, keys, err, errsize);

	if (r < 0)
		keys_free(keys); /* http took it only on success */
	return r;
}

static int gateway_start_admin(struct gateway *gw, char *err, size_t errsize)
{
	struct admin_options aopt = {
		.listen = gw->cfg.admin_listen,
		.metrics = gw->metrics,
		.ready = ready_cb,
		.ready_arg = &gw->readiness,
	};

	if (!gw->cfg.admin_listen || !*gw->cfg.admin_listen)
		return 0;
	return admin_start(&gw->admin, &aopt, err, errsize);
}

/* Brings every part up, in the order they depend on each other. Returns 0,
 * or the exit status for the step that failed, having said why. */
static int gateway_start(struct gateway *gw)
{
	struct gateway_config *cfg = &gw->cfg;
	struct keys *keys = NULL;
	char err[600];
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int r;

	atomic_init(&gw->readiness.kafka, false);
	gw->threads = cfg->threads ? (unsigned)cfg->threads : (unsigned)(ncpu > 0 ? ncpu : 1);
	r = keys_load(cfg->keys_file, &keys, err, sizeof(err));
	if (r < 0) {
		daemon_fail(&gateway_daemon, "keys file: %s", err);
		goto out;
	}
	gw->nkeys = keys_count(keys);
	r = gateway_read_tls(gw, err, sizeof(err));
	if (r < 0) {
		daemon_fail(&gateway_daemon, "TLS: %s", err);
		goto out;
	}
	snprintf(err, sizeof(err), "out of memory");
	r = gateway_metrics(gw);
	if (r == 0) {
		metrics_gauge_set(gw->g.keys, NULL, (double)gw->nkeys);
		raise_fd_limit(cfg->max_connections);
		r = budget_new(&gw->budget, (size_t)cfg->max_inflight_bytes);
	}
	if (r == 0)
		r = gateway_start_publisher(gw, err, sizeof(err));
	if (r == 0)
		r = gateway_start_shared(gw, err, sizeof(err));
	if (r == 0) {
		r = gateway_start_http(gw, keys, err, sizeof(err));
		keys = NULL; /* now owned by http, or freed */
	}
	if (r == 0)
		r = gateway_start_admin(gw, err, sizeof(err));
	if (r < 0) {
		daemon_fail(&gateway_daemon, "%s", err);
		goto out;
	}
	log_notice("gateway_started", "listen=%s tls=%s admin=%s topic=%s keys=%zu threads=%u "
		   "rate_limit=%lld rate_limit_shared=%s publish_timeout_ms=%lld", cfg->listen,
		   gw->tls_cert ? "yes" : "no", gw->admin ? cfg->admin_listen : "-", cfg->topic,
		   gw->nkeys, gw->threads, cfg->rate_limit, gw->shared ? "redis" : "no",
		   cfg->publish_timeout_ms);
out:
	keys_free(keys);
	return exitcode_for(r);
}

static void gateway_reload_keys(struct gateway *gw)
{
	struct keys *keys = NULL;
	char err[512], q[600];

	notify_reloading();
	if (keys_load(gw->cfg.keys_file, &keys, err, sizeof(err)) < 0) {
		/* The old keys stay: a typo must not lock every partner out. */
		log_error("keys_reload_failed", "message=%s", log_quote(q, sizeof(q), err));
		metrics_counter_add(gw->g.reloads, "error", 1);
	} else {
		size_t n = keys_count(keys);

		http_set_keys(gw->http, keys);
		log_notice("keys_reloaded", "keys=%zu", n);
		metrics_gauge_set(gw->g.keys, NULL, (double)n);
		metrics_counter_add(gw->g.reloads, "ok", 1);
	}
	if (gw->ready)
		notify_ready("reloaded");
	else
		notify_status("reloaded; waiting for Kafka");
}

/* Asks Kafka whether the topic answers, and tells /readyz, the metric, the
 * log and systemd when that changes. */
static void gateway_check_kafka(struct gateway *gw, uint64_t now)
{
	bool was = gw->ready;

	/* librdkafka says every broker is down: ask at once, and every second
	 * while it lasts, whether one answers, so that a blip ends before the
	 * grace of publisher_known_down runs out. */
	if (publisher_down_for_ms(gw->pub) > 0 && gw->next_check > now + 1000u)
		gw->next_check = now;
	if (now < gw->next_check)
		return;
	/* Blocks this loop, never an HTTP thread nor the poller. */
	gw->ready = publisher_reachable(gw->pub, 2000);
	atomic_store(&gw->readiness.kafka, gw->ready);
	metrics_gauge_set(gw->g.kafka_up, NULL, gw->ready ? 1 : 0);
	if (gw->ready != was)
		log_event(gw->ready ? LOG_LEVEL_NOTICE : LOG_LEVEL_WARNING,
			  gw->ready ? "kafka_reachable" : "kafka_unreachable", "topic=%s",
			  gw->cfg.topic);
	if (gw->ready && !gw->notified_ready) {
		notify_ready("Kafka reachable; accepting batches");
		gw->notified_ready = true;
	}
	gw->next_check = clock_mono_ms() + (gw->ready ? 5000u : 1000u);
}

static void gateway_status(struct gateway *gw, uint64_t now)
{
	struct http_stats st;

	if (now < gw->next_status)
		return;
	http_stats(gw->http, &st);
	notify_status("%s; %" PRIu64 " requests: %" PRIu64 " published, %" PRIu64 " rejected, %" PRIu64
		      " failed; %u in flight", gw->ready ? "ready" : "waiting for Kafka",
		      st.requests, st.published, st.rejected, st.failed, st.inflight);
	gw->next_status = now + 5000u;
}

/* Until TERM or INT: reloads on HUP, watches Kafka, reports to systemd. */
static void gateway_loop(struct gateway *gw)
{
	while (!daemon_stopping()) {
		uint64_t now = clock_mono_ms();

		if (daemon_reload_requested())
			gateway_reload_keys(gw);
		gateway_check_kafka(gw, now);
		gateway_status(gw, now);
		metrics_gauge_set(gw->g.inflight_bytes, NULL, (double)budget_used(gw->budget));
		notify_watchdog();
		clock_sleep_ms(200);
	}
}

/* Waits, telling the watchdog, until done() or the deadline. */
static bool gateway_wait(struct http *http, bool (*done)(const struct http_stats *),
			 uint64_t deadline)
{
	struct http_stats st;

	for (;;) {
		http_stats(http, &st);
		if (done(&st))
			return true;
		if (clock_mono_ms() > deadline)
			return false;
		notify_watchdog();
		clock_sleep_ms(50);
	}
}

static bool gateway_idle(const struct http_stats *st)
{
	return st->active == 0;
}

static bool gateway_delivered(const struct http_stats *st)
{
	return st->inflight == 0;
}

/* SIGTERM: stop accepting, let what is open finish (publishing included),
 * then refuse new publishes and wait for the last delivery reports, which
 * always come within the publish timeout. Exits at once when a connection
 * is still waiting for Kafka after that: the server cannot be stopped, and
 * its threads still hold what gateway_stop would free. */
static void gateway_drain(struct gateway *gw)
{
	uint64_t grace = (uint64_t)gw->cfg.publish_timeout_ms + 5000u;
	struct http_stats st;

	notify_stopping();
	http_stats(gw->http, &st);
	log_notice("gateway_stopping", "active=%u inflight=%u", st.active, st.inflight);
	http_quiesce(gw->http);
	(void)gateway_wait(gw->http, gateway_idle, clock_mono_ms() + grace);
	http_refuse_publishing(gw->http);
	if (!gateway_wait(gw->http, gateway_delivered, clock_mono_ms() + grace)) {
		http_stats(gw->http, &st);
		log_error("drain_stuck", "inflight=%u", st.inflight);
		_exit(EXITCODE_FAILURE);
	}
}

/* Frees what gateway_start made, in the reverse order; any part may be
 * missing. */
static void gateway_stop(struct gateway *gw)
{
	if (gw->http) {
		struct http_stats st;

		http_stats(gw->http, &st);
		http_stop(gw->http);
		log_notice("gateway_stopped", "requests=%" PRIu64 " published=%" PRIu64
			   " rejected=%" PRIu64 " failed=%" PRIu64, st.requests, st.published,
			   st.rejected, st.failed);
	}
	admin_stop(gw->admin);
	sharedlimit_free(gw->shared); /* after http: its threads used it */
	publisher_free(gw->pub);
	budget_free(gw->budget); /* after the publisher: its reports give bytes back */
	metrics_free(gw->metrics);
	free(gw->tls_cert);
	free(gw->tls_key);
}

int main(int argc, char **argv)
{
	static struct gateway gw;
	int status;

	if (!daemon_start(&gateway_daemon, &gw.cfg, &gw.cfg.common, argc, argv, &status))
		goto out;
	if (gw.cfg.hash_secret) {
		status = hash_secret();
		goto out;
	}
	status = gateway_check(&gw.cfg);
	if (status == 0)
		status = gateway_start(&gw);
	if (status == 0) {
		gateway_loop(&gw);
		gateway_drain(&gw);
	}
out:
	gateway_stop(&gw);
	daemon_end(&gateway_daemon, &gw.cfg);
	return status;
}
