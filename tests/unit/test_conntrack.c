/* Tests for the gateway's connection table, on a clock the test drives and
 * on socketpairs, whose other end shows whether the table ended a
 * connection (shutdown: EOF) or let it live: the deadline rule as a table,
 * shedding of the oldest connection without a head, the reaper. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "conntrack.h"

static const struct conntrack_limits limits = {
	.max_connections = 3,
	.head_timeout_ms = 10000,
	.body_grace_ms = 1000,
	.body_min_rate = 100, /* bytes/s */
};

struct rule_case {
	const char *name;
	enum conntrack_phase phase;
	uint64_t since_ms, bytes, now_ms;
	enum conntrack_reason want;
};

static const struct rule_case rules[] = {
	{ "head: in time", CONNTRACK_PRE_HEAD, 1000, 0, 10999, CONNTRACK_NONE },
	{ "head: at the deadline", CONNTRACK_PRE_HEAD, 1000, 0, 11000, CONNTRACK_HEAD_TIMEOUT },
	{ "head: bytes do not move the deadline", CONNTRACK_PRE_HEAD, 1000, 5000, 11000,
	  CONNTRACK_HEAD_TIMEOUT },
	{ "head: a clock before the start", CONNTRACK_PRE_HEAD, 1000, 0, 500, CONNTRACK_NONE },
	{ "body: nothing within the grace is fine", CONNTRACK_BODY, 0, 0, 1000, CONNTRACK_NONE },
	{ "body: nothing after the grace", CONNTRACK_BODY, 0, 0, 1001, CONNTRACK_BODY_TOO_SLOW },
	{ "body: 50 bytes buy 500 ms", CONNTRACK_BODY, 0, 50, 1500, CONNTRACK_NONE },
	{ "body: ... and no more", CONNTRACK_BODY, 0, 50, 1501, CONNTRACK_BODY_TOO_SLOW },
	{ "body: at the rate for a long time", CONNTRACK_BODY, 0, 100000, 1001000, CONNTRACK_NONE },
	{ "body: just under it", CONNTRACK_BODY, 0, 99999, 1001000, CONNTRACK_BODY_TOO_SLOW },
	{ "exempt: never", CONNTRACK_EXEMPT, 0, 0, UINT64_MAX / 2, CONNTRACK_NONE },
};

static void test_rule(void **state)
{
	struct conntrack_limits no_rate = limits;

	(void)state;
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		const struct rule_case *c = &rules[i];

		print_message("# %s\n", c->name);
		assert_int_equal(conntrack_overdue(&limits, c->phase, c->since_ms, c->bytes, c->now_ms),
				 c->want);
	}
	no_rate.body_min_rate = 0;
	assert_int_equal(conntrack_overdue(&no_rate, CONNTRACK_BODY, 0, 0, 1000000), CONNTRACK_NONE);
	assert_string_equal(conntrack_reason_name(CONNTRACK_SHED), "shed");
	assert_string_equal(conntrack_reason_name(CONNTRACK_HEAD_TIMEOUT), "head_timeout");
	assert_string_equal(conntrack_reason_name(CONNTRACK_BODY_TOO_SLOW), "body_too_slow");
	assert_string_equal(conntrack_reason_name(CONNTRACK_NONE), "none");
}

/* One tracked connection: the table gets fds[0], the test reads fds[1]. */
struct peer {
	int fds[2];
	struct conntrack_conn *c;
};

static void peer_open(struct conntrack *ct, struct peer *p, uint64_t now_ms)
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, p->fds), 0);
	p->c = conntrack_opened(ct, p->fds[0], now_ms);
	assert_non_null(p->c);
}

/* True when the table ended it: its peer reads EOF instead of "nothing yet". */
static bool peer_ended(const struct peer *p)
{
	char b;
	ssize_t n = recv(p->fds[1], &b, 1, MSG_DONTWAIT);

	if (n == 0)
		return true;
	assert_true(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
	return false;
}

static void peer_close(struct conntrack *ct, struct peer *p)
{
	conntrack_closed(ct, p->c);
	close(p->fds[0]);
	close(p->fds[1]);
}

static void test_shedding(void **state)
{
	struct conntrack *ct = NULL;
	struct conntrack_stats st;
	struct peer a, b, c, d, e;

	(void)state;
	assert_int_equal(conntrack_new(&ct, &limits), 0);
	peer_open(ct, &a, 0);
	peer_open(ct, &b, 1);
	peer_open(ct, &c, 2);
	conntrack_head_done(ct, b.c, 3); /* b sends its body: never shed */
	assert_false(peer_ended(&a) || peer_ended(&b) || peer_ended(&c));

	/* A fourth: one over the limit; a, the oldest without a head, goes. */
	peer_open(ct, &d, 4);
	assert_true(peer_ended(&a));
	assert_false(peer_ended(&b) || peer_ended(&c) || peer_ended(&d));
	assert_int_equal(conntrack_why_ended(ct, a.c), CONNTRACK_SHED);
	conntrack_stats(ct, &st);
	assert_int_equal(st.open, 3);
	assert_int_equal(st.pre_head, 2);
	assert_int_equal(st.shed, 1);

	/* A fifth: c is now the oldest without a head (b has one). */
	peer_open(ct, &e, 5);
	assert_true(peer_ended(&c));
	assert_false(peer_ended(&b) || peer_ended(&d) || peer_ended(&e));

	/* Once closed, the shed ones leave the table; the count stays right. */
	peer_close(ct, &a);
	peer_close(ct, &c);
	conntrack_stats(ct, &st);
	assert_int_equal(st.open, 3);

	/* Every slot busy with a request: the newcomer itself is shed. */
	conntrack_head_done(ct, d.c, 6);
	conntrack_exempt(ct, e.c); /* waiting for Kafka */
	peer_open(ct, &a, 7);
	assert_true(peer_ended(&a));
	assert_false(peer_ended(&b) || peer_ended(&d) || peer_ended(&e));
	peer_close(ct, &a);

	peer_close(ct, &b);
	peer_close(ct, &d);
	peer_close(ct, &e);
	conntrack_stats(ct, &st);
	assert_int_equal(st.open, 0);
	assert_int_equal(st.pre_head, 0);
	assert_int_equal(st.shed, 3);
	conntrack_free(ct);
}

static void test_reaper(void **state)
{
	struct conntrack *ct = NULL;
	struct conntrack_stats st;
	struct peer slow_head, keepalive, slow_body, steady_body, waiting;
	struct conntrack_limits roomy = limits;

	(void)state;
	roomy.max_connections = 100; /* no shedding here */
	assert_int_equal(conntrack_new(&ct, &roomy), 0);
	peer_open(ct, &slow_head, 0);
	peer_open(ct, &keepalive, 0);
	peer_open(ct, &slow_body, 0);
	conntrack_head_done(ct, keepalive.c, 100);
	conntrack_request_end(ct, keepalive.c, 5000); /* its next head is due at 15000 */
	conntrack_head_done(ct, slow_body.c, 100);
	conntrack_body_bytes(ct, slow_body.c, 50); /* good until 1600 */

	assert_int_equal(conntrack_reap(ct, 1600), 0);
	assert_int_equal(conntrack_reap(ct, 1601), 1);
	assert_true(peer_ended(&slow_body));
	assert_int_equal(conntrack_why_ended(ct, slow_body.c), CONNTRACK_BODY_TOO_SLOW);
	peer_close(ct, &slow_body);

	peer_open(ct, &steady_body, 2000);
	conntrack_head_done(ct, steady_body.c, 2000);
	peer_open(ct, &waiting, 2000);
	conntrack_head_done(ct, waiting.c, 2000);
	conntrack_exempt(ct, waiting.c);

	conntrack_body_bytes(ct, steady_body.c, 1000); /* good until 13000 */
	assert_int_equal(conntrack_reap(ct, 9999), 0);
	assert_int_equal(conntrack_reap(ct, 10000), 1);
	assert_true(peer_ended(&slow_head));
	assert_int_equal(conntrack_why_ended(ct, slow_head.c), CONNTRACK_HEAD_TIMEOUT);
	assert_false(peer_ended(&keepalive) || peer_ended(&steady_body) || peer_ended(&waiting));

	assert_int_equal(conntrack_reap(ct, 13000), 0);
	assert_int_equal(conntrack_reap(ct, 15000), 2); /* keepalive's head, the body */
	assert_true(peer_ended(&keepalive));
	assert_true(peer_ended(&steady_body));
	assert_false(peer_ended(&waiting)); /* exempt: never ours to end */
	assert_int_equal(conntrack_reap(ct, 1000000), 0);
	assert_int_equal(conntrack_why_ended(ct, waiting.c), CONNTRACK_NONE);

	/* An ended connection stays ended whatever its request does next. */
	conntrack_request_end(ct, keepalive.c, 20000);
	assert_int_equal(conntrack_why_ended(ct, keepalive.c), CONNTRACK_HEAD_TIMEOUT);

	conntrack_stats(ct, &st);
	assert_int_equal(st.open, 1);
	assert_int_equal(st.head_timeout, 2);
	assert_int_equal(st.body_too_slow, 2);
	peer_close(ct, &slow_head);
	peer_close(ct, &keepalive);
	peer_close(ct, &steady_body);
	/* Left in the table: conntrack_free frees it (ASan would see a leak). */
	close(waiting.fds[0]);
	close(waiting.fds[1]);
	conntrack_free(ct);

	/* NULL entries (out of memory at open) are accepted everywhere. */
	assert_int_equal(conntrack_new(&ct, &limits), 0);
	conntrack_head_done(ct, NULL, 0);
	conntrack_body_bytes(ct, NULL, 1);
	conntrack_exempt(ct, NULL);
	conntrack_request_end(ct, NULL, 0);
	assert_int_equal(conntrack_why_ended(ct, NULL), CONNTRACK_NONE);
	conntrack_closed(ct, NULL);
	conntrack_free(ct);
	conntrack_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rule),
		cmocka_unit_test(test_shedding),
		cmocka_unit_test(test_reaper),
	};
	return cmocka_run_group_tests_name("conntrack", tests, NULL, NULL);
}
