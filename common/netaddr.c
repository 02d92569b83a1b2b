#include "config.h"

#include "netaddr.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int netaddr_parse(const char *s, struct sockaddr_storage *out, socklen_t *outlen, char *err,
		  size_t errsize)
{
	struct addrinfo hints = { 0 }, *res = NULL;
	char host[256];
	const char *colon, *port, *h = host;
	size_t hlen;
	char *end;
	long p;
	int r;

	if (!s || !*s) {
		snprintf(err, errsize, "empty address (expected HOST:PORT)");
		return -EINVAL;
	}
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':') {
			snprintf(err, errsize, "\"%s\": expected [IPV6]:PORT", s);
			return -EINVAL;
		}
		hlen = (size_t)(close - s - 1);
		colon = close + 1;
		s++;
	} else {
		colon = strrchr(s, ':');
		if (!colon) {
			snprintf(err, errsize, "\"%s\": expected HOST:PORT", s);
			return -EINVAL;
		}
		hlen = (size_t)(colon - s);
	}
	if (hlen >= sizeof(host)) {
		snprintf(err, errsize, "host name too long");
		return -EINVAL;
	}
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	port = colon + 1;
	errno = 0;
	p = strtol(port, &end, 10);
	/* 0: any free port (tests running many daemons side by side). */
	if (!*port || *end || errno || p < 0 || p > 65535) {
		snprintf(err, errsize, "\"%s\": the port must be 0..65535", port);
		return -EINVAL;
	}
	if (hlen == 0)
		h = "0.0.0.0";
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	r = getaddrinfo(h, port, &hints, &res);
	if (r != 0 || !res) {
		snprintf(err, errsize, "\"%s\": %s", h, r ? gai_strerror(r) : "no address");
		if (res)
			freeaddrinfo(res);
		return -EINVAL;
	}
	memset(out, 0, sizeof(*out));
	memcpy(out, res->ai_addr, res->ai_addrlen);
	*outlen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

bool netaddr_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
		const unsigned char *a = in6->sin6_addr.s6_addr;
		if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
			return true;
		return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && a[12] == 127;
	}
	return false;
}
