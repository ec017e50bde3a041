/* stack_units: compose value syntaxes (durations, sizes, CPUs, ports, command strings). */
#include "swarmnode/stack_units.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INT64_LIMIT ((uint64_t)INT64_MAX)

/* ---- durations (Go's time.ParseDuration) ---- */

struct duration_unit {
	const char *name;
	uint64_t ns;
};

static const struct duration_unit duration_units[] = {
	{"ns", 1ull},
	{"us", 1000ull},
	{"\xc2\xb5s", 1000ull}, /* U+00B5 micro sign */
	{"\xce\xbcs", 1000ull}, /* U+03BC Greek mu */
	{"ms", 1000000ull},
	{"s", 1000000000ull},
	{"m", 60000000000ull},
	{"h", 3600000000000ull},
};

static const struct duration_unit *duration_unit_find(const char *s, size_t len)
{
	for (size_t i = 0; i < sizeof(duration_units) / sizeof(duration_units[0]); i++)
		if (strlen(duration_units[i].name) == len && memcmp(duration_units[i].name, s, len) == 0)
			return &duration_units[i];
	return NULL;
}

/* One "<number><unit>" element of a duration; advances *s. */
static int duration_element(const char **s, uint64_t *ns, const char *orig, char *err, size_t errlen)
{
	const char *p = *s;
	uint64_t whole = 0;
	bool digits = false, fraction_digits = false;
	for (; isdigit((unsigned char)*p); p++, digits = true) {
		if (whole > (INT64_LIMIT - (uint64_t)(*p - '0')) / 10)
			goto overflow;
		whole = whole * 10 + (uint64_t)(*p - '0');
	}
	long double fraction = 0, scale = 1;
	if (*p == '.') {
		for (p++; isdigit((unsigned char)*p); p++, fraction_digits = true)
			if (scale < 1e30L) {
				fraction = fraction * 10 + (*p - '0');
				scale *= 10;
			}
	}
	if (!digits && !fraction_digits)
		goto invalid;
	const char *unit = p;
	while (*p && *p != '.' && !isdigit((unsigned char)*p))
		p++;
	if (p == unit) {
		snprintf(err, errlen, "missing unit in duration \"%s\" (e.g. 10s, 1m30s, 500ms)", orig);
		return -1;
	}
	const struct duration_unit *u = duration_unit_find(unit, (size_t)(p - unit));
	if (u == NULL) {
		snprintf(err, errlen, "unknown unit \"%.*s\" in duration \"%s\" (valid: ns, us, ms, s, m, h)",
			 (int)(p - unit), unit, orig);
		return -1;
	}
	if (whole > INT64_LIMIT / u->ns)
		goto overflow;
	uint64_t v = whole * u->ns;
	long double extra = fraction * ((long double)u->ns / scale);
	if (extra >= (long double)(INT64_LIMIT - v))
		goto overflow;
	*ns = v + (uint64_t)extra;
	*s = p;
	return 0;
invalid:
	snprintf(err, errlen, "invalid duration \"%s\" (e.g. 10s, 1m30s, 500ms)", orig);
	return -1;
overflow:
	snprintf(err, errlen, "duration \"%s\" is too large", orig);
	return -1;
}

int stack_parse_duration(const char *s, int64_t *ns, char *err, size_t errlen)
{
	const char *p = s;
	if (*p == '+')
		p++;
	if (strcmp(p, "0") == 0) {
		*ns = 0;
		return 0;
	}
	if (*p == '-') {
		snprintf(err, errlen, "invalid duration \"%s\": must not be negative", s);
		return -1;
	}
	if (*p == '\0') {
		snprintf(err, errlen, "invalid duration \"%s\" (e.g. 10s, 1m30s, 500ms)", s);
		return -1;
	}
	uint64_t total = 0;
	while (*p) {
		uint64_t part;
		if (duration_element(&p, &part, s, err, errlen) != 0)
			return -1;
		if (part > INT64_LIMIT - total) {
			snprintf(err, errlen, "duration \"%s\" is too large", s);
			return -1;
		}
		total += part;
	}
	*ns = (int64_t)total;
	return 0;
}

/* ---- byte sizes (docker's units.RAMInBytes) ---- */

int stack_parse_bytes(const char *s, int64_t *bytes, char *err, size_t errlen)
{
	const char *p = s;
	while (isdigit((unsigned char)*p))
		p++;
	if (p == s)
		goto invalid;
	if (*p == '.') {
		const char *f = ++p;
		while (isdigit((unsigned char)*p))
			p++;
		if (p == f)
			goto invalid;
	}
	size_t number_len = (size_t)(p - s);
	if (*p == ' ')
		p++;
	int power = 0;
	const char *units = "kmgtp";
	if (*p && strchr(units, tolower((unsigned char)*p))) {
		power = (int)(strchr(units, tolower((unsigned char)*p)) - units) + 1;
		p++;
	}
	if (*p == 'i' || *p == 'I')
		p++;
	if (*p == 'b' || *p == 'B')
		p++;
	if (*p != '\0')
		goto invalid;
	char number[64];
	if (number_len >= sizeof(number))
		goto too_large;
	memcpy(number, s, number_len);
	number[number_len] = '\0';
	long double v = strtold(number, NULL);
	for (int i = 0; i < power; i++)
		v *= 1024;
	if (v >= (long double)INT64_MAX)
		goto too_large;
	*bytes = (int64_t)v;
	return 0;
invalid:
	snprintf(err, errlen, "invalid size \"%s\" (e.g. 512M, 1gb, 100k)", s);
	return -1;
too_large:
	snprintf(err, errlen, "size \"%s\" is too large", s);
	return -1;
}

/* ---- CPUs (docker's opts.ParseCPUs) ---- */

int stack_parse_cpus(const char *s, int64_t *nano, char *err, size_t errlen)
{
	const char *p = s;
	uint64_t whole = 0, frac = 0;
	bool digits = false;
	for (; isdigit((unsigned char)*p); p++, digits = true) {
		if (whole > 9223372035ull)
			goto too_large;
		whole = whole * 10 + (uint64_t)(*p - '0');
	}
	if (*p == '.') {
		int places = 0;
		for (p++; isdigit((unsigned char)*p); p++, places++, digits = true) {
			if (places < 9)
				frac = frac * 10 + (uint64_t)(*p - '0');
			else if (*p != '0') {
				snprintf(err, errlen, "invalid CPU count \"%s\": value is too precise", s);
				return -1;
			}
		}
		for (; places < 9; places++)
			frac *= 10;
	}
	if (!digits || *p != '\0') {
		snprintf(err, errlen, "invalid CPU count \"%s\" (e.g. 0.5, 2)", s);
		return -1;
	}
	if (whole > 9223372035ull)
		goto too_large;
	*nano = (int64_t)(whole * 1000000000ull + frac);
	return 0;
too_large:
	snprintf(err, errlen, "CPU count \"%s\" is too large", s);
	return -1;
}

/* ---- ports (docker's nat.ParsePortSpec + opts.ConvertPortToPortConfig) ---- */

static int port_number(const char *s, size_t len, unsigned *out)
{
	unsigned v = 0;
	if (len == 0 || len > 5)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > 65535)
		return -1;
	*out = v;
	return 0;
}

/* "80" or "80-82". */
static int port_range(const char *s, unsigned *start, unsigned *end)
{
	const char *dash = strchr(s, '-');
	if (dash == NULL) {
		if (port_number(s, strlen(s), start) != 0)
			return -1;
		*end = *start;
		return 0;
	}
	if (port_number(s, (size_t)(dash - s), start) != 0 || port_number(dash + 1, strlen(dash + 1), end) != 0)
		return -1;
	return *end < *start ? -1 : 0;
}

static void port_add(json_t *ports, const char *proto, unsigned target, unsigned published)
{
	json_t *p = json_object();
	json_object_set_new(p, "Protocol", json_string(proto));
	json_object_set_new(p, "TargetPort", json_integer(target));
	if (published)
		json_object_set_new(p, "PublishedPort", json_integer(published));
	json_object_set_new(p, "PublishMode", json_string("ingress"));
	json_array_append_new(ports, p);
}

/* A host address as written ("10.0.0.1", "[::1]", "::1"): whether it is a
 * valid IP, and whether it names a specific address (not 0.0.0.0 or ::). */
static int port_host_ip(const char *ip, bool *specific)
{
	char buf[64];
	size_t n = strlen(ip);
	if (n >= 2 && ip[0] == '[' && ip[n - 1] == ']') {
		ip++;
		n -= 2;
	}
	if (n >= sizeof(buf))
		return -1;
	memcpy(buf, ip, n);
	buf[n] = '\0';
	unsigned char addr[16];
	static const unsigned char zero[16];
	if (inet_pton(AF_INET, buf, addr) == 1) {
		*specific = memcmp(addr, zero, 4) != 0;
		return 0;
	}
	if (inet_pton(AF_INET6, buf, addr) == 1) {
		*specific = memcmp(addr, zero, 16) != 0;
		return 0;
	}
	return -1;
}

struct port_spec {
	char ip[64], host[32], container[32], proto[16];
};

static int port_split(const char *s, struct port_spec *ps, char *err, size_t errlen)
{
	memset(ps, 0, sizeof(*ps));
	const char *last = strrchr(s, ':');
	const char *container = last ? last + 1 : s;
	if (last) {
		const char *prev = last;
		while (prev > s && prev[-1] != ':')
			prev--;
		size_t hl = (size_t)(last - prev);
		size_t il = prev > s ? (size_t)(prev - 1 - s) : 0;
		if (hl >= sizeof(ps->host) || il >= sizeof(ps->ip))
			goto invalid;
		memcpy(ps->host, prev, hl);
		memcpy(ps->ip, s, il);
		if (prev > s && il == 0)
			goto invalid;
	}
	const char *slash = strchr(container, '/');
	size_t cl = slash ? (size_t)(slash - container) : strlen(container);
	if (cl == 0) {
		snprintf(err, errlen, "invalid port \"%s\": no container port", s);
		return -1;
	}
	if (cl >= sizeof(ps->container) || (slash && strlen(slash + 1) >= sizeof(ps->proto)))
		goto invalid;
	memcpy(ps->container, container, cl);
	snprintf(ps->proto, sizeof(ps->proto), "%s", slash && slash[1] ? slash + 1 : "tcp");
	for (char *c = ps->proto; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return 0;
invalid:
	snprintf(err, errlen, "invalid port \"%s\"", s);
	return -1;
}

int stack_parse_port(const char *s, json_t *ports, char *warn, size_t warnlen, char *err, size_t errlen)
{
	struct port_spec ps;
	unsigned c_start, c_end, h_start = 0, h_end = 0;
	bool specific_ip = false;
	if (warn && warnlen)
		warn[0] = '\0';
	if (port_split(s, &ps, err, errlen) != 0)
		return -1;
	if (ps.ip[0] && port_host_ip(ps.ip, &specific_ip) != 0) {
		snprintf(err, errlen, "invalid port \"%s\": invalid IP address %s", s, ps.ip);
		return -1;
	}
	if (port_range(ps.container, &c_start, &c_end) != 0 || c_start == 0) {
		snprintf(err, errlen, "invalid port \"%s\": invalid container port %s", s, ps.container);
		return -1;
	}
	if (ps.host[0] && port_range(ps.host, &h_start, &h_end) != 0) {
		snprintf(err, errlen, "invalid port \"%s\": invalid published port %s", s, ps.host);
		return -1;
	}
	if (ps.host[0] && c_end - c_start != h_end - h_start && c_end != c_start) {
		snprintf(err, errlen, "invalid port \"%s\": the container and published ranges differ in length", s);
		return -1;
	}
	if (strcmp(ps.proto, "tcp") != 0 && strcmp(ps.proto, "udp") != 0 && strcmp(ps.proto, "sctp") != 0) {
		snprintf(err, errlen, "invalid port \"%s\": invalid protocol %s (tcp, udp or sctp)", s, ps.proto);
		return -1;
	}
	if (specific_ip && warn)
		snprintf(warn, warnlen, "ignoring IP-address (%s:%s:%u/%s) service will listen on '0.0.0.0'", ps.ip,
			 ps.host, c_start, ps.proto);
	if (c_start == c_end && h_start != h_end) {
		/* One container port behind a published range: docker publishes
		 * every port of the range. */
		for (unsigned h = h_start; h <= h_end; h++)
			port_add(ports, ps.proto, c_start, h);
		return 0;
	}
	for (unsigned c = c_start; c <= c_end; c++)
		port_add(ports, ps.proto, c, ps.host[0] ? h_start + (c - c_start) : 0);
	return 0;
}

/* ---- command strings (google/shlex, as docker/cli uses it) ---- */

struct shlex {
	const char *p;
	char *word; /* as long as the whole input: no word can be longer */
	size_t len;
};

static void shlex_put(struct shlex *sh, char c)
{
	sh->word[sh->len++] = c;
	sh->word[sh->len] = '\0';
}

static bool shlex_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Reads one word that starts at sh->p; returns -1 on an unterminated quote or escape. */
static int shlex_word(struct shlex *sh, char *err, size_t errlen)
{
	sh->len = 0;
	sh->word[0] = '\0';
	while (*sh->p && !shlex_space(*sh->p)) {
		char c = *sh->p++;
		if (c == '\\') {
			if (*sh->p == '\0')
				goto eof_escape;
			shlex_put(sh, *sh->p++);
		} else if (c == '\'') {
			while (*sh->p && *sh->p != '\'')
				shlex_put(sh, *sh->p++);
			if (*sh->p++ == '\0')
				goto eof_quote;
		} else if (c == '"') {
			while (*sh->p && *sh->p != '"') {
				if (*sh->p == '\\' && *++sh->p == '\0')
					goto eof_escape;
				shlex_put(sh, *sh->p++);
			}
			if (*sh->p++ == '\0')
				goto eof_quote;
		} else {
			shlex_put(sh, c);
		}
	}
	return 0;
eof_escape:
	snprintf(err, errlen, "EOF found after escape character");
	return -1;
eof_quote:
	snprintf(err, errlen, "EOF found when expecting closing quote");
	return -1;
}

int stack_split_command(const char *s, json_t *argv, char *err, size_t errlen)
{
	struct shlex sh = {.p = s, .word = malloc(strlen(s) + 1)};
	if (sh.word == NULL)
		abort();
	json_t *words = json_array();
	int rc = 0;
	for (;;) {
		while (shlex_space(*sh.p))
			sh.p++;
		if (*sh.p == '\0')
			break;
		if (*sh.p == '#') {
			while (*sh.p && *sh.p != '\n')
				sh.p++;
			continue;
		}
		if ((rc = shlex_word(&sh, err, errlen)) != 0)
			break;
		json_array_append_new(words, json_string(sh.word));
	}
	if (rc == 0)
		json_array_extend(argv, words);
	json_decref(words);
	free(sh.word);
	return rc;
}
