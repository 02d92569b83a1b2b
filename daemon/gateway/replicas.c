#include "config.h"

#include "replicas.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"

static bool replicas_reachable(const struct replicas_broker *brokers, int n, int32_t id)
{
	for (int i = 0; i < n; i++)
		if (brokers[i].id == id)
			return brokers[i].reachable;
	return false; /* not in the list: fenced, or unknown to this view */
}

/* One partition's verdict; *reachable counts its reachable replicas. */
static enum replicas_reason replicas_partition(const rd_kafka_metadata_partition_t *p,
					       const struct replicas_broker *brokers,
					       int nbrokers, int *reachable)
{
	*reachable = 0;
	for (int i = 0; i < p->replica_cnt; i++)
		if (replicas_reachable(brokers, nbrokers, p->replicas[i]))
			(*reachable)++;
	if (p->leader < 0)
		return REPLICAS_NO_LEADER;
	if (!replicas_reachable(brokers, nbrokers, p->leader))
		return REPLICAS_LEADER_UNREACHABLE;
	/* A strict majority: acks=all waits for min.insync.replicas (2 of 3),
	 * and a node without a quorum of controllers cannot take over. */
	if (*reachable * 2 <= p->replica_cnt)
		return REPLICAS_MINORITY;
	return REPLICAS_OK;
}

bool replicas_writable(const rd_kafka_metadata_partition_t *parts, int cnt,
		       const struct replicas_broker *brokers, int nbrokers,
		       struct replicas_verdict *v)
{
	*v = (struct replicas_verdict){ .reason = REPLICAS_OK, .partition = -1 };
	if (cnt <= 0) {
		v->reason = REPLICAS_NO_PARTITIONS;
		return false;
	}
	for (int i = 0; i < cnt; i++) {
		int reachable;
		enum replicas_reason r = replicas_partition(&parts[i], brokers, nbrokers, &reachable);

		if (r == REPLICAS_OK)
			continue;
		if (v->unwritable++ == 0) {
			v->reason = r;
			v->partition = parts[i].id;
			v->reachable = reachable;
			v->replicas = parts[i].replica_cnt;
		}
	}
	return v->unwritable == 0;
}

const char *replicas_reason_name(enum replicas_reason reason)
{
	switch (reason) {
	case REPLICAS_OK:
		return "ok";
	case REPLICAS_NO_PARTITIONS:
		return "no_partitions";
	case REPLICAS_NO_LEADER:
		return "no_leader";
	case REPLICAS_LEADER_UNREACHABLE:
		return "leader_unreachable";
	case REPLICAS_MINORITY:
		return "replicas";
	}
	return "unknown";
}

/* The addresses tried per broker: a name may resolve to an IPv6 address
 * first on a host without an IPv6 route, and librdkafka then goes on to the
 * next one, so the probe tries them too, at once. */
#define REPLICAS_ADDRS 4

/* Starts a non-blocking connect to each of host:port's first
 * REPLICAS_ADDRS addresses into fds[0..REPLICAS_ADDRS) (fd -1: none, or
 * settled). Returns whether one connected at once. */
static bool replicas_connect(const char *host, int port, struct pollfd *fds)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	char service[16];
	bool ok = false;
	int k = 0;

	for (int i = 0; i < REPLICAS_ADDRS; i++)
		fds[i] = (struct pollfd){ .fd = -1, .events = POLLOUT };
	snprintf(service, sizeof(service), "%d", port);
	if (getaddrinfo(host, service, &hints, &ai) != 0)
		return false;
	for (struct addrinfo *p = ai; p && k < REPLICAS_ADDRS && !ok; p = p->ai_next) {
		int fd = socket(p->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		if (fd < 0)
			continue;
		if (connect(fd, p->ai_addr, p->ai_addrlen) == 0)
			ok = true;
		else if (errno == EINPROGRESS) {
			fds[k++].fd = fd;
			continue;
		}
		close(fd);
	}
	freeaddrinfo(ai);
	return ok;
}

/* Waits for the connects still pending in fds (fd -1: skipped) until the
 * deadline; the broker of fds[i] is out[i / REPLICAS_ADDRS], reachable
 * once one of its connects succeeded. Closes every socket. */
static void replicas_wait(struct pollfd *fds, int n, uint64_t deadline,
			  struct replicas_broker *out)
{
	int pending = 0;

	for (int i = 0; i < n; i++)
		pending += fds[i].fd >= 0;
	while (pending > 0) {
		uint64_t now = clock_mono_ms();
		int r;

		if (now >= deadline)
			break; /* the rest stay unreachable */
		r = poll(fds, (nfds_t)n, (int)(deadline - now));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		for (int i = 0; i < n; i++) {
			int soerr = 0;
			socklen_t len = sizeof(soerr);

			if (fds[i].fd < 0 || !fds[i].revents)
				continue;
			if (getsockopt(fds[i].fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && !soerr)
				out[i / REPLICAS_ADDRS].reachable = true;
			close(fds[i].fd);
			fds[i].fd = -1;
			pending--;
		}
	}
	for (int i = 0; i < n; i++)
		if (fds[i].fd >= 0)
			close(fds[i].fd);
}

int replicas_probe(const rd_kafka_metadata_broker_t *brokers, int n, int timeout_ms,
		   struct replicas_broker *out)
{
	uint64_t deadline = clock_mono_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
	struct pollfd *fds = NULL;
	int r = 0;

	for (int i = 0; i < n; i++)
		out[i] = (struct replicas_broker){ .id = brokers[i].id, .reachable = false };
	if (n <= 0)
		return 0;
	fds = calloc((size_t)n * REPLICAS_ADDRS, sizeof(*fds));
	if (!fds) {
		r = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < n; i++)
		out[i].reachable = replicas_connect(brokers[i].host, brokers[i].port,
						    &fds[i * REPLICAS_ADDRS]);
	replicas_wait(fds, n * REPLICAS_ADDRS, deadline, out);
out:
	free(fds);
	return r;
}
