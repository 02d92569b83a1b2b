/* http: the gateway's public listener (libmicrohttpd, epoll, a pool of
 * threads): PUT /v1/patients and GET /healthz, every answer with its
 * X-Request-Id and X-RateLimit-* headers and errors in the envelope of
 * DESIGN.md s.2. A valid batch is published and its connection suspended
 * until the delivery report resumes it: no HTTP thread waits on Kafka.
 * http.c is the listener (libmicrohttpd's set-up and callbacks); each
 * request's steps are request.c's, their decisions policy.c's, every
 * response answer.c's. */
#ifndef PATIENTS_GATEWAY_HTTP_H
#define PATIENTS_GATEWAY_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct budget;
struct http;
struct keys;
struct metrics;
struct publisher;
struct sharedlimit;

struct http_options {
	const char *listen;	 /* "HOST:PORT" */
	bool allow_plain_http;	 /* plain HTTP on a non-loopback address */
	const char *tls_cert;	 /* PEM text (not a path); NULL: plain HTTP */
	const char *tls_key;	 /* PEM text */
	unsigned threads;	 /* libmicrohttpd's thread pool */
	/* Over it, connections without a whole request head are shed, oldest
	 * first; libmicrohttpd holds up to twice as many (requests in progress
	 * are never shed). */
	unsigned max_connections;
	unsigned max_connections_per_ip; /* 0: no per-address cap */
	unsigned read_timeout_s;	 /* an idle connection is closed after it */
	unsigned head_timeout_s;	 /* the whole request head within it */
	unsigned body_grace_s;		 /* then the body at body_min_rate... */
	unsigned body_min_rate;		 /* ...bytes/s; 0: no body deadline */
	struct budget *budget;		 /* borrowed: bytes in flight */
	size_t max_header_bytes;	 /* per-connection memory for the request head */
	size_t max_body_bytes;
	unsigned rate_limit;		 /* requests per minute per API key */
	/* borrowed; NULL: none. Asked first; its failure falls back to the
	 * local limit (fail open). */
	struct sharedlimit *shared;
	struct publisher *publisher;	 /* borrowed */
	struct metrics *metrics;	 /* borrowed; NULL: no metrics */
};

/* Live totals, for the STATUS line. */
struct http_stats {
	uint64_t requests;  /* answered */
	uint64_t published; /* 200s */
	uint64_t rejected;  /* 4xx */
	uint64_t failed;    /* 5xx */
	unsigned inflight;  /* batches waiting for their delivery report */
	unsigned active;    /* requests between their first byte and their end */
};

/* Starts listening. keys is taken over (freed by http_stop or a later
 * http_set_keys) on success only. Returns 0; -EINVAL (a bad option, or
 * plain HTTP on a public address without allow_plain_http), -EADDRINUSE,
 * -ENOTSUP (no TLS in this libmicrohttpd) or -ENOMEM, with a message in
 * err. */
int http_start(struct http **out, const struct http_options *opt, struct keys *keys, char *err,
	       size_t errsize);

/* Swaps in a new set of credentials (taken over) and frees the old one once
 * no request uses it. Connections are not touched. */
void http_set_keys(struct http *h, struct keys *keys);

/* The publisher's delivery callback: opaque is the request it was given. */
void http_delivered(void *opaque, int err);

/* Stops accepting connections; what is open goes on, each answer now
 * closing its connection. */
void http_quiesce(struct http *h);

/* From now on a valid batch is answered 503 without being published, so
 * that the in-flight count can only fall. */
void http_refuse_publishing(struct http *h);

void http_stats(struct http *h, struct http_stats *out);

/* Stops the server. Call only when stats say inflight == 0: a connection
 * still waiting for Kafka cannot be closed. Frees h. */
void http_stop(struct http *h);

#endif
