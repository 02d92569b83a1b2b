#include "config.h"

#include "conntrack.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"

/* The reaper logs what it ended at most this often: a flood must not
 * become a flood of log lines. */
#define CONNTRACK_LOG_EVERY_MS 10000u

struct conntrack_conn {
	struct conntrack_conn *prev, *next; /* in the list of its phase */
	int fd;
	enum conntrack_phase phase;
	enum conntrack_reason ended; /* CONNTRACK_NONE while we let it live */
	uint64_t since_ms;	     /* entered its phase */
	uint64_t bytes;		     /* of the body, in CONNTRACK_BODY */
};

struct conntrack_list {
	struct conntrack_conn *head, *tail;
};

struct conntrack {
	struct conntrack_limits l;
	pthread_mutex_t mu;
	/* Waiting for a head, oldest first (each one is appended when it
	 * enters the phase, with a later time than any before it): the shedding
	 * victim and the overdue ones are at the head. */
	struct conntrack_list pre;
	struct conntrack_list body; /* receiving a body, in no order */
	struct conntrack_list other; /* exempt and ended ones, until closed */
	unsigned open, pre_count;
	uint64_t n_head_timeout, n_body_too_slow, n_shed;

	pthread_t reaper;
	bool reaper_started;
	pthread_mutex_t stop_mu;
	pthread_cond_t stop_cv;
	bool stop;
};

enum conntrack_reason conntrack_overdue(const struct conntrack_limits *l,
					enum conntrack_phase phase, uint64_t since_ms,
					uint64_t bytes, uint64_t now_ms)
{
	uint64_t age = now_ms > since_ms ? now_ms - since_ms : 0;

	switch (phase) {
	case CONNTRACK_PRE_HEAD:
		/* A deadline, not an idle timer: bytes arriving do not move it. */
		return age >= l->head_timeout_ms ? CONNTRACK_HEAD_TIMEOUT : CONNTRACK_NONE;
	case CONNTRACK_BODY:
		if (l->body_min_rate == 0 || age <= l->body_grace_ms)
			return CONNTRACK_NONE;
		/* Each byte buys 1/rate s past the grace: overdue once the body
		 * is behind the minimum rate. In integers: bytes * 1000 / rate
		 * ms earned. */
		return (age - l->body_grace_ms) * l->body_min_rate > bytes * 1000u
			       ? CONNTRACK_BODY_TOO_SLOW
			       : CONNTRACK_NONE;
	case CONNTRACK_EXEMPT:
		break;
	}
	return CONNTRACK_NONE;
}

const char *conntrack_reason_name(enum conntrack_reason r)
{
	switch (r) {
	case CONNTRACK_HEAD_TIMEOUT:
		return "head_timeout";
	case CONNTRACK_BODY_TOO_SLOW:
		return "body_too_slow";
	case CONNTRACK_SHED:
		return "shed";
	case CONNTRACK_NONE:
		break;
	}
	return "none";
}

/* --- lists (callers hold mu) ---------------------------------------------- */

static struct conntrack_list *conntrack_list_of(struct conntrack *ct, struct conntrack_conn *c)
{
	if (c->ended)
		return &ct->other;
	switch (c->phase) {
	case CONNTRACK_PRE_HEAD:
		return &ct->pre;
	case CONNTRACK_BODY:
		return &ct->body;
	case CONNTRACK_EXEMPT:
		break;
	}
	return &ct->other;
}

static void conntrack_unlink(struct conntrack *ct, struct conntrack_conn *c)
{
	struct conntrack_list *l = conntrack_list_of(ct, c);

	if (c->prev)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		l->tail = c->prev;
	c->prev = c->next = NULL;
	if (l == &ct->pre)
		ct->pre_count--;
}

static void conntrack_append(struct conntrack *ct, struct conntrack_conn *c)
{
	struct conntrack_list *l = conntrack_list_of(ct, c);

	c->next = NULL;
	c->prev = l->tail;
	if (l->tail)
		l->tail->next = c;
	else
		l->head = c;
	l->tail = c;
	if (l == &ct->pre)
		ct->pre_count++;
}

/* Ends c: its peer and libmicrohttpd both see the connection closed. */
static void conntrack_end(struct conntrack *ct, struct conntrack_conn *c, enum conntrack_reason why)
{
	conntrack_unlink(ct, c);
	c->ended = why;
	conntrack_append(ct, c);
	ct->open--;
	(void)shutdown(c->fd, SHUT_RDWR);
	switch (why) {
	case CONNTRACK_HEAD_TIMEOUT:
		ct->n_head_timeout++;
		break;
	case CONNTRACK_BODY_TOO_SLOW:
		ct->n_body_too_slow++;
		break;
	case CONNTRACK_SHED:
		ct->n_shed++;
		break;
	case CONNTRACK_NONE:
		break;
	}
	if (ct->l.ended)
		metrics_counter_add(ct->l.ended, conntrack_reason_name(why), 1);
}

/* Moves c to phase at now_ms, unless it was ended. */
static void conntrack_move(struct conntrack *ct, struct conntrack_conn *c,
			   enum conntrack_phase phase, uint64_t now_ms)
{
	if (!c)
		return;
	pthread_mutex_lock(&ct->mu);
	if (!c->ended) {
		conntrack_unlink(ct, c);
		c->phase = phase;
		c->since_ms = now_ms;
		c->bytes = 0;
		conntrack_append(ct, c);
	}
	pthread_mutex_unlock(&ct->mu);
}

/* --- the table ------------------------------------------------------------ */

struct conntrack_conn *conntrack_opened(struct conntrack *ct, int fd, uint64_t now_ms)
{
	struct conntrack_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->fd = fd;
	c->phase = CONNTRACK_PRE_HEAD;
	c->since_ms = now_ms;
	pthread_mutex_lock(&ct->mu);
	conntrack_append(ct, c);
	ct->open++;
	/* Over the limit: the longest wait for a head is the likeliest
	 * attacker (a real client sends its head in one go); one that is
	 * already sending a body or waiting for Kafka is never shed. */
	if (ct->open > ct->l.max_connections && ct->pre.head)
		conntrack_end(ct, ct->pre.head, CONNTRACK_SHED);
	pthread_mutex_unlock(&ct->mu);
	return c;
}

void conntrack_closed(struct conntrack *ct, struct conntrack_conn *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&ct->mu);
	conntrack_unlink(ct, c);
	if (!c->ended)
		ct->open--;
	pthread_mutex_unlock(&ct->mu);
	free(c);
}

void conntrack_head_done(struct conntrack *ct, struct conntrack_conn *c, uint64_t now_ms)
{
	conntrack_move(ct, c, CONNTRACK_BODY, now_ms);
}

void conntrack_body_bytes(struct conntrack *ct, struct conntrack_conn *c, size_t n)
{
	if (!c)
		return;
	pthread_mutex_lock(&ct->mu);
	c->bytes += n;
	pthread_mutex_unlock(&ct->mu);
}

void conntrack_exempt(struct conntrack *ct, struct conntrack_conn *c)
{
	conntrack_move(ct, c, CONNTRACK_EXEMPT, 0);
}

void conntrack_request_end(struct conntrack *ct, struct conntrack_conn *c, uint64_t now_ms)
{
	conntrack_move(ct, c, CONNTRACK_PRE_HEAD, now_ms);
}

enum conntrack_reason conntrack_why_ended(struct conntrack *ct, struct conntrack_conn *c)
{
	enum conntrack_reason r;

	if (!c)
		return CONNTRACK_NONE;
	pthread_mutex_lock(&ct->mu);
	r = c->ended;
	pthread_mutex_unlock(&ct->mu);
	return r;
}

unsigned conntrack_reap(struct conntrack *ct, uint64_t now_ms)
{
	struct conntrack_conn *c, *next;
	enum conntrack_reason why;
	unsigned n = 0;

	pthread_mutex_lock(&ct->mu);
	/* Oldest first, one deadline for all: stop at the first one in time. */
	while ((c = ct->pre.head) &&
	       (why = conntrack_overdue(&ct->l, c->phase, c->since_ms, 0, now_ms)) != CONNTRACK_NONE) {
		conntrack_end(ct, c, why);
		n++;
	}
	for (c = ct->body.head; c; c = next) {
		next = c->next;
		why = conntrack_overdue(&ct->l, c->phase, c->since_ms, c->bytes, now_ms);
		if (why != CONNTRACK_NONE) {
			conntrack_end(ct, c, why);
			n++;
		}
	}
	pthread_mutex_unlock(&ct->mu);
	return n;
}

void conntrack_stats(struct conntrack *ct, struct conntrack_stats *out)
{
	pthread_mutex_lock(&ct->mu);
	out->open = ct->open;
	out->pre_head = ct->pre_count;
	out->head_timeout = ct->n_head_timeout;
	out->body_too_slow = ct->n_body_too_slow;
	out->shed = ct->n_shed;
	pthread_mutex_unlock(&ct->mu);
}

static void *conntrack_reap_loop(void *arg)
{
	struct conntrack *ct = arg;
	struct conntrack_stats st, logged = { 0 };
	uint64_t next_log = 0;

	pthread_mutex_lock(&ct->stop_mu);
	while (!ct->stop) {
		struct timespec until = clock_deadline_in((long)ct->l.reap_interval_ms);
		uint64_t now;

		pthread_cond_timedwait(&ct->stop_cv, &ct->stop_mu, &until);
		if (ct->stop)
			break;
		pthread_mutex_unlock(&ct->stop_mu);
		now = clock_mono_ms();
		conntrack_reap(ct, now);
		conntrack_stats(ct, &st);
		if (now >= next_log && (st.head_timeout != logged.head_timeout ||
					st.body_too_slow != logged.body_too_slow ||
					st.shed != logged.shed)) {
			log_notice("connections_ended",
				   "head_timeout=%" PRIu64 " body_too_slow=%" PRIu64 " shed=%" PRIu64
				   " open=%u waiting_for_head=%u",
				   st.head_timeout - logged.head_timeout,
				   st.body_too_slow - logged.body_too_slow, st.shed - logged.shed,
				   st.open, st.pre_head);
			logged = st;
			next_log = now + CONNTRACK_LOG_EVERY_MS;
		}
		pthread_mutex_lock(&ct->stop_mu);
	}
	pthread_mutex_unlock(&ct->stop_mu);
	return NULL;
}

int conntrack_new(struct conntrack **out, const struct conntrack_limits *l)
{
	struct conntrack *ct = calloc(1, sizeof(*ct));

	*out = NULL;
	if (!ct)
		return -ENOMEM;
	ct->l = *l;
	pthread_mutex_init(&ct->mu, NULL);
	pthread_mutex_init(&ct->stop_mu, NULL);
	if (clock_cond_init(&ct->stop_cv) != 0) { /* the reaper's waits: monotonic */
		pthread_mutex_destroy(&ct->stop_mu);
		pthread_mutex_destroy(&ct->mu);
		free(ct);
		return -ENOMEM;
	}
	if (l->reap_interval_ms) {
		if (pthread_create(&ct->reaper, NULL, conntrack_reap_loop, ct) != 0) {
			conntrack_free(ct);
			return -EAGAIN;
		}
		ct->reaper_started = true;
	}
	*out = ct;
	return 0;
}

static void conntrack_free_list(struct conntrack_list *l)
{
	struct conntrack_conn *c, *next;

	for (c = l->head; c; c = next) {
		next = c->next;
		free(c);
	}
	l->head = l->tail = NULL;
}

void conntrack_free(struct conntrack *ct)
{
	if (!ct)
		return;
	if (ct->reaper_started) {
		pthread_mutex_lock(&ct->stop_mu);
		ct->stop = true;
		pthread_cond_signal(&ct->stop_cv);
		pthread_mutex_unlock(&ct->stop_mu);
		pthread_join(ct->reaper, NULL);
	}
	conntrack_free_list(&ct->pre);
	conntrack_free_list(&ct->body);
	conntrack_free_list(&ct->other);
	pthread_cond_destroy(&ct->stop_cv);
	pthread_mutex_destroy(&ct->stop_mu);
	pthread_mutex_destroy(&ct->mu);
	free(ct);
}
