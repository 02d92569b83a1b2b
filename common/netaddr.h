/* netaddr: "HOST:PORT" listen addresses, shared by the gateway's public
 * listener and the admin listener of both daemons. */
#ifndef PATIENTS_NETADDR_H
#define PATIENTS_NETADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* Parses "127.0.0.1:8080", "[::1]:8080", "localhost:8080" or ":8080" (every
 * IPv4 address) into *out. Returns 0; -EINVAL with a reason in err. */
int netaddr_parse(const char *s, struct sockaddr_storage *out, socklen_t *outlen, char *err,
		  size_t errsize);

/* True for 127.0.0.0/8, ::1 and IPv4-mapped loopback. */
bool netaddr_is_loopback(const struct sockaddr *sa);

#endif
