#include "config.h"

#include "http.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "clock.h"
#include "conntrack.h"
#include "http_internal.h"
#include "keys.h"
#include "log.h"
#include "metrics.h"
#include "mhd.h"
#include "netaddr.h"
#include "ratelimit.h"
#include "request.h"

/* libmicrohttpd's memory per connection, above --max-header-bytes so that
 * a head over the limit (a long request line included) still reaches our
 * handler and gets our 431 or 414, with our envelope and headers; only a
 * head over this reaches libmicrohttpd's own bare answer. */
#define HTTP_POOL_BYTES(max_header) (2 * (max_header) + 64 * 1024)
/* libmicrohttpd may hold this many connections per --max-connections
 * (shedding keeps ours at the limit; the rest are being shed, or requests
 * in progress that are never shed). */
#define HTTP_MHD_LIMIT_FACTOR 2u
/* How often the reaper looks for overdue connections. */
#define HTTP_REAP_INTERVAL_MS 200u
/* TLS 1.2 and 1.3 only. */
#define HTTP_TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

/* libmicrohttpd's own complaints (bad requests it answers itself, TLS
 * handshake failures), as logfmt lines like everything else. */
static const struct mhd_log_as http_mhd_log = { LOG_LEVEL_INFO, "http_library" };

/* --- libmicrohttpd's callbacks ------------------------------------------ */

/* Each call steps the request (request.h) from the stage it is at. */
static enum MHD_Result http_handle(void *cls, struct MHD_Connection *conn, const char *url,
				   const char *method, const char *version,
				   const char *upload_data, size_t *upload_data_size,
				   void **con_cls)
{
	struct request *req = *con_cls;

	if (!req) {
		req = request_new(cls, conn);
		if (!req)
			return MHD_NO;
		*con_cls = req;
		return request_begin(req, url, method, version);
	}
	switch (req->stage) {
	case REQUEST_STAGE_HEAD:
		break;
	case REQUEST_STAGE_DRAIN:
		return request_drain(req, upload_data_size);
	case REQUEST_STAGE_BODY:
		return request_body(req, upload_data, upload_data_size);
	case REQUEST_STAGE_PUBLISHING:
		return request_published(req);
	case REQUEST_STAGE_ANSWERED:
		break;
	}
	return MHD_NO;
}

static void http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			   enum MHD_RequestTerminationCode toe)
{
	static const char *const ends[] = {
		[MHD_REQUEST_TERMINATED_COMPLETED_OK] = "ok",
		[MHD_REQUEST_TERMINATED_WITH_ERROR] = "error",
		[MHD_REQUEST_TERMINATED_TIMEOUT_REACHED] = "timeout",
		[MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN] = "shutdown",
		[MHD_REQUEST_TERMINATED_READ_ERROR] = "read_error",
		[MHD_REQUEST_TERMINATED_CLIENT_ABORT] = "client_abort",
	};
	struct request *req = *con_cls;

	(void)cls;
	(void)conn;
	if (!req)
		return;
	request_end(req, (unsigned)toe < sizeof(ends) / sizeof(ends[0]) && ends[toe] ? ends[toe]
										    : "other");
	*con_cls = NULL;
}

/* Every connection is in h->ct from its start to its end: deadlines and
 * shedding (conntrack.h). */
static void http_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			    enum MHD_ConnectionNotificationCode toe)
{
	struct http *h = cls;

	metrics_gauge_add(h->m_connections, NULL, toe == MHD_CONNECTION_NOTIFY_STARTED ? 1 : -1);
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);

		*socket_context = ci ? conntrack_opened(h->ct, ci->connect_fd, clock_mono_ms()) : NULL;
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		conntrack_closed(h->ct, *socket_context);
		*socket_context = NULL;
	}
}

/* libmicrohttpd's unescaper, replaced by one that leaves the target alone. */
static size_t http_unescape_none(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	return strlen(s);
}

void http_delivered(void *opaque, int err)
{
	request_delivered(opaque, err);
}

/* --- lifecycle ---------------------------------------------------------- */

static int http_register_metrics(struct http *h, struct metrics *m)
{
	static const char *const statuses[] = { "200", "400", "401", "404", "405", "413", "414",
						"415", "422", "429", "431", "501", "503", NULL };
	static const double seconds[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
					  0.5,	 1,    2.5,   5,    10,	 30 };
	static const char *const ended[] = { "head_timeout", "body_too_slow", "shed", NULL };
	size_t nb = sizeof(seconds) / sizeof(seconds[0]);

	if (!m)
		return 0;
	h->m_requests = metrics_counter(m, "patients_gateway_requests_total",
					"Requests answered, by HTTP status (aborted: no answer sent).",
					"status", statuses);
	h->m_duration = metrics_histogram(m, "patients_gateway_request_duration_seconds",
					  "From the request's head to its end.", NULL, NULL, seconds,
					  nb);
	h->m_publish = metrics_histogram(m, "patients_gateway_publish_duration_seconds",
					 "From handing a batch to Kafka to its delivery report.",
					 NULL, NULL, seconds, nb);
	h->m_patients = metrics_counter(m, "patients_gateway_patients_published_total",
					"Patients in batches Kafka confirmed.", NULL, NULL);
	h->m_inflight = metrics_gauge(m, "patients_gateway_batches_inflight",
				      "Batches waiting for Kafka's delivery report.", NULL, NULL);
	h->m_connections = metrics_gauge(m, "patients_gateway_connections",
					 "Open client connections.", NULL, NULL);
	h->m_ended = metrics_counter(m, "patients_gateway_connections_ended_total",
				     "Connections the gateway ended itself, by reason: no whole "
				     "head in time, body too slow, shed for room.",
				     "reason", ended);
	if (!h->m_requests || !h->m_duration || !h->m_publish || !h->m_patients ||
	    !h->m_inflight || !h->m_connections || !h->m_ended)
		return -errno;
	return 0;
}

/* TLS when a certificate and key are given; plain HTTP only on loopback
 * unless allowed. Returns 0 with *tls set; -ENOTSUP or -EINVAL with a
 * message in err. */
static int http_check_tls(const struct http_options *opt, const struct sockaddr *addr, bool *tls,
			  char *err, size_t errsize)
{
	*tls = opt->tls_cert && opt->tls_key;
	if (*tls) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			snprintf(err, errsize, "this libmicrohttpd was built without TLS");
			return -ENOTSUP;
		}
		return 0;
	}
	if (!netaddr_is_loopback(addr) && !opt->allow_plain_http) {
		snprintf(err, errsize,
			 "refusing plain HTTP on %s, which is not a loopback address: give "
			 "--tls-cert and --tls-key, or --allow-plain-http behind a TLS proxy",
			 opt->listen);
		return -EINVAL;
	}
	return 0;
}

static void http_free(struct http *h)
{
	conntrack_free(h->ct);
	keys_free(h->keys);
	ratelimit_free(h->rl);
	pthread_rwlock_destroy(&h->keys_lock);
	pthread_mutex_destroy(&h->id_lock);
	free(h);
}

/* The listener's state, everything but the daemon and the keys. Returns 0
 * with *out set, or a negative errno with a message in err. */
static int http_new(struct http **out, const struct http_options *opt, char *err, size_t errsize)
{
	struct conntrack_limits cl = {
		.max_connections = opt->max_connections,
		.head_timeout_ms = (uint64_t)opt->head_timeout_s * 1000u,
		.body_grace_ms = (uint64_t)opt->body_grace_s * 1000u,
		.body_min_rate = opt->body_min_rate,
		.reap_interval_ms = HTTP_REAP_INTERVAL_MS,
	};
	struct http *h = calloc(1, sizeof(*h));
	int r;

	*out = NULL;
	if (!h) {
		snprintf(err, errsize, "out of memory");
		return -ENOMEM;
	}
	pthread_rwlock_init(&h->keys_lock, NULL);
	pthread_mutex_init(&h->id_lock, NULL);
	h->publisher = opt->publisher;
	h->budget = opt->budget;
	h->shared = opt->shared;
	h->max_body = opt->max_body_bytes;
	h->max_head = opt->max_header_bytes;
	atomic_init(&h->inflight, 0);
	atomic_init(&h->active, 0);
	atomic_init(&h->closing, false);
	atomic_init(&h->refuse, false);
	r = uuid7_init(&h->ids);
	if (r < 0) {
		snprintf(err, errsize, "cannot seed request ids: %s", strerror(-r));
		goto fail;
	}
	r = ratelimit_new(&h->rl, opt->rate_limit);
	if (r < 0) {
		snprintf(err, errsize, "rate limiter: %s", strerror(-r));
		goto fail;
	}
	r = http_register_metrics(h, opt->metrics);
	if (r < 0) {
		snprintf(err, errsize, "metrics: %s", strerror(-r));
		goto fail;
	}
	cl.ended = h->m_ended;
	r = conntrack_new(&h->ct, &cl);
	if (r < 0) {
		snprintf(err, errsize, "connection table: %s", strerror(-r));
		goto fail;
	}
	*out = h;
	return 0;
fail:
	http_free(h);
	return r;
}

/* Starts libmicrohttpd on addr with the gateway's own options. Returns 0,
 * or a negative errno with a message in err. */
static int http_listen(struct http *h, const struct http_options *opt,
		       const struct sockaddr *addr, bool tls, char *err, size_t errsize)
{
	static const struct MHD_OptionItem no_tls[] = { { MHD_OPTION_END, 0, NULL } };
	const struct MHD_OptionItem with_tls[] = {
		{ MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)opt->tls_cert },
		{ MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)opt->tls_key },
		{ MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)HTTP_TLS_PRIORITIES },
		{ MHD_OPTION_END, 0, NULL },
	};
	const struct MHD_OptionItem o[] = {
		{ MHD_OPTION_THREAD_POOL_SIZE, opt->threads, NULL },
		/* Room past ours, so that a flood is accepted and shed instead
		 * of waiting in the listen backlog with everyone else. */
		{ MHD_OPTION_CONNECTION_LIMIT, opt->max_connections * HTTP_MHD_LIMIT_FACTOR, NULL },
		{ MHD_OPTION_PER_IP_CONNECTION_LIMIT, opt->max_connections_per_ip, NULL },
		{ MHD_OPTION_CONNECTION_TIMEOUT, opt->read_timeout_s, NULL },
		{ MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		  (intptr_t)HTTP_POOL_BYTES(opt->max_header_bytes), NULL },
		/* The target as sent, not decoded: framing_normalize_path decodes
		 * what is safe to, so that %2F and %00 never route. */
		{ MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)http_unescape_none, NULL },
		/* Its default, said out loud: at 1 libmicrohttpd would refuse a
		 * missing Host and spaces in the target itself, with its own bare
		 * 400; framing_check refuses them with ours. */
		{ MHD_OPTION_STRICT_FOR_CLIENT, 0, NULL },
		{ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)http_completed, h },
		{ MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)http_connection, h },
		/* With TLS: 1.2 and 1.3 only, from the PEM text given. */
		{ MHD_OPTION_ARRAY, 0, (void *)(tls ? with_tls : no_tls) },
		{ MHD_OPTION_END, 0, NULL },
	};
	int r;

	r = mhd_start(&h->daemon, &(struct mhd_listener){
					  .flags = MHD_USE_EPOLL_INTERNAL_THREAD |
						   MHD_ALLOW_SUSPEND_RESUME |
						   (tls ? MHD_USE_TLS : 0u),
					  .addr = addr,
					  .handler = http_handle,
					  .handler_cls = h,
					  .log = &http_mhd_log,
					  .options = o,
					  .failure = -EINVAL,
				  });
	if (r < 0)
		snprintf(err, errsize, "cannot listen on %s: %s (see the log for details)",
			 opt->listen, strerror(-r));
	return r;
}

int http_start(struct http **out, const struct http_options *opt, struct keys *keys, char *err,
	       size_t errsize)
{
	struct sockaddr_storage addr;
	socklen_t addrlen;
	struct http *h = NULL;
	char why[200];
	bool tls;
	int r;

	*out = NULL;
	r = netaddr_parse(opt->listen, &addr, &addrlen, why, sizeof(why));
	if (r < 0) {
		snprintf(err, errsize, "--listen: %s", why);
		return r;
	}
	r = http_check_tls(opt, (struct sockaddr *)&addr, &tls, err, errsize);
	if (r < 0)
		return r;
	r = http_new(&h, opt, err, errsize);
	if (r < 0)
		return r;
	r = http_listen(h, opt, (struct sockaddr *)&addr, tls, err, errsize);
	if (r < 0) {
		http_free(h);
		return r;
	}
	h->keys = keys;
	*out = h;
	return 0;
}

void http_set_keys(struct http *h, struct keys *keys)
{
	struct keys *old;

	pthread_rwlock_wrlock(&h->keys_lock);
	old = h->keys;
	h->keys = keys;
	pthread_rwlock_unlock(&h->keys_lock);
	keys_free(old);
}

void http_quiesce(struct http *h)
{
	MHD_socket fd;

	atomic_store(&h->closing, true);
	fd = MHD_quiesce_daemon(h->daemon);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
}

void http_refuse_publishing(struct http *h)
{
	atomic_store(&h->refuse, true);
}

void http_stats(struct http *h, struct http_stats *out)
{
	out->requests = atomic_load(&h->requests);
	out->published = atomic_load(&h->published);
	out->rejected = atomic_load(&h->rejected);
	out->failed = atomic_load(&h->failed);
	out->inflight = atomic_load(&h->inflight);
	out->active = atomic_load(&h->active);
}

void http_stop(struct http *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->daemon);
	http_free(h);
}
