/* http_internal: the listener's state, private to the gateway's HTTP files.
 * http.c owns it (http_start fills it, http_stop frees it); request.c reads
 * it from every request and updates only its atomics, under the locks
 * named below. Nothing else includes this header. */
#ifndef PATIENTS_GATEWAY_HTTP_INTERNAL_H
#define PATIENTS_GATEWAY_HTTP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "uuid7.h"

struct budget;
struct conntrack;
struct keys;
struct metrics_family;
struct MHD_Daemon;
struct publisher;
struct ratelimit;
struct sharedlimit;

struct http {
	struct MHD_Daemon *daemon;
	struct publisher *publisher; /* borrowed */
	struct ratelimit *rl;
	struct sharedlimit *shared; /* borrowed; NULL: the local limit only */
	struct budget *budget;	    /* borrowed */
	struct conntrack *ct;
	size_t max_body;
	size_t max_head;

	/* Readers authenticate under it; http_set_keys swaps under it. */
	pthread_rwlock_t keys_lock;
	struct keys *keys;

	/* Request ids must be monotonic across the whole pool: one generator. */
	pthread_mutex_t id_lock;
	struct uuid7_state ids;

	atomic_uint inflight, active;
	atomic_bool closing, refuse;
	atomic_uint_fast64_t requests, published, rejected, failed;

	/* NULL without a registry (metrics_* then do nothing). */
	struct metrics_family *m_requests, *m_duration, *m_publish, *m_patients, *m_inflight,
		*m_connections, *m_ended;
};

#endif
