#include "config.h"

#include "admin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "log.h"
#include "mhd.h"
#include "metrics.h"
#include "netaddr.h"

struct admin {
	struct MHD_Daemon *daemon;
	struct metrics *metrics;
	bool (*ready)(void *arg);
	void *ready_arg;
};

/* libmicrohttpd's own complaints, as logfmt lines like everything else. */
static const struct mhd_log_as admin_mhd_log = { LOG_LEVEL_WARNING, "admin_http_error" };

static enum MHD_Result admin_answer(struct MHD_Connection *conn, unsigned int status,
				    const char *type, char *body, size_t len, bool owned)
{
	struct MHD_Response *resp;
	enum MHD_Result r;

	resp = MHD_create_response_from_buffer(len, body,
					       owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		if (owned)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	r = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return r;
}

static enum MHD_Result admin_handle(void *cls, struct MHD_Connection *conn, const char *url,
				    const char *method, const char *version,
				    const char *upload_data, size_t *upload_data_size,
				    void **con_cls)
{
	static const char text[] = "text/plain; charset=utf-8";
	struct admin *a = cls;
	static int first_call_marker;

	(void)version;
	(void)upload_data;
	/* Nothing here takes a body: answer at once, whatever was sent. */
	if (*con_cls == NULL) {
		*con_cls = &first_call_marker;
		if (*upload_data_size == 0)
			return MHD_YES;
	}
	*upload_data_size = 0;
	if (strcmp(url, "/healthz") != 0 && strcmp(url, "/readyz") != 0 &&
	    strcmp(url, "/metrics") != 0)
		return admin_answer(conn, MHD_HTTP_NOT_FOUND, text, (char *)"not found\n", 10, false);
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return admin_answer(conn, MHD_HTTP_METHOD_NOT_ALLOWED, text,
				    (char *)"method not allowed\n", 19, false);
	if (strcmp(url, "/healthz") == 0)
		return admin_answer(conn, MHD_HTTP_OK, text, (char *)"ok\n", 3, false);
	if (strcmp(url, "/readyz") == 0) {
		if (!a->ready || a->ready(a->ready_arg))
			return admin_answer(conn, MHD_HTTP_OK, text, (char *)"ready\n", 6, false);
		return admin_answer(conn, MHD_HTTP_SERVICE_UNAVAILABLE, text, (char *)"not ready\n",
				    10, false);
	}
	if (a->metrics) {
		char *body = NULL;
		size_t len = 0;

		if (metrics_render(a->metrics, &body, &len) < 0)
			return admin_answer(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, text,
					    (char *)"out of memory\n", 14, false);
		return admin_answer(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
				    body, len, true);
	}
	return admin_answer(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
			    (char *)"", 0, false);
}

int admin_start(struct admin **out, const struct admin_options *opt, char *err, size_t errsize)
{
	struct sockaddr_storage addr;
	socklen_t addrlen;
	/* Small and slow on purpose: a scraper and a probe, never a crowd. */
	const struct MHD_OptionItem options[] = {
		{ MHD_OPTION_CONNECTION_LIMIT, 32, NULL },
		{ MHD_OPTION_CONNECTION_TIMEOUT, 10, NULL },
		{ MHD_OPTION_END, 0, NULL },
	};
	struct admin *a;
	char why[200];
	int r;

	*out = NULL;
	r = netaddr_parse(opt->listen, &addr, &addrlen, why, sizeof(why));
	if (r < 0) {
		snprintf(err, errsize, "admin listener: %s", why);
		return r;
	}
	a = calloc(1, sizeof(*a));
	if (!a) {
		snprintf(err, errsize, "out of memory");
		return -ENOMEM;
	}
	a->metrics = opt->metrics;
	a->ready = opt->ready;
	a->ready_arg = opt->ready_arg;
	r = mhd_start(&a->daemon, &(struct mhd_listener){
					  .flags = MHD_USE_AUTO_INTERNAL_THREAD,
					  .addr = (struct sockaddr *)&addr,
					  .handler = admin_handle,
					  .handler_cls = a,
					  .log = &admin_mhd_log,
					  .options = options,
					  .failure = -EADDRINUSE,
				  });
	if (r < 0) {
		snprintf(err, errsize, "admin listener: cannot listen on %s: %s", opt->listen,
			 strerror(-r));
		free(a);
		return r;
	}
	{
		const union MHD_DaemonInfo *info =
			MHD_get_daemon_info(a->daemon, MHD_DAEMON_INFO_BIND_PORT);

		/* The port, for a listener asked for port 0 (any free one). */
		log_info("admin_listening", "listen=%s port=%u", opt->listen,
			 info ? (unsigned)info->port : 0u);
	}
	*out = a;
	return 0;
}

void admin_stop(struct admin *a)
{
	if (!a)
		return;
	MHD_stop_daemon(a->daemon);
	free(a);
}
