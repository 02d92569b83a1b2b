/* conntrack: the gateway's own table of client connections, for what
 * libmicrohttpd 0.9.75 lacks (it has only an idle timer, which a client
 * trickling one byte at a time resets forever):
 *
 * - deadlines: the whole request head within head_timeout of the
 *   connection's start, or of the previous request's end on a kept-alive
 *   connection; then the body at body_min_rate bytes/s after a grace
 *   (its deadline grows with every byte received);
 * - shedding: once more than max_connections are open, the connection that
 *   has waited longest without sending a whole head is ended, so that a
 *   flood of slow heads cannot lock well-formed clients out.
 *
 * A connection in any other phase (its batch waiting for Kafka, its answer
 * being sent) is left to libmicrohttpd's idle timer.
 *
 * A connection is ended with shutdown(2) on its socket: libmicrohttpd
 * then reads EOF and closes it in its own thread; the fd is never closed
 * here. shutdown is only called under the table's lock, and
 * conntrack_closed takes that lock, which libmicrohttpd calls before it
 * closes the fd: so the fd can never be a reused number.
 *
 * Thread-safe: one mutex, taken by libmicrohttpd's threads and the reaper.
 * Times are passed in (monotonic milliseconds) so that the rules can be
 * tested without a clock. */
#ifndef PATIENTS_GATEWAY_CONNTRACK_H
#define PATIENTS_GATEWAY_CONNTRACK_H

#include <stddef.h>
#include <stdint.h>

struct conntrack;
struct conntrack_conn;
struct metrics_family;

enum conntrack_phase {
	CONNTRACK_PRE_HEAD, /* waiting for a whole request head */
	CONNTRACK_BODY,	    /* head in, body arriving */
	CONNTRACK_EXEMPT,   /* publishing or answering: no deadline of ours */
};

/* Why a connection was ended by this module. */
enum conntrack_reason {
	CONNTRACK_NONE = 0,
	CONNTRACK_HEAD_TIMEOUT,	 /* no whole head within head_timeout */
	CONNTRACK_BODY_TOO_SLOW, /* the body under body_min_rate */
	CONNTRACK_SHED,		 /* table full, no whole head yet */
};

struct conntrack_limits {
	unsigned max_connections; /* more open ones: shed the oldest without a head */
	uint64_t head_timeout_ms;
	uint64_t body_grace_ms;
	uint64_t body_min_rate; /* bytes per second; 0: no body deadline */
	/* The reaper thread's period; 0: no thread (call conntrack_reap). */
	unsigned reap_interval_ms;
	/* Borrowed; NULL: none. Counted by reason: "head_timeout",
	 * "body_too_slow", "shed". */
	struct metrics_family *ended;
};

/* The rule alone: why a connection that entered phase at since_ms and has
 * received bytes of its body since is overdue at now_ms (CONNTRACK_NONE:
 * it is not). */
enum conntrack_reason conntrack_overdue(const struct conntrack_limits *l,
					enum conntrack_phase phase, uint64_t since_ms,
					uint64_t bytes, uint64_t now_ms);

/* The name of a reason for logs and metrics ("none" for CONNTRACK_NONE). */
const char *conntrack_reason_name(enum conntrack_reason r);

/* An empty table; starts the reaper thread when l->reap_interval_ms.
 * Returns 0, or -ENOMEM / -EAGAIN (no thread). */
int conntrack_new(struct conntrack **out, const struct conntrack_limits *l);

/* Stops the reaper and frees the table and any entry still in it (call it
 * once libmicrohttpd has stopped). NULL is a no-op. */
void conntrack_free(struct conntrack *ct);

/* A new connection on fd, in phase CONNTRACK_PRE_HEAD since now_ms.
 * Returns its entry, owned by ct until conntrack_closed, or NULL when out
 * of memory (that connection is then simply not tracked; every function
 * below accepts NULL). When this makes more than max_connections open, the
 * oldest connection still without a head is shed (this one, if it is the
 * only one). */
struct conntrack_conn *conntrack_opened(struct conntrack *ct, int fd, uint64_t now_ms);

/* The connection is closed (before its fd is): frees c. */
void conntrack_closed(struct conntrack *ct, struct conntrack_conn *c);

/* Its request head is complete: the body phase starts at now_ms. */
void conntrack_head_done(struct conntrack *ct, struct conntrack_conn *c, uint64_t now_ms);

/* n more bytes of the body arrived. */
void conntrack_body_bytes(struct conntrack *ct, struct conntrack_conn *c, size_t n);

/* No deadline of ours from now on (publishing, answering). */
void conntrack_exempt(struct conntrack *ct, struct conntrack_conn *c);

/* Its request ended; a kept-alive connection waits for its next head from
 * now_ms. */
void conntrack_request_end(struct conntrack *ct, struct conntrack_conn *c, uint64_t now_ms);

/* Why this module ended c, CONNTRACK_NONE if it did not. */
enum conntrack_reason conntrack_why_ended(struct conntrack *ct, struct conntrack_conn *c);

/* Ends every overdue connection. Returns how many. */
unsigned conntrack_reap(struct conntrack *ct, uint64_t now_ms);

struct conntrack_stats {
	unsigned open;	   /* tracked and not ended by us */
	unsigned pre_head; /* of which waiting for a head */
	uint64_t head_timeout, body_too_slow, shed; /* ended so far, by reason */
};

void conntrack_stats(struct conntrack *ct, struct conntrack_stats *out);

#endif
