/* addr: host:port strings as users type them ("10.0.0.1", ":2377", "[::1]:7946"). */
#include "swarmnode/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int addr_parse_port(const char *s, uint16_t *port, char *err, size_t errlen)
{
	char *end;
	if (*s == '\0' || *s == '-' || *s == '+') {
		snprintf(err, errlen, "invalid port \"%s\"", s);
		return -EINVAL;
	}
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0 || v > 65535) {
		snprintf(err, errlen, "invalid port \"%s\": must be 1-65535", s);
		return -EINVAL;
	}
	*port = (uint16_t)v;
	return 0;
}

/* Splits s into host and optional port text; returns 0 or -EINVAL. */
static int addr_split(const char *s, char *host, size_t hostlen, const char **port,
		      char *err, size_t errlen)
{
	const char *host_start = s, *host_end;
	*port = NULL;
	if (*s == '[') {
		host_start = s + 1;
		host_end = strchr(host_start, ']');
		if (host_end == NULL) {
			snprintf(err, errlen, "invalid address \"%s\": missing ']'", s);
			return -EINVAL;
		}
		if (host_end[1] == ':')
			*port = host_end + 2;
		else if (host_end[1] != '\0') {
			snprintf(err, errlen, "invalid address \"%s\": unexpected text after ']'", s);
			return -EINVAL;
		}
	} else {
		const char *colon = strchr(s, ':');
		if (colon && strchr(colon + 1, ':')) {
			/* A bare IPv6 literal has no port: "::1". */
			host_end = s + strlen(s);
		} else if (colon) {
			host_end = colon;
			*port = colon + 1;
		} else {
			host_end = s + strlen(s);
		}
	}
	size_t n = (size_t)(host_end - host_start);
	if (n >= hostlen) {
		snprintf(err, errlen, "invalid address \"%s\": host too long", s);
		return -EINVAL;
	}
	memcpy(host, host_start, n);
	host[n] = '\0';
	return 0;
}

int addr_parse(const char *s, uint16_t default_port, struct addr *out, char *err, size_t errlen)
{
	char host[ADDR_HOST_MAX];
	const char *port_text;
	unsigned char bin[16];
	struct addr a = {.port = default_port};
	int rc = addr_split(s, host, sizeof(host), &port_text, err, errlen);
	if (rc != 0)
		return rc;
	if (port_text && (rc = addr_parse_port(port_text, &a.port, err, errlen)) != 0)
		return rc;
	if (host[0] == '\0')
		strcpy(host, "0.0.0.0");
	if (inet_pton(AF_INET, host, bin) == 1) {
		a.family = AF_INET;
	} else if (inet_pton(AF_INET6, host, bin) == 1) {
		a.family = AF_INET6;
	} else {
		snprintf(err, errlen, "invalid address \"%s\": \"%s\" is not an IPv4 or IPv6 address", s, host);
		return -EINVAL;
	}
	if (a.port == 0) {
		snprintf(err, errlen, "invalid address \"%s\": a port is required", s);
		return -EINVAL;
	}
	memcpy(a.host, host, sizeof(a.host));
	*out = a;
	return 0;
}

void addr_format(const struct addr *a, char *buf, size_t len)
{
	if (a->family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", a->host, (unsigned)a->port);
	else
		snprintf(buf, len, "%s:%u", a->host, (unsigned)a->port);
}
