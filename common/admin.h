/* admin: the operator's listener, separate from any public one and bound to
 * loopback by default: GET /healthz (the process answers), GET /readyz (the
 * caller's readiness callback) and GET /metrics (a metrics registry in the
 * Prometheus text format). Used by both daemons. */
#ifndef PATIENTS_ADMIN_H
#define PATIENTS_ADMIN_H

#include <stdbool.h>
#include <stddef.h>

struct admin;
struct metrics;

struct admin_options {
	const char *listen;	  /* "HOST:PORT", see netaddr_parse() */
	struct metrics *metrics;  /* rendered by /metrics; NULL: an empty page */
	bool (*ready)(void *arg); /* /readyz is 200 when it returns true, else 503;
				     NULL: always ready. Called on the admin
				     thread: make it cheap and thread-safe. */
	void *ready_arg;
};

/* Starts the listener on its own thread. Returns 0 with *out set; -EINVAL
 * (bad address), -EADDRINUSE or another negative errno, with a message in
 * err. Stop it with admin_stop(). */
int admin_start(struct admin **out, const struct admin_options *opt, char *err, size_t errsize);

/* Stops the listener and frees it; NULL is a no-op. */
void admin_stop(struct admin *a);

#endif
