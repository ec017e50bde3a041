/* addr: host:port strings as users type them ("10.0.0.1", ":2377", "[::1]:7946"). */
#ifndef SWARMNODE_ADDR_H
#define SWARMNODE_ADDR_H

#include <stddef.h>
#include <stdint.h>

/* Long enough for any IPv6 literal with its scope. */
#define ADDR_HOST_MAX 64

struct addr {
	char host[ADDR_HOST_MAX]; /* an IPv4 or IPv6 literal, without brackets */
	uint16_t port;
	int family; /* AF_INET or AF_INET6 */
};

/* Parses "HOST", "HOST:PORT", ":PORT", "[V6]", "[V6]:PORT". HOST must be an IP
 * literal; an empty host means 0.0.0.0. A missing port takes default_port.
 * Returns 0, or -EINVAL with a sentence in err naming what is wrong. */
int addr_parse(const char *s, uint16_t default_port, struct addr *out, char *err, size_t errlen);

/* Writes "HOST:PORT" or "[V6]:PORT" into buf. */
void addr_format(const struct addr *a, char *buf, size_t len);

#endif
