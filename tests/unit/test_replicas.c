/* Table-driven tests for the gateway's "could acks=all succeed now" rule:
 * every partition's leader reachable and a strict majority of its
 * replicas, a replica missing from the broker list counting as down; and
 * the TCP probe against a listening port and a closed one. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "replicas.h"

#define MAXP 4

struct part {
	int32_t leader;
	int32_t replicas[3];
	int replica_cnt;
};

struct scenario {
	const char *name;
	struct part parts[MAXP];
	int nparts;
	struct replicas_broker brokers[4];
	int nbrokers;
	bool writable;
	enum replicas_reason reason;
	int32_t partition; /* first unwritable */
	int reachable, unwritable;
};

#define UP(id) { id, true }
#define DOWN(id) { id, false }

static const struct scenario scenarios[] = {
	{ "one broker, RF 1: writable", { { 1, { 1 }, 1 } }, 1, { UP(1) }, 1,
	  true, REPLICAS_OK, -1, 0, 0 },
	{ "RF 3, all up: writable", { { 1, { 1, 2, 3 }, 3 }, { 2, { 2, 3, 1 }, 3 } }, 2,
	  { UP(1), UP(2), UP(3) }, 3, true, REPLICAS_OK, -1, 0, 0 },
	{ "RF 3, one follower down: 2 of 3 is a majority", { { 1, { 1, 2, 3 }, 3 } }, 1,
	  { UP(1), UP(2), DOWN(3) }, 3, true, REPLICAS_OK, -1, 0, 0 },
	{ "RF 3, fenced follower left out of the list: still 2 of 3",
	  { { 1, { 1, 2, 3 }, 3 } }, 1, { UP(1), UP(2) }, 2, true, REPLICAS_OK, -1, 0, 0 },
	{ "two of three down, the stale view names a dead leader",
	  { { 1, { 1, 2, 3 }, 3 }, { 2, { 2, 3, 1 }, 3 } }, 2,
	  { UP(1), DOWN(2), DOWN(3) }, 3, false, REPLICAS_MINORITY, 0, 1, 2 },
	{ "the leader is the one that died (not fenced yet)",
	  { { 1, { 1, 2, 3 }, 3 }, { 2, { 2, 3, 1 }, 3 } }, 2,
	  { UP(1), DOWN(2), UP(3) }, 3, false, REPLICAS_LEADER_UNREACHABLE, 1, 2, 1 },
	{ "a leader not in the broker list", { { 4, { 4, 1, 2 }, 3 } }, 1,
	  { UP(1), UP(2), UP(3) }, 3, false, REPLICAS_LEADER_UNREACHABLE, 0, 2, 1 },
	{ "no leader (-1)", { { 1, { 1 }, 1 }, { -1, { 2, 3, 1 }, 3 } }, 2,
	  { UP(1), UP(2), UP(3) }, 3, false, REPLICAS_NO_LEADER, 1, 3, 1 },
	{ "RF 2: one of two is no majority", { { 1, { 1, 2 }, 2 } }, 1,
	  { UP(1), DOWN(2) }, 2, false, REPLICAS_MINORITY, 0, 1, 1 },
	{ "no partitions", { { 0 } }, 0, { UP(1) }, 1, false, REPLICAS_NO_PARTITIONS, -1, 0, 0 },
};

static void test_rule(void **state)
{
	(void)state;
	for (size_t s = 0; s < sizeof(scenarios) / sizeof(scenarios[0]); s++) {
		const struct scenario *sc = &scenarios[s];
		rd_kafka_metadata_partition_t parts[MAXP];
		struct replicas_verdict v;

		print_message("# scenario: %s\n", sc->name);
		memset(parts, 0, sizeof(parts));
		for (int i = 0; i < sc->nparts; i++) {
			parts[i].id = i;
			parts[i].leader = sc->parts[i].leader;
			parts[i].replica_cnt = sc->parts[i].replica_cnt;
			parts[i].replicas = (int32_t *)sc->parts[i].replicas;
		}
		assert_int_equal(replicas_writable(parts, sc->nparts, sc->brokers, sc->nbrokers, &v),
				 sc->writable);
		assert_int_equal(v.reason, sc->reason);
		assert_int_equal(v.partition, sc->partition);
		assert_int_equal(v.reachable, sc->reachable);
		assert_int_equal(v.unwritable, sc->unwritable);
	}
}

static void test_reason_names(void **state)
{
	(void)state;
	assert_string_equal(replicas_reason_name(REPLICAS_MINORITY), "replicas");
	assert_string_equal(replicas_reason_name(REPLICAS_LEADER_UNREACHABLE), "leader_unreachable");
	assert_string_equal(replicas_reason_name(REPLICAS_NO_LEADER), "no_leader");
}

/* A socket bound to 127.0.0.1 on a port of the kernel's choice. */
static int bound_socket(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static void test_probe(void **state)
{
	int up_port, closed_port;
	int up = bound_socket(&up_port), closed = bound_socket(&closed_port);
	rd_kafka_metadata_broker_t brokers[3] = {
		{ .id = 1, .host = (char *)"127.0.0.1", .port = up_port },
		{ .id = 2, .host = (char *)"127.0.0.1", .port = closed_port },
		{ .id = 3, .host = (char *)"127.0.0.1", .port = up_port },
	};
	struct replicas_broker out[3];

	(void)state;
	assert_int_equal(listen(up, 8), 0);
	/* Bound, never listening: a connect is refused, as to a dead broker. */
	assert_int_equal(replicas_probe(brokers, 3, 1000, out), 0);
	assert_int_equal(out[0].id, 1);
	assert_true(out[0].reachable);
	assert_int_equal(out[1].id, 2);
	assert_false(out[1].reachable);
	assert_int_equal(out[2].id, 3);
	assert_true(out[2].reachable);
	assert_int_equal(replicas_probe(brokers, 0, 1000, out), 0);
	/* A name (from /etc/hosts: no lookup leaves the machine) is tried at
	 * each of its addresses until one answers. */
	brokers[0].host = (char *)"localhost";
	brokers[1].host = (char *)"localhost";
	assert_int_equal(replicas_probe(brokers, 2, 1000, out), 0);
	assert_true(out[0].reachable);
	assert_false(out[1].reachable);
	close(up);
	close(closed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rule),
		cmocka_unit_test(test_reason_names),
		cmocka_unit_test(test_probe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
